"""The Slack Web API as the bridge uses it: a small Protocol and its slack_sdk implementation.

Errors are typed: :class:`SlackUnavailable` (Slack is down, slow or rate limiting: retry
later) and :class:`SlackRejected` (Slack said no for a reason retrying will not fix).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from codex_runner.bridges.chat.errors import ChatRejected, ChatUnavailable

log = logging.getLogger(__name__)

_RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024


class SlackUnavailable(ChatUnavailable):
    """Slack could not take the call now; try again later."""


class SlackRejected(ChatRejected):
    """Slack refused the call (bad channel, missing scope, ...); retrying will not help."""

    def __init__(self, method: str, error: str) -> None:
        self.method = method
        self.error = error
        super().__init__(f"Slack refused {method}: {error}")


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    bot_id: str | None
    team_id: str | None
    scopes: frozenset[str] | None  # None when Slack did not say


class SlackApi(Protocol):
    async def auth_test(self) -> BotIdentity: ...

    async def post_message(
        self, channel: str, thread_ts: str | None, text: str, blocks: list[dict[str, Any]] | None
    ) -> str:
        """Post and return the new message's ts."""

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None
    ) -> None: ...

    async def add_reaction(self, channel: str, ts: str, name: str) -> None: ...

    async def upload_file(
        self, channel: str, thread_ts: str | None, path: Path, filename: str, comment: str | None
    ) -> str:
        """Upload and share a file in the thread; returns the file id."""

    async def replies(self, channel: str, thread_ts: str, limit: int) -> list[dict[str, Any]]:
        """Messages of a thread, oldest first (at most ``limit``, the newest ones)."""

    async def user_name(self, user_id: str) -> str | None: ...

    async def download(self, url: str, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes: ...


T = TypeVar("T")


class WebSlackApi:
    """:class:`SlackApi` on slack_sdk's AsyncWebClient (any Slack-compatible base URL)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def _call(self, method: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error") or f"HTTP {status}")
            if status >= 500 or status == 429 or error in _RETRYABLE_ERRORS:
                raise SlackUnavailable(f"{method}: {error}") from exc
            raise SlackRejected(method, error) from exc
        except (SlackRequestError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SlackUnavailable(f"{method}: {type(exc).__name__}: {exc}") from exc

    async def auth_test(self) -> BotIdentity:
        resp: AsyncSlackResponse = await self._call("auth.test", self.client.auth_test)
        raw_scopes = resp.headers.get("x-oauth-scopes") if resp.headers else None
        scopes = (
            frozenset(s.strip() for s in str(raw_scopes).split(",") if s.strip())
            if raw_scopes is not None
            else None
        )
        return BotIdentity(
            user_id=str(resp["user_id"]),
            bot_id=resp.get("bot_id"),
            team_id=resp.get("team_id"),
            scopes=scopes,
        )

    async def post_message(
        self, channel: str, thread_ts: str | None, text: str, blocks: list[dict[str, Any]] | None
    ) -> str:
        resp = await self._call(
            "chat.postMessage",
            lambda: self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            ),
        )
        return str(resp["ts"])

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None
    ) -> None:
        await self._call(
            "chat.update",
            lambda: self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks),
        )

    async def add_reaction(self, channel: str, ts: str, name: str) -> None:
        try:
            await self._call(
                "reactions.add",
                lambda: self.client.reactions_add(channel=channel, timestamp=ts, name=name),
            )
        except SlackRejected as exc:
            if exc.error != "already_reacted":
                raise

    async def upload_file(
        self, channel: str, thread_ts: str | None, path: Path, filename: str, comment: str | None
    ) -> str:
        data = await asyncio.to_thread(path.read_bytes)
        resp = await self._call(
            "files.upload",
            lambda: self.client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=data,
                filename=filename,
                title=filename,
                initial_comment=comment,
            ),
        )
        file = resp.get("file") or {}
        return str(file.get("id", ""))

    async def replies(self, channel: str, thread_ts: str, limit: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(20):  # bounded paging: at most 20 pages
            resp = await self._call(
                "conversations.replies",
                lambda c=cursor: self.client.conversations_replies(  # type: ignore[misc]
                    channel=channel, ts=thread_ts, limit=200, cursor=c
                ),
            )
            messages.extend(m for m in resp.get("messages") or () if isinstance(m, dict))
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return messages[-limit:] if limit else []

    async def user_name(self, user_id: str) -> str | None:
        resp = await self._call("users.info", lambda: self.client.users_info(user=user_id))
        user = resp.get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
        return str(name or user.get("name") or "") or None

    async def download(self, url: str, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        headers = {"Authorization": f"Bearer {self.client.token}"}
        timeout = aiohttp.ClientTimeout(total=60)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers) as resp,
            ):
                if resp.status >= 500:
                    raise SlackUnavailable(f"download: HTTP {resp.status}")
                if resp.status != 200:
                    raise SlackRejected("download", f"HTTP {resp.status}")
                body = await resp.content.read(max_bytes + 1)
        except aiohttp.ClientError as exc:
            raise SlackUnavailable(f"download: {exc}") from exc
        if len(body) > max_bytes:
            raise SlackRejected("download", f"file larger than {max_bytes} bytes")
        return body
