"""The store's hot-path SQL statements, built once: SQLAlchemy then skips building and keying
them per call. Parameters named ``match_*`` select the row; the others are the values.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from codex_runner.domain.approval import ApprovalState
from codex_runner.domain.scheduling import BUSY_STATES, QUEUE_ORDER
from codex_runner.domain.task import TaskState
from codex_runner.store.tables import (
    approvals,
    directory_threads,
    event_counters,
    events,
    graphs,
    task_dependencies,
    tasks,
    threads,
    turns,
)


class Likely(FunctionElement[bool]):
    """A condition the planner should take as true for most rows (see _LIMITED)."""

    type = Boolean()
    inherit_cache = True
    name = "likely"


@compiles(Likely, "sqlite")
def _likely_on_sqlite(element: Likely, compiler: Any, **kw: Any) -> str:
    return f"likelihood({compiler.process(element.clauses, **kw)}, 0.9)"


@compiles(Likely)
def _likely_elsewhere(element: Likely, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


class JsonField(FunctionElement[str]):
    """The text of key ``clauses[1]`` of the JSON object in TEXT column ``clauses[0]``."""

    type = String()
    inherit_cache = True
    name = "json_field"


@compiles(JsonField, "sqlite")
def _json_field_on_sqlite(element: JsonField, compiler: Any, **kw: Any) -> str:
    column, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"""json_extract({column}, '$."' || {key} || '"')"""


@compiles(JsonField, "postgresql")
def _json_field_on_postgresql(element: JsonField, compiler: Any, **kw: Any) -> str:
    column, key = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({column} AS JSONB) ->> {key})"


def task_page(
    states: Collection[TaskState] | None,
    graph_id: str | None,
    purpose: str | None,
    metadata: Mapping[str, str] | None,
) -> Select[Any]:
    """Tasks newest first, filtered (a page is cut by the caller's LIMIT and OFFSET)."""
    query = select(tasks)
    if states is not None:
        query = query.where(tasks.c.state.in_([s.value for s in states]))
    if graph_id is not None:
        query = query.where(tasks.c.graph_id == graph_id)
    if purpose is not None:
        query = query.where(tasks.c.purpose == purpose)
    for key, value in (metadata or {}).items():
        query = query.where(JsonField(tasks.c.meta, bindparam(None, key, String())) == value)
    return query.order_by(tasks.c.created_at.desc(), tasks.c.id.desc())


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
# Compare-and-set on the state and the lease (fencing: domain.hosts).
UPDATE_TASK_IF_STATE = update(tasks).where(
    tasks.c.id == bindparam("match_id"),
    tasks.c.state == bindparam("match_state"),
    tasks.c.lease == bindparam("match_lease"),
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
TASK_BY_THREAD = (
    select(tasks)
    .join(threads, threads.c.task_id == tasks.c.id)
    .where(threads.c.thread_id == bindparam("match_thread_id"))
)
DIRECTORY_THREAD = select(directory_threads.c.thread_id).where(
    directory_threads.c.path == bindparam("match_path")
)
UPDATE_DIRECTORY_THREAD = update(directory_threads).where(
    directory_threads.c.path == bindparam("match_path")
)
INSERT_DIRECTORY_THREAD = insert(directory_threads)
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
LIMITING = graphs.alias("limiting")
_QUEUE_LIMIT = bindparam("limit", type_=Integer())
_QUEUED = tasks.c.state == literal_column(f"'{TaskState.QUEUED.value}'")  # matches the index
_READY = ~exists().where(
    task_dependencies.c.task_id == tasks.c.id,
    PREREQUISITE.c.id == task_dependencies.c.prerequisite_id,
    PREREQUISITE.c.state != TaskState.COMPLETED.value,
)
_IN_LIMITED_GRAPH = exists().where(
    LIMITING.c.id == tasks.c.graph_id, LIMITING.c.max_concurrent.is_not(None)
)
# Tasks of no graph with a max_concurrent: straight from the queue index, stopping at LIMIT.
_FREE = (
    select(tasks)
    .where(_QUEUED, _READY, or_(tasks.c.graph_id.is_(None), ~_IN_LIMITED_GRAPH))
    .order_by(*queue_order_by())
    .limit(_QUEUE_LIMIT)
    .subquery("free")
)
# Queued tasks of graphs with a max_concurrent (few, through ix_tasks_queued_graph): each
# one's place among its graph's ready tasks (1 = next) and how many of the graph are busy.
_LIMITED = (
    select(
        tasks,
        func.row_number()
        .over(partition_by=tasks.c.graph_id, order_by=queue_order_by())
        .label("graph_place"),
        select(func.count())
        .where(
            MEMBER.c.graph_id == tasks.c.graph_id,
            MEMBER.c.state.in_([s.value for s in BUSY_STATES]),
        )
        .scalar_subquery()
        .label("graph_busy"),
        graphs.c.max_concurrent.label("graph_limit"),
    )
    .select_from(tasks.join(graphs, graphs.c.id == tasks.c.graph_id))
    .where(
        # SQLite's likelihood() tells its planner that the state alone selects many rows,
        # so that it reads ix_tasks_queued_graph, not the whole queue from ix_tasks_queue
        # (PostgreSQL's planner needs no hint: its twin is the bare condition).
        Likely(_QUEUED),
        tasks.c.graph_id.is_not(None),
        graphs.c.max_concurrent.is_not(None),
        _READY,
    )
    .subquery("limited")
)
_CANDIDATES = union_all(
    select(*(_FREE.c[column.name] for column in tasks.c)),
    select(*(_LIMITED.c[column.name] for column in tasks.c)).where(
        _LIMITED.c.graph_place + _LIMITED.c.graph_busy <= _LIMITED.c.graph_limit
    ),
).subquery("candidates")
# pick_next's rule: a full graph's ready tasks keep their place and wait; the rest go on.
NEXT_QUEUED = (
    select(*(_CANDIDATES.c[column.name] for column in tasks.c))
    .order_by(*queue_order_by(_CANDIDATES))
    .limit(_QUEUE_LIMIT)
)
