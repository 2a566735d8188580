"""A chat in memory: the chat core's fake, shipped beside it like the store's in-memory one.

It implements :class:`~codex_runner.bridges.chat.transport.ChatTransport` (with
:class:`PlainRenderer`, the relay's renderer in plain words, and :class:`InMemoryHost`, the
sessions' host) and lets a test
take the chat down for a number of calls or have it refuse some texts, then read back what
each thread shows. A bridge's own transport is tested against the same expectations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codex_runner.bridges.chat.bridge_db import POST, Post, Session
from codex_runner.bridges.chat.errors import ChatRejected, ChatUnavailable
from codex_runner.domain.task import WorkspaceRequest

MARK_QUEUED = "mark_queued"  # the in-memory host's op for "this message waits in the queue"


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
        self.other: list[Post] = []  # the host's own ops (MARK_QUEUED), in order
        self.down = 0  # how many more calls fail with ChatUnavailable
        self.refuse_prefix: str | None = None  # texts starting with it are refused for good
        self.calls = 0
        self._changed = asyncio.Condition()

    async def wait_for(self, done: Callable[[], bool], timeout: float = 5.0) -> None:
        """Until ``done()`` holds, checked after each message the chat takes or edits."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(done)

    def find(self, text: str) -> ChatMessage | None:
        """The first message whose latest text contains ``text``."""
        return next((m for m in self.messages.values() if text in m.text), None)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def send(self, post: Post) -> str | None:
        if post.op not in (POST, MARK_QUEUED):
            raise ValueError(f"unknown outbox op {post.op!r}")
        text = self._admit(post)
        if post.op != POST:
            self.other.append(post)
            await self._notify()
            return None
        message_id = f"m{len(self.messages) + 1}"
        self.messages[message_id] = ChatMessage(
            message_id, post.channel, post.thread, text, dict(post.payload), [text]
        )
        await self._notify()
        return message_id

    async def edit(self, post: Post, message_id: str) -> None:
        text = self._admit(post)
        message = self.messages.get(message_id)
        if message is None:
            raise ChatRejected(f"no message {message_id} to edit")
        message.text = text
        message.payload = dict(post.payload)
        message.history.append(text)
        await self._notify()

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


class PlainRenderer:
    """:class:`~codex_runner.bridges.chat.relay_plan.ChatRenderer` in plain words, one message
    per answer; an approval request carries its decisions as ``actions``."""

    def working(self) -> str:
        return "Working"

    def running(self, command: str) -> str:
        return f"Running {command}"

    def waiting(self) -> str:
        return "Waiting for an approval"

    def writing(self, answer: str) -> str:
        return f"Writing: {answer}"

    def done(self, total_tokens: int) -> str:
        return f"Done ({total_tokens} tokens)"

    def stopped(self) -> str:
        return "Stopped"

    def cancelled(self) -> str:
        return "Cancelled"

    def failed(self, reason: str | None) -> str:
        return f"Failed: {reason or 'unknown error'}"

    def restarted(self) -> str:
        return "The runner restarted during this turn"

    def answer(self, markdown: str) -> list[str]:
        return [markdown]

    def approval_request(
        self, approval_id: str, data: dict[str, Any], deciders: Sequence[str]
    ) -> dict[str, Any]:
        return {
            "text": f"Approve {data.get('command') or data.get('kind')}? ({', '.join(deciders)})",
            "actions": [str(d) for d in data.get("available_decisions") or ()],
        }

    def approval_decided(self, data: dict[str, Any], decision: str, by: str) -> dict[str, Any]:
        return {"text": f"{decision} by {by}"}

    def approval_expired(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"text": "Expired"}


class InMemoryHost:
    """:class:`~codex_runner.bridges.chat.sessions.ChatHost` for tests: every session works
    in ``workdir``, mentions read ``@user``, names come from ``names``, and a queued message
    gets a :data:`MARK_QUEUED` post."""

    def __init__(self, workdir: Path, names: dict[str, str] | None = None) -> None:
        self._workdir = workdir
        self._names = dict(names or {})

    def workspace(self, session_key: str) -> WorkspaceRequest:
        return WorkspaceRequest.directory(str(self._workdir))

    def notes(self, session_key: str) -> str:
        return f"\n(session {session_key})"

    def mention(self, user: str) -> str:
        return f"@{user}"

    async def display_name(self, user: str) -> str:
        return self._names.get(user, user)

    def queued_marks(self, session: Session, message_id: str) -> list[Post]:
        return [session.post(MARK_QUEUED, {"message_id": message_id})]
