"""The in-memory store's notifications outbox (store.outbox). Mixed into InMemoryStore."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from codex_runner.domain.notify import DeliveryAttempt, DeliveryState, Notification
from codex_runner.store.outbox import DEFAULT_NOTIFICATION_PAGE


class MemoryOutbox:
    # Insertion order is the outbox's order (the SQL store's position).
    _outbox: dict[str, Notification]
    _outbox_claims: dict[str, tuple[str, datetime]]
    _outbox_attempts: dict[str, list[DeliveryAttempt]]

    def _init_outbox(self) -> None:
        self._outbox = {}
        self._outbox_claims = {}
        self._outbox_attempts = {}

    async def _enter(self) -> None:
        raise NotImplementedError  # InMemoryStore's

    async def enqueue_notifications(self, notifications: Sequence[Notification]) -> int:
        await self._enter()
        added = 0
        for n in notifications:
            if n.id not in self._outbox:
                self._outbox[n.id] = n
                added += 1
        return added

    async def claim_notifications(
        self, host_id: str, *, now: datetime, until: datetime, limit: int
    ) -> list[Notification]:
        await self._enter()
        claimed: list[Notification] = []
        first_seen: set[tuple[str, str]] = set()
        for n in self._outbox.values():
            if n.state is not DeliveryState.PENDING:
                continue
            chain = (n.url, n.order_key)
            if chain in first_seen:
                continue  # an earlier one of its chain is still pending
            first_seen.add(chain)
            claim = self._outbox_claims.get(n.id)
            free = claim is None or claim[1] <= now
            if n.next_attempt_at <= now and free and len(claimed) < limit:
                self._outbox_claims[n.id] = (host_id, until)
                claimed.append(n)
        return claimed

    async def record_notification_attempt(
        self,
        notification_id: str,
        host_id: str,
        attempt: DeliveryAttempt,
        *,
        retry_at: datetime | None,
    ) -> bool:
        await self._enter()
        n = self._outbox.get(notification_id)
        claim = self._outbox_claims.get(notification_id)
        if (
            n is None
            or claim is None
            or claim[0] != host_id
            or n.state is not DeliveryState.PENDING
        ):
            return False
        del self._outbox_claims[notification_id]
        self._outbox_attempts.setdefault(notification_id, []).append(attempt)
        n = replace(
            n, attempts=n.attempts + 1, last_status=attempt.status_code, last_error=attempt.error
        )
        if attempt.succeeded:
            n = replace(n, state=DeliveryState.DELIVERED, finished_at=attempt.at)
        elif retry_at is None:
            n = replace(n, state=DeliveryState.GIVEN_UP, finished_at=attempt.at)
        else:
            n = replace(n, next_attempt_at=retry_at)
        self._outbox[notification_id] = n
        return True

    async def list_notifications(
        self, *, state: DeliveryState | None = None, limit: int = DEFAULT_NOTIFICATION_PAGE
    ) -> list[Notification]:
        await self._enter()
        found = [n for n in reversed(self._outbox.values()) if state in (None, n.state)]
        return found[:limit]

    async def notification_attempts(self, notification_id: str) -> list[DeliveryAttempt]:
        await self._enter()
        return list(self._outbox_attempts.get(notification_id, ()))

    async def release_notification_claims(self, host_id: str) -> int:
        await self._enter()
        mine = [nid for nid, (holder, _) in self._outbox_claims.items() if holder == host_id]
        for nid in mine:
            del self._outbox_claims[nid]
        return len(mine)

    async def prune_notifications(self, finished_before: datetime) -> int:
        await self._enter()
        done = [
            n.id
            for n in self._outbox.values()
            if n.state is not DeliveryState.PENDING
            and n.finished_at is not None
            and n.finished_at < finished_before
        ]
        for nid in done:
            del self._outbox[nid]
            self._outbox_attempts.pop(nid, None)
        return len(done)
