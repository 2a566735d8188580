"""The task service: submit, schedule, run, approve, interrupt, resume and recover tasks.

Every durable change goes through the :class:`~codex_runner.store.protocol.Store` with
compare-and-set on the task's state; events are committed before the :class:`EventBus`
publishes them. Each running task has its own supervised asyncio task (its *runner*).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from codex_runner.codex.approval_policies import fallback_decision
from codex_runner.codex.runtime import CodexRuntime, ThreadOptions, Turn, TurnResult
from codex_runner.domain import durable_event
from codex_runner.domain.approval import Approval
from codex_runner.domain.conversation import ThreadRecord
from codex_runner.domain.durable_event import NewEvent, TaskEvent
from codex_runner.domain.events import ApprovalRequest, CodexEvent, FailureClass, TurnStatus
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import (
    ACTIVE_STATES,
    DEFAULT_MAX_RUNTIME_S,
    RuntimeSettings,
    Task,
    TaskState,
    Workspace,
)
from codex_runner.domain.transitions import Action, InvalidTransition
from codex_runner.service.event_bus import EventBus, follow
from codex_runner.store.errors import DuplicateIdempotencyKey, TaskConflict, TaskNotFound
from codex_runner.store.protocol import Store

__all__ = [
    "DirectoryWorkspaces",
    "InvalidTransition",
    "TaskNotFound",
    "TaskNotRunning",
    "TaskService",
    "WorkspaceProvider",
]

log = logging.getLogger(__name__)

MAX_CRASH_ATTEMPTS = 3
CONTINUE_PROMPT = "Continue where you left off."
RESTART_REASON = "the runner restarted while this task was active; resume it to continue"


class WorkspaceProvider(Protocol):
    async def prepare(self, task: Task) -> Path:
        """Make the task's workspace ready; returns the directory Codex runs in."""

    async def finish(self, task: Task) -> tuple[str | None, str | None]:
        """After a completed turn: the task's (branch, diff summary)."""


class DirectoryWorkspaces:
    """Workspaces for ``Workspace.directory(cwd)`` tasks: run in place, no branch, no diff."""

    async def prepare(self, task: Task) -> Path:
        if task.workspace.cwd is None:
            raise ValueError(
                f"task {task.id}: git workspaces need a git workspace provider; "
                "this one only runs tasks in a directory"
            )
        return Path(task.workspace.cwd)

    async def finish(self, task: Task) -> tuple[str | None, str | None]:
        return None, None


class TaskNotRunning(Exception):
    """The action needs a live Codex turn and the task has none."""

    def __init__(self, task_id: str, state: TaskState, action: str) -> None:
        self.task_id = task_id
        self.state = state
        super().__init__(f"cannot {action} task {task_id}: it is {state}, not running a turn")


