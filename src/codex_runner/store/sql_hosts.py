"""The SQL store's hosts (domain.hosts): rows each serve process heartbeats, and the
look-ups a live host makes to take over a dead one's tasks. Mixed into SqlStore."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, delete, insert, select, update

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.hosts import Host
from codex_runner.domain.task import ACTIVE_STATES, Task
from codex_runner.store import rows
from codex_runner.store import sql_graph_progress as graph_progress
from codex_runner.store import sql_notices as notices
from codex_runner.store import sql_statements as statements
from codex_runner.store import sql_steps as steps
from codex_runner.store.protocol import TaskUpdate
from codex_runner.store.sql_base import SqlAccess
from codex_runner.store.tables import hosts, tasks

T = TypeVar("T")


class SqlHosts(SqlAccess):
    async def claim_tasks(
        self,
        claims: Sequence[TaskUpdate],
        limit: int,
        *,
        graph_events: list[TaskEvent] | None = None,
    ) -> list[tuple[TaskUpdate, list[int]]]:
        wanted = {c.task.id: c for c in claims}
        if not wanted or limit < 1:
            return []  # nothing to claim

        def work(
            conn: Connection,
        ) -> tuple[list[tuple[TaskUpdate, list[int]]], list[TaskEvent]]:
            # Rows other hosts hold are skipped, so concurrent hosts claim different tasks
            # instead of queueing behind each other's locks (SQLite: the writer holds all).
            query = (
                select(tasks.c.id, tasks.c.state, tasks.c.lease)
                .where(tasks.c.id.in_(list(wanted)))
                .with_for_update(skip_locked=True)
            )
            free = {task_id: (state, lease) for task_id, state, lease in conn.execute(query)}
            taken = [
                c
                for c in claims
                if c.task.id in free and free[c.task.id] == (c.expected_state.value, c.lease_before)
            ][:limit]
            if not taken:
                return [], []
            params = [
                {
                    **rows.task_update_values(c.task),
                    "match_id": c.task.id,
                    "match_state": c.expected_state.value,
                    "match_lease": c.lease_before,
                }
                for c in taken
            ]
            conn.execute(statements.UPDATE_TASK_IF_STATE, params)
            seqs = steps.append_many(conn, [(c.task.id, c.events) for c in taken])
            progress = graph_progress.record(conn, [(c.expected_state, c.task) for c in taken])
            return list(zip(taken, seqs, strict=True)), progress

        written, progress = await self._write(work)
        if graph_events is not None:
            graph_events += progress
        return written

    async def notify_hosts(self, topic: str) -> None:
        if self._writer_engine().dialect.name == "postgresql":
            # On the writer's own connection (its pool has one): sent when it commits.
            await self._write(lambda conn: notices.notify(conn, topic))

    def listen_hosts(self, on_notice: Callable[[str], None]) -> Callable[[], None] | None:
        """Start listening for other hosts' notices; the function that stops it (None on
        SQLite, which has no other hosts to hear)."""
        engine = self._writer_engine()
        if engine.dialect.name != "postgresql":
            return None
        listener = notices.NoticeListener(engine, on_notice)
        listener.start()
        return listener.stop

    async def save_host(self, host: Host) -> None:
        def work(conn: Connection) -> None:
            conn.execute(delete(hosts).where(hosts.c.id == host.id))
            conn.execute(insert(hosts), [rows.host_to_row(host)])

        await self._write(work)

    async def heartbeat(self, host_id: str, at: datetime) -> Host | None:
        def work(conn: Connection) -> Host | None:
            conn.execute(update(hosts).where(hosts.c.id == host_id).values(heartbeat_at=at))
            row = conn.execute(select(hosts).where(hosts.c.id == host_id)).mappings().first()
            return None if row is None else rows.host_from_row(row)

        return await self._write(work)

    async def list_hosts(self) -> list[Host]:
        def work(conn: Connection) -> list[Host]:
            found = conn.execute(select(hosts).order_by(hosts.c.id)).mappings()
            return [rows.host_from_row(r) for r in found]

        return await self._read(work)

    async def set_host_draining(self, host_id: str, draining: bool) -> bool:
        def work(conn: Connection) -> bool:
            changed = conn.execute(
                update(hosts).where(hosts.c.id == host_id).values(draining=draining)
            )
            return changed.rowcount > 0

        return await self._write(work)

    async def mark_dead_hosts(self, cutoff: datetime, now: datetime, except_id: str) -> list[str]:
        def work(conn: Connection) -> list[str]:
            # One UPDATE: two hosts marking at once each see the other's row locked, then
            # re-check it after the first commits (dead_at is no longer NULL): marked once.
            marked = conn.execute(
                update(hosts)
                .where(
                    hosts.c.dead_at.is_(None),
                    hosts.c.heartbeat_at < cutoff,
                    hosts.c.id != except_id,
                )
                .values(dead_at=now)
                .returning(hosts.c.id)
            )
            return sorted(str(host_id) for (host_id,) in marked)

        return await self._write(work)

    async def active_tasks_of_dead_hosts(self) -> list[Task]:
        dead = select(hosts.c.id).where(hosts.c.dead_at.is_not(None))
        query = (
            select(tasks)
            .where(tasks.c.host_id.in_(dead), tasks.c.state.in_([s.value for s in ACTIVE_STATES]))
            .order_by(tasks.c.created_at, tasks.c.id)
        )
        return await self._read_tasks(query)
