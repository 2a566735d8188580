"""Steps of the store's transactions, run on its threads with the connection they hold.

Each takes the open connection; the write steps run inside the writer's transaction, which
holds the database's write lock, so checking first and then writing is safe.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, insert, select

from codex_runner.domain import approval as approvals_rules
from codex_runner.domain import durable_event
from codex_runner.domain.approval import Approval, ApprovalState
from codex_runner.domain.conversation import ThreadRecord, Turn
from codex_runner.domain.durable_event import NewEvent
from codex_runner.domain.task import Task, TaskState
from codex_runner.store import rows
from codex_runner.store.errors import (
    DuplicateIdempotencyKey,
    LeaseLost,
    TaskAlreadyExists,
    TaskNotFound,
    ThreadOwnedElsewhere,
    UnknownDependency,
)
from codex_runner.store.sql_statements import (
    BUMP_EVENT_COUNTER,
    INSERT_DIRECTORY_THREAD,
    INSERT_EVENTS,
    INSERT_THREAD,
    INSERT_TURN,
    SET_EVENT_COUNTER,
    SETTLE_APPROVAL,
    TASK_STATE,
    THREAD_OWNER,
    UPDATE_DIRECTORY_THREAD,
    UPDATE_TURN,
)
from codex_runner.store.tables import (
    approvals,
    event_counters,
    events,
    task_dependencies,
    tasks,
)

# SQLite limits bound parameters per statement; keep IN (...) lists well below it.
_IN_CHUNK = 500


def mappings(conn: Connection, query: Select[Any]) -> Sequence[RowMapping]:
    return conn.execute(query).mappings().all()


def chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)]


def require_task(conn: Connection, task_id: str) -> None:
    if conn.scalar(TASK_STATE, {"match_id": task_id}) is None:
        raise TaskNotFound(task_id)


def require_lease(conn: Connection, task_id: str, lease: int) -> None:
    """LeaseLost unless the task still has ``lease``; its row stays locked until commit."""
    query = select(tasks.c.lease).where(tasks.c.id == task_id).with_for_update()
    current = conn.scalar(query)
    if current is None:
        raise TaskNotFound(task_id)
    if current != lease:
        raise LeaseLost(task_id, lease, current)


def record_thread(conn: Connection, thread: ThreadRecord) -> None:
    """Remember the thread as its task's (the task exists); a no-op when it already is."""
    owner = conn.scalar(THREAD_OWNER, {"match_thread_id": thread.thread_id})
    if owner is None:
        conn.execute(INSERT_THREAD, [rows.thread_to_row(thread)])
    elif owner != thread.task_id:
        raise ThreadOwnedElsewhere(thread.thread_id, owner)


def save_turn(conn: Connection, turn: Turn) -> None:
    """Insert or replace turn ``(task_id, number)`` of a task that exists."""
    require_task(conn, turn.task_id)
    row = rows.turn_to_row(turn)
    match = {"match_task_id": turn.task_id, "match_number": turn.number}
    if conn.execute(UPDATE_TURN, {**row, **match}).rowcount == 0:
        conn.execute(INSERT_TURN, [row])


def record_directory_thread(conn: Connection, path: str, thread_id: str, at: datetime) -> None:
    row = {"path": path, "thread_id": thread_id, "updated_at": at}
    if conn.execute(UPDATE_DIRECTORY_THREAD, {**row, "match_path": path}).rowcount == 0:
        conn.execute(INSERT_DIRECTORY_THREAD, [row])


