"""Live sessions: people and tools on a task's Codex thread through the shared app-server.

- Attaching: ``target`` says how to open the Codex TUI on a task's thread (``codex resume
  --remote ADDRESS THREAD``, no ``-c`` overrides: they make a remote resume hang). ``open``
  records an attachment for a local process (the CLI's ``task attach``) and keeps the thread
  loaded and subscribed by the runner while it lasts, so that what the person does there is
  seen here; the attachment ends with ``close`` or when that process is gone.
- Turns started elsewhere: a turn another client starts on a thread the runner has loaded is
  the task's turn: it is recorded with its events, the task runs it (from completed or
  interrupted), its approvals are parked like any other, and it can be interrupted or
  steered through the runner.

Codex 0.163 tells no client who else is subscribed to a thread, so ``attached`` means what
the runner can know: an open attachment, or a turn another client is running on the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from codex_runner.codex.runtime import CodexRuntime, Turn, TurnResult
from codex_runner.codex.thread_catalog import MAX_THREADS, ThreadSummary, list_threads
from codex_runner.domain.conversation import Turn as TurnRecord
from codex_runner.domain.events import TurnStatus
from codex_runner.domain.task import Task, TaskState
from codex_runner.domain.transitions import Action, InvalidTransition, can_apply
from codex_runner.runner_home.processes import pid_alive
from codex_runner.service.approvals import ApprovalDesk
from codex_runner.service.errors import NoAppServer, NotAttachable
from codex_runner.service.ingest import ingest_turn_events
from codex_runner.service.task_approvals import TaskApprovals
from codex_runner.service.thread_options import thread_options
from codex_runner.service.turn_records import finished_turn
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper
from codex_runner.service.writer import TaskWriter
from codex_runner.store.protocol import Store
from codex_runner.workspace import Workspaces

log = logging.getLogger(__name__)

ELSEWHERE_INPUT = "(a turn started in another Codex client)"
ELSEWHERE_REASON = "running a turn started in another Codex client"


@dataclass(frozen=True)
class SharedAppServer:
    """How a person's Codex reaches the runner's app-server."""

    remote: str  # unix:///PATH or ws://HOST:PORT
    codex_bin: str
    # The runner's Codex home now (an auth profile switch changes it); None for an external
    # app-server, which has its own.
    codex_home: Callable[[], str | None]


@dataclass(frozen=True)
class AttachTarget:
    task_id: str
    remote: str
    thread_id: str
    command: tuple[str, ...]
    env: dict[str, str]  # to set for the command (never a secret: the home's path only)


@dataclass(frozen=True)
class Attachment:
    id: str
    task_id: str
    pid: int
    at: datetime


class LiveSessions:
    def __init__(
        self,
        store: Store,
        runtime: CodexRuntime,
        workspaces: Workspaces,
        writer: TaskWriter,
        desk: ApprovalDesk,
        warm: WarmThreadKeeper,
        *,
        clock: Callable[[], datetime],
        shared: SharedAppServer | None = None,
    ) -> None:
        self._store = store
        self._runtime = runtime
        self._workspaces = workspaces
        self._writer = writer
        self._desk = desk
        self._warm = warm
        self._clock = clock
        self.shared = shared
        self._attachments: dict[str, Attachment] = {}
        self._turns: dict[str, Turn] = {}  # task id -> its running turn started elsewhere
        self._followers: set[asyncio.Task[None]] = set()
        if hasattr(runtime, "on_turn_started_elsewhere"):
            runtime.on_turn_started_elsewhere = self._turn_started_elsewhere

    # attaching ---------------------------------------------------------------------------
    async def target(self, task: Task) -> AttachTarget:
        """How to open the Codex TUI on ``task``'s thread; NotAttachable says why not."""
        if task.session.runtime not in (None, "app-server"):
            raise NotAttachable(
                task.id,
                f"task {task.id} runs on the {task.session.runtime} runtime, whose turns are "
                "separate processes with nothing to attach to; submit with runtime app-server",
            )
        if self.shared is None:
            raise NotAttachable(
                task.id,
                "this daemon's Codex has no shared app-server to attach to (the exec runtime, "
                'or [codex] listen = "stdio"); run the app-server runtime with '
                'listen = "socket" (the default)',
            )
        if task.thread_id is None or not await self._store.list_turns(task.id):
            raise NotAttachable(
                task.id,
                f"task {task.id} has no Codex conversation to attach to yet (it is "
                f"{task.state}): Codex writes a thread's rollout when its first turn starts; "
                "attach once the task has run",
            )
        command = (self.shared.codex_bin, "resume", "--remote", self.shared.remote, task.thread_id)
        home = self.shared.codex_home()
        env = {"CODEX_HOME": home} if home else {}
        return AttachTarget(task.id, self.shared.remote, task.thread_id, command, env)

    async def open(self, task: Task, pid: int) -> tuple[Attachment, AttachTarget]:
        """Record that local process ``pid`` attaches to ``task``'s thread, and keep the
        thread loaded and followed by the runner while it does."""
        target = await self.target(task)
        if pid <= 0 or not pid_alive(pid):
            raise NotAttachable(task.id, f"process {pid} is not running; pass the attaching pid")
        await self._load(task, target.thread_id)
        attachment = Attachment(uuid.uuid4().hex[:12], task.id, pid, self._clock())
        self._attachments[attachment.id] = attachment
        return attachment, target

    async def _load(self, task: Task, thread_id: str) -> None:
        self._warm.take(thread_id)  # in use: the idle timer must not release it
        if task.state in (TaskState.RUNNING, TaskState.AWAITING_APPROVAL):
            return  # its turn holds the thread loaded
        workspace = await self._workspaces.create(task.id, task.workspace)
        handle = await self._runtime.resume_thread(thread_id, thread_options(task, workspace.path))
        if handle.id != thread_id:  # Codex could not load it and made a new one: not this
            await self._runtime.release_thread(handle.id)
            raise NotAttachable(
                task.id, f"Codex can no longer load thread {thread_id} (its rollout is gone)"
            )

    async def close(self, task_id: str, attachment_id: str) -> bool:
        attachment = self._attachments.get(attachment_id)
        if attachment is None or attachment.task_id != task_id:
            return False
        del self._attachments[attachment_id]
        await self._settle_thread(task_id)
        return True

    async def _settle_thread(self, task_id: str) -> None:
        """Nobody attached any more: the thread goes back to the warm-thread bounds."""
        if self._live_attachments(task_id) or task_id in self._turns:
            return
        task = await self._store.get_task(task_id)
        if task is not None and task.thread_id is not None and task.state.is_terminal:
            await self._warm.keep(task.thread_id)

    def _live_attachments(self, task_id: str) -> list[Attachment]:
        live = []
        for attachment in list(self._attachments.values()):
            if attachment.task_id != task_id:
                continue
            if pid_alive(attachment.pid):
                live.append(attachment)
            else:  # its process ended without saying so
                del self._attachments[attachment.id]
        return live

    def attached(self, task_id: str) -> bool:
        return task_id in self._turns or bool(self._live_attachments(task_id))

    def attached_ids(self, task_ids: Sequence[str]) -> set[str]:
        return {task_id for task_id in task_ids if self.attached(task_id)}

    # threads ---------------------------------------------------------------------------
    async def threads(
        self, cwd: Path | None = None, limit: int = MAX_THREADS
    ) -> list[tuple[ThreadSummary, str | None]]:
        """The Codex threads the runner's Codex home knows (newest first), each with the
        task that owns it, if any."""
        if not hasattr(self._runtime, "request"):
            raise NoAppServer(
                "listing Codex threads needs the app-server runtime; this daemon runs "
                '`codex exec` ([codex] runtime = "exec")'
            )
        found = await list_threads(self._runtime, cwd=cwd, limit=limit)  # type: ignore[arg-type]
        owners = []
        for thread in found:
            owner = await self._store.find_task_by_thread(thread.id)
            owners.append((thread, owner.id if owner is not None else None))
        return owners

    async def read_thread(self, thread_id: str) -> dict[str, Any]:
        """Codex's ``thread/read`` of the thread, with its turns."""
        request = getattr(self._runtime, "request", None)
        if request is None:
            raise NoAppServer("reading a Codex thread needs the app-server runtime")
        result = await request("thread/read", {"threadId": thread_id, "includeTurns": True})
        return dict(result.get("thread") or {}) if isinstance(result, dict) else {}

    # turns started elsewhere -------------------------------------------------------------
    def turn_started_elsewhere(self, task_id: str) -> Turn | None:
        """The running turn another client started on the task's thread, if any."""
        turn = self._turns.get(task_id)
        return turn if turn is not None and not turn.done else None

    def _turn_started_elsewhere(self, turn: Any) -> None:
        follower = asyncio.create_task(self._follow(turn), name=f"follow-{turn.thread_id}")
        self._followers.add(follower)
        follower.add_done_callback(self._followers.discard)

    async def _follow(self, turn: Any) -> None:
        try:
            task = await self._store.find_task_by_thread(turn.thread_id)
            if task is None:
                return  # a thread no task owns: nothing to record it on
            turn.use_approvals(TaskApprovals(self._desk, self._store, self._writer, task.id))
            self._turns[task.id] = turn
            try:
                await self._record(task, turn)
            finally:
                self._turns.pop(task.id, None)
                await self._settle_thread(task.id)
        except Exception:
            log.exception("recording a turn started elsewhere on thread %s failed", turn.thread_id)

    async def _record(self, task: Task, turn: Turn) -> None:
        moved = can_apply(task.state, Action.TURN_STARTED_ELSEWHERE)
        if moved:
            task = await self._writer.transition(
                task, Action.TURN_STARTED_ELSEWHERE, reason=ELSEWHERE_REASON
            )
        number = len(await self._store.list_turns(task.id)) + 1
        record = TurnRecord(
            task.id,
            number,
            ELSEWHERE_INPUT,
            self._clock(),
            thread_id=turn.thread_id,
            codex_turn_id=turn.id,
        )
        await self._store.save_turn(record)
        self._warm.take(turn.thread_id)
        await ingest_turn_events(
            self._store,
            task.id,
            turn,
            clock=self._clock,
            publish=self._writer.publish_events,
            publish_delta=self._writer.publish_delta,
        )
        result = await turn.wait()
        await self._store.save_turn(finished_turn(record, result, self._clock()))
        await self._desk.end_turn(task.id)
        if moved:
            await self._settle(task.id, result)

    async def _settle(self, task_id: str, result: TurnResult) -> None:
        note = "a turn started in another Codex client"
        with contextlib.suppress(InvalidTransition):
            if result.status is TurnStatus.COMPLETED:
                task = await self._writer.get(task_id)
                await self._writer.transition(
                    task,
                    Action.COMPLETE,
                    reason=f"{note} completed",
                    final_message=result.final_message or task.final_message,
                    usage=task.usage.plus(result.usage),
                )
            elif result.status is TurnStatus.INTERRUPTED:
                await self._writer.transition_by_id(
                    task_id, Action.INTERRUPT, reason=f"{note} was interrupted"
                )
            else:
                error = result.error.message if result.error else "it failed"
                await self._writer.transition_by_id(
                    task_id, Action.FAIL, reason=f"{note} failed: {error}"
                )

    async def close_all(self) -> None:
        """Stop following (shutdown): the turns themselves end with the runtime."""
        followers = list(self._followers)
        for follower in followers:
            follower.cancel()
        if followers:
            await asyncio.wait(followers, timeout=5.0)
        self._attachments.clear()
