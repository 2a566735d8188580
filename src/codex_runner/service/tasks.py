"""The task service: submit, schedule, run, approve, interrupt, resume and recover tasks.

Every durable change goes through the :class:`~codex_runner.store.protocol.Store` with
compare-and-set on the task's state (:mod:`~codex_runner.service.writer`); events are
committed before the :class:`EventBus` publishes them. The scheduler gives each task it
starts a supervised asyncio task that runs one turn of it (:mod:`~codex_runner.service.runner`).
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
from typing import Any

from codex_runner.codex.approval_policies import fallback_decision
from codex_runner.codex.runtime import (
    CodexRuntime,
    RuntimeStatus,
)
from codex_runner.domain import durable_event
from codex_runner.domain.approval import Approval
from codex_runner.domain.conversation import Turn as TurnRecord
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import ApprovalRequest
from codex_runner.domain.graph import (
    GraphSpecError,
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
from codex_runner.service.errors import IdempotencyKeyReused, InvalidRequest, TaskNotRunning
from codex_runner.service.event_bus import EventBus, follow
from codex_runner.service.failover import FailoverPolicy
from codex_runner.service.graphs import (
    MAX_GRAPH_SIZE,
    GraphRequest,
    GraphView,
    load_graph,
    plan_graph,
)
from codex_runner.service.idempotency import check_same_request, graph_fingerprint, task_fingerprint
from codex_runner.service.runner import TaskRunner
from codex_runner.service.scheduler import Scheduler
from codex_runner.service.task_log import EventSink
from codex_runner.service.validation import (
    check_images,
    check_max_runtime,
    check_priority,
    check_settings,
    check_workspace,
    resolved_workspace,
)
from codex_runner.service.writer import TaskWriter
from codex_runner.store.errors import (
    ApprovalNotFound,
    DuplicateIdempotencyKey,
    TaskConflict,
    TaskNotFound,
)
from codex_runner.store.protocol import Store
from codex_runner.workspace.directories import DirectoryWorkspaces
from codex_runner.workspace.protocol import (
    FinishedWorkspace,
    GcReport,
    Workspaces,
    WorkspaceSpec,
)

__all__ = [
    "DirectoryWorkspaces",
    "InvalidRequest",
    "InvalidTransition",
    "ServiceStatus",
    "TaskDiff",
    "TaskNotFound",
    "TaskNotRunning",
    "TaskService",
]

log = logging.getLogger(__name__)

AUTO_RESUME_REASON = "resumed after a restart"
RESTART_REASON = "the runner restarted while this task was active; resume it to continue"


@dataclass(frozen=True)
class ServiceStatus:
    runtime: RuntimeStatus
    counts: dict[TaskState, int]
    active: tuple[Task, ...]  # running or awaiting approval
    max_concurrent: int


@dataclass(frozen=True)
class TaskDiff:
    """A task branch's diff, or why there is none: gc collected its worktree (and branch)."""

    diff: str
    collected_at: datetime | None = None  # set when gc removed the worktree, diff empty

    @property
    def collected(self) -> bool:
        return self.collected_at is not None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _checked_graph_request(request: GraphRequest) -> GraphRequest:
    """The request with its values checked (each error names its field) and its workspace
    resolved; the workspace is not yet known to exist."""
    if len(request.children) > MAX_GRAPH_SIZE:
        raise InvalidRequest("children", f"a graph has at most {MAX_GRAPH_SIZE} children")
    check_priority(request.priority)
    check_settings(request.settings)
    for i, child in enumerate(request.children):
        if child.priority is not None:
            check_priority(child.priority, f"children[{i}].priority")
        if child.settings is not None:
            check_settings(child.settings)
    return replace(
        request,
        max_runtime_s=check_max_runtime(request.max_runtime_s),
        workspace=resolved_workspace(request.workspace),
    )


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
        admission: Callable[[], None] | None = None,
    ) -> None:
        """``admission()`` raises (e.g. HomeUnavailable) while new work must be refused;
        queued tasks wait meanwhile."""
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self._store = store
        self._runtime = runtime
        self._workspaces = workspaces
        self._bus = bus
        self._max = max_concurrent
        self._auto_resume = auto_resume
        self._clock = clock
        self._ids = ids or IdGenerator()
        self._admission = admission
        self._writer = TaskWriter(store, bus, sink=event_sink, clock=clock)
        self._approvals = ApprovalDesk(
            store,
            self._writer.publish_events,
            ids=self._ids,
            clock=clock,
            timeout_s=approval_timeout_s,
            timeout_decision=approval_timeout_decision,
        )
        runner = TaskRunner(
            store,
            runtime,
            workspaces,
            self._writer,
            self._approvals,
            failover=failover,
            commit_on_complete=commit_on_complete,
            clock=clock,
        )
        self._scheduler = Scheduler(
            store,
            runner,
            self._writer,
            max_concurrent=max_concurrent,
            stop_timeout_s=stop_timeout_s,
            admits=self.admits,
        )

    @property
    def store(self) -> Store:
        return self._store

    @property
    def runtime(self) -> CodexRuntime:
        return self._runtime

    # --- queries ---------------------------------------------------------------------------

    async def get(self, task_id: str) -> Task:
        return await self._writer.get(task_id)

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
        return await load_graph(self._store, graph_id)

    async def diff(self, task_id: str) -> TaskDiff:
        """The task branch's unified diff against its base (empty for a directory task);
        for a worktree gc collected, empty with when it was collected."""
        task = await self.get(task_id)
        workspace = await self._workspaces.locate(task.id, WorkspaceSpec.of_task(task.workspace))
        if workspace is None:
            return TaskDiff("", collected_at=task.workspace_collected_at)
        return TaskDiff(await self._workspaces.diff(workspace))

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
        self._admit()
        if not prompt.strip():
            raise InvalidRequest("prompt", "the prompt is empty: say what the task should do")
        check_priority(priority)
        settings = check_settings(settings or RuntimeSettings())
        max_runtime_s = check_max_runtime(max_runtime_s)
        workspace = resolved_workspace(workspace)
        fingerprint: str | None = None
        if idempotency_key is not None:
            fingerprint = task_fingerprint(
                prompt,
                workspace,
                priority=priority,
                settings=settings,
                max_runtime_s=max_runtime_s,
                images=images,
            )
            existing = await self._store.find_by_idempotency_key(idempotency_key)
            if existing is not None:
                check_same_request(idempotency_key, existing, fingerprint)
                return existing, False
        workspace = await check_workspace(self._workspaces, workspace)
        now = self._clock()
        task = Task(
            id=self._ids.task_id(),
            prompt=prompt,
            workspace=workspace,
            created_at=now,
            updated_at=now,
            priority=priority,
            settings=settings,
            max_runtime_s=max_runtime_s or DEFAULT_MAX_RUNTIME_S,
            idempotency_key=idempotency_key,
            idempotency_fingerprint=fingerprint,
            pending_images=check_images(images),
        )
        try:
            await self._store.create_task(task)
        except DuplicateIdempotencyKey as exc:  # a racing submit with the key won
            existing = await self.get(exc.existing_task_id)
            if fingerprint is not None:
                check_same_request(exc.key, existing, fingerprint)
            return existing, False
        await self._writer.publish(task.id, [1])
        self._scheduler.wake()
        return task, True

    async def submit_graph(self, request: GraphRequest) -> GraphView:
        """Create a graph (see :meth:`submit_graph_or_find`)."""
        view, _ = await self.submit_graph_or_find(request)
        return view

    async def submit_graph_or_find(self, request: GraphRequest) -> tuple[GraphView, bool]:
        """Create a parent and its children in one transaction (the children queue at once,
        each starting when its prerequisites completed, and the parent runs last), or find
        the graph its ``idempotency_key`` already made; with whether it was created."""
        self._admit()
        request = _checked_graph_request(request)
        fingerprint: str | None = None
        if request.idempotency_key is not None:
            fingerprint = graph_fingerprint(request)
            existing = await self._store.find_by_idempotency_key(request.idempotency_key)
            if existing is not None:
                graph = await self._graph_of(request.idempotency_key, existing, fingerprint)
                return graph, False
        request = replace(
            request, workspace=await check_workspace(self._workspaces, request.workspace)
        )
        try:
            plan = plan_graph(
                request,
                graph_id=self._ids.graph_id(),
                new_task_id=self._ids.task_id,
                now=self._clock(),
            )
        except GraphSpecError as exc:
            raise InvalidRequest("children", str(exc)) from exc
        plan = replace(plan, parent=replace(plan.parent, idempotency_fingerprint=fingerprint))
        try:
            await self._store.create_graph(plan)
        except DuplicateIdempotencyKey as exc:  # a racing submit with the key won
            existing = await self.get(exc.existing_task_id)
            assert fingerprint is not None  # only a request with a key meets its duplicate
            return await self._graph_of(exc.key, existing, fingerprint), False
        await self._writer.publish(plan.parent.id, [1, 2])
        for child in plan.children:
            await self._writer.publish(child.id, [1])
        self._scheduler.wake()
        return await self.graph(plan.graph.id), True

    async def _graph_of(self, key: str, existing: Task, fingerprint: str) -> GraphView:
        """The graph an idempotency key made, if this same request made it."""
        if existing.graph_id is None or not existing.is_graph_parent:
            raise IdempotencyKeyReused(key, existing.id)
        check_same_request(key, existing, fingerprint)
        return await self.graph(existing.graph_id)

    async def interrupt(self, task_id: str) -> Task:
        """Stop the task's live turn (thread kept); it can be resumed later."""
        task = await self.get(task_id)
        if await self._scheduler.stop_run(task, Action.INTERRUPT):
            return await self.get(task_id)
        return await self._writer.transition(
            task, Action.INTERRUPT, reason="interrupted by request"
        )

    async def cancel(self, task_id: str) -> Task:
        """End the task for good; cancelling a graph's parent cancels its unfinished children."""
        task = await self.get(task_id)
        if await self._scheduler.stop_run(task, Action.CANCEL):
            task = await self.get(task_id)
        else:
            task = await self._writer.transition(task, Action.CANCEL, reason="cancelled by request")
            self._scheduler.forget(task.id)  # say, a crash suspect cancelled while queued
        if task.is_graph_parent and task.graph_id is not None:
            # Dependents first, so no child is failed as a dependent before it is cancelled.
            for child in reversed((await self.graph(task.graph_id)).children):
                if not child.state.is_terminal:
                    with contextlib.suppress(InvalidTransition):
                        await self.cancel(child.id)
        return task

    async def resume(self, task_id: str, prompt: str | None = None) -> Task:
        """Re-queue an interrupted task on its thread, optionally with new input."""
        self._admit()
        task = await self.get(task_id)
        fields: dict[str, Any] = {"pending_message": prompt} if prompt and prompt.strip() else {}
        after = await self._writer.transition(
            task, Action.RESUME, reason="resumed by request", **fields
        )
        self._scheduler.wake()
        return after

    async def message(self, task_id: str, prompt: str, images: Sequence[str] = ()) -> Task:
        """A follow-up for an interrupted or completed task: queued as its next turn."""
        self._admit()
        if not prompt.strip():
            raise InvalidRequest("prompt", "the message is empty: say what the task should do")
        checked = check_images(images)
        task = await self.get(task_id)
        extra = [durable_event.message_received(prompt, at=self._clock())]
        after = await self._writer.transition(
            task,
            Action.MESSAGE,
            reason="follow-up message",
            extra=extra,
            pending_message=prompt,
            pending_images=checked,
        )
        self._scheduler.wake()
        return after

    def _admit(self) -> None:
        if self._admission is not None:
            self._admission()

    def admits(self) -> bool:
        """Whether new work is taken now (queued tasks start only then)."""
        try:
            self._admit()
        except Exception:
            return False
        return True

    def admission_reopened(self) -> None:
        """New work is taken again: queued tasks may start."""
        self._scheduler.wake()

    async def halt_running(self, reason: str) -> None:
        """Interrupt every running turn saying ``reason`` (not a person's request: the
        home became unavailable); the threads are kept, so each can be resumed later."""
        await self._scheduler.halt_running(reason, self.get)

    async def steer(self, task_id: str, prompt: str) -> None:
        """Add input to the task's live turn."""
        if not prompt.strip():
            raise InvalidRequest("prompt", "the steer text is empty")
        task = await self.get(task_id)
        run = self._scheduler.live_run(task_id)
        turn = run.turn if run is not None else None
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
        report = await self._workspaces.gc(finished, retention_s, force=force)
        collected_at = self._clock()
        for removed in report.removed:
            await self._mark_collected(removed.task_id, collected_at)
        return report

    async def _mark_collected(self, task_id: str, at: datetime) -> None:
        """Remember when gc removed the task's worktree, so its diff can say so."""
        for _ in range(3):  # the task may change meanwhile (a follow-up message)
            task = await self.get(task_id)
            try:
                await self._store.update_task(
                    replace(task, workspace_collected_at=at), expected_state=task.state
                )
            except TaskConflict:
                continue
            return

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, *, recover: bool = True) -> None:
        """Recover from a crash (unless done already with :meth:`recover`), then schedule."""
        if recover:
            await self.recover()
        self._scheduler.start()

    async def stop(self, reason: str | None = None) -> None:
        """Stop scheduling, interrupt running turns and wait (bounded) for the runners.

        ``reason`` (why the daemon stops) is what the interrupted tasks say.
        """
        await self._scheduler.stop(reason)

    async def recover(self) -> None:
        """Tasks left running or awaiting approval by a crash become interrupted.

        Needs only the store, so a daemon runs it while Codex starts. All of them in one
        transaction (a restart with hundreds to reconcile spent most of its time committing
        them one by one); should anything else change one of them meanwhile, each is
        reconciled on its own instead. Their approvals expire in one commit before that.
        """
        orphans = await self._store.tasks_in_states(ACTIVE_STATES)
        if not orphans:
            return
        # The approvals' events first, published (the task logs too) before the tasks' own,
        # so each task's log file stays in seq order.
        expired = await self._store.expire_approvals_of([t.id for t in orphans], now=self._clock())
        await self._approvals.publish_expired(expired)
        try:
            reconciled = await self._writer.transition_all(
                orphans, Action.RECONCILE, RESTART_REASON
            )
        except (TaskConflict, TaskNotFound):
            await asyncio.gather(*(self._reconcile(t) for t in orphans))
            return
        if self._auto_resume:
            try:
                await self._writer.transition_all(reconciled, Action.RESUME, AUTO_RESUME_REASON)
            except (TaskConflict, TaskNotFound):
                await asyncio.gather(*(self._auto_resume_one(t) for t in reconciled))

    async def _reconcile(self, task: Task) -> None:
        await self._store.expire_approvals(task.id, now=self._clock())
        try:
            task = await self._writer.transition(task, Action.RECONCILE, reason=RESTART_REASON)
        except InvalidTransition:
            return
        if self._auto_resume:
            await self._auto_resume_one(task)

    async def _auto_resume_one(self, task: Task) -> None:
        with contextlib.suppress(InvalidTransition):
            await self._writer.transition(task, Action.RESUME, reason=AUTO_RESUME_REASON)

    # --- approvals -------------------------------------------------------------------------

    async def approval_handler(self, request: ApprovalRequest) -> str:
        """The runtime's ApprovalHandler: park the task until someone decides (or timeout)."""
        task = await self._store.find_task_by_thread(request.thread_id)
        if task is None:
            log.warning("approval request on unknown thread %s declined", request.thread_id)
            return fallback_decision(request)

        async def parked() -> None:
            with contextlib.suppress(InvalidTransition):
                await self._writer.transition_by_id(
                    task.id, Action.PARK_FOR_APPROVAL, only_from_running=True
                )

        decision = await self._approvals.park(task.id, request, parked)
        if not await self._store.list_pending_approvals(task_id=task.id):
            with contextlib.suppress(InvalidTransition):
                await self._writer.transition_by_id(
                    task.id, Action.APPROVAL_RESOLVED, reason=f"approval {decision}"
                )
        return decision
