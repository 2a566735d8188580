"""The SQL store's event archive: the events of tasks finished long ago, moved out of the
``events`` table into one compressed row per task (``event_archives``), and read back from
there as if they had never moved. Mixed into SqlStore; its readers are called by
``read_events`` and ``read_graph_events``.

Archiving is one transaction (compress, insert the archive, delete the rows): a crash at any
point leaves either the rows or the archive, never neither, and archiving again is a no-op
or picks up where the last one left off. Events appended after (a follow-up turn) go on in
``events`` from ``through_seq + 1``; archiving them later merges them into the archive.

Readers read the live rows first and the archive second: an archiving that commits between
the two moved rows into an archive the second read finds, so no event goes missing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.graph_progress import GRAPH_STREAM_TYPES
from codex_runner.domain.task import TERMINAL_STATES, TaskState
from codex_runner.store import sql_graph_progress as graph_progress
from codex_runner.store import sql_statements as statements
from codex_runner.store.errors import StoreError
from codex_runner.store.event_archive_codec import (
    ArchivedEvents,
    ArchiveTotals,
    DecodedArchives,
    decode,
    encode,
)
from codex_runner.store.sql_base import SqlAccess
from codex_runner.store.tables import event_archives, event_counters, events, tasks

_TERMINAL = sorted(s.value for s in TERMINAL_STATES)


class SqlEventArchive(SqlAccess):
    async def archive_events(
        self, task_id: str, *, finished_before: datetime, now: datetime
    ) -> ArchivedEvents | None:
        return await self._write(lambda conn: _archive(conn, task_id, finished_before, now))

    async def tasks_to_archive(self, *, finished_before: datetime, limit: int) -> list[str]:
        query = (
            select(tasks.c.id)
            .join(event_counters, event_counters.c.task_id == tasks.c.id)
            .outerjoin(event_archives, event_archives.c.task_id == tasks.c.id)
            .where(
                tasks.c.state.in_(_TERMINAL),
                tasks.c.finished_at < finished_before,
                event_counters.c.last_seq > func.coalesce(event_archives.c.through_seq, 0),
            )
            .order_by(tasks.c.finished_at, tasks.c.id)
            .limit(max(limit, 0))
        )
        return await self._read(lambda conn: list(conn.scalars(query)))

    async def event_archive_totals(self) -> ArchiveTotals:
        query = select(
            func.count(),
            func.coalesce(func.sum(event_archives.c.through_seq), 0),
            func.coalesce(func.sum(event_archives.c.size), 0),
        )
        row = await self._read(lambda conn: conn.execute(query).one())
        return ArchiveTotals(tasks=int(row[0]), events=int(row[1]), bytes=int(row[2]))


def _archive(
    conn: Connection, task_id: str, finished_before: datetime, now: datetime
) -> ArchivedEvents | None:
    # The counter's row is the one appenders lock to number events: holding it, no event
    # of this task is written until the archive is (SQLite: the write lock holds it all).
    last = conn.scalar(
        select(event_counters.c.last_seq)
        .where(event_counters.c.task_id == task_id)
        .with_for_update()
    )
    task = conn.execute(
        select(tasks.c.state, tasks.c.finished_at).where(tasks.c.id == task_id)
    ).first()
    if last is None or task is None or TaskState(task.state) not in TERMINAL_STATES:
        return None
    if task.finished_at is None or task.finished_at >= finished_before:
        return None
    old = conn.execute(
        select(event_archives.c.through_seq, event_archives.c.content).where(
            event_archives.c.task_id == task_id
        )
    ).first()
    through = 0 if old is None else int(old.through_seq)
    if last <= through:
        return None
    moved = [
        TaskEvent(task_id, *row)
        for row in conn.execute(
            statements.READ_EVENTS, {"task_id": task_id, "after_seq": through, "limit": last}
        )
    ]
    if [e.seq for e in moved] != list(range(through + 1, last + 1)):
        raise StoreError(
            f"task {task_id}: events {through + 1}..{last} are not all in the event log; "
            "its events were left where they are"
        )
    content = encode([*(decode(task_id, old.content) if old is not None else ()), *moved])
    conn.execute(delete(event_archives).where(event_archives.c.task_id == task_id))
    conn.execute(
        insert(event_archives),
        [
            {
                "task_id": task_id,
                "through_seq": last,
                "content": content,
                "size": len(content),
                "archived_at": now,
            }
        ],
    )
    conn.execute(delete(events).where(events.c.task_id == task_id, events.c.seq <= last))
    return ArchivedEvents(task_id, last, len(moved), len(content))


def _archived_through(conn: Connection, task_id: str) -> int | None:
    found = conn.scalar(
        select(event_archives.c.through_seq).where(event_archives.c.task_id == task_id)
    )
    return None if found is None else int(found)


def _archive_page(
    conn: Connection,
    archives: DecodedArchives,
    task_id: str,
    through: int,
    after_seq: int,
    limit: int,
) -> list[TaskEvent]:
    def load() -> bytes:
        content = conn.scalar(
            select(event_archives.c.content).where(event_archives.c.task_id == task_id)
        )
        return bytes(content or b"")

    return archives.page(task_id, through, load, after_seq=after_seq, limit=limit)


def read_events(
    conn: Connection, archives: DecodedArchives, task_id: str, after_seq: int, limit: int
) -> list[TaskEvent]:
    """``Store.read_events``: the live rows, preceded by the archive's when it holds some."""
    params = {"task_id": task_id, "after_seq": after_seq, "limit": max(limit, 0)}
    live = [TaskEvent(task_id, *row) for row in conn.execute(statements.READ_EVENTS, params)]
    if limit <= 0 or (live and live[0].seq == after_seq + 1):
        return live  # the common case: nothing archived past after_seq, no second query
    through = _archived_through(conn, task_id)
    if through is None or through <= after_seq:
        return live
    older = _archive_page(conn, archives, task_id, through, after_seq, limit)
    newest = older[-1].seq if older else after_seq
    return [*older, *(e for e in live if e.seq > newest)][:limit]


def read_graph_events(
    conn: Connection, archives: DecodedArchives, parent_id: str, skip: int, limit: int
) -> list[TaskEvent]:
    """``Store.read_graph_events``: the parent's graph stream, archived part included."""
    start, count = max(skip, 0), max(limit, 0)
    # The first skip + limit live rows are enough: the archive only adds to the front.
    live = graph_progress.read(conn, parent_id, 0, start + count)
    through = _archived_through(conn, parent_id)
    if through is not None:
        older = _archive_page(conn, archives, parent_id, through, 0, through)
        kept = [e for e in older if e.type in GRAPH_STREAM_TYPES]
        live = [*kept, *(e for e in live if e.seq > through)]
    return live[start : start + count]