def existing_ids(conn: Connection, ids: Collection[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(list(ids)):
        found.update(conn.execute(select(tasks.c.id).where(tasks.c.id.in_(chunk))).scalars())
    return found


def check_new_tasks(conn: Connection, new: Sequence[Task]) -> None:
    """Typed errors for what the inserts would trip over (safe: we hold the write lock)."""
    existing = existing_ids(conn, [t.id for t in new])
    for task in new:
        if task.id in existing:
            raise TaskAlreadyExists(task.id)
    keys: dict[str, str] = {}
    for task in new:
        key = task.idempotency_key
        if key is not None:
            if key in keys:
                raise DuplicateIdempotencyKey(key, keys[key])
            keys[key] = task.id
    for chunk in chunks(list(keys)):
        query = select(tasks.c.idempotency_key, tasks.c.id).where(
            tasks.c.idempotency_key.in_(chunk)
        )
        for key, owner in conn.execute(query):
            raise DuplicateIdempotencyKey(key, owner)
    new_ids = {t.id for t in new}
    found = existing_ids(conn, {d for t in new for d in t.depends_on if d not in new_ids})
    for task in new:
        for dep in task.depends_on:
            if dep not in new_ids and dep not in found:
                raise UnknownDependency(task.id, dep)


def insert_tasks(conn: Connection, new: Sequence[Task]) -> None:
    """Insert tasks (parents first), their dependency edges and task.created events."""
    conn.execute(insert(tasks), [rows.task_to_row(t) for t in new])
    edges = [{"task_id": t.id, "prerequisite_id": d} for t in new for d in t.depends_on]
    if edges:
        conn.execute(insert(task_dependencies), edges)
    conn.execute(insert(event_counters), [{"task_id": t.id, "last_seq": 1} for t in new])
    conn.execute(insert(events), [event_row(t.id, 1, durable_event.task_created(t)) for t in new])


def append(
    conn: Connection, task_id: str, new: Sequence[NewEvent], *, must_exist: bool = False
) -> list[int]:
    """Number and insert events; the counter row update is what serializes their numbers."""
    if not new:
        if must_exist:
            require_task(conn, task_id)
        return []
    result = conn.execute(BUMP_EVENT_COUNTER, {"match_task_id": task_id, "count": len(new)})
    last = result.scalar_one_or_none()
    if last is None:
        raise TaskNotFound(task_id)
    first = last - len(new) + 1
    conn.execute(INSERT_EVENTS, [event_row(task_id, first + i, e) for i, e in enumerate(new)])
    return list(range(first, last + 1))


def append_many(
    conn: Connection, batch: Sequence[tuple[str, Sequence[NewEvent]]]
) -> list[list[int]]:
    """``append`` for several tasks (each named once) with three statements in all."""
    wanted = [task_id for task_id, new in batch if new]
    last: dict[str, int] = {}
    for chunk in chunks(wanted):
        query = (
            select(event_counters.c.task_id, event_counters.c.last_seq)
            .where(event_counters.c.task_id.in_(chunk))
            .with_for_update()  # another host numbering the same task's events waits
        )
        last.update((task_id, seq) for task_id, seq in conn.execute(query))
    counters: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    seqs: list[list[int]] = []
    for task_id, new in batch:
        if not new:
            seqs.append([])
            continue
        if task_id not in last:
            raise TaskNotFound(task_id)
        first = last[task_id] + 1
        last[task_id] += len(new)
        counters.append({"match_task_id": task_id, "new_last_seq": last[task_id]})
        event_rows += [event_row(task_id, first + i, e) for i, e in enumerate(new)]
        seqs.append(list(range(first, last[task_id] + 1)))
    if counters:
        conn.execute(SET_EVENT_COUNTER, counters)
        conn.execute(INSERT_EVENTS, event_rows)
    return seqs


def expire(conn: Connection, pending: Sequence[Approval], now: datetime) -> list[Approval]:
    """Settle ``pending`` as expired, each with its ``approval.expired`` event."""
    expired = [approvals_rules.expire(a, now=now) for a in pending]
    settle_approvals(conn, expired)
    by_task: dict[str, list[NewEvent]] = {}
    for approval in expired:
        by_task.setdefault(approval.task_id, []).append(durable_event.approval_expired(approval))
    append_many(conn, list(by_task.items()))
    return expired


def expire_pending_of(conn: Connection, task_ids: Sequence[str], now: datetime) -> list[Approval]:
    """Expire every pending approval of the tasks, oldest first."""
    pending: list[Approval] = []
    for chunk in chunks(task_ids):
        query = select(approvals).where(
            approvals.c.task_id.in_(chunk), approvals.c.state == ApprovalState.PENDING.value
        )
        pending += [rows.approval_from_row(r) for r in conn.execute(query).mappings()]
    pending.sort(key=lambda a: (a.created_at, a.id))
    return expire(conn, pending, now)


def states(conn: Connection, task_ids: Sequence[str]) -> dict[str, TaskState]:
    states: dict[str, TaskState] = {}
    for chunk in chunks(task_ids):
        query = select(tasks.c.id, tasks.c.state).where(tasks.c.id.in_(chunk))
        for task_id, state in conn.execute(query):
            states[task_id] = TaskState(state)
    return states


def states_and_leases(
    conn: Connection, task_ids: Sequence[str]
) -> dict[str, tuple[TaskState, int]]:
    """Each task's state and lease, its row locked (FOR UPDATE on PostgreSQL; SQLite's
    write transaction holds the whole database) until the transaction ends."""
    held: dict[str, tuple[TaskState, int]] = {}
    for chunk in chunks(sorted(task_ids)):  # one lock order: no deadlock between writers
        query = (
            select(tasks.c.id, tasks.c.state, tasks.c.lease)
            .where(tasks.c.id.in_(chunk))
            .order_by(tasks.c.id)
            .with_for_update()
        )
        for task_id, state, lease in conn.execute(query):
            held[task_id] = (TaskState(state), lease)
    return held


def event_row(task_id: str, seq: int, new: NewEvent) -> dict[str, Any]:
    return {"task_id": task_id, "seq": seq, "type": new.type, "at": new.at, "data": new.data}


def settle_approvals(conn: Connection, settled: Sequence[Approval]) -> None:
    """Write each approval's decision, only over a pending one: one statement for all."""
    if not settled:
        return
    result = conn.execute(
        SETTLE_APPROVAL,
        [
            {
                "match_id": a.id,
                "new_state": a.state.value,
                "new_decision": a.decision,
                "new_decided_by": a.decided_by,
                "new_decided_at": a.decided_at,
            }
            for a in settled
        ],
    )
    # Impossible while one writer holds the lock; never ignore it. (A driver that cannot
    # count rows over a batch reports -1: then only a single update is checked.)
    counted = len(settled) == 1 or conn.dialect.supports_sane_multi_rowcount
    if counted and result.rowcount != len(settled):
        ids = ", ".join(a.id for a in settled)
        raise RuntimeError(f"approvals {ids} changed inside a write transaction")
