"""Restart recovery: tasks a crash left running or awaiting approval become interrupted.

Their worktrees and threads are kept, so each can be resumed (or is, with ``auto_resume``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from codex_runner.domain.task import ACTIVE_STATES, Task
from codex_runner.domain.transitions import Action, InvalidTransition
from codex_runner.service.approvals import ApprovalDesk
from codex_runner.service.writer import TaskWriter
from codex_runner.store.errors import TaskConflict, TaskNotFound
from codex_runner.store.protocol import Store

AUTO_RESUME_REASON = "resumed after a restart"
RESTART_REASON = "the runner restarted while this task was active; resume it to continue"


class Recovery:
    def __init__(
        self,
        store: Store,
        writer: TaskWriter,
        approvals: ApprovalDesk,
        *,
        auto_resume: bool,
        clock: Callable[[], datetime],
        host_id: str | None = None,
    ) -> None:
        """``host_id``: this host; a restart reconciles only its own tasks (and those no
        host claimed), never another live host's."""
        self._host_id = host_id
        self._store = store
        self._writer = writer
        self._approvals = approvals
        self._auto_resume = auto_resume
        self._clock = clock

    async def recover(self) -> None:
        """Tasks left running or awaiting approval by a crash become interrupted.

        Needs only the store, so a daemon runs it while Codex starts. All of them in one
        transaction (a restart with hundreds to reconcile spent most of its time committing
        them one by one); should anything else change one of them meanwhile, each is
        reconciled on its own instead. Their approvals expire in one commit before that.
        """
        active = await self._store.tasks_in_states(ACTIVE_STATES)
        orphans = [t for t in active if t.host_id in (None, self._host_id)]
        await self.take_over(orphans, RESTART_REASON)

    async def take_over(self, orphans: list[Task], reason: str, *, fence: bool = False) -> None:
        """Make ``orphans`` interrupted saying ``reason`` (queued again with auto_resume),
        their approvals expired; with ``fence`` each gets a new lease and no host, so the
        host that had it can write nothing more for it."""
        if not orphans:
            return
        # The approvals' events first, published (the task logs too) before the tasks' own,
        # so each task's log file stays in seq order.
        expired = await self._store.expire_approvals_of([t.id for t in orphans], now=self._clock())
        await self._approvals.publish_expired(expired)
        try:
            reconciled = await self._writer.transition_all(
                orphans, Action.RECONCILE, reason, fence=fence
            )
        except (TaskConflict, TaskNotFound):
            if fence:
                return  # another host took them over first, or they moved on: next sweep
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
