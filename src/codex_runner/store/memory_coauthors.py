"""The in-memory store's co-authors (store.coauthors). Mixed into InMemoryStore."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from codex_runner.store.coauthors import Coauthor, CoauthorSource


class MemoryCoauthors:
    _coauthors: dict[tuple[str, str], Coauthor]

    def _init_coauthors(self) -> None:
        self._coauthors = {}

    async def _enter(self) -> None:
        raise NotImplementedError  # InMemoryStore's

    async def coauthor(self, bridge: str, user: str) -> Coauthor | None:
        await self._enter()
        return self._coauthors.get((bridge, user))

    async def put_coauthor(self, entry: Coauthor, *, over_manual: bool = True) -> bool:
        await self._enter()
        key = (entry.bridge, entry.user)
        old = self._coauthors.get(key)
        if old is not None and not over_manual and old.source is CoauthorSource.MANUAL:
            return False
        offered = old.offered_at if old is not None else None
        self._coauthors[key] = replace(entry, offered_at=offered)
        return True

    async def mark_coauthor_offered(self, bridge: str, user: str, at: datetime) -> bool:
        await self._enter()
        old = self._coauthors.get((bridge, user))
        if old is not None and old.offered_at is not None:
            return False
        fresh = old or Coauthor(bridge, user, None, None, updated_at=at)
        self._coauthors[(bridge, user)] = replace(fresh, offered_at=at)
        return True

    async def list_coauthors(self) -> list[Coauthor]:
        await self._enter()
        return [self._coauthors[k] for k in sorted(self._coauthors)]
