"""The chat core's way out, over the link: each outbox entry becomes one push to the chat
server on the runner's topic, delivered when the server's ``phx_reply`` says ok.

- a post is ``chat_reply`` (``approval_request`` when it asks for a decision);
- an edit is ``chat_reply`` with ``replaces``: the ``replyId`` of the post it replaces;
- a queued message's mark is ``chat_message_queued``.

Every push carries a ``replyId`` made of the instance id and the outbox entry's id, which
stays the same until the server confirms the push: a resend after a lost reply, a reconnect
or a restart carries the id the server saw before, so it can keep each reply once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from codex_runner.bridges.chat.bridge_db import POST, Post
from codex_runner.bridges.chat.errors import ChatRejected, ChatUnavailable
from codex_runner.bridges.link.phoenix import PhoenixError, PushRefused

CHAT_REPLY = "chat_reply"
APPROVAL_REQUEST = "approval_request"
MESSAGE_QUEUED = "chat_message_queued"
QUEUED = "queued"  # the outbox op of a queued message's mark

# (event, payload) -> the phx_reply's response; raises PhoenixError (or LinkUnavailable).
Push = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class LinkUnavailable(ChatUnavailable):
    """The link is down (or the server did not answer in time): the outbox tries again."""


class LinkRejected(ChatRejected):
    """The chat server answered the push with an error: sending it again would not help."""


class LinkTransport:
    """:class:`~codex_runner.bridges.chat.transport.ChatTransport` over the link."""

    def __init__(self, push: Push, instance_id: str) -> None:
        self._push = push
        self._instance_id = instance_id

    async def send(self, post: Post) -> str | None:
        reply_id = self.reply_id(post)
        if post.op == POST:
            event = APPROVAL_REQUEST if "approvalId" in post.payload else CHAT_REPLY
            await self._deliver(event, self._body(post, reply_id))
            return reply_id
        if post.op == QUEUED:
            body = self._body(post, reply_id)
            await self._deliver(MESSAGE_QUEUED, body)
            return None
        raise ValueError(f"unknown outbox op {post.op!r} for the chat server link")

    async def edit(self, post: Post, message_id: str) -> None:
        body = self._body(post, self.reply_id(post))
        await self._deliver(CHAT_REPLY, {**body, "replaces": message_id})

    def receipt(self, post: Post, message_id: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"op": post.op, "chat_thread_id": post.thread}
        if message_id:
            data["reply_id"] = message_id
        if text := post.payload.get("text"):
            data["text"] = str(text)[:500]
        return data

    def reply_id(self, post: Post) -> str:
        """The push's id: the outbox entry's, so a resend is recognisable (a push made
        outside the outbox, such as a live edit, gets a fresh one)."""
        if post.outbox_id is not None:
            return f"{self._instance_id}:{post.outbox_id}"
        return f"{self._instance_id}:x{uuid.uuid4().hex[:12]}"

    def _body(self, post: Post, reply_id: str) -> dict[str, Any]:
        fields = {k: v for k, v in post.payload.items() if k != "ref"}  # the core's own key
        return {
            "instanceId": self._instance_id,
            "channel": post.channel,
            "chatThreadId": post.thread,
            "replyId": reply_id,
            "taskId": post.task_id,
            **fields,
        }

    async def _deliver(self, event: str, body: dict[str, Any]) -> None:
        try:
            await self._push(event, body)
        except PushRefused as exc:
            raise LinkRejected(f"{event}: the chat server refused it: {exc}") from None
        except PhoenixError as exc:
            raise LinkUnavailable(f"{event}: {exc}") from None