class _Abandoned(Exception):
    """The runner's task was changed by someone else (cancelled, interrupted); stop quietly."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TaskService:
    def __init__(
        self,
        store: Store,
        runtime: CodexRuntime,
        workspaces: WorkspaceProvider,
        bus: EventBus,
        *,
        max_concurrent: int,
        approval_timeout_s: float,
        clock: Callable[[], datetime] = _utc_now,
        ids: IdGenerator | None = None,
        stop_timeout_s: float = 10.0,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self._store = store
        self._runtime = runtime
        self._workspaces = workspaces
        self._bus = bus
        self._max = max_concurrent
        self._approval_timeout_s = approval_timeout_s
        self._clock = clock
        self._ids = ids or IdGenerator()
        self._stop_timeout_s = stop_timeout_s
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._stopping = False
        self._runners: dict[str, asyncio.Task[None]] = {}
        self._turns: dict[str, Turn] = {}
        self._cancel_requested: set[str] = set()
        self._approval_futures: dict[str, asyncio.Future[str]] = {}

    # --- queries ---------------------------------------------------------------------------

    async def get(self, task_id: str) -> Task:
        task = await self._store.get_task(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    def events(self, task_id: str, after_seq: int = 0) -> AsyncIterator[TaskEvent]:
        """The task's events after ``after_seq``: stored ones, then live ones, with no gap."""
        return follow(self._store, self._bus, task_id, after_seq)

    async def list(
        self,
        *,
        states: Sequence[TaskState] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Task]:
        return await self._store.list_tasks(states=states, limit=limit, offset=offset)

    @property
    def running_count(self) -> int:
        return len(self._runners)

    # --- commands --------------------------------------------------------------------------

    async def submit(
        self,
        prompt: str,
        workspace: Workspace,
        priority: int = 0,
        settings: RuntimeSettings | None = None,
        max_runtime_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Task:
        """Queue a new task; with an ``idempotency_key`` already used, the existing task."""
        if idempotency_key is not None:
            existing = await self._store.find_by_idempotency_key(idempotency_key)
            if existing is not None:
                return existing
        now = self._clock()
        task = Task(
            id=self._ids.task_id(),
            prompt=prompt,
            workspace=workspace,
            created_at=now,
            updated_at=now,
            priority=priority,
            settings=settings or RuntimeSettings(),
            max_runtime_s=max_runtime_s or DEFAULT_MAX_RUNTIME_S,
            idempotency_key=idempotency_key,
        )
        try:
            await self._store.create_task(task)
        except DuplicateIdempotencyKey as exc:
            return await self.get(exc.existing_task_id)
        await self._publish(task.id, [1])
        self._wake.set()
        return task

    async def interrupt(self, task_id: str) -> Task:
        """Stop the task's live turn (thread kept); it can be resumed later."""
        task = await self.get(task_id)
        if await self._stop_live_turn(task):
            return await self.get(task_id)
        return await self._transition(task, Action.INTERRUPT, reason="interrupted by request")

    async def cancel(self, task_id: str) -> Task:
        task = await self.get(task_id)
        if task.state.is_active and task_id in self._turns:
            self._cancel_requested.add(task_id)
            if await self._stop_live_turn(task):
                return await self.get(task_id)
        return await self._transition(task, Action.CANCEL, reason="cancelled by request")

    async def resume(self, task_id: str, prompt: str | None = None) -> Task:
        """Re-queue an interrupted task on its thread, optionally with new input."""
        task = await self.get(task_id)
        fields: dict[str, Any] = {"pending_message": prompt} if prompt else {}
        after = await self._transition(task, Action.RESUME, reason="resumed by request", **fields)
        self._wake.set()
        return after

    async def message(self, task_id: str, prompt: str) -> Task:
        """A follow-up for an interrupted or completed task: queued as its next turn."""
        task = await self.get(task_id)
        extra = [durable_event.message_received(prompt, at=self._clock())]
        after = await self._transition(
            task, Action.MESSAGE, reason="follow-up message", extra=extra, pending_message=prompt
        )
        self._wake.set()
        return after

    async def steer(self, task_id: str, prompt: str) -> None:
        """Add input to the task's live turn."""
        task = await self.get(task_id)
        turn = self._turns.get(task_id)
        if turn is None or task.state is not TaskState.RUNNING:
            raise TaskNotRunning(task_id, task.state, "steer")
        await turn.steer(prompt)

    async def decide_approval(self, approval_id: str, decision: str, by: str) -> Approval:
        """Decide a pending approval once; raises the domain errors for a bad decision."""
        decided = await self._store.decide_approval(approval_id, decision, by=by, now=self._clock())
        await self._publish_approval_event(decided, durable_event.EventType.APPROVAL_DECIDED)
        future = self._approval_futures.get(approval_id)
        if future is not None and not future.done():
            future.set_result(decision)
        return decided

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from a crash (active tasks become interrupted), then start scheduling."""
        orphans = await self._store.tasks_in_states(ACTIVE_STATES)
        await asyncio.gather(*(self._reconcile(t) for t in orphans))
        self._stopping = False
        self._scheduler = asyncio.create_task(self._schedule_loop(), name="task-scheduler")

    async def stop(self) -> None:
        """Stop scheduling, interrupt running turns and wait (bounded) for the runners."""
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
            self._scheduler = None
        for turn in list(self._turns.values()):
            with contextlib.suppress(Exception):
                await turn.interrupt()
        runners = list(self._runners.values())
        if runners:
            _, pending = await asyncio.wait(runners, timeout=self._stop_timeout_s)
            for runner in pending:
                runner.cancel()
            if pending:
                await asyncio.wait(pending)

    async def _reconcile(self, task: Task) -> None:
        await self._store.expire_approvals(task.id, now=self._clock())
        with contextlib.suppress(InvalidTransition):
            await self._transition(task, Action.RECONCILE, reason=RESTART_REASON)

    # --- approvals -------------------------------------------------------------------------

    async def approval_handler(self, request: ApprovalRequest) -> str:
        """The runtime's ApprovalHandler: park the task until someone decides (or timeout)."""
        task = await self._store.find_task_by_thread(request.thread_id)
        if task is None:
            log.warning("approval request on unknown thread %s declined", request.thread_id)
            return fallback_decision(request)
        approval = Approval.from_request(
            request, id=self._ids.approval_id(), task_id=task.id, now=self._clock()
        )
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._approval_futures[approval.id] = future
        try:
            seq = await self._store.create_approval(approval)
            await self._publish(task.id, [seq])
            with contextlib.suppress(InvalidTransition):
                await self._transition_by_id(
                    task.id, Action.PARK_FOR_APPROVAL, only_from_running=True
                )
            try:
                decision = await asyncio.wait_for(asyncio.shield(future), self._approval_timeout_s)
            except TimeoutError:
                decision = await self._expire(approval, request)
        finally:
            self._approval_futures.pop(approval.id, None)
        if not await self._store.list_pending_approvals(task_id=task.id):
            with contextlib.suppress(InvalidTransition):
                await self._transition_by_id(
                    task.id, Action.APPROVAL_RESOLVED, reason=f"approval {decision}"
                )
        return decision

    async def _expire(self, approval: Approval, request: ApprovalRequest) -> str:
        expired = await self._store.expire_approvals(approval.task_id, now=self._clock())
        for done in expired:
            await self._publish_approval_event(done, durable_event.EventType.APPROVAL_EXPIRED)
        if not any(a.id == approval.id for a in expired):
            current = await self._store.get_approval(approval.id)
            if current is not None and current.decision is not None:
                return current.decision  # decided just before it expired
        return fallback_decision(request)

    # --- scheduling and running ------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            free = self._max - len(self._runners)
            if free > 0:
                try:
                    ready = await self._store.next_queued(free)
                except Exception:
                    log.exception("scheduler could not read the queue")
                    ready = []
                for task in ready:
                    if task.id in self._runners or len(self._runners) >= self._max:
                        continue
                    self._runners[task.id] = asyncio.create_task(
                        self._supervise(task), name=f"task-runner-{task.id}"
                    )
            await self._wake.wait()

    async def _supervise(self, task: Task) -> None:
        try:
            await self._run(task)
        except _Abandoned:
            pass
        except Exception as exc:
            log.exception("runner for task %s failed", task.id)
            with contextlib.suppress(Exception):
                await self._transition_by_id(task.id, Action.FAIL, reason=f"runner error: {exc}")
        finally:
            self._turns.pop(task.id, None)
            self._cancel_requested.discard(task.id)
            self._runners.pop(task.id, None)
            self._wake.set()

    async def _run(self, queued: Task) -> None:
        try:
            task = await self._transition(queued, Action.START, retry=False)
        except (InvalidTransition, TaskConflict) as exc:
            raise _Abandoned() from exc
        cwd = await self._workspaces.prepare(task)
        options = ThreadOptions(
            cwd=cwd,
            model=task.settings.model,
            effort=task.settings.effort,
            sandbox=task.settings.sandbox,
            approval_policy=task.settings.approval_policy,
        )
        first_run = task.thread_id is None
        if task.thread_id is not None:
            handle = await self._runtime.resume_thread(task.thread_id, options, context=task.prompt)
        else:
            handle = await self._runtime.start_thread(options)
        if handle.id != task.thread_id:
            await self._store.record_thread(
                ThreadRecord(handle.id, task.id, self._clock(), replaces=handle.replaced_thread_id)
            )
        if task.pending_message:
            text = task.pending_message
        elif first_run:
            text = task.prompt
        else:
            text = CONTINUE_PROMPT
        task = await self._save(task.id, thread_id=handle.id, pending_message=None)
        turn = await self._runtime.start_turn(handle.id, text)
        self._turns[task.id] = turn
        pump = asyncio.create_task(self._pump(task.id, turn))
        try:
            try:
                result = await turn.wait(timeout=task.max_runtime_s)
            except TimeoutError:
                await turn.interrupt()
                await pump
                await self._end_approvals(task.id)
                await self._transition_by_id(task.id, Action.FAIL, reason="max runtime exceeded")
                return
            await pump
        finally:
            if not pump.done():
                pump.cancel()
        await self._end_approvals(task.id)
        await self._settle(task.id, result)

    async def _settle(self, task_id: str, result: TurnResult) -> None:
        task = await self.get(task_id)
        if result.status is TurnStatus.COMPLETED:
            branch, diff = await self._workspaces.finish(task)
            await self._transition(
                task,
                Action.COMPLETE,
                reason="turn completed",
                final_message=result.final_message,
                usage=task.usage.plus(result.usage),
                branch=branch,
                diff_summary=diff,
            )
        elif result.status is TurnStatus.INTERRUPTED:
            if task_id in self._cancel_requested:
                await self._transition(task, Action.CANCEL, reason="cancelled by request")
            else:
                reason = "runner stopping" if self._stopping else "interrupted by request"
                await self._transition(task, Action.INTERRUPT, reason=reason)
        else:
            error = result.error
            crashed = (
                error is not None
                and error.failure_class is FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED
            )
            if crashed and task.attempts < MAX_CRASH_ATTEMPTS:
                reason = (
                    f"codex crashed before the turn completed (attempt {task.attempts} "
                    f"of {MAX_CRASH_ATTEMPTS}); re-queued"
                )
                task = await self._transition(task, Action.INTERRUPT, reason=reason)
                await self._transition(task, Action.RESUME, reason=reason)
            elif crashed:
                await self._transition(
                    task, Action.FAIL, reason=f"codex crashed on this task {task.attempts} times"
                )
            else:
                message = error.message if error is not None else "turn failed"
                await self._transition(task, Action.FAIL, reason=message)

    async def _pump(self, task_id: str, turn: Turn) -> None:
        """Store each Codex event (batching whatever is ready), then publish it."""
        queue: asyncio.Queue[CodexEvent | None] = asyncio.Queue()

        async def read() -> None:
            try:
                async for event in turn.events():
                    queue.put_nowait(event)
            finally:
                queue.put_nowait(None)

        reader = asyncio.create_task(read())
        try:
            ended = False
            while not ended:
                batch: list[CodexEvent] = []
                item = await queue.get()
                while True:
                    if item is None:
                        ended = True
                        break
                    batch.append(item)
                    if queue.empty():
                        break
                    item = queue.get_nowait()
                if batch:
                    now = self._clock()
                    new = [durable_event.codex(ev, at=now) for ev in batch]
                    seqs = await self._store.append_events(task_id, new)
                    await self._publish(task_id, seqs)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _end_approvals(self, task_id: str) -> None:
        """The turn is over: nobody can answer its pending approvals any more."""
        for expired in await self._store.expire_approvals(task_id, now=self._clock()):
            await self._publish_approval_event(expired, durable_event.EventType.APPROVAL_EXPIRED)
            future = self._approval_futures.get(expired.id)
            if future is not None and not future.done():
                future.cancel()

    async def _stop_live_turn(self, task: Task) -> bool:
        """Interrupt the task's live turn and wait for its runner; False if it has none."""
        turn = self._turns.get(task.id)
        runner = self._runners.get(task.id)
        if turn is None or runner is None or not task.state.is_active:
            return False
        await turn.interrupt()
        await asyncio.wait([runner], timeout=self._stop_timeout_s)
        return True

    # --- writing ---------------------------------------------------------------------------

    async def _transition(
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
            try:
                seqs = await self._store.update_task(
                    after, expected_state=current.state, events=[event, *extra]
                )
            except TaskConflict:
                if not retry:
                    raise
                current = await self.get(task.id)
                continue
            await self._publish(task.id, seqs)
            return after

    async def _transition_by_id(
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
        return await self._transition(task, action, reason=reason)

    async def _save(self, task_id: str, **fields: Any) -> Task:
        """Write fields of a running task without changing its state."""
        while True:
            current = await self.get(task_id)
            if current.state is not TaskState.RUNNING:
                raise _Abandoned()
            after = replace(current, updated_at=self._clock(), **fields)
            try:
                await self._store.update_task(after, expected_state=current.state)
            except TaskConflict:
                continue
            return after

    async def _publish(self, task_id: str, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        events = await self._store.read_events(
            task_id, after_seq=min(seqs) - 1, limit=max(seqs) - min(seqs) + 1
        )
        self._bus.publish([e for e in events if e.seq in seqs])

    async def _publish_approval_event(self, approval: Approval, event_type: str) -> None:
        """Publish the event the store wrote for ``approval`` (it does not return its seq)."""
        last = await self._store.last_seq(approval.task_id)
        recent = await self._store.read_events(approval.task_id, after_seq=max(0, last - 50))
        for event in reversed(recent):
            if event.type == event_type and event.data.get("approval_id") == approval.id:
                self._bus.publish([event])
                return
