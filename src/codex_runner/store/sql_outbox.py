"""The SQL store's notifications outbox (store.outbox): rows claimed under a lease, like
``sql_hosts.claim_tasks`` claims tasks. Mixed into SqlStore."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, exists, insert, or_, select, update

from codex_runner.domain.notify import DeliveryAttempt, DeliveryState, Notification
from codex_runner.store.outbox import DEFAULT_NOTIFICATION_PAGE
from codex_runner.store.sql_base import SqlAccess
from codex_runner.store.tables import notify_attempts, notify_outbox

_PENDING = DeliveryState.PENDING.value
_COLUMNS = (
    "id",
    "url",
    "webhook",
    "order_key",
    "kind",
    "body",
    "created_at",
    "next_attempt_at",
    "state",
    "attempts",
    "last_status",
    "last_error",
    "finished_at",
)


def _row(n: Notification) -> dict[str, Any]:
    row = {name: getattr(n, name) for name in _COLUMNS}
    row["state"] = n.state.value
    return row


def _notification(row: RowMapping) -> Notification:
    values = {name: row[name] for name in _COLUMNS}
    values["state"] = DeliveryState(row["state"])
    return Notification(**values)


class SqlOutbox(SqlAccess):
    async def enqueue_notifications(self, notifications: Sequence[Notification]) -> int:
        batch = list({n.id: n for n in notifications}.values())
        if not batch:
            return 0

        def work(conn: Connection) -> int:
            # One writer at a time on SQLite; on PostgreSQL two hosts enqueuing the same id
            # at once would clash on the unique id: the writer retries the loser, which then
            # sees the row.
            ids = [n.id for n in batch]
            have = set(conn.scalars(select(notify_outbox.c.id).where(notify_outbox.c.id.in_(ids))))
            new = [_row(n) for n in batch if n.id not in have]
            if new:
                conn.execute(insert(notify_outbox), new)
            return len(new)

        return await self._write(work)

    async def claim_notifications(
        self, host_id: str, *, now: datetime, until: datetime, limit: int
    ) -> list[Notification]:
        if limit < 1:
            return []
        o = notify_outbox
        earlier = o.alias("earlier")
        waits = exists().where(
            earlier.c.url == o.c.url,
            earlier.c.order_key == o.c.order_key,
            earlier.c.state == _PENDING,
            earlier.c.position < o.c.position,
        )
        query = (
            select(o)
            .where(
                o.c.state == _PENDING,
                o.c.next_attempt_at <= now,
                or_(o.c.claimed_until.is_(None), o.c.claimed_until <= now),
                ~waits,
            )
            .order_by(o.c.position)
            .limit(limit)
            # Rows another host is claiming are skipped, not waited for (SQLite: ignored,
            # its one writer holds them all).
            .with_for_update(skip_locked=True, of=o)
        )

        def work(conn: Connection) -> list[Notification]:
            found = conn.execute(query).mappings().all()
            if not found:
                return []
            positions = [r["position"] for r in found]
            conn.execute(
                update(o)
                .where(o.c.position.in_(positions))
                .values(claimed_by=host_id, claimed_until=until)
            )
            return [_notification(r) for r in found]

        return await self._write(work)

    async def record_notification_attempt(
        self,
        notification_id: str,
        host_id: str,
        attempt: DeliveryAttempt,
        *,
        retry_at: datetime | None,
    ) -> bool:
        o = notify_outbox

        def work(conn: Connection) -> bool:
            held = conn.execute(
                select(o.c.attempts, o.c.next_attempt_at)
                .where(o.c.id == notification_id, o.c.claimed_by == host_id)
                .where(o.c.state == _PENDING)
            ).first()
            if held is None:
                return False
            number = int(held.attempts) + 1
            conn.execute(
                insert(notify_attempts),
                [
                    {
                        "notification_id": notification_id,
                        "number": number,
                        "at": attempt.at,
                        "status_code": attempt.status_code,
                        "error": attempt.error,
                    }
                ],
            )
            values: dict[str, Any] = {
                "attempts": number,
                "last_status": attempt.status_code,
                "last_error": attempt.error,
                "claimed_by": None,
                "claimed_until": None,
            }
            if attempt.succeeded:
                values.update(state=DeliveryState.DELIVERED.value, finished_at=attempt.at)
            elif retry_at is None:
                values.update(state=DeliveryState.GIVEN_UP.value, finished_at=attempt.at)
            else:
                values.update(next_attempt_at=retry_at)
            conn.execute(update(o).where(o.c.id == notification_id).values(**values))
            return True

        return await self._write(work)

    async def list_notifications(
        self, *, state: DeliveryState | None = None, limit: int = DEFAULT_NOTIFICATION_PAGE
    ) -> list[Notification]:
        query = select(notify_outbox).order_by(notify_outbox.c.position.desc()).limit(limit)
        if state is not None:
            query = query.where(notify_outbox.c.state == state.value)

        def work(conn: Connection) -> list[Notification]:
            return [_notification(r) for r in conn.execute(query).mappings()]

        return await self._read(work)

    async def notification_attempts(self, notification_id: str) -> list[DeliveryAttempt]:
        a = notify_attempts
        query = (
            select(a.c.at, a.c.status_code, a.c.error)
            .where(a.c.notification_id == notification_id)
            .order_by(a.c.number)
        )

        def work(conn: Connection) -> list[DeliveryAttempt]:
            return [DeliveryAttempt(at, code, error) for at, code, error in conn.execute(query)]

        return await self._read(work)

    async def release_notification_claims(self, host_id: str) -> int:
        o = notify_outbox
        release = (
            update(o)
            .where(o.c.claimed_by == host_id, o.c.state == _PENDING)
            .values(claimed_by=None, claimed_until=None)
        )
        return await self._write(lambda conn: conn.execute(release).rowcount)

    async def prune_notifications(self, finished_before: datetime) -> int:
        o = notify_outbox
        done = select(o.c.id).where(o.c.state != _PENDING, o.c.finished_at < finished_before)

        def work(conn: Connection) -> int:
            ids = list(conn.scalars(done))
            if not ids:
                return 0
            conn.execute(delete(notify_attempts).where(notify_attempts.c.notification_id.in_(ids)))
            conn.execute(delete(o).where(o.c.id.in_(ids)))
            return len(ids)

        return await self._write(work)
