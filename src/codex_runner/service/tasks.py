"""The task service: submit, schedule, run, approve, interrupt, resume and recover tasks.

Every durable change goes through the :class:`~codex_runner.store.protocol.Store` with
compare-and-set on the task's state; events are committed before the :class:`EventBus`
publishes them. Each running task has its own supervised asyncio task (its *runner*).
Graphs: a child starts when its prerequisites completed (the store's queue knows), a failed
or cancelled prerequisite fails its queued dependents, and the parent runs last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codex_runner.auth.failover import FailoverDecision
from codex_runner.codex.approval_policies import fallback_decision
from codex_runner.codex.runtime import (
    CodexRuntime,
    ImageInput,
    RuntimeStatus,
    TextInput,
    ThreadOptions,
    Turn,
    TurnInput,
    TurnResult,
)
from codex_runner.domain import durable_event
from codex_runner.domain.approval import Approval
from codex_runner.domain.conversation import ThreadRecord
from codex_runner.domain.conversation import Turn as TurnRecord
from codex_runner.domain.durable_event import EventType, NewEvent, TaskEvent
from codex_runner.domain.events import ApprovalRequest, ErrorInfo, FailureClass, TurnStatus
from codex_runner.domain.graph import (
    GraphSpecError,
    blocked_by_failure,
    coordinator_input,
    topological_order,
)
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import (
    ACTIVE_STATES,
    DEFAULT_MAX_RUNTIME_S,
    TERMINAL_STATES,
    RuntimeSettings,
    Task,
    TaskState,
    Workspace,
)
from codex_runner.domain.transitions import Action, InvalidTransition
from codex_runner.service.approvals import ApprovalDesk
from codex_runner.service.errors import GraphNotFound, InvalidRequest, TaskNotRunning
from codex_runner.service.event_bus import EventBus, follow
from codex_runner.service.failover import FailoverPolicy
from codex_runner.service.graphs import GraphRequest, GraphView, plan_graph, view_graph
from codex_runner.service.ingest import ingest_turn_events
from codex_runner.service.task_log import EventSink
from codex_runner.service.turn_records import finished_turn
from codex_runner.service.validation import (
    check_images,
    check_max_runtime,
    check_workspace,
    commit_message,
)
from codex_runner.store.errors import (
    ApprovalNotFound,
    DuplicateIdempotencyKey,
    TaskConflict,
    TaskNotFound,
)
from codex_runner.store.protocol import Store, TaskUpdate
from codex_runner.workspace.directories import DirectoryWorkspaces
from codex_runner.workspace.protocol import (
    FinishedWorkspace,
    GcReport,
    WorkspaceError,
    Workspaces,
    WorkspaceSpec,
)

__all__ = [
    "DirectoryWorkspaces",
    "InvalidRequest",
    "InvalidTransition",
    "ServiceStatus",
    "TaskNotFound",
    "TaskNotRunning",
    "TaskService",
]

log = logging.getLogger(__name__)

MAX_CRASH_ATTEMPTS = 3
MAX_GRAPH_SIZE = 1_000
CONTINUE_PROMPT = "Continue where you left off."
AUTO_RESUME_REASON = "resumed after a restart"
RESTART_REASON = "the runner restarted while this task was active; resume it to continue"
_SETTLED_BADLY = frozenset({TaskState.FAILED, TaskState.CANCELLED})


@dataclass(frozen=True)
class ServiceStatus:
    runtime: RuntimeStatus
    counts: dict[TaskState, int]
    active: tuple[Task, ...]  # running or awaiting approval
    max_concurrent: int


class _Abandoned(Exception):
    """The runner's task was changed by someone else (cancelled, interrupted); stop quietly."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TaskService:
    def __init__(
        self,
        store: Store,
        runtime: CodexRuntime,
        workspaces: Workspaces,
        bus: EventBus,
        *,
        max_concurrent: int,
        approval_timeout_s: float,
        approval_timeout_decision: str = "decline",
        commit_on_complete: bool = True,
        auto_resume: bool = False,
        event_sink: EventSink | None = None,
        failover: FailoverPolicy | None = None,
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
        self._commit_on_complete = commit_on_complete
        self._auto_resume = auto_resume
        self._sink = event_sink
        self._failover = failover
        self._clock = clock
        self._ids = ids or IdGenerator()
        self._stop_timeout_s = stop_timeout_s
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._stopping = False
        self._runners: dict[str, asyncio.Task[None]] = {}
        self._turns: dict[str, Turn] = {}
        # Interrupt or cancel asked of a task whose runner is alive; the runner honours it
        # even when the request lands before its Codex turn exists.
        self._stop_requested: dict[str, Action] = {}
        self._approvals = ApprovalDesk(
            store,
            self._publish_events,
            ids=self._ids,
            clock=clock,
            timeout_s=approval_timeout_s,
            timeout_decision=approval_timeout_decision,
        )

    @property
    def store(self) -> Store:
        return self._store

    @property
    def runtime(self) -> CodexRuntime:
        return self._runtime

    # --- queries ---------------------------------------------------------------------------

    async def get(self, task_id: str) -> Task:
        task = await self._store.get_task(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    def events(self, task_id: str, after_seq: int = 0) -> AsyncIterator[TaskEvent]:
        """The task's events after ``after_seq``: stored ones, then live ones, with no gap."""
        return follow(self._store, self._bus, task_id, after_seq)

    async def read_events(
        self, task_id: str, after_seq: int = 0, limit: int = 1000
    ) -> list[TaskEvent]:
        """One page of the task's stored events (raises TaskNotFound for an unknown task)."""
        events = await self._store.read_events(task_id, after_seq=after_seq, limit=limit)
        if not events:
            await self.get(task_id)
        return events

    async def list_tasks(
        self,
        *,
        states: Sequence[TaskState] | None = None,
        graph_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Task]:
        return await self._store.list_tasks(
            states=states, graph_id=graph_id, limit=limit, offset=offset
        )

    async def settled_at(self, task_id: str, seq: int) -> bool:
        """Whether event ``seq`` left the task settled: it is in a terminal state now and no
        later event exists (a follow-up message would have added one). Followers that stop
        when a task is done (``logs --follow``) stop here."""
        task = await self.get(task_id)
        later = await self._store.read_events(task_id, after_seq=seq, limit=1)
        return task.state.is_terminal and not later

    async def graph(self, graph_id: str) -> GraphView:
        graph = await self._store.get_graph(graph_id)
        if graph is None:
            raise GraphNotFound(graph_id)
        members = await self._store.list_tasks(graph_id=graph_id, limit=MAX_GRAPH_SIZE + 1)
        return view_graph(graph, members)

    async def diff(self, task_id: str) -> str:
        """The task branch's unified diff against its base (empty for a directory task)."""
        task = await self.get(task_id)
        workspace = await self._workspaces.locate(task.id, WorkspaceSpec.of_task(task.workspace))
        return "" if workspace is None else await self._workspaces.diff(workspace)

    async def turns(self, task_id: str) -> list[TurnRecord]:
        await self.get(task_id)
        return await self._store.list_turns(task_id)

    async def pending_approvals(self, task_id: str | None = None) -> list[Approval]:
        return await self._store.list_pending_approvals(task_id=task_id)

    async def approval(self, approval_id: str) -> Approval:
        approval = await self._store.get_approval(approval_id)
        if approval is None:
            raise ApprovalNotFound(approval_id)
        return approval

    async def status(self) -> ServiceStatus:
        return ServiceStatus(
            runtime=self._runtime.status(),
            counts=await self._store.count_by_state(),
            active=tuple(await self._store.tasks_in_states(ACTIVE_STATES)),
            max_concurrent=self._max,
        )

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
        images: Sequence[str] = (),
    ) -> Task:
        """Queue a new task; with an ``idempotency_key`` already used, the existing task.

        Raises InvalidRequest (naming the field) for an empty prompt, a workspace that cannot
        be made, a missing image or a bad max runtime; nothing is written then.
        """
        task, _ = await self.submit_or_find(
            prompt=prompt,
            workspace=workspace,
            priority=priority,
            settings=settings,
            max_runtime_s=max_runtime_s,
            idempotency_key=idempotency_key,
            images=images,
        )
        return task

    async def submit_or_find(
        self,
        prompt: str,
        workspace: Workspace,
        priority: int = 0,
        settings: RuntimeSettings | None = None,
        max_runtime_s: float | None = None,
        idempotency_key: str | None = None,
        images: Sequence[str] = (),
    ) -> tuple[Task, bool]:
        """Queue a new task, or find the one an ``idempotency_key`` already made; with
        whether it was created (an API answers 201 or 200 on that).

        Raises InvalidRequest (naming the field) for an empty prompt, a workspace that cannot
        be made, a missing image or a bad max runtime; nothing is written then.
        """
        if idempotency_key is not None:
            existing = await self._store.find_by_idempotency_key(idempotency_key)
            if existing is not None:
                return existing, False
        if not prompt.strip():
            raise InvalidRequest("prompt", "the prompt is empty: say what the task should do")
        check_max_runtime(max_runtime_s)
        await check_workspace(self._workspaces, workspace)
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
            pending_images=check_images(images),
        )
        try:
            await self._store.create_task(task)
        except DuplicateIdempotencyKey as exc:
            return await self.get(exc.existing_task_id), False
        await self._publish(task.id, [1])
        self._wake.set()
        return task, True

    async def submit_graph(self, request: GraphRequest) -> GraphView:
        """Create a graph (see :meth:`submit_graph_or_find`)."""
        view, _ = await self.submit_graph_or_find(request)
        return view

    async def submit_graph_or_find(self, request: GraphRequest) -> tuple[GraphView, bool]:
        """Create a parent and its children in one transaction (the children queue at once,
        each starting when its prerequisites completed, and the parent runs last), or find
        the graph its ``idempotency_key`` already made; with whether it was created."""
        if request.idempotency_key is not None:
            existing = await self._store.find_by_idempotency_key(request.idempotency_key)
            if existing is not None and existing.graph_id is not None:
                return await self.graph(existing.graph_id), False
            if existing is not None:
                raise InvalidRequest(
                    "idempotency_key",
                    f"idempotency key {request.idempotency_key!r} belongs to task {existing.id}, "
                    "which is not a graph; use another key",
                )
        if len(request.children) > MAX_GRAPH_SIZE:
            raise InvalidRequest("children", f"a graph has at most {MAX_GRAPH_SIZE} children")
        check_max_runtime(request.max_runtime_s)
        await check_workspace(self._workspaces, request.workspace)
        try:
            plan = plan_graph(
                request,
                graph_id=self._ids.graph_id(),
                new_task_id=self._ids.task_id,
                now=self._clock(),
            )
        except GraphSpecError as exc:
            raise InvalidRequest("children", str(exc)) from exc
        try:
            await self._store.create_graph(plan)
        except DuplicateIdempotencyKey as exc:
            existing = await self.get(exc.existing_task_id)
            if existing.graph_id is None:
                raise InvalidRequest("idempotency_key", str(exc)) from exc
            return await self.graph(existing.graph_id), False
        await self._publish(plan.parent.id, [1, 2])
        for child in plan.children:
            await self._publish(child.id, [1])
        self._wake.set()
        return await self.graph(plan.graph.id), True

    async def interrupt(self, task_id: str) -> Task:
        """Stop the task's live turn (thread kept); it can be resumed later."""
        task = await self.get(task_id)
        if await self._stop_runner(task, Action.INTERRUPT):
            return await self.get(task_id)
        return await self._transition(task, Action.INTERRUPT, reason="interrupted by request")

    async def cancel(self, task_id: str) -> Task:
        """End the task for good; cancelling a graph's parent cancels its unfinished children."""
        task = await self.get(task_id)
        if await self._stop_runner(task, Action.CANCEL):
            task = await self.get(task_id)
        else:
            task = await self._transition(task, Action.CANCEL, reason="cancelled by request")
        if task.is_graph_parent and task.graph_id is not None:
            # Dependents first, so no child is failed as a dependent before it is cancelled.
            for child in reversed((await self.graph(task.graph_id)).children):
                if not child.state.is_terminal:
                    with contextlib.suppress(InvalidTransition):
                        await self.cancel(child.id)
        return task

    async def resume(self, task_id: str, prompt: str | None = None) -> Task:
        """Re-queue an interrupted task on its thread, optionally with new input."""
        task = await self.get(task_id)
        fields: dict[str, Any] = {"pending_message": prompt} if prompt and prompt.strip() else {}
        after = await self._transition(task, Action.RESUME, reason="resumed by request", **fields)
        self._wake.set()
        return after

    async def message(self, task_id: str, prompt: str, images: Sequence[str] = ()) -> Task:
        """A follow-up for an interrupted or completed task: queued as its next turn."""
        if not prompt.strip():
            raise InvalidRequest("prompt", "the message is empty: say what the task should do")
        checked = check_images(images)
        task = await self.get(task_id)
        extra = [durable_event.message_received(prompt, at=self._clock())]
        after = await self._transition(
            task,
            Action.MESSAGE,
            reason="follow-up message",
            extra=extra,
            pending_message=prompt,
            pending_images=checked,
        )
        self._wake.set()
        return after

    async def steer(self, task_id: str, prompt: str) -> None:
        """Add input to the task's live turn."""
        if not prompt.strip():
            raise InvalidRequest("prompt", "the steer text is empty")
        task = await self.get(task_id)
        turn = self._turns.get(task_id)
        if turn is None or task.state is not TaskState.RUNNING:
            raise TaskNotRunning(task_id, task.state, "steer")
        await turn.steer(prompt)

    async def decide_approval(self, approval_id: str, decision: str, by: str) -> Approval:
        """Decide a pending approval once; raises the domain errors for a bad decision."""
        return await self._approvals.decide(approval_id, decision, by)

    async def gc(self, retention_s: float, *, force: bool = False) -> GcReport:
        """Remove worktrees of tasks finished more than ``retention_s`` ago (see Workspaces.gc).

        Only terminal tasks are considered; a running task's worktree is never touched.
        """
        finished: list[FinishedWorkspace] = []
        for task in await self._store.tasks_in_states(TERMINAL_STATES):
            if not task.workspace.is_git or task.finished_at is None:
                continue
            spec = WorkspaceSpec.of_task(task.workspace)
            workspace = await self._workspaces.locate(task.id, spec)
            if workspace is not None:
                finished.append(FinishedWorkspace(workspace, task.finished_at))
        return await self._workspaces.gc(finished, retention_s, force=force)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, *, recover: bool = True) -> None:
        """Recover from a crash (unless done already with :meth:`recover`), then schedule."""
        if recover:
            await self.recover()
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

    async def recover(self) -> None:
        """Tasks left running or awaiting approval by a crash become interrupted.

        Needs only the store, so a daemon runs it while Codex starts. All of them in one
        transaction (a restart with hundreds to reconcile spent most of its time committing
        them one by one); should anything else change one of them meanwhile, each is
        reconciled on its own instead.
        """
        orphans = await self._store.tasks_in_states(ACTIVE_STATES)
        if not orphans:
            return
        await self._store.expire_approvals_of([t.id for t in orphans], now=self._clock())
        try:
            reconciled = await self._transition_all(orphans, Action.RECONCILE, RESTART_REASON)
        except (TaskConflict, TaskNotFound):
            await asyncio.gather(*(self._reconcile(t) for t in orphans))
            return
        if self._auto_resume:
            try:
                await self._transition_all(reconciled, Action.RESUME, AUTO_RESUME_REASON)
            except (TaskConflict, TaskNotFound):
                await asyncio.gather(*(self._auto_resume_one(t) for t in reconciled))

    async def _transition_all(
        self, tasks: Sequence[Task], action: Action, reason: str
    ) -> list[Task]:
        """Apply ``action`` to every task it is valid for, in one store transaction."""
        now = self._clock()
        changes: list[TaskUpdate] = []
        for task in tasks:
            with contextlib.suppress(InvalidTransition):
                after, event = durable_event.transition(task, action, now=now, reason=reason)
                changes.append(TaskUpdate(after, task.state, (event,)))
        seqs = await self._store.update_tasks(changes)
        await self._publish_events(
            [
                TaskEvent(c.task.id, n, e.type, e.at, e.data)
                for c, numbers in zip(changes, seqs, strict=True)
                for n, e in zip(numbers, c.events, strict=True)
            ]
        )
        return [c.task for c in changes]

    async def _reconcile(self, task: Task) -> None:
        await self._store.expire_approvals(task.id, now=self._clock())
        try:
            task = await self._transition(task, Action.RECONCILE, reason=RESTART_REASON)
        except InvalidTransition:
            return
        if self._auto_resume:
            await self._auto_resume_one(task)

    async def _auto_resume_one(self, task: Task) -> None:
        with contextlib.suppress(InvalidTransition):
            await self._transition(task, Action.RESUME, reason=AUTO_RESUME_REASON)

    # --- approvals -------------------------------------------------------------------------

    async def approval_handler(self, request: ApprovalRequest) -> str:
        """The runtime's ApprovalHandler: park the task until someone decides (or timeout)."""
        task = await self._store.find_task_by_thread(request.thread_id)
        if task is None:
            log.warning("approval request on unknown thread %s declined", request.thread_id)
            return fallback_decision(request)

        async def parked() -> None:
            with contextlib.suppress(InvalidTransition):
                await self._transition_by_id(
                    task.id, Action.PARK_FOR_APPROVAL, only_from_running=True
                )

        decision = await self._approvals.park(task.id, request, parked)
        if not await self._store.list_pending_approvals(task_id=task.id):
            with contextlib.suppress(InvalidTransition):
                await self._transition_by_id(
                    task.id, Action.APPROVAL_RESOLVED, reason=f"approval {decision}"
                )
        return decision

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
            self._stop_requested.pop(task.id, None)
            self._runners.pop(task.id, None)
            self._wake.set()

    async def _run(self, queued: Task) -> None:
        try:
            task = await self._transition(queued, Action.START, retry=False)
        except (InvalidTransition, TaskConflict) as exc:
            raise _Abandoned() from exc
        first_run = task.thread_id is None
        first_text = task.prompt
        if task.is_graph_parent and first_run:
            children = (await self.graph(task.graph_id or "")).children
            first_text = coordinator_input(task.prompt if task.runs_codex else None, children)
            if not task.runs_codex:
                await self._transition(
                    task, Action.COMPLETE, reason="all children completed", final_message=first_text
                )
                return
        workspace = await self._workspaces.create(task.id, WorkspaceSpec.of_task(task.workspace))
        options = ThreadOptions(
            cwd=workspace.path,
            model=task.settings.model,
            effort=task.settings.effort,
            sandbox=task.settings.sandbox,
            approval_policy=task.settings.approval_policy,
        )
        if task.thread_id is not None:
            handle = await self._runtime.resume_thread(task.thread_id, options, context=task.prompt)
        else:
            handle = await self._runtime.start_thread(options)
        if handle.id != task.thread_id:
            await self._store.record_thread(
                ThreadRecord(handle.id, task.id, self._clock(), replaces=handle.replaced_thread_id)
            )
        text = task.pending_message or (first_text if first_run else CONTINUE_PROMPT)
        inputs: list[TurnInput] = [TextInput(text)]
        inputs += [ImageInput(Path(p)) for p in task.pending_images]
        task = await self._save(
            task.id,
            thread_id=handle.id,
            pending_message=None,
            pending_images=(),
            branch=workspace.branch,
        )
        if await self._honour_stop_request(task):
            return
        number = len(await self._store.list_turns(task.id)) + 1
        turn = await self._runtime.start_turn(handle.id, inputs if len(inputs) > 1 else text)
        self._turns[task.id] = turn
        record = TurnRecord(
            task.id, number, text, self._clock(), thread_id=handle.id, codex_turn_id=turn.id
        )
        await self._store.save_turn(record)
        if task.id in self._stop_requested:
            await turn.interrupt()  # asked while the turn was being started
        result = await self._await_turn(task, turn)
        await self._store.save_turn(finished_turn(record, result, self._clock()))
        await self._approvals.end_turn(task.id)
        if result is None:
            await self._transition_by_id(task.id, Action.FAIL, reason="max runtime exceeded")
            return
        await self._settle(task.id, result, number)

    async def _await_turn(self, task: Task, turn: Turn) -> TurnResult | None:
        """The turn's result with its events stored; None when it overran the max runtime."""
        pump = asyncio.create_task(
            ingest_turn_events(
                self._store, task.id, turn, clock=self._clock, publish=self._publish_events
            )
        )
        try:
            try:
                result = await turn.wait(timeout=task.max_runtime_s)
            except TimeoutError:
                await turn.interrupt()
                await pump
                return None
            await pump
            return result
        finally:
            if not pump.done():
                pump.cancel()

    async def _honour_stop_request(self, task: Task) -> bool:
        """Settle an interrupt or cancel that arrived before the turn started; True if so."""
        action = self._stop_requested.get(task.id)
        if action is None:
            return False
        reason = "cancelled by request" if action is Action.CANCEL else "interrupted by request"
        await self._transition(task, action, reason=reason)
        return True

    async def _settle(self, task_id: str, result: TurnResult, turn_number: int) -> None:
        task = await self.get(task_id)
        if self._failover is not None and result.status is not TurnStatus.FAILED:
            self._failover.forget(task_id)
        if result.status is TurnStatus.COMPLETED:
            branch, diff, note = await self._finish_workspace(task, turn_number)
            await self._transition(
                task,
                Action.COMPLETE,
                reason="turn completed" + note,
                final_message=result.final_message,
                usage=task.usage.plus(result.usage),
                branch=branch,
                diff_summary=diff,
            )
        elif result.status is TurnStatus.INTERRUPTED:
            usage = task.usage.plus(result.usage)
            if self._stop_requested.get(task_id) is Action.CANCEL:
                await self._transition(
                    task, Action.CANCEL, reason="cancelled by request", usage=usage
                )
            else:
                reason = "runner stopping" if self._stopping else "interrupted by request"
                await self._transition(task, Action.INTERRUPT, reason=reason, usage=usage)
        else:
            await self._settle_failure(task, result)

    async def _settle_failure(self, task: Task, result: TurnResult) -> None:
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
        elif (decision := await self._fail_over(task, error)) is not None:
            reason = decision.event_message()
            switched = NewEvent(
                EventType.AUTH_FAILOVER,
                self._clock(),
                {
                    "from": decision.from_profile,
                    "to": decision.to_profile,
                    "error": decision.reason,
                },
            )
            task = await self._transition(task, Action.INTERRUPT, reason=reason, extra=[switched])
            await self._transition(task, Action.RESUME, reason=reason)
        else:
            message = error.message if error is not None else "turn failed"
            await self._transition(task, Action.FAIL, reason=message)

    async def _fail_over(self, task: Task, error: ErrorInfo | None) -> FailoverDecision | None:
        if self._failover is None:
            return None
        return await self._failover.after_failure(task.id, error)

    async def _finish_workspace(
        self, task: Task, turn_number: int
    ) -> tuple[str | None, str | None, str]:
        """After a completed turn: commit the worktree (if configured); (branch, summary, note)."""
        workspace = await self._workspaces.locate(task.id, WorkspaceSpec.of_task(task.workspace))
        if workspace is None or not workspace.is_worktree:
            return task.branch, task.diff_summary, ""
        try:
            if self._commit_on_complete:
                summary = await self._workspaces.commit_changes(
                    workspace, commit_message(task, turn_number)
                )
            else:
                summary = await self._workspaces.diff_summary(workspace)
        except WorkspaceError as exc:
            # The work stays in the worktree; the task completed, so say what went wrong.
            log.warning("task %s: committing its worktree failed: %s", task.id, exc)
            return workspace.branch, task.diff_summary, f"; its changes were not committed: {exc}"
        return workspace.branch, summary.report() if summary is not None else None, ""

    async def _stop_runner(self, task: Task, action: Action) -> bool:
        """Ask the task's live runner to interrupt or cancel and wait for it; False if none."""
        runner = self._runners.get(task.id)
        if runner is None or not task.state.is_active:
            return False
        self._stop_requested[task.id] = action
        turn = self._turns.get(task.id)
        if turn is not None:
            await turn.interrupt()
        await asyncio.wait([runner], timeout=self._stop_timeout_s)
        return True

    async def _fail_dependents(self, failed: Task) -> None:
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
                by_id[p].key or p for p in task.depends_on if states[p] in _SETTLED_BADLY
            ] or ["a prerequisite"]
            reason = f"dependency_failed: {', '.join(culprits)} did not complete"
            with contextlib.suppress(InvalidTransition):
                await self._transition(task, Action.DEPENDENCY_FAILED, reason=reason)

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
                written = [event, *extra]
                seqs = await self._store.update_task(
                    after, expected_state=current.state, events=written
                )
            except TaskConflict:
                if not retry:
                    raise
                current = await self.get(task.id)
                continue
            pairs = zip(seqs, written, strict=True)
            await self._publish_events(
                [TaskEvent(task.id, n, e.type, e.at, e.data) for n, e in pairs]
            )
            if after.state in _SETTLED_BADLY:
                await self._fail_dependents(after)
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
        wanted = [e for e in events if e.seq in seqs]
        if self._sink is not None:
            self._sink.write(wanted)
        self._bus.publish(wanted)

    async def _publish_events(self, events: Sequence[TaskEvent]) -> None:
        """Publish events already committed (and already in hand)."""
        if self._sink is not None:
            self._sink.write(events)
        self._bus.publish(events)
