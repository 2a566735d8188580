"""The way out to a chat: the one Protocol a bridge implements for the outbox to deliver.

Channels, threads and message ids are plain strings in the chat's own spelling. The outbox
keeps the order, the retries and the ids of posted messages; the transport only makes one
call and raises :class:`~codex_runner.bridges.chat.errors.ChatUnavailable` (try again
later) or :class:`~codex_runner.bridges.chat.errors.ChatRejected` (never) when it fails.
"""

from __future__ import annotations

from typing import Any, Protocol

from codex_runner.bridges.chat.bridge_db import Post


class ChatTransport(Protocol):
    async def send(self, post: Post) -> str | None:
        """Deliver ``post`` (any op but an edit); the id of the message it made, if any."""

    async def edit(self, post: Post, message_id: str) -> None:
        """Replace the posted message ``message_id`` with ``post``'s payload (an UPDATE)."""

    def receipt(self, post: Post, message_id: str | None) -> dict[str, Any]:
        """What the task's log records of a delivered post (short; never a secret)."""
