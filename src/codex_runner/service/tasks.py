"""The task service: the commands (submit, interrupt, cancel, resume, message, steer,
approve, gc) and queries every adapter uses, over the parts that do the work.

Every durable change goes through the :class:`~codex_runner.store.protocol.Store` with
compare-and-set on the task's state (:mod:`~codex_runner.service.writer`); events are
committed before the :class:`EventBus` publishes them. New work is checked and created by
:mod:`~codex_runner.service.submissions`; the :mod:`~codex_runner.service.scheduler` starts
queued tasks, each run doing one turn (:mod:`~codex_runner.service.runner`), and alone stops
them; :mod:`~codex_runner.service.recovery` reconciles what a crash left active. Graphs: a
child starts when its prerequisites completed (the store's queue knows), a failed or
cancelled prerequisite fails its queued dependents, and the parent runs last.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codex_runner.codex.runtime import CodexRuntime
from codex_runner.codex.task_runtimes import TaskRuntimes, single_runtime
from codex_runner.domain.approval import Approval
from codex_runner.domain.durable_event import EVENT_TYPES, NewEvent, TaskEvent
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import (
    RuntimeSettings,
    Task,
    WorkspaceRequest,
)
from codex_runner.domain.task_options import TaskOptions, TurnOverrides
from codex_runner.domain.transitions import InvalidTransition
from codex_runner.service.approvals import ApprovalDesk
from codex_runner.service.errors import InvalidRequest, TaskNotRunning
from codex_runner.service.event_bus import EventBus
from codex_runner.service.follow_ups import FollowUps
from codex_runner.service.graph_feed import GraphFeed
from codex_runner.service.graphs import GraphRequest, GraphView
from codex_runner.service.home_watch import HomeUnavailable
from codex_runner.service.hosts import HostMembership, HostSettings
from codex_runner.service.live_sessions import LiveSessions, SharedAppServer
from codex_runner.service.option_checks import OptionRules
from codex_runner.service.profile_failover import FailoverPolicy
from codex_runner.service.recovery import Recovery
from codex_runner.service.runner import TaskRunner
from codex_runner.service.scheduler import Scheduler
from codex_runner.service.status import ServiceStatus, service_status
from codex_runner.service.submissions import Submissions
from codex_runner.service.task_controls import TaskControls
from codex_runner.service.task_log import TaskLogSink
from codex_runner.service.task_queries import TaskQueries
from codex_runner.service.thread_carry import ThreadCarrier
from codex_runner.service.turn_inputs import InputItem
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper
from codex_runner.service.worktree_gc import TaskDiff, WorktreeCollector, WorktreeGc
from codex_runner.service.writer import TaskWriter
from codex_runner.store.errors import TaskNotFound
from codex_runner.store.protocol import Store
from codex_runner.workspace.directories import DirectoryWorkspaces
from codex_runner.workspace.protocol import Workspaces

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
FOLLOW_ELSEWHERE_S = 0.5


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TaskService(TaskQueries):
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
        task_log: TaskLogSink | None = None,
        failover: FailoverPolicy | None = None,
        clock: Callable[[], datetime] = _utc_now,
        ids: IdGenerator | None = None,
        stop_timeout_s: float = 10.0,
        admission: Callable[[], None] | None = None,
        warm_threads: WarmThreadKeeper | None = None,
        shared: SharedAppServer | None = None,
        model_aliases: Mapping[str, str] | None = None,
        option_rules: OptionRules | None = None,
        uploads: Path | None = None,
        host: HostSettings | None = None,
        carrier: ThreadCarrier | None = None,
        auth_profile: Callable[[], str | None] = lambda: None,
        coauthors: Callable[[str], Awaitable[Sequence[str]]] | None = None,
    ) -> None:
        """``admission()`` raises HomeUnavailable while new work must be refused;
        queued tasks wait meanwhile. ``warm_threads`` keeps threads loaded after their turn
        (without it, each is released as its turn ends). ``shared`` is the app-server people
        can attach to (None: attaching is refused). ``option_rules`` say which options a task
        may set (else only ``model_aliases``, [codex.models], beside the defaults);
        ``uploads`` keeps uploaded input images (None: images are taken by path only).
        ``host``: this host among others sharing the store (heartbeats, takeovers);
        ``carrier`` keeps each thread's session file there for the host that takes over."""
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self._store = store
        self._runtime = runtime
        # Each task runs on the runtime it asks for: ``runtime`` is the default, the other
        # kind is made on first use (only with a TaskRuntimes that knows how to make it).
        self.runtimes = runtime if isinstance(runtime, TaskRuntimes) else single_runtime(runtime)
        self._workspaces = workspaces
        self._rules = option_rules or OptionRules(
            aliases=model_aliases, default_runtime=self.runtimes.default.kind
        )
        self._uploads = uploads
        self._bus = bus
        self._max = max_concurrent
        self._clock = clock
        ids = ids or IdGenerator()
        self._admission = admission
        self._writer = TaskWriter(store, bus, sink=task_log, clock=clock)
        self.graph_feed = GraphFeed(store, bus)  # each graph's own event stream
        self._approvals = ApprovalDesk(
            store,
            self._writer.publish_events,
            ids=ids,
            clock=clock,
            timeout_s=approval_timeout_s,
            timeout_decision=approval_timeout_decision,
        )
        self.warm_threads = (
            warm_threads
            if warm_threads is not None
            else WarmThreadKeeper(self.runtimes, limit=0, idle_s=0)
        )
        self.worktree_gc = WorktreeCollector(  # gc's and the disk policy's removals
            store,
            workspaces,
            clock=clock,
            unload=self.warm_threads.release,
            record=self._writer.append,
        )
        runner = TaskRunner(
            store,
            self.runtimes,
            workspaces,
            self._writer,
            self._approvals,
            failover=failover,
            commit_on_complete=commit_on_complete,
            clock=clock,
            warm=self.warm_threads,
            host_id=host.id if host is not None else None,
            carrier=carrier,
            auth_profile=auth_profile,
            coauthors=coauthors,
        )
        self._submissions = Submissions(
            store,
            workspaces,
            self._writer,
            ids=ids,
            clock=clock,
            rules=self._rules,
            uploads=uploads,
        )
        self._follow_ups = FollowUps(
            self._writer, workspaces, self._rules, uploads=uploads, clock=clock
        )
        self._recovery = Recovery(
            store,
            self._writer,
            self._approvals,
            auto_resume=auto_resume,
            clock=clock,
            host_id=host.id if host is not None else None,
        )
        self.sessions = LiveSessions(
            store,
            self.runtimes.default,  # people attach to the app-server the runner started
            workspaces,
            self._writer,
            self._approvals,
            self.warm_threads,
            clock=clock,
            shared=shared,
        )
        self._scheduler = Scheduler(
            store,
            runner,
            self._writer,
            max_concurrent=max_concurrent,
            stop_timeout_s=stop_timeout_s,
            admits=self.admits,
            defers=self._defers,
        )
        self.hosts = (
            HostMembership(
                store,
                host,
                self._recovery,
                clock=clock,
                wake=self._scheduler.wake,
                lost=lambda reason: self._scheduler.stop_turns_of_lost_claims(),
            )
            if host is not None
            else None
        )
        self._controls = TaskControls(
            store,
            self._writer,
            self._scheduler,
            self.sessions,
            self.warm_threads,
            self._approvals,
            self.hosts,
            children_of=self._children_of,
        )

    @property
    def store(self) -> Store:
        return self._store

    @property
    def runtime(self) -> CodexRuntime:
        """The default runtime (``[codex] runtime``): the one status and sessions report."""
        return self.runtimes.default

    async def status(self) -> ServiceStatus:
        return await service_status(self._runtime, self._store, self._max)

    # --- commands --------------------------------------------------------------------------

    async def submit(
        self,
        prompt: str | Sequence[InputItem],
        workspace: WorkspaceRequest,
        priority: int = 0,
        settings: RuntimeSettings | None = None,
        max_runtime_s: float | None = None,
        idempotency_key: str | None = None,
        images: Sequence[str] = (),
        thread_id: str | None = None,
        options: TaskOptions | None = None,
    ) -> Task:
        """Queue a new task; with an ``idempotency_key`` already used, the existing task
        (see :meth:`submit_or_find`)."""
        task, _ = await self.submit_or_find(
            prompt,
            workspace,
            priority,
            settings,
            max_runtime_s,
            idempotency_key,
            images,
            thread_id,
            options,
        )
        return task

    async def submit_or_find(
        self,
        prompt: str | Sequence[InputItem],
        workspace: WorkspaceRequest,
        priority: int = 0,
        settings: RuntimeSettings | None = None,
        max_runtime_s: float | None = None,
        idempotency_key: str | None = None,
        images: Sequence[str] = (),
        thread_id: str | None = None,
        options: TaskOptions | None = None,
    ) -> tuple[Task, bool]:
        """Queue a new task, or find the one an ``idempotency_key`` already made; with
        whether it was created (an API answers 201 or 200 on that). ``thread_id`` adopts an
        existing Codex thread as the task's (its first turn resumes it).

        Raises InvalidRequest (naming the field) for an empty prompt, a workspace that cannot
        be made, a missing image, a bad max runtime or a thread another task owns; nothing is
        written then.
        """
        self._admit()
        task, created = await self._submissions.task(
            prompt,
            workspace,
            priority,
            settings,
            max_runtime_s,
            idempotency_key,
            images,
            thread_id,
            options,
        )
        if created:
            await self._work_queued()
        return task, created

    async def submit_graph_or_find(self, request: GraphRequest) -> tuple[GraphView, bool]:
        """Create a parent and its children in one transaction (the children queue at once,
        each starting when its prerequisites completed, and the parent runs last), or find
        the graph its ``idempotency_key`` already made; with whether it was created."""
        self._admit()
        view, created = await self._submissions.graph(request)
        if created:
            await self._work_queued()
        return view, created

    async def interrupt(self, task_id: str) -> Task:
        """Stop the task's live turn (thread kept); it can be resumed later."""
        return await self._controls.interrupt(task_id)

    async def cancel(self, task_id: str) -> Task:
        """End the task for good; cancelling a graph's parent cancels its unfinished children."""
        return await self._controls.cancel(task_id)

    async def resume(
        self,
        task_id: str,
        prompt: str | Sequence[InputItem] | None = None,
        overrides: TurnOverrides | None = None,
    ) -> Task:
        """Re-queue an interrupted task on its thread, optionally with new input and
        overrides for that turn."""
        self._admit()
        after = await self._follow_ups.resume(task_id, prompt, overrides)
        await self._work_queued()
        return after

    async def message(
        self,
        task_id: str,
        prompt: str | Sequence[InputItem],
        images: Sequence[str] = (),
        overrides: TurnOverrides | None = None,
    ) -> Task:
        """A follow-up for an interrupted or completed task: queued as its next turn, with
        ``overrides`` for that turn only."""
        self._admit()
        after = await self._follow_ups.message(task_id, prompt, images, overrides)
        await self._work_queued()
        return after

    def _admit(self) -> None:
        if self._admission is not None:
            self._admission()

    def admits(self) -> bool:
        """Whether new work is taken now (queued tasks start only then; a draining host
        takes none)."""
        if self.hosts is not None and self.hosts.draining:
            return False
        try:
            self._admit()
        except HomeUnavailable:  # any other error is a bug: let it show, not stall the queue
            return False
        return True

    def admission_reopened(self) -> None:
        """New work is taken again: queued tasks may start."""
        self._scheduler.wake()

    def _defers(self, task: Task) -> bool:
        return self.hosts is not None and self.hosts.defers(task)

    def _idle_read_s(self) -> float | None:
        # On a shared store a task may run on another host: its events reach this host's
        # followers by reading the store, within this long.
        return FOLLOW_ELSEWHERE_S if self.hosts is not None and self.hosts.shared else None

    async def _children_of(self, graph_id: str) -> list[Task]:
        return list((await self.graph(graph_id)).children)

    async def _work_queued(self) -> None:
        self._scheduler.wake()
        if self.hosts is not None:
            await self.hosts.announce_work()

    async def halt_running(self, reason: str) -> None:
        """Interrupt every running turn saying ``reason`` (not a person's request: the
        home became unavailable); the threads are kept, so each can be resumed later."""
        await self._scheduler.halt_running(reason)

    async def steer(self, task_id: str, prompt: str) -> None:
        """Add input to the task's live turn."""
        await self._controls.steer(task_id, prompt)

    async def record_event(self, task_id: str, type: str, data: dict[str, Any]) -> TaskEvent:
        """Add an adapter's own event (say ``slack.message_received``) to the task's history:
        committed, then published to followers and the task log like every other event.
        The runner's own event types are refused: only the service records those."""
        if type in EVENT_TYPES:
            raise ValueError(f"{type} is a runner event; an adapter records its own types")
        (event,) = await self._writer.append(task_id, [NewEvent(type, self._clock(), data)])
        return event

    async def decide_approval(self, approval_id: str, decision: str, by: str) -> Approval:
        """Decide a pending approval once; raises the domain errors for a bad decision."""
        return await self._controls.decide(approval_id, decision, by)

    async def gc(
        self, retention_s: float, *, force: bool = False, dry_run: bool = False
    ) -> WorktreeGc:
        """Remove (unless ``dry_run``) worktrees of tasks finished more than ``retention_s``
        ago (see Workspaces.gc); a running task's worktree is never touched."""
        return await self.worktree_gc.collect(retention_s, force=force, dry_run=dry_run)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, *, recover: bool = True) -> None:
        """Recover from a crash (unless done already with :meth:`recover`), then schedule."""
        if self.hosts is not None:
            await self.hosts.register()
        if recover:
            await self.recover()
        self._scheduler.start()
        self.warm_threads.start()
        if self.hosts is not None:
            self.hosts.start()

    async def stop(self, reason: str | None = None) -> None:
        """Stop scheduling, interrupt running turns and wait (bounded) for the runners, then
        release the warm threads.

        ``reason`` (why the daemon stops) is what the interrupted tasks say.
        """
        if self.hosts is not None:
            await self.hosts.stop()
        await self._scheduler.stop(reason)
        await self.sessions.close_all()
        await self.warm_threads.close()

    async def recover(self) -> None:
        """Tasks left running or awaiting approval by a crash become interrupted (see
        :class:`~codex_runner.service.recovery.Recovery`); needs only the store, so a daemon
        runs it while Codex starts."""
        await self._recovery.recover()
