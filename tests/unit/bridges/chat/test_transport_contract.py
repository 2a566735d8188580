"""The ChatTransport contract against the in-memory chat."""

from __future__ import annotations

from codex_runner.bridges.chat.memory import InMemoryChat

from .transport_contract import REFUSED, ChatTransportContract


class TestInMemoryChat(ChatTransportContract):
    def setup_method(self) -> None:
        self.chat = InMemoryChat()
        self.chat.refuse_prefix = REFUSED
        self.transport = self.chat

    def take_down(self, calls: int) -> None:
        self.chat.down = calls
