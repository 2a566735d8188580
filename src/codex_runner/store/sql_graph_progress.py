"""A graph's progress in the SQL store: recorded on the parent's history inside the write
that changes a graph task's state, and read back as the graph's own stream."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.graph_progress import GRAPH_STREAM_TYPES, progress_events
from codex_runner.domain.task import Task, TaskState
from codex_runner.store import rows
from codex_runner.store.sql_steps import append
from codex_runner.store.tables import events, graphs, tasks


def record(conn: Connection, changes: Sequence[tuple[TaskState, Task]]) -> list[TaskEvent]:
    """Append the progress each ``(before, after)`` change (already written) tells its
    graph to the graph's parent; the events written, in order."""
    written: list[TaskEvent] = []
    for before, after in changes:
        if after.graph_id is None or before is after.state:
            continue  # the common case costs no query
        query = select(tasks).where(tasks.c.graph_id == after.graph_id)
        members = [rows.task_from_row(r) for r in conn.execute(query)]
        new = progress_events(before, after, members)
        if not new:
            continue
        parent = conn.scalar(select(graphs.c.parent_id).where(graphs.c.id == after.graph_id))
        if parent is None:
            continue  # a task naming no stored graph has no stream to report to
        seqs = append(conn, parent, new)
        pairs = zip(seqs, new, strict=True)
        written += [TaskEvent(parent, n, e.type, e.at, e.data) for n, e in pairs]
    return written


def read(conn: Connection, parent_id: str, skip: int, limit: int) -> list[TaskEvent]:
    """The parent's graph stream events in seq order, leaving out the first ``skip``."""
    query = (
        select(events.c.seq, events.c.type, events.c.at, events.c.data)
        .where(events.c.task_id == parent_id, events.c.type.in_(sorted(GRAPH_STREAM_TYPES)))
        .order_by(events.c.seq)
        .limit(max(limit, 0))
        .offset(max(skip, 0))
    )
    return [TaskEvent(parent_id, *row) for row in conn.execute(query)]
