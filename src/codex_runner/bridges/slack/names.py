"""Display names for user ids (``users:read``); the raw id where Slack will not say."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from codex_runner.bridges.slack.api import SlackApi, SlackRejected, SlackUnavailable

log = logging.getLogger(__name__)
MAX_CACHED = 10_000


class DisplayNames:
    def __init__(self, api: SlackApi) -> None:
        self._api = api
        self._names: dict[str, str] = {}
        self._no_scope = False

    async def name(self, user_id: str) -> str:
        if user_id in self._names:
            return self._names[user_id]
        if self._no_scope:
            return user_id
        try:
            name = await self._api.user_name(user_id)
        except SlackRejected as exc:
            if exc.error == "missing_scope":
                self._no_scope = True  # ask once, not for every message
            log.info("no display name for %s: %s", user_id, exc)
            return user_id
        except SlackUnavailable:
            return user_id  # not cached: try again next time
        if len(self._names) >= MAX_CACHED:
            self._names.clear()
        self._names[user_id] = name or user_id
        return self._names[user_id]

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        return {u: await self.name(u) for u in dict.fromkeys(user_ids)}
