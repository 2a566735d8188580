"""The store's hot-path SQL statements, built once: SQLAlchemy then skips building and keying
them per call. Parameters named ``match_*`` select the row; the others are the values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from codex_runner.domain.approval import ApprovalState
from codex_runner.domain.scheduling import BUSY_STATES, QUEUE_ORDER
from codex_runner.domain.task import TaskState
from codex_runner.store.tables import (
    approvals,
    event_counters,
    events,
    graphs,
    task_dependencies,
    tasks,
    threads,
    turns,
)


def queue_order_by(source: Any = tasks) -> list[ColumnElement[object]]:
    """``ORDER BY`` of the queue, from the one statement of it in ``domain.scheduling``."""
    return [
        source.c[field.name].desc() if field.descending else source.c[field.name].asc()
        for field in QUEUE_ORDER
    ]


BUMP_EVENT_COUNTER = (
    update(event_counters)
    .where(event_counters.c.task_id == bindparam("match_task_id"))
    .values(last_seq=event_counters.c.last_seq + bindparam("count", type_=Integer()))
    .returning(event_counters.c.last_seq)
)
INSERT_EVENTS = insert(events)
SET_EVENT_COUNTER = (
    update(event_counters)
    .where(event_counters.c.task_id == bindparam("match_task_id"))
    .values(last_seq=bindparam("new_last_seq", type_=Integer()))
)
# SET columns come from the parameter names (every task column except the fixed ones).
UPDATE_TASK_IF_STATE = update(tasks).where(
    tasks.c.id == bindparam("match_id"), tasks.c.state == bindparam("match_state")
)
SETTLE_APPROVAL = (
    update(approvals)
    .where(
        approvals.c.id == bindparam("match_id"),
        approvals.c.state == ApprovalState.PENDING.value,
    )
    .values(
        state=bindparam("new_state"),
        decision=bindparam("new_decision"),
        decided_by=bindparam("new_decided_by"),
        decided_at=bindparam("new_decided_at"),
    )
)
TASK_STATE = select(tasks.c.state).where(tasks.c.id == bindparam("match_id"))
TASK_BY_ID = select(tasks).where(tasks.c.id == bindparam("match_id"))
# Turn records are saved when a turn starts and when it ends; SET columns from the row.
UPDATE_TURN = update(turns).where(
    turns.c.task_id == bindparam("match_task_id"), turns.c.number == bindparam("match_number")
)
INSERT_TURN = insert(turns)
TURNS_OF_TASK = (
    select(turns).where(turns.c.task_id == bindparam("task_id")).order_by(turns.c.number)
)
THREAD_OWNER = select(threads.c.task_id).where(threads.c.thread_id == bindparam("match_thread_id"))
INSERT_THREAD = insert(threads)
# Publishing by seq reads its batch back: building this per call cost more than running it.
READ_EVENTS = (
    select(events.c.seq, events.c.type, events.c.at, events.c.data)
    .where(events.c.task_id == bindparam("task_id"), events.c.seq > bindparam("after_seq"))
    .order_by(events.c.seq)
    .limit(bindparam("limit", type_=Integer()))
)
# The scheduler asks after every change; the alias alone copied every task column per call.
PREREQUISITE = tasks.alias("prerequisite")
MEMBER = tasks.alias("member")
# A ready task's place among its graph's ready tasks (1 = next), and how many of the graph's
# tasks are busy; counted only for a graph with a max_concurrent (CASE skips the rest).
_PLACE = func.row_number().over(partition_by=tasks.c.graph_id, order_by=queue_order_by())
_BUSY = case(
    (graphs.c.max_concurrent.is_(None), 0),
    else_=select(func.count())
    .where(
        MEMBER.c.graph_id == tasks.c.graph_id,
        MEMBER.c.state.in_([s.value for s in BUSY_STATES]),
    )
    .scalar_subquery(),
)
READY = (
    select(
        tasks,
        _PLACE.label("graph_place"),
        _BUSY.label("graph_busy"),
        graphs.c.max_concurrent.label("graph_limit"),
    )
    .select_from(tasks.outerjoin(graphs, graphs.c.id == tasks.c.graph_id))
    .where(
        tasks.c.state == TaskState.QUEUED.value,
        ~exists().where(
            task_dependencies.c.task_id == tasks.c.id,
            PREREQUISITE.c.id == task_dependencies.c.prerequisite_id,
            PREREQUISITE.c.state != TaskState.COMPLETED.value,
        ),
    )
    .subquery("ready")
)
# pick_next's rule: a graph's ready tasks beyond its free slots keep their place and wait.
NEXT_QUEUED = (
    select(*(READY.c[column.name] for column in tasks.c))
    .where(
        or_(
            READY.c.graph_limit.is_(None),
            READY.c.graph_place + READY.c.graph_busy <= READY.c.graph_limit,
        )
    )
    .order_by(*queue_order_by(READY))
    .limit(bindparam("limit", type_=Integer()))
)
