"""Controls on a task's live turn: interrupt, cancel, steer, and an approval's decision.

Only the host that runs a task holds its Codex turn. On that host a control acts on the
turn; on any other host sharing the store it is sent to that host (domain.hosts, over
LISTEN/NOTIFY) and, for interrupt and cancel, waited for until the task has settled there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from codex_runner.domain.approval import Approval
from codex_runner.domain.task import Task, TaskState
from codex_runner.domain.transitions import Action, InvalidTransition
from codex_runner.service.approvals import ApprovalDesk
from codex_runner.service.errors import InvalidRequest, TaskNotRunning
from codex_runner.service.hosts import MAX_REMOTE_STEER_BYTES, Control, HostMembership
from codex_runner.service.live_sessions import LiveSessions
from codex_runner.service.scheduler import Scheduler
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper
from codex_runner.service.writer import TaskWriter
from codex_runner.store.protocol import Store

# How long a control sent to another host waits for the task to settle there.
REMOTE_SETTLE_S = 30.0


class TaskControls:
    def __init__(
        self,
        store: Store,
        writer: TaskWriter,
        scheduler: Scheduler,
        sessions: LiveSessions,
        warm: WarmThreadKeeper,
        desk: ApprovalDesk,
        hosts: HostMembership | None,
        *,
        children_of: Callable[[str], Awaitable[list[Task]]],
    ) -> None:
        self._store = store
        self._writer = writer
        self._scheduler = scheduler
        self._sessions = sessions
        self._warm = warm
        self._desk = desk
        self._hosts = hosts
        self._children_of = children_of
        if hosts is not None:
            hosts.on_control = self._act

    def runs_elsewhere(self, task: Task) -> str | None:
        """The other host running ``task`` (None: this one, or nobody)."""
        if self._hosts is None or not task.state.is_active or task.host_id is None:
            return None
        if task.host_id == self._hosts.id or self._scheduler.live_run(task.id) is not None:
            return None
        return task.host_id

    async def interrupt(self, task_id: str) -> Task:
        task = await self._writer.get(task_id)
        if (host := self.runs_elsewhere(task)) is not None:
            return await self._forward(Control(host, task.id, "interrupt"))
        elsewhere = self._sessions.turn_started_elsewhere(task_id)
        if await self._scheduler.stop_run(task, Action.INTERRUPT):
            return await self._writer.get(task_id)
        if elsewhere is not None:  # its follower settles the task as the turn ends
            await elsewhere.interrupt()
            return await self._writer.get(task_id)
        return await self._writer.transition(
            task, Action.INTERRUPT, reason="interrupted by request"
        )

    async def cancel(self, task_id: str) -> Task:
        task = await self._writer.get(task_id)
        if (host := self.runs_elsewhere(task)) is not None:
            task = await self._forward(Control(host, task.id, "cancel"))
        elif await self._scheduler.stop_run(task, Action.CANCEL):
            task = await self._writer.get(task_id)
        else:
            task = await self._writer.transition(task, Action.CANCEL, reason="cancelled by request")
            self._scheduler.forget(task.id)  # say, a crash suspect cancelled while queued
        await self._warm.release(task.thread_id)
        if task.is_graph_parent and task.graph_id is not None:
            # Dependents first, so no child is failed as a dependent before it is cancelled.
            for child in reversed(await self._children_of(task.graph_id)):
                if not child.state.is_terminal:
                    with contextlib.suppress(InvalidTransition):
                        await self.cancel(child.id)
        return task

    async def steer(self, task_id: str, prompt: str) -> None:
        if not prompt.strip():
            raise InvalidRequest("prompt", "the steer text is empty")
        task = await self._writer.get(task_id)
        if (host := self.runs_elsewhere(task)) is not None:
            if len(prompt.encode()) > MAX_REMOTE_STEER_BYTES:
                raise InvalidRequest(
                    "prompt",
                    f"task {task_id} runs on host {host}: a steer sent there holds at most "
                    f"{MAX_REMOTE_STEER_BYTES} bytes; send a follow-up message instead",
                )
            assert self._hosts is not None
            await self._hosts.send_control(Control(host, task.id, "steer", text=prompt))
            return
        run = self._scheduler.live_run(task_id)
        turn = run.turn if run is not None else self._sessions.turn_started_elsewhere(task_id)
        if turn is None or task.state is not TaskState.RUNNING:
            raise TaskNotRunning(task_id, task.state, "steer")
        await turn.steer(prompt)

    async def decide(self, approval_id: str, decision: str, by: str) -> Approval:
        local = self._desk.waits_here(approval_id)
        decided = await self._desk.decide(approval_id, decision, by)
        if not local:
            task = await self._writer.get(decided.task_id)
            if (host := self.runs_elsewhere(task)) is not None:
                assert self._hosts is not None
                control = Control(host, task.id, "approval", approval=approval_id)
                await self._hosts.send_control(control)
        return decided

    async def _forward(self, control: Control) -> Task:
        """Send ``control`` to the host running the task; the task once it left the active
        states there (or as it is when that takes longer than REMOTE_SETTLE_S)."""
        assert self._hosts is not None
        await self._hosts.send_control(control)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REMOTE_SETTLE_S):
                for delay in _backoff():
                    task = await self._writer.get(control.task)
                    if not task.state.is_active:
                        return task
                    await asyncio.sleep(delay)  # another host's write: read, not published
        return await self._writer.get(control.task)

    async def _act(self, control: Control) -> None:
        """Another host asked this one to act on a task it runs."""
        if control.action == "interrupt":
            await self.interrupt(control.task)
        elif control.action == "cancel":
            await self.cancel(control.task)
        elif control.action == "steer" and control.text:
            await self.steer(control.task, control.text)
        elif control.action == "approval" and control.approval:
            approval = await self._store.get_approval(control.approval)
            if approval is not None:
                self._desk.deliver(approval)


def _backoff() -> list[float]:
    return [0.05, 0.1, 0.2] + [0.5] * int(REMOTE_SETTLE_S / 0.5)
