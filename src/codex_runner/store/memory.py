"""InMemoryStore: the Store test double, shipped in the package.

Everything lives in dicts. Each operation first yields to the event loop once (so concurrent
callers interleave between operations, as they would with a database) and then runs to the
end without awaiting, which makes it atomic. Event data goes through a JSON round trip, so
values come back exactly as the SQL store gives them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from codex_runner.domain import approval as approvals
from codex_runner.domain import durable_event
from codex_runner.domain.approval import Approval, ApprovalState
from codex_runner.domain.conversation import ThreadRecord, Turn
from codex_runner.domain.durable_event import NewEvent, TaskEvent
from codex_runner.domain.graph import Graph, GraphPlan
from codex_runner.domain.graph_progress import GRAPH_STREAM_TYPES, progress_events
from codex_runner.domain.hosts import Host, Rollout
from codex_runner.domain.scheduling import busy_by_graph, pick_next
from codex_runner.domain.task import Task, TaskState
from codex_runner.store.errors import (
    ApprovalAlreadyExists,
    ApprovalNotFound,
    DuplicateIdempotencyKey,
    GraphAlreadyExists,
    LeaseLost,
    StoreClosed,
    TaskAlreadyExists,
    TaskConflict,
    TaskNotFound,
    ThreadOwnedElsewhere,
    UnknownDependency,
)
from codex_runner.store.graph_check import check_graph_plan
from codex_runner.store.memory_coauthors import MemoryCoauthors
from codex_runner.store.memory_event_archive import MemoryEventArchive
from codex_runner.store.memory_hosts import MemoryHosts
from codex_runner.store.memory_jobs import MemoryJobs
from codex_runner.store.memory_outbox import MemoryOutbox
from codex_runner.store.protocol import (
    DEFAULT_EVENT_PAGE,
    DEFAULT_PAGE,
    TASK_IDENTITY_FIELDS,
    Store,
    TaskUpdate,
    check_distinct,
)


class InMemoryStore(MemoryOutbox, MemoryJobs, MemoryCoauthors, MemoryHosts, MemoryEventArchive):
    """A Store in process memory; see :class:`~codex_runner.store.protocol.Store`."""

    def __init__(self) -> None:
        self._closed = False
        self._tasks: dict[str, Task] = {}
        self._events: dict[str, list[TaskEvent]] = {}
        self._by_idempotency_key: dict[str, str] = {}
        self._approvals: dict[str, Approval] = {}
        self._graphs: dict[str, Graph] = {}
        self._threads: dict[str, ThreadRecord] = {}
        self._turns: dict[str, dict[int, Turn]] = {}
        self._directory_threads: dict[str, str] = {}
        self._hosts: dict[str, Host] = {}
        self._rollouts: dict[str, Rollout] = {}
        self._init_outbox()
        self._init_jobs()
        self._init_coauthors()
        self._archives: dict[str, tuple[int, bytes]] = {}

    async def close(self) -> None:
        self._closed = True

    async def _enter(self) -> None:
        if self._closed:
            raise StoreClosed()
        await asyncio.sleep(0)  # let other callers interleave between operations
        if self._closed:
            raise StoreClosed()

    # --- tasks -----------------------------------------------------------------------------

    async def create_task(self, task: Task) -> None:
        await self._enter()
        self._check_new_tasks([task], known=set())
        self._insert_task(task)

    async def create_graph(self, plan: GraphPlan) -> None:
        await self._enter()
        check_graph_plan(plan)
        if plan.graph.id in self._graphs:
            raise GraphAlreadyExists(plan.graph.id)
        tasks = [plan.parent, *plan.children]
        self._check_new_tasks(tasks, known={t.id for t in tasks})
        self._graphs[plan.graph.id] = plan.graph
        for task in tasks:
            self._insert_task(task)
        self._append(plan.parent.id, [durable_event.graph_created(plan)])

    def _check_new_tasks(self, tasks: Sequence[Task], known: set[str]) -> None:
        keys: dict[str, str] = {}
        for task in tasks:
            if task.id in self._tasks:
                raise TaskAlreadyExists(task.id)
            key = task.idempotency_key
            if key is not None:
                existing = self._by_idempotency_key.get(key) or keys.get(key)
                if existing is not None:
                    raise DuplicateIdempotencyKey(key, existing)
                keys[key] = task.id
            for dep in task.depends_on:
                if dep not in self._tasks and dep not in known:
                    raise UnknownDependency(task.id, dep)

    def _insert_task(self, task: Task) -> None:
        self._tasks[task.id] = task
        self._events[task.id] = []
        if task.idempotency_key is not None:
            self._by_idempotency_key[task.idempotency_key] = task.id
        self._append(task.id, [durable_event.task_created(task)])

    async def get_task(self, task_id: str) -> Task | None:
        await self._enter()
        return self._tasks.get(task_id)

    async def find_by_idempotency_key(self, key: str) -> Task | None:
        await self._enter()
        task_id = self._by_idempotency_key.get(key)
        return None if task_id is None else self._tasks[task_id]

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
        await self._enter()
        if thread is not None:
            self._check_thread(thread)
        change = TaskUpdate(task, expected_state, events, expected_lease)
        (seqs,) = self._update([change], graph_events)
        if thread is not None:
            self._threads.setdefault(thread.thread_id, thread)
        return seqs

    async def update_tasks(
        self, updates: Sequence[TaskUpdate], *, graph_events: list[TaskEvent] | None = None
    ) -> list[list[int]]:
        await self._enter()
        return self._update(list(updates), graph_events)

    def _update(
        self, batch: list[TaskUpdate], graph_events: list[TaskEvent] | None
    ) -> list[list[int]]:
        check_distinct(batch)
        for update in batch:  # check all first: nothing is written if one fails
            current = self._require(update.task.id)
            if current.state is not update.expected_state or current.lease != update.lease_before:
                raise TaskConflict(update.task.id, update.expected_state, current.state)
        for update in batch:
            current = self._tasks[update.task.id]
            fixed = {name: getattr(current, name) for name in TASK_IDENTITY_FIELDS}
            self._tasks[update.task.id] = replace(update.task, **fixed)
        seqs = [self._append(u.task.id, u.events) for u in batch]
        for update in batch:
            progress = self._record_progress(update.expected_state, self._tasks[update.task.id])
            if graph_events is not None:
                graph_events += progress
        return seqs

    def _record_progress(self, before: TaskState, after: Task) -> list[TaskEvent]:
        graph = self._graphs.get(after.graph_id) if after.graph_id is not None else None
        if graph is None or before is after.state:
            return []
        members = [t for t in self._tasks.values() if t.graph_id == after.graph_id]
        new = progress_events(before, after, members)
        if not new:
            return []
        parent = graph.parent_id
        self._append(parent, new)
        return self._events[parent][-len(new) :]

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
        await self._enter()
        wanted = None if states is None else set(states)
        tasks = [
            t
            for t in self._tasks.values()
            if (wanted is None or t.state in wanted)
            and (graph_id is None or t.graph_id == graph_id)
            and (purpose is None or t.purpose == purpose)
            and all(t.metadata.get(k) == v for k, v in (metadata or {}).items())
        ]
        tasks.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return tasks[offset : offset + limit]

    async def tasks_in_states(self, states: Collection[TaskState]) -> list[Task]:
        await self._enter()
        wanted = set(states)
        tasks = [t for t in self._tasks.values() if t.state in wanted]
        return sorted(tasks, key=lambda t: (t.created_at, t.id))

    async def count_by_state(self) -> dict[TaskState, int]:
        await self._enter()
        counts = dict.fromkeys(TaskState, 0)
        for task in self._tasks.values():
            counts[task.state] += 1
        return counts

    async def states_of(self, task_ids: Collection[str]) -> dict[str, TaskState]:
        await self._enter()
        return {i: self._tasks[i].state for i in task_ids if i in self._tasks}

    async def next_queued(self, limit: int) -> list[Task]:
        await self._enter()
        states = {task_id: task.state for task_id, task in self._tasks.items()}
        limits = {
            g.id: g.max_concurrent for g in self._graphs.values() if g.max_concurrent is not None
        }
        return pick_next(
            self._tasks.values(),
            active=0,
            max_concurrent=limit,
            states=states,
            graph_limits=limits,
            busy=busy_by_graph(self._tasks.values()),
        )

    def _require(self, task_id: str) -> Task:
        task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    # --- events ----------------------------------------------------------------------------

    async def append_events(
        self, task_id: str, events: Sequence[NewEvent], *, lease: int | None = None
    ) -> list[int]:
        await self._enter()
        current = self._require(task_id)
        if lease is not None and current.lease != lease:
            raise LeaseLost(task_id, lease, current.lease)
        return self._append(task_id, events)

    def _append(self, task_id: str, events: Sequence[NewEvent]) -> list[int]:
        log = self._events[task_id]
        stored = [
            TaskEvent(task_id, len(log) + i, e.type, e.at, _json_copy(e.data))
            for i, e in enumerate(events, start=1)
        ]
        log.extend(stored)
        return [e.seq for e in stored]

    async def read_events(
        self, task_id: str, *, after_seq: int = 0, limit: int = DEFAULT_EVENT_PAGE
    ) -> list[TaskEvent]:
        await self._enter()
        log = self._history(task_id)
        start = max(after_seq, 0)
        return log[start : start + max(limit, 0)]

    async def read_graph_events(
        self, parent_id: str, *, skip: int = 0, limit: int = DEFAULT_EVENT_PAGE
    ) -> list[TaskEvent]:
        await self._enter()
        stream = [e for e in self._history(parent_id) if e.type in GRAPH_STREAM_TYPES]
        start = max(skip, 0)
        return stream[start : start + max(limit, 0)]

    async def last_seq(self, task_id: str) -> int:
        await self._enter()
        return len(self._events.get(task_id, []))

    # --- approvals -------------------------------------------------------------------------

    async def create_approval(self, approval: Approval, *, lease: int | None = None) -> int:
        await self._enter()
        task = self._require(approval.task_id)
        if lease is not None and task.lease != lease:
            raise LeaseLost(approval.task_id, lease, task.lease)
        if approval.id in self._approvals:
            raise ApprovalAlreadyExists(approval.id)
        self._approvals[approval.id] = approval
        return self._append(approval.task_id, [durable_event.approval_requested(approval)])[0]

    async def get_approval(self, approval_id: str) -> Approval | None:
        await self._enter()
        return self._approvals.get(approval_id)

    async def list_pending_approvals(self, *, task_id: str | None = None) -> list[Approval]:
        await self._enter()
        pending = [
            a
            for a in self._approvals.values()
            if a.state is ApprovalState.PENDING and (task_id is None or a.task_id == task_id)
        ]
        return sorted(pending, key=lambda a: (a.created_at, a.id))

    async def decide_approval(
        self, approval_id: str, decision: str, *, by: str, now: datetime
    ) -> Approval:
        await self._enter()
        current = self._approvals.get(approval_id)
        if current is None:
            raise ApprovalNotFound(approval_id)
        decided = approvals.decide(current, decision, by, now=now)
        self._approvals[approval_id] = decided
        self._append(decided.task_id, [durable_event.approval_decided(decided)])
        return decided

    async def expire_approvals(self, task_id: str, *, now: datetime) -> list[Approval]:
        return await self.expire_approvals_of([task_id], now=now)

    async def expire_approvals_of(
        self, task_ids: Collection[str], *, now: datetime
    ) -> list[Approval]:
        await self._enter()
        wanted = set(task_ids)
        expired = []
        for a in sorted(self._approvals.values(), key=lambda a: (a.created_at, a.id)):
            if a.task_id in wanted and a.state is ApprovalState.PENDING:
                done = approvals.expire(a, now=now)
                self._approvals[a.id] = done
                self._append(a.task_id, [durable_event.approval_expired(done)])
                expired.append(done)
        return expired

    # --- graphs ----------------------------------------------------------------------------

    async def get_graph(self, graph_id: str) -> Graph | None:
        await self._enter()
        return self._graphs.get(graph_id)

    # --- threads and turns -----------------------------------------------------------------

    async def record_thread(self, thread: ThreadRecord) -> None:
        await self._enter()
        self._check_thread(thread)
        self._threads.setdefault(thread.thread_id, thread)

    def _check_thread(self, thread: ThreadRecord) -> None:
        """Raise what recording ``thread`` would raise (TaskNotFound, ThreadOwnedElsewhere)."""
        self._require(thread.task_id)
        existing = self._threads.get(thread.thread_id)
        if existing is not None and existing.task_id != thread.task_id:
            raise ThreadOwnedElsewhere(thread.thread_id, existing.task_id)

    async def find_task_by_thread(self, thread_id: str) -> Task | None:
        await self._enter()
        record = self._threads.get(thread_id)
        return None if record is None else self._tasks.get(record.task_id)

    async def save_turn(self, turn: Turn) -> None:
        await self._enter()
        self._require(turn.task_id)
        self._turns.setdefault(turn.task_id, {})[turn.number] = turn

    async def list_turns(self, task_id: str) -> list[Turn]:
        await self._enter()
        turns = self._turns.get(task_id, {})
        return [turns[n] for n in sorted(turns)]

    # --- directories -----------------------------------------------------------------------

    async def record_directory_thread(self, path: str, thread_id: str, at: datetime) -> None:
        await self._enter()
        self._directory_threads[path] = thread_id

    async def directory_thread(self, path: str) -> str | None:
        await self._enter()
        return self._directory_threads.get(path)

    async def claim_tasks(
        self,
        claims: Sequence[TaskUpdate],
        limit: int,
        *,
        graph_events: list[TaskEvent] | None = None,
    ) -> list[tuple[TaskUpdate, list[int]]]:
        await self._enter()
        taken = [
            c
            for c in claims
            if (t := self._tasks.get(c.task.id)) is not None
            and (t.state, t.lease) == (c.expected_state, c.lease_before)
        ][: max(limit, 0)]
        return list(zip(taken, self._update(taken, graph_events), strict=True))

    # --- hosts -----------------------------------------------------------------------------


def _json_copy(data: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(data))
    return copied


def _conforms(store: InMemoryStore) -> Store:
    return store  # mypy checks here that InMemoryStore implements the Store protocol
