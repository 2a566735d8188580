"""The chat core's way out, on Slack: each outbox entry becomes one Web API call.

Besides the core's posts and edits, Slack's outbox carries reactions (the mark on a queued
message) and files (the agent's ``post-file``, spooled in the session's ``outbox/``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from codex_runner.bridges.chat.bridge_db import POST, Post
from codex_runner.bridges.slack.api import SlackApi

REACT = "react"
FILE = "file"


class SlackTransport:
    """:class:`~codex_runner.bridges.chat.transport.ChatTransport` on the Slack Web API."""

    def __init__(self, api: SlackApi) -> None:
        self._api = api

    async def send(self, post: Post) -> str | None:
        payload = post.payload
        if post.op == POST:
            return await self._api.post_message(
                post.channel, post.thread, str(payload["text"]), payload.get("blocks")
            )
        if post.op == REACT:
            await self._api.add_reaction(post.channel, str(payload["ts"]), str(payload["name"]))
            return None
        if post.op == FILE:
            path = Path(str(payload["path"]))
            file_id = await self._api.upload_file(
                post.channel, post.thread, path, str(payload["filename"]), payload.get("comment")
            )
            if payload.get("spooled"):
                await asyncio.to_thread(path.unlink, True)
            return file_id or None
        raise ValueError(f"unknown outbox op {post.op!r}")

    async def edit(self, post: Post, message_id: str) -> None:
        payload = post.payload
        await self._api.update_message(
            post.channel, message_id, str(payload["text"]), payload.get("blocks")
        )

    def receipt(self, post: Post, message_id: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"op": post.op, "channel": post.channel}
        if message_id:
            data["file_id" if post.op == FILE else "ts"] = message_id
        if post.thread:
            data["thread_ts"] = post.thread
        if text := post.payload.get("text"):
            data["text"] = str(text)[:500]
        return data
