"""A chat in memory: the chat core's fake, shipped beside it like the store's in-memory one.

It implements :class:`~codex_runner.bridges.chat.transport.ChatTransport` and lets a test
take the chat down for a number of calls or have it refuse some texts, then read back what
each thread shows. A bridge's own transport is tested against the same expectations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codex_runner.bridges.chat.bridge_db import POST, Post
from codex_runner.bridges.chat.errors import ChatRejected, ChatUnavailable


@dataclass
class ChatMessage:
    """One message as the chat shows it: its latest text, and every text it had."""

    id: str
    channel: str
    thread: str | None
    text: str
    payload: dict[str, Any]
    history: list[str] = field(default_factory=list)


class InMemoryChat:
    """A chat whose messages live in a dict; ``down`` and ``refuse_prefix`` make it fail."""

    def __init__(self) -> None:
        self.messages: dict[str, ChatMessage] = {}
        self.other: list[Post] = []  # ops of a bridge's own (reactions, files), in order
        self.down = 0  # how many more calls fail with ChatUnavailable
        self.refuse_prefix: str | None = None  # texts starting with it are refused for good
        self.calls = 0

    async def send(self, post: Post) -> str | None:
        text = self._admit(post)
        if post.op != POST:
            self.other.append(post)
            return None
        message_id = f"m{len(self.messages) + 1}"
        self.messages[message_id] = ChatMessage(
            message_id, post.channel, post.thread, text, dict(post.payload), [text]
        )
        return message_id

    async def edit(self, post: Post, message_id: str) -> None:
        text = self._admit(post)
        message = self.messages.get(message_id)
        if message is None:
            raise ChatRejected(f"no message {message_id} to edit")
        message.text = text
        message.payload = dict(post.payload)
        message.history.append(text)

    def receipt(self, post: Post, message_id: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"op": post.op, "channel": post.channel, "thread": post.thread}
        if message_id:
            data["message_id"] = message_id
        if text := post.payload.get("text"):
            data["text"] = str(text)[:500]
        return data

    def thread(self, channel: str, thread: str | None) -> list[str]:
        """The latest texts of a thread's messages, oldest first."""
        return [
            m.text for m in self.messages.values() if (m.channel, m.thread) == (channel, thread)
        ]

    def _admit(self, post: Post) -> str:
        self.calls += 1
        if self.down:
            self.down -= 1
            raise ChatUnavailable(f"{post.op}: the chat is down")
        text = str(post.payload.get("text") or "")
        if self.refuse_prefix is not None and text.startswith(self.refuse_prefix):
            raise ChatRejected(f"{post.op}: refused")
        return text
