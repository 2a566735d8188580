"""The Slack Web API calls the co-author form needs, beside :class:`WebSlackApi`'s:
``users.info`` with the profile's email (only with ``users:read.email``),
``chat.postEphemeral`` and ``views.open``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from codex_runner.bridges.slack.api import WebSlackApi


@dataclass(frozen=True)
class SlackProfile:
    """A person's name for people to read, and their email (None: not shared with us)."""

    name: str
    email: str | None


class CoauthorSlack(Protocol):
    async def user_profile(self, user_id: str) -> SlackProfile: ...

    async def post_ephemeral(
        self, channel: str, user: str, thread_ts: str | None, text: str, blocks: list[Any]
    ) -> None: ...

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None: ...


class CoauthorSlackApi(WebSlackApi):
    """:class:`WebSlackApi` and :class:`CoauthorSlack` on one client."""

    async def user_profile(self, user_id: str) -> SlackProfile:
        resp = await self._call("users.info", lambda: self.client.users_info(user=user_id))
        user = resp.get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("real_name") or profile.get("display_name") or user.get("real_name")
        email = profile.get("email")
        return SlackProfile(
            name=str(name or user.get("name") or ""),
            email=str(email) if isinstance(email, str) and email else None,
        )

    async def post_ephemeral(
        self, channel: str, user: str, thread_ts: str | None, text: str, blocks: list[Any]
    ) -> None:
        await self._call(
            "chat.postEphemeral",
            lambda: self.client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, text=text, blocks=blocks
            ),
        )

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self._call(
            "views.open", lambda: self.client.views_open(trigger_id=trigger_id, view=view)
        )
