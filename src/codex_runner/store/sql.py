"""SqlStore: the Store on SQLAlchemy 2 Core, SQLite by default, PostgreSQL by URL.

The store is assembled from its parts, one module each:

- ``sqlite_engines``: the SQLite engines (WAL, ``synchronous=NORMAL``, ``BEGIN IMMEDIATE``
  for every write transaction, ``busy_timeout`` for writers in other processes);
  ``postgres_engines`` their PostgreSQL twins (psycopg 3, READ COMMITTED writes,
  autocommit reads).
- ``sql_threads``: one writer thread that commits queued writes together (group commit,
  each retried alone when one fails) and a pool of reader threads, every thread with its
  own connection.
- ``sql_statements`` and ``sql_steps``: the prebuilt statements and the steps of the
  transactions (numbering events, checking and inserting tasks, settling approvals).
- ``sql_hosts``: the hosts' rows and the look-ups of a takeover (a mixin).
- ``sql_event_archive``: the events of tasks finished long ago, compressed in one row
  per task and read back from there (a mixin; docs/event-archive.md).

All SQL of the package lives in these modules and in ``tables.py``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    Select,
    func,
    insert,
    select,
)

from codex_runner.domain import approval as approvals_rules
from codex_runner.domain import durable_event
from codex_runner.domain.approval import Approval, ApprovalState
from codex_runner.domain.conversation import ThreadRecord
from codex_runner.domain.durable_event import NewEvent, TaskEvent
from codex_runner.domain.graph import Graph, GraphPlan
from codex_runner.domain.task import Task, TaskState
from codex_runner.store import migrations, rows
from codex_runner.store import sql_event_archive as event_archive
from codex_runner.store import sql_graph_progress as graph_progress
from codex_runner.store import sql_statements as statements
from codex_runner.store import sql_steps as steps
from codex_runner.store.errors import (
    ApprovalAlreadyExists,
    ApprovalNotFound,
    GraphAlreadyExists,
    StoreClosed,
    TaskConflict,
    TaskNotFound,
)
from codex_runner.store.event_archive_codec import DecodedArchives
from codex_runner.store.graph_check import check_graph_plan
from codex_runner.store.postgres_engines import engines_for
from codex_runner.store.protocol import (
    DEFAULT_EVENT_PAGE,
    DEFAULT_PAGE,
    Store,
    TaskUpdate,
    check_distinct,
)
from codex_runner.store.sql_coauthors import SqlCoauthors
from codex_runner.store.sql_conversation import SqlConversation
from codex_runner.store.sql_event_archive import SqlEventArchive
from codex_runner.store.sql_hosts import SqlHosts
from codex_runner.store.sql_jobs import SqlJobs
from codex_runner.store.sql_outbox import SqlOutbox
from codex_runner.store.sql_threads import GroupCommitWriter, ReaderPool, idempotent
from codex_runner.store.tables import (
    approvals,
    event_counters,
    graphs,
    tasks,
)

DEFAULT_FILENAME = "runner.sqlite"
DEFAULT_BUSY_TIMEOUT_S = 30.0
DEFAULT_READERS = 4

T = TypeVar("T")


class _Lifecycle(StrEnum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class SqlStore(SqlOutbox, SqlJobs, SqlCoauthors, SqlHosts, SqlConversation, SqlEventArchive):
    """A Store on a SQL database; create it with :meth:`open`, end it with :meth:`close`.

    Also an async context manager. Use it from one event loop.
    """

    def __init__(self, writer: Engine, reader: Engine, *, readers: int) -> None:
        """Use :meth:`open`; this takes engines already configured by it."""
        self._writes = GroupCommitWriter(writer)
        self._reads = ReaderPool(reader, readers=readers)
        self._archives = DecodedArchives()
        self._state = _Lifecycle.OPEN

    @classmethod
    async def open(
        cls,
        target: str | os.PathLike[str],
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        readers: int = DEFAULT_READERS,
    ) -> SqlStore:
        """Open (creating if needed) the database and migrate it.

        ``target`` is a SQLite file such as ``$CODEX_RUNNER_HOME/runner.sqlite``
        (:data:`DEFAULT_FILENAME`; its directory is created if missing) or a PostgreSQL URL
        (``postgresql+psycopg://USER@HOST/DB``; the database must exist).
        Raises :class:`~codex_runner.store.errors.SchemaError` if the schema cannot be
        migrated.
        """
        if readers < 1:
            raise ValueError("readers must be at least 1")
        writer, reader, file = engines_for(target, busy_timeout_s=busy_timeout_s, readers=readers)
        store = cls(writer, reader, readers=readers)

        def migrate() -> None:
            if file is not None:
                file.parent.mkdir(parents=True, exist_ok=True)
            with writer.begin() as conn:
                migrations.upgrade(conn)

        try:
            await store._writes.run_in_thread(migrate)
            # Every connection opens now, not on first use: see ReaderPool.open_all.
            await store._writes.run_in_thread(store._writes.connections.get)
            await store._reads.open_all(readers)
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Finish the writes already accepted, then release threads and connections."""
        if self._state is not _Lifecycle.OPEN:
            return
        self._state = _Lifecycle.CLOSING
        await self._writes.drain()
        await asyncio.get_running_loop().run_in_executor(None, self._shut_down)
        self._state = _Lifecycle.CLOSED

    def _writer_engine(self) -> Engine:
        return self._writes.connections.engine

    def _shut_down(self) -> None:
        self._writes.shut_down()
        self._reads.shut_down()

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
        return await self._writes.write(work)

    async def _read(self, work: Callable[[Connection], T]) -> T:
        self._check_open()
        return await self._reads.read(work)

    async def _read_tasks(
        self, query: Select[Any], parameters: dict[str, Any] | None = None
    ) -> list[Task]:
        # Every task query selects the whole tasks row (find_task_by_thread joins but
        # selects only tasks' columns), in rows.TASK_COLUMNS order.
        return await self._read(
            lambda conn: [rows.task_from_row(r) for r in conn.execute(query, parameters).all()]
        )

    async def _read_rows(self, query: Select[Any]) -> Sequence[RowMapping]:
        return await self._read(lambda conn: steps.mappings(conn, query))

    # --- tasks -----------------------------------------------------------------------------

    async def create_task(self, task: Task) -> None:
        def work(conn: Connection) -> None:
            steps.check_new_tasks(conn, [task])
            steps.insert_tasks(conn, [task])

        await self._write(work)

    async def create_graph(self, plan: GraphPlan) -> None:
        check_graph_plan(plan)
        new_tasks = [plan.parent, *plan.children]

        def work(conn: Connection) -> None:
            taken = conn.scalar(select(graphs.c.id).where(graphs.c.id == plan.graph.id))
            if taken is not None:
                raise GraphAlreadyExists(plan.graph.id)
            steps.check_new_tasks(conn, new_tasks)
            conn.execute(insert(graphs), [rows.graph_to_row(plan.graph)])
            steps.insert_tasks(conn, new_tasks)
            steps.append(conn, plan.parent.id, [durable_event.graph_created(plan)])

        await self._write(work)

    async def get_task(self, task_id: str) -> Task | None:
        found = await self._read_tasks(statements.TASK_BY_ID, {"match_id": task_id})
        return found[0] if found else None

    async def find_by_idempotency_key(self, key: str) -> Task | None:
        found = await self._read_tasks(select(tasks).where(tasks.c.idempotency_key == key))
        return found[0] if found else None

    async def update_task(
        self,
        task: Task,
        *,
        expected_state: TaskState,
        events: Sequence[NewEvent] = (),
        thread: ThreadRecord | None = None,
        graph_events: list[TaskEvent] | None = None,
        expected_lease: int | None = None,
    ) -> list[int]:
        params = rows.task_update_values(task)
        lease = task.lease if expected_lease is None else expected_lease
        params.update(match_id=task.id, match_state=expected_state.value, match_lease=lease)

        def work(conn: Connection) -> tuple[list[int], list[TaskEvent]]:
            result = conn.execute(statements.UPDATE_TASK_IF_STATE, params)
            if result.rowcount == 0:
                actual = conn.scalar(statements.TASK_STATE, {"match_id": task.id})
                if actual is None:
                    raise TaskNotFound(task.id)
                raise TaskConflict(task.id, expected_state, TaskState(actual))
            if thread is not None:
                steps.record_thread(conn, thread)  # raising undoes the update with it
            seqs = steps.append(conn, task.id, events)
            return seqs, graph_progress.record(conn, [(expected_state, task)])

        # Fields written onto a task that stays in its state, with no events (a runner's
        # save): the same outcome however often it runs, so a commit that may have happened
        # is run again rather than failing the run.
        same = not events and task.state is expected_state
        seqs, progress = await self._write(idempotent(work) if same else work)
        if graph_events is not None:
            graph_events += progress
        return seqs

    async def update_tasks(
        self, updates: Sequence[TaskUpdate], *, graph_events: list[TaskEvent] | None = None
    ) -> list[list[int]]:
        batch = list(updates)
        check_distinct(batch)
        params = [
            {
                **rows.task_update_values(u.task),
                "match_id": u.task.id,
                "match_state": u.expected_state.value,
                "match_lease": u.lease_before,
            }
            for u in batch
        ]

        def work(conn: Connection) -> tuple[list[list[int]], list[TaskEvent]]:
            # Checked first (we hold the write lock): one executemany then writes them all.
            held = steps.states_and_leases(conn, [u.task.id for u in batch])
            for change in batch:
                if change.task.id not in held:
                    raise TaskNotFound(change.task.id)
                actual, lease = held[change.task.id]
                if actual is not change.expected_state or lease != change.lease_before:
                    raise TaskConflict(change.task.id, change.expected_state, actual)
            if params:
                conn.execute(statements.UPDATE_TASK_IF_STATE, params)
            seqs = steps.append_many(conn, [(u.task.id, u.events) for u in batch])
            changes = [(u.expected_state, u.task) for u in batch]
            return seqs, graph_progress.record(conn, changes)

        seqs, progress = await self._write(work)
        if graph_events is not None:
            graph_events += progress
        return seqs

    async def list_tasks(
        self,
        *,
        states: Collection[TaskState] | None = None,
        graph_id: str | None = None,
        purpose: str | None = None,
        metadata: Mapping[str, str] | None = None,
        limit: int = DEFAULT_PAGE,
        offset: int = 0,
    ) -> list[Task]:
        query = statements.task_page(states, graph_id, purpose, metadata)
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

        return await self._read(lambda conn: steps.states(conn, ids))

    async def next_queued(self, limit: int) -> list[Task]:
        return await self._read_tasks(statements.NEXT_QUEUED, {"limit": limit})

    # --- events ----------------------------------------------------------------------------

    async def append_events(
        self, task_id: str, events: Sequence[NewEvent], *, lease: int | None = None
    ) -> list[int]:
        batch = list(events)

        def work(conn: Connection) -> list[int]:
            if lease is not None:
                steps.require_lease(conn, task_id, lease)
            return steps.append(conn, task_id, batch, must_exist=True)

        return await self._write(work)

    async def read_events(
        self, task_id: str, *, after_seq: int = 0, limit: int = DEFAULT_EVENT_PAGE
    ) -> list[TaskEvent]:
        archives = self._archives
        return await self._read(
            lambda conn: event_archive.read_events(conn, archives, task_id, after_seq, limit)
        )

    async def read_graph_events(
        self, parent_id: str, *, skip: int = 0, limit: int = DEFAULT_EVENT_PAGE
    ) -> list[TaskEvent]:
        archives = self._archives
        return await self._read(
            lambda conn: event_archive.read_graph_events(conn, archives, parent_id, skip, limit)
        )

    async def last_seq(self, task_id: str) -> int:
        query = select(event_counters.c.last_seq).where(event_counters.c.task_id == task_id)
        found = await self._read(lambda conn: conn.scalar(query))
        return int(found or 0)

    # --- approvals -------------------------------------------------------------------------

    async def create_approval(self, approval: Approval, *, lease: int | None = None) -> int:
        def work(conn: Connection) -> int:
            steps.require_task(conn, approval.task_id)
            if lease is not None:
                steps.require_lease(conn, approval.task_id, lease)
            taken = conn.scalar(select(approvals.c.id).where(approvals.c.id == approval.id))
            if taken is not None:
                raise ApprovalAlreadyExists(approval.id)
            conn.execute(insert(approvals), [rows.approval_to_row(approval)])
            return steps.append(
                conn, approval.task_id, [durable_event.approval_requested(approval)]
            )[0]

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
            steps.settle_approvals(conn, [decided])
            steps.append(conn, decided.task_id, [durable_event.approval_decided(decided)])
            return decided

        return await self._write(work)

    async def expire_approvals(self, task_id: str, *, now: datetime) -> list[Approval]:
        return await self.expire_approvals_of([task_id], now=now)

    async def expire_approvals_of(
        self, task_ids: Collection[str], *, now: datetime
    ) -> list[Approval]:
        ids = list(dict.fromkeys(task_ids))
        return await self._write(lambda conn: steps.expire_pending_of(conn, ids, now))

    # --- graphs ----------------------------------------------------------------------------

    async def get_graph(self, graph_id: str) -> Graph | None:
        found = await self._read_rows(select(graphs).where(graphs.c.id == graph_id))
        return rows.graph_from_row(found[0]) if found else None


def _conforms(store: SqlStore) -> Store:
    return store  # mypy checks here that SqlStore implements the Store protocol
