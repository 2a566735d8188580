"""Writing a task's state: compare-and-set transitions and field updates, each with its events
(and the graph progress the store records with a graph task's state change) published once
committed, and what a failed or cancelled task does to its graph.

The service's commands, its runners and restart recovery all change tasks through here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from codex_runner.domain import durable_event
from codex_runner.domain.conversation import ThreadRecord
from codex_runner.domain.delta import Delta
from codex_runner.domain.durable_event import NewEvent, TaskEvent
from codex_runner.domain.graph import blocked_by_failure, topological_order
from codex_runner.domain.task import Task, TaskState
from codex_runner.domain.transitions import FINAL_STATES, Action, InvalidTransition
from codex_runner.service.event_bus import EventBus
from codex_runner.service.graphs import MAX_GRAPH_SIZE
from codex_runner.service.task_log import TaskLogSink
from codex_runner.store.errors import TaskConflict, TaskNotFound
from codex_runner.store.protocol import Store, TaskUpdate


class Abandoned(Exception):
    """The runner's task was changed by someone else (cancelled, interrupted, or claimed by
    another host: its lease is no longer ours); stop quietly."""


class TaskWriter:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        sink: TaskLogSink | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._bus = bus
        self._sink = sink
        self._clock = clock

    async def get(self, task_id: str) -> Task:
        task = await self._store.get_task(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    async def transition(
        self,
        task: Task,
        action: Action,
        *,
        reason: str | None = None,
        extra: Sequence[NewEvent] = (),
        retry: bool = True,
        **fields: Any,
    ) -> Task:
        """Apply ``action`` with compare-and-set; on conflict re-read and re-apply if valid."""
        current = task
        while True:
            base = replace(current, **fields) if fields else current
            after, event = durable_event.transition(base, action, now=self._clock(), reason=reason)
            graph_events: list[TaskEvent] = []  # the graph's progress, on its parent
            try:
                written = [event, *extra]
                seqs = await self._store.update_task(
                    after,
                    expected_state=current.state,
                    events=written,
                    graph_events=graph_events,
                    expected_lease=current.lease,
                )
            except TaskConflict:
                if not retry:
                    raise
                current = await self.get(task.id)
                if task.state.is_active and current.lease != task.lease:
                    # Whoever wrote this acted on a claim a takeover (or another host's
                    # claim) has replaced: fenced, never re-applied on the new holder's run.
                    raise Abandoned() from None
                continue
            pairs = zip(seqs, written, strict=True)
            await self.publish_events(
                [TaskEvent(task.id, n, e.type, e.at, e.data) for n, e in pairs] + graph_events
            )
            if after.state in FINAL_STATES:
                await self.fail_dependents(after)
            return after

    async def transition_by_id(
        self,
        task_id: str,
        action: Action,
        *,
        reason: str | None = None,
        only_from_running: bool = False,
    ) -> Task:
        task = await self.get(task_id)
        if only_from_running and task.state is not TaskState.RUNNING:
            raise InvalidTransition(task.id, task.state, action)
        return await self.transition(task, action, reason=reason)

    async def transition_all(
        self, tasks: Sequence[Task], action: Action, reason: str, *, fence: bool = False
    ) -> list[Task]:
        """Apply ``action`` to every task it is valid for, in one store transaction; with
        ``fence`` each task also gets a new lease and no host (a takeover).

        Raises TaskConflict or TaskNotFound (nothing written) if one changed meanwhile.
        """
        now = self._clock()
        changes: list[TaskUpdate] = []
        for task in tasks:
            with contextlib.suppress(InvalidTransition):
                after, event = durable_event.transition(task, action, now=now, reason=reason)
                if fence:
                    after = replace(after, lease=task.lease + 1, host_id=None)
                changes.append(TaskUpdate(after, task.state, (event,), task.lease))
        graph_events: list[TaskEvent] = []
        seqs = await self._store.update_tasks(changes, graph_events=graph_events)
        await self.publish_events(
            [
                TaskEvent(c.task.id, n, e.type, e.at, e.data)
                for c, numbers in zip(changes, seqs, strict=True)
                for n, e in zip(numbers, c.events, strict=True)
            ]
            + graph_events
        )
        return [c.task for c in changes]

    async def claim(self, queued: Sequence[Task], host_id: str | None) -> list[Task]:
        """Start the queued tasks this host can take, in order (each on a new lease, as
        ``host_id``'s); one another host is taking at this moment is skipped."""
        now = self._clock()
        claims: list[TaskUpdate] = []
        for task in queued:
            with contextlib.suppress(InvalidTransition):
                mine = replace(task, host_id=host_id, lease=task.lease + 1)
                after, event = durable_event.transition(mine, Action.START, now=now)
                claims.append(TaskUpdate(after, task.state, (event,), task.lease))
        graph_events: list[TaskEvent] = []
        taken = await self._store.claim_tasks(claims, len(claims), graph_events=graph_events)
        await self.publish_events(
            [
                TaskEvent(claim.task.id, n, e.type, e.at, e.data)
                for claim, seqs in taken
                for n, e in zip(seqs, claim.events, strict=True)
            ]
            + graph_events
        )
        return [claim.task for claim, _ in taken]

    async def save(
        self,
        task_id: str,
        *,
        thread: ThreadRecord | None = None,
        lease: int | None = None,
        **fields: Any,
    ) -> Task:
        """Write fields of a running task without changing its state (Abandoned if it left
        ``running``, or no longer has ``lease`` when given), recording ``thread`` as the
        task's in the same transaction."""
        while True:
            current = await self.get(task_id)
            if current.state is not TaskState.RUNNING:
                raise Abandoned()
            if lease is not None and current.lease != lease:
                raise Abandoned()
            after = replace(current, updated_at=self._clock(), **fields)
            try:
                await self._store.update_task(after, expected_state=current.state, thread=thread)
            except TaskConflict:
                continue
            return after

    async def save_run(
        self, started: Task, *, thread: ThreadRecord | None = None, **fields: Any
    ) -> Task:
        """Write fields of a task its runner has just started, onto ``started`` (what the
        runner's own START transition wrote) instead of re-reading it, recording ``thread``
        as the task's in the same transaction; Abandoned if it left ``running``.

        Safe without the re-read because until the run's turn starts nobody but the runner
        writes the task's fields: others only change its state (a cancel, an interrupt),
        and the compare-and-set on ``running`` catches that. The read it spares is on the
        path of every turn.
        """
        if started.state is not TaskState.RUNNING:
            raise Abandoned()
        after = replace(started, updated_at=self._clock(), **fields)
        try:
            await self._store.update_task(after, expected_state=TaskState.RUNNING, thread=thread)
        except TaskConflict:
            raise Abandoned() from None
        return after

    async def append(self, task_id: str, events: Sequence[NewEvent]) -> list[TaskEvent]:
        """Add events to the task's history (no state change), then publish them."""
        seqs = await self._store.append_events(task_id, list(events))
        pairs = zip(seqs, events, strict=True)
        written = [TaskEvent(task_id, n, e.type, e.at, e.data) for n, e in pairs]
        await self.publish_events(written)
        return written

    async def publish(self, task_id: str, seqs: Sequence[int]) -> None:
        """Publish committed events by number (read back from the store)."""
        if not seqs:
            return
        events = await self._store.read_events(
            task_id, after_seq=min(seqs) - 1, limit=max(seqs) - min(seqs) + 1
        )
        await self.publish_events([e for e in events if e.seq in seqs])

    async def publish_events(self, events: Sequence[TaskEvent]) -> None:
        """Publish events already committed (and already in hand)."""
        if self._sink is not None:
            self._sink.write(events)
        self._bus.publish(events)

    def publish_delta(self, task_id: str, delta: Delta) -> None:
        """Publish a live delta of the task's running turn (never stored)."""
        self._bus.publish_delta(task_id, delta)

    async def fail_dependents(self, failed: Task) -> None:
        """Fail the queued tasks of ``failed``'s graph that can now never start."""
        if failed.graph_id is None:
            return
        members = await self._store.list_tasks(graph_id=failed.graph_id, limit=MAX_GRAPH_SIZE + 1)
        by_id = {t.id: t for t in members}
        states = {t.id: t.state for t in members}
        deps = {t.id: t.depends_on for t in members}
        blocked = blocked_by_failure(deps, states)
        # In dependency order: the parent, which depends on every child, fails last.
        for task_id in (t for t in topological_order(deps) if t in blocked):
            task = by_id[task_id]
            culprits = [
                by_id[p].key or p for p in task.depends_on if states[p] in FINAL_STATES
            ] or ["a prerequisite"]
            reason = f"dependency_failed: {', '.join(culprits)} did not complete"
            with contextlib.suppress(InvalidTransition):
                await self.transition(task, Action.DEPENDENCY_FAILED, reason=reason)
