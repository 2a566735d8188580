"""SqlStore: the Store on SQLAlchemy 2 Core, SQLite by default.

How it talks to SQLite, and why:

- WAL journal: readers never block the writer and the writer never blocks readers.
- ``synchronous=NORMAL``: with WAL a commit survives a crash of the process and the
  database stays consistent through power loss (the newest commits may be lost then).
- Every write transaction starts with ``BEGIN IMMEDIATE`` (the SQLAlchemy recipe: the driver's
  own BEGIN is switched off with ``isolation_level=None`` and a ``begin`` event emits ours), so
  the write lock is taken up front and two writers never deadlock upgrading read locks into
  "database is locked"; ``busy_timeout`` covers writers in other processes.
- One owner for the write connection: a single writer thread runs every write transaction
  from start to end. Writes that arrive while one runs are committed together (group
  commit); if one of them fails, each is retried alone, so it does not undo the others.
- Reads run on a small pool of reader threads in autocommit mode (one statement, one
  snapshot), in parallel with writes. Every store thread keeps its own connection open.
- Why threads and not the aiosqlite driver: aiosqlite hops to its thread for every cursor
  call, about 1.2 ms per transaction on top of SQLite's own work (measured: 288 vs 1,900
  single-event appends/s, 24k vs 50k events/s in batches of 100). Here the event loop
  pays one hop per operation and the whole transaction runs at native speed.
- A write that has started finishes even if its caller is cancelled; a write still waiting
  in the queue when its caller is cancelled is dropped. Either way nothing is half-written.

All SQL of the package lives here and in ``tables.py``; nothing beyond the PRAGMAs and
``BEGIN IMMEDIATE`` is SQLite-specific.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    URL,
    Connection,
    Engine,
    Integer,
    RowMapping,
    Select,
    bindparam,
    create_engine,
    event,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

from codex_runner.domain import approval as approvals_rules
from codex_runner.domain import durable_event
from codex_runner.domain.approval import Approval, ApprovalState
from codex_runner.domain.conversation import ThreadRecord, Turn
from codex_runner.domain.durable_event import NewEvent, TaskEvent
from codex_runner.domain.graph import Graph, GraphPlan
from codex_runner.domain.task import Task, TaskState
from codex_runner.store import migrations, rows
from codex_runner.store.errors import (
    ApprovalAlreadyExists,
    ApprovalNotFound,
    DuplicateIdempotencyKey,
    GraphAlreadyExists,
    StoreBusy,
    StoreClosed,
    TaskAlreadyExists,
    TaskConflict,
    TaskNotFound,
    ThreadOwnedElsewhere,
    UnknownDependency,
)
from codex_runner.store.graph_check import check_graph_plan
from codex_runner.store.protocol import (
    DEFAULT_EVENT_PAGE,
    DEFAULT_PAGE,
    Store,
    TaskUpdate,
    check_distinct,
)
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

DEFAULT_FILENAME = "runner.sqlite"
DEFAULT_BUSY_TIMEOUT_S = 30.0
DEFAULT_READERS = 4
MAX_WRITES_PER_COMMIT = 256
# SQLite limits bound parameters per statement; keep IN (...) lists well below it.
_IN_CHUNK = 500

T = TypeVar("T")
Work = Callable[[Connection], Any]

# Hot-path statements built once: SQLAlchemy then skips building and keying them per call.
_BUMP_EVENT_COUNTER = (
    update(event_counters)
    .where(event_counters.c.task_id == bindparam("match_task_id"))
    .values(last_seq=event_counters.c.last_seq + bindparam("count", type_=Integer()))
    .returning(event_counters.c.last_seq)
)
_INSERT_EVENTS = insert(events)
_SET_EVENT_COUNTER = (
    update(event_counters)
    .where(event_counters.c.task_id == bindparam("match_task_id"))
    .values(last_seq=bindparam("new_last_seq", type_=Integer()))
)
# SET columns come from the parameter names (every task column except the fixed ones).
_UPDATE_TASK_IF_STATE = update(tasks).where(
    tasks.c.id == bindparam("match_id"), tasks.c.state == bindparam("match_state")
)
_SETTLE_APPROVAL = (
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
_TASK_STATE = select(tasks.c.state).where(tasks.c.id == bindparam("match_id"))
_TASK_BY_ID = select(tasks).where(tasks.c.id == bindparam("match_id"))
# Turn records are saved when a turn starts and when it ends; SET columns from the row.
_UPDATE_TURN = update(turns).where(
    turns.c.task_id == bindparam("match_task_id"), turns.c.number == bindparam("match_number")
)
_INSERT_TURN = insert(turns)
_TURNS_OF_TASK = (
    select(turns).where(turns.c.task_id == bindparam("task_id")).order_by(turns.c.number)
)
_THREAD_OWNER = select(threads.c.task_id).where(threads.c.thread_id == bindparam("match_thread_id"))
_INSERT_THREAD = insert(threads)
# Publishing by seq reads its batch back: building this per call cost more than running it.
_READ_EVENTS = (
    select(events.c.seq, events.c.type, events.c.at, events.c.data)
    .where(events.c.task_id == bindparam("task_id"), events.c.seq > bindparam("after_seq"))
    .order_by(events.c.seq)
    .limit(bindparam("limit", type_=Integer()))
)
# The scheduler asks after every change; the alias alone copied every task column per call.
_PREREQUISITE = tasks.alias("prerequisite")
_NEXT_QUEUED = (
    select(tasks)
    .where(
        tasks.c.state == TaskState.QUEUED.value,
        ~exists().where(
            task_dependencies.c.task_id == tasks.c.id,
            _PREREQUISITE.c.id == task_dependencies.c.prerequisite_id,
            _PREREQUISITE.c.state != TaskState.COMPLETED.value,
        ),
    )
    .order_by(tasks.c.priority.desc(), tasks.c.created_at, tasks.c.id)
    .limit(bindparam("limit", type_=Integer()))
)


class _Lifecycle(StrEnum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


@dataclass
class _WriteJob:
    work: Work
    future: asyncio.Future[Any]


class SqlStore:
    """A Store on a SQL database; create it with :meth:`open`, end it with :meth:`close`.

    Also an async context manager. Use it from one event loop.
    """

    def __init__(self, writer: Engine, reader: Engine, *, readers: int) -> None:
        """Use :meth:`open`; this takes engines already configured by it."""
        self._writer = _ConnectionPerThread(writer)
        self._reader = _ConnectionPerThread(reader)
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="codex-runner-store-write")
        self._read_threads = ThreadPoolExecutor(
            readers, thread_name_prefix="codex-runner-store-read"
        )
        self._queue: list[_WriteJob] = []
        self._flusher: asyncio.Task[None] | None = None
        self._state = _Lifecycle.OPEN

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        readers: int = DEFAULT_READERS,
    ) -> SqlStore:
        """Open (creating if needed) the SQLite database file ``path`` and migrate it.

        ``path`` is a file such as ``$CODEX_RUNNER_HOME/runner.sqlite``
        (:data:`DEFAULT_FILENAME`); its directory is created if missing.
        Raises :class:`~codex_runner.store.errors.SchemaError` if the schema cannot be
        migrated.
        """
        file = Path(path)
        if str(file) in ("", ":memory:"):
            raise ValueError("SqlStore needs a database file; use InMemoryStore for memory")
        if readers < 1:
            raise ValueError("readers must be at least 1")
        url = URL.create("sqlite", database=str(file))
        # Connections move between the threads of a pool (one user at a time).
        connect_args = {"check_same_thread": False}
        busy_ms = int(busy_timeout_s * 1000)
        writer = create_engine(
            url,
            connect_args=connect_args,
            pool_size=1,
            max_overflow=0,
            pool_timeout=busy_timeout_s,
            json_serializer=_dump_json,
            json_deserializer=orjson.loads,
        )
        _configure_sqlite(writer, busy_ms=busy_ms, begin="BEGIN IMMEDIATE")
        reader = create_engine(
            url,
            connect_args=connect_args,
            pool_size=readers,
            max_overflow=0,
            pool_reset_on_return=None,  # reads never open a transaction
            json_serializer=_dump_json,
            json_deserializer=orjson.loads,
        )
        _configure_sqlite(reader, busy_ms=busy_ms, begin=None)
        store = cls(writer, reader, readers=readers)

        def migrate() -> None:
            file.parent.mkdir(parents=True, exist_ok=True)
            with writer.begin() as conn:
                migrations.upgrade(conn)

        try:
            await asyncio.get_running_loop().run_in_executor(store._write_thread, migrate)
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Finish the writes already accepted, then release threads and connections."""
        if self._state is not _Lifecycle.OPEN:
            return
        self._state = _Lifecycle.CLOSING
        if self._flusher is not None:
            await asyncio.wait([self._flusher])
        await asyncio.get_running_loop().run_in_executor(None, self._shut_down)
        self._state = _Lifecycle.CLOSED

    def _shut_down(self) -> None:
        self._write_thread.shutdown(wait=True)
        self._read_threads.shutdown(wait=True)
        self._writer.close()
        self._reader.close()

    async def __aenter__(self) -> SqlStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- plumbing --------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state is not _Lifecycle.OPEN:
            raise StoreClosed()

    async def _write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` inside a write transaction; its exception undoes only its own writes."""
        self._check_open()
        job = _WriteJob(work, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="codex-runner-store-writer")
        result: T = await job.future
        return result

    async def _flush(self) -> None:
        """Commit queued writes, as many per transaction as are waiting."""
        loop = asyncio.get_running_loop()
        while self._queue:
            batch = [j for j in self._queue[:MAX_WRITES_PER_COMMIT] if not j.future.done()]
            del self._queue[:MAX_WRITES_PER_COMMIT]
            if not batch:
                continue
            works = [j.work for j in batch]
            try:
                outcomes = await loop.run_in_executor(
                    self._write_thread, _commit, self._writer, works
                )
            except asyncio.CancelledError:
                for job in [*batch, *self._queue]:
                    job.future.cancel()
                self._queue.clear()
                raise
            except Exception as e:  # the executor is gone: nobody will run these
                outcomes = [(False, e)] * len(batch)
            for job, (ok, value) in zip(batch, outcomes, strict=True):
                if job.future.done():  # the caller was cancelled meanwhile
                    continue
                if ok:
                    job.future.set_result(value)
                else:
                    job.future.set_exception(value)

    async def _read(self, work: Callable[[Connection], T]) -> T:
        self._check_open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_threads, _run_read, self._reader, work)

    async def _read_tasks(
        self, query: Select[Any], parameters: dict[str, Any] | None = None
    ) -> list[Task]:
        # Every task query selects the whole tasks row (find_task_by_thread joins but
        # selects only tasks' columns), in rows.TASK_COLUMNS order.
        return await self._read(
            lambda conn: [rows.task_from_row(r) for r in conn.execute(query, parameters).all()]
        )

    async def _read_rows(self, query: Select[Any]) -> Sequence[RowMapping]:
        return await self._read(lambda conn: _mappings(conn, query))

    # --- tasks -----------------------------------------------------------------------------

    async def create_task(self, task: Task) -> None:
        def work(conn: Connection) -> None:
            _check_new_tasks(conn, [task])
            _insert_tasks(conn, [task])

        await self._write(work)

    async def create_graph(self, plan: GraphPlan) -> None:
        check_graph_plan(plan)
        new_tasks = [plan.parent, *plan.children]

        def work(conn: Connection) -> None:
            taken = conn.scalar(select(graphs.c.id).where(graphs.c.id == plan.graph.id))
            if taken is not None:
                raise GraphAlreadyExists(plan.graph.id)
            _check_new_tasks(conn, new_tasks)
            conn.execute(insert(graphs), [rows.graph_to_row(plan.graph)])
            _insert_tasks(conn, new_tasks)
            _append(conn, plan.parent.id, [durable_event.graph_created(plan)])

        await self._write(work)

    async def get_task(self, task_id: str) -> Task | None:
        found = await self._read_tasks(_TASK_BY_ID, {"match_id": task_id})
        return found[0] if found else None

    async def find_by_idempotency_key(self, key: str) -> Task | None:
        found = await self._read_tasks(select(tasks).where(tasks.c.idempotency_key == key))
        return found[0] if found else None

    async def update_task(
        self, task: Task, *, expected_state: TaskState, events: Sequence[NewEvent] = ()
    ) -> list[int]:
        params = rows.task_update_values(task)
        params.update(match_id=task.id, match_state=expected_state.value)

        def work(conn: Connection) -> list[int]:
            result = conn.execute(_UPDATE_TASK_IF_STATE, params)
            if result.rowcount == 0:
                actual = conn.scalar(_TASK_STATE, {"match_id": task.id})
                if actual is None:
                    raise TaskNotFound(task.id)
                raise TaskConflict(task.id, expected_state, TaskState(actual))
            return _append(conn, task.id, events)

        return await self._write(work)

    async def update_tasks(self, updates: Sequence[TaskUpdate]) -> list[list[int]]:
        batch = list(updates)
        check_distinct(batch)
        params = [
            {
                **rows.task_update_values(u.task),
                "match_id": u.task.id,
                "match_state": u.expected_state.value,
            }
            for u in batch
        ]

        def work(conn: Connection) -> list[list[int]]:
            # Checked first (we hold the write lock): one executemany then writes them all.
            states = _states(conn, [u.task.id for u in batch])
            for change in batch:
                actual = states.get(change.task.id)
                if actual is None:
                    raise TaskNotFound(change.task.id)
                if actual is not change.expected_state:
                    raise TaskConflict(change.task.id, change.expected_state, actual)
            if params:
                conn.execute(_UPDATE_TASK_IF_STATE, params)
            return _append_many(conn, [(u.task.id, u.events) for u in batch])

        return await self._write(work)

    async def list_tasks(
        self,
        *,
        states: Collection[TaskState] | None = None,
        graph_id: str | None = None,
        limit: int = DEFAULT_PAGE,
        offset: int = 0,
    ) -> list[Task]:
        query = select(tasks)
        if states is not None:
            query = query.where(tasks.c.state.in_([s.value for s in states]))
        if graph_id is not None:
            query = query.where(tasks.c.graph_id == graph_id)
        query = query.order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
        return await self._read_tasks(query.limit(limit).offset(offset))

    async def tasks_in_states(self, states: Collection[TaskState]) -> list[Task]:
        query = (
            select(tasks)
            .where(tasks.c.state.in_([s.value for s in states]))
            .order_by(tasks.c.created_at, tasks.c.id)
        )
        return await self._read_tasks(query)

    async def count_by_state(self) -> dict[TaskState, int]:
        query = select(tasks.c.state, func.count().label("n")).group_by(tasks.c.state)
        counts = dict.fromkeys(TaskState, 0)
        for row in await self._read_rows(query):
            counts[TaskState(row["state"])] = row["n"]
        return counts

    async def states_of(self, task_ids: Collection[str]) -> dict[str, TaskState]:
        ids = list(dict.fromkeys(task_ids))

        return await self._read(lambda conn: _states(conn, ids))

    async def next_queued(self, limit: int) -> list[Task]:
        return await self._read_tasks(_NEXT_QUEUED, {"limit": limit})

    # --- events ----------------------------------------------------------------------------

    async def append_events(self, task_id: str, events: Sequence[NewEvent]) -> list[int]:
        batch = list(events)

        def work(conn: Connection) -> list[int]:
            return _append(conn, task_id, batch, must_exist=True)

        return await self._write(work)

    async def read_events(
        self, task_id: str, *, after_seq: int = 0, limit: int = DEFAULT_EVENT_PAGE
    ) -> list[TaskEvent]:
        params = {"task_id": task_id, "after_seq": after_seq, "limit": max(limit, 0)}

        def work(conn: Connection) -> list[TaskEvent]:
            return [
                TaskEvent(task_id, seq, type_, at, data)
                for seq, type_, at, data in conn.execute(_READ_EVENTS, params)
            ]

        return await self._read(work)

    async def last_seq(self, task_id: str) -> int:
        query = select(event_counters.c.last_seq).where(event_counters.c.task_id == task_id)
        found = await self._read(lambda conn: conn.scalar(query))
        return int(found or 0)

    # --- approvals -------------------------------------------------------------------------

    async def create_approval(self, approval: Approval) -> int:
        def work(conn: Connection) -> int:
            _require_task(conn, approval.task_id)
            taken = conn.scalar(select(approvals.c.id).where(approvals.c.id == approval.id))
            if taken is not None:
                raise ApprovalAlreadyExists(approval.id)
            conn.execute(insert(approvals), [rows.approval_to_row(approval)])
            return _append(conn, approval.task_id, [durable_event.approval_requested(approval)])[0]

        return await self._write(work)

    async def get_approval(self, approval_id: str) -> Approval | None:
        found = await self._read_rows(select(approvals).where(approvals.c.id == approval_id))
        return rows.approval_from_row(found[0]) if found else None

    async def list_pending_approvals(self, *, task_id: str | None = None) -> list[Approval]:
        query = select(approvals).where(approvals.c.state == ApprovalState.PENDING.value)
        if task_id is not None:
            query = query.where(approvals.c.task_id == task_id)
        query = query.order_by(approvals.c.created_at, approvals.c.id)
        return [rows.approval_from_row(r) for r in await self._read_rows(query)]

    async def decide_approval(
        self, approval_id: str, decision: str, *, by: str, now: datetime
    ) -> Approval:
        def work(conn: Connection) -> Approval:
            row = conn.execute(select(approvals).where(approvals.c.id == approval_id)).mappings()
            current = row.first()
            if current is None:
                raise ApprovalNotFound(approval_id)
            decided = approvals_rules.decide(rows.approval_from_row(current), decision, by, now=now)
            _settle_approvals(conn, [decided])
            _append(conn, decided.task_id, [durable_event.approval_decided(decided)])
            return decided

        return await self._write(work)

    async def expire_approvals(self, task_id: str, *, now: datetime) -> list[Approval]:
        return await self.expire_approvals_of([task_id], now=now)

    async def expire_approvals_of(
        self, task_ids: Collection[str], *, now: datetime
    ) -> list[Approval]:
        ids = list(dict.fromkeys(task_ids))

        def work(conn: Connection) -> list[Approval]:
            pending: list[Approval] = []
            for chunk in _chunks(ids):
                query = select(approvals).where(
                    approvals.c.task_id.in_(chunk),
                    approvals.c.state == ApprovalState.PENDING.value,
                )
                pending += [rows.approval_from_row(r) for r in conn.execute(query).mappings()]
            pending.sort(key=lambda a: (a.created_at, a.id))
            return _expire(conn, pending, now)

        return await self._write(work)

    # --- graphs ----------------------------------------------------------------------------

    async def get_graph(self, graph_id: str) -> Graph | None:
        found = await self._read_rows(select(graphs).where(graphs.c.id == graph_id))
        return rows.graph_from_row(found[0]) if found else None

    # --- threads and turns -----------------------------------------------------------------

    async def record_thread(self, thread: ThreadRecord) -> None:
        def work(conn: Connection) -> None:
            _require_task(conn, thread.task_id)
            owner = conn.scalar(_THREAD_OWNER, {"match_thread_id": thread.thread_id})
            if owner is not None:
                if owner != thread.task_id:
                    raise ThreadOwnedElsewhere(thread.thread_id, owner)
                return
            conn.execute(_INSERT_THREAD, [rows.thread_to_row(thread)])

        await self._write(work)

    async def find_task_by_thread(self, thread_id: str) -> Task | None:
        query = (
            select(tasks)
            .join(threads, threads.c.task_id == tasks.c.id)
            .where(threads.c.thread_id == thread_id)
        )
        found = await self._read_tasks(query)
        return found[0] if found else None

    async def save_turn(self, turn: Turn) -> None:
        row = rows.turn_to_row(turn)

        def work(conn: Connection) -> None:
            _require_task(conn, turn.task_id)
            match = {"match_task_id": turn.task_id, "match_number": turn.number}
            if conn.execute(_UPDATE_TURN, {**row, **match}).rowcount == 0:
                conn.execute(_INSERT_TURN, [row])

        await self._write(work)

    async def list_turns(self, task_id: str) -> list[Turn]:
        params = {"task_id": task_id}
        found = await self._read(lambda conn: conn.execute(_TURNS_OF_TASK, params).mappings().all())
        return [rows.turn_from_row(r) for r in found]


# --- run in the store's threads ----------------------------------------------------------------


class _ConnectionPerThread:
    """Each store thread keeps one connection of ``engine`` for as long as the store is open.

    Checking a connection out of the pool and resetting it on return cost about as much as
    a small transaction itself; a thread's own connection skips both. A connection the
    driver invalidated (a database error that broke it) is replaced on its next use.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Connection] = []

    def get(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not (conn.closed or conn.invalidated):
            return conn
        if conn is not None:  # give its pool slot back before taking a new one
            with contextlib.suppress(Exception):
                conn.close()
            with self._lock:
                self._all.remove(conn)
        conn = self.engine.connect()
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection and the engine (the threads have stopped)."""
        with self._lock:
            opened, self._all = self._all, []
        for conn in opened:
            with contextlib.suppress(Exception):
                conn.close()
        self.engine.dispose()


def _commit(writer: _ConnectionPerThread, works: Sequence[Work]) -> list[tuple[bool, Any]]:
    """Run ``works`` in one transaction: (True, result) or (False, exception) for each.

    Optimistic group commit: the works run one after the other in one transaction. If one
    raises, that transaction is rolled back and each work runs again in a transaction of
    its own, so a failing write never takes the others with it. Works are plain functions
    of the database, so running one again after a rollback gives the same outcome. When the
    database itself fails (locked past busy_timeout, disk I/O), every work gets that error
    at once instead of waiting for it again one by one; a lock held elsewhere is StoreBusy.
    """
    if len(works) > 1:
        try:
            conn = writer.get()
            with conn.begin():
                return [(True, work(conn)) for work in works]
        except OperationalError as e:
            return [(False, _busy_or_same(e))] * len(works)
        except Exception:
            pass  # one of the works refused: run each on its own
    outcomes: list[tuple[bool, Any]] = []
    for work in works:
        try:
            conn = writer.get()
            with conn.begin():
                outcomes.append((True, work(conn)))
        except Exception as e:  # rolled back: nothing of this work was written
            outcomes.append((False, _busy_or_same(e)))
    return outcomes


# SQLITE_BUSY and SQLITE_LOCKED (primary result codes; extended ones add high bits).
_LOCK_ERROR_CODES = frozenset({5, 6})


def _busy_or_same(error: Exception) -> Exception:
    """StoreBusy for "database is locked" past the busy timeout, else ``error`` itself."""
    if not isinstance(error, OperationalError):
        return error
    code = getattr(error.orig, "sqlite_errorcode", None)
    locked = (
        code & 0xFF in _LOCK_ERROR_CODES
        if isinstance(code, int)
        else "database is locked" in str(error.orig)
    )
    if not locked:
        return error
    busy = StoreBusy()
    busy.__cause__ = error
    return busy


def _run_read(reader: _ConnectionPerThread, work: Callable[[Connection], T]) -> T:
    conn = reader.get()
    try:
        return work(conn)
    except OperationalError as e:
        busy = _busy_or_same(e)
        if busy is e:
            raise
        raise busy from e
    finally:
        # Ends SQLAlchemy's implicit transaction; the driver is in autocommit (no BEGIN was
        # sent), so nothing is held between reads.
        conn.rollback()


def _mappings(conn: Connection, query: Select[Any]) -> Sequence[RowMapping]:
    return conn.execute(query).mappings().all()


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)]


def _require_task(conn: Connection, task_id: str) -> None:
    if conn.scalar(_TASK_STATE, {"match_id": task_id}) is None:
        raise TaskNotFound(task_id)


def _existing_ids(conn: Connection, ids: Collection[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(ids)):
        found.update(conn.execute(select(tasks.c.id).where(tasks.c.id.in_(chunk))).scalars())
    return found


def _check_new_tasks(conn: Connection, new: Sequence[Task]) -> None:
    """Typed errors for what the inserts would trip over (safe: we hold the write lock)."""
    existing = _existing_ids(conn, [t.id for t in new])
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
    for chunk in _chunks(list(keys)):
        query = select(tasks.c.idempotency_key, tasks.c.id).where(
            tasks.c.idempotency_key.in_(chunk)
        )
        for key, owner in conn.execute(query):
            raise DuplicateIdempotencyKey(key, owner)
    new_ids = {t.id for t in new}
    found = _existing_ids(conn, {d for t in new for d in t.depends_on if d not in new_ids})
    for task in new:
        for dep in task.depends_on:
            if dep not in new_ids and dep not in found:
                raise UnknownDependency(task.id, dep)


def _insert_tasks(conn: Connection, new: Sequence[Task]) -> None:
    """Insert tasks (parents first), their dependency edges and task.created events."""
    conn.execute(insert(tasks), [rows.task_to_row(t) for t in new])
    edges = [{"task_id": t.id, "prerequisite_id": d} for t in new for d in t.depends_on]
    if edges:
        conn.execute(insert(task_dependencies), edges)
    conn.execute(insert(event_counters), [{"task_id": t.id, "last_seq": 1} for t in new])
    conn.execute(insert(events), [_event_row(t.id, 1, durable_event.task_created(t)) for t in new])


def _append(
    conn: Connection, task_id: str, new: Sequence[NewEvent], *, must_exist: bool = False
) -> list[int]:
    """Number and insert events; the counter row update is what serializes their numbers."""
    if not new:
        if must_exist:
            _require_task(conn, task_id)
        return []
    result = conn.execute(_BUMP_EVENT_COUNTER, {"match_task_id": task_id, "count": len(new)})
    last = result.scalar_one_or_none()
    if last is None:
        raise TaskNotFound(task_id)
    first = last - len(new) + 1
    conn.execute(_INSERT_EVENTS, [_event_row(task_id, first + i, e) for i, e in enumerate(new)])
    return list(range(first, last + 1))


def _append_many(
    conn: Connection, batch: Sequence[tuple[str, Sequence[NewEvent]]]
) -> list[list[int]]:
    """``_append`` for several tasks (each named once) with three statements in all."""
    wanted = [task_id for task_id, new in batch if new]
    last: dict[str, int] = {}
    for chunk in _chunks(wanted):
        query = select(event_counters.c.task_id, event_counters.c.last_seq).where(
            event_counters.c.task_id.in_(chunk)
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
        event_rows += [_event_row(task_id, first + i, e) for i, e in enumerate(new)]
        seqs.append(list(range(first, last[task_id] + 1)))
    if counters:
        conn.execute(_SET_EVENT_COUNTER, counters)
        conn.execute(_INSERT_EVENTS, event_rows)
    return seqs


def _expire(conn: Connection, pending: Sequence[Approval], now: datetime) -> list[Approval]:
    """Settle ``pending`` as expired, each with its ``approval.expired`` event."""
    expired = [approvals_rules.expire(a, now=now) for a in pending]
    _settle_approvals(conn, expired)
    by_task: dict[str, list[NewEvent]] = {}
    for approval in expired:
        by_task.setdefault(approval.task_id, []).append(durable_event.approval_expired(approval))
    _append_many(conn, list(by_task.items()))
    return expired


def _states(conn: Connection, task_ids: Sequence[str]) -> dict[str, TaskState]:
    states: dict[str, TaskState] = {}
    for chunk in _chunks(task_ids):
        query = select(tasks.c.id, tasks.c.state).where(tasks.c.id.in_(chunk))
        for task_id, state in conn.execute(query):
            states[task_id] = TaskState(state)
    return states


def _dump_json(value: Any) -> str:
    # orjson: event payloads are encoded once per event, on the ingest path's hottest line.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _event_row(task_id: str, seq: int, new: NewEvent) -> dict[str, Any]:
    return {"task_id": task_id, "seq": seq, "type": new.type, "at": new.at, "data": new.data}


def _settle_approvals(conn: Connection, settled: Sequence[Approval]) -> None:
    """Write each approval's decision, only over a pending one: one statement for all."""
    if not settled:
        return
    result = conn.execute(
        _SETTLE_APPROVAL,
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


# --- SQLite connection setup -------------------------------------------------------------------


def _configure_sqlite(engine: Engine, *, busy_ms: int, begin: str | None) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module, which would emit a deferred
        # BEGIN of its own, and only before DML.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    if begin is not None:

        @event.listens_for(engine, "begin")
        def on_begin(connection: Connection) -> None:
            connection.exec_driver_sql(begin)


def _conforms(store: SqlStore) -> Store:
    return store  # mypy checks here that SqlStore implements the Store protocol
