"""A task's approval handler: what its Codex turn hands each approval request.

The request is parked on the approval desk (the task waits in ``awaiting_approval``) until
someone decides; when another client of the shared app-server answers it first, the desk
records that and the task runs on.
"""

from __future__ import annotations

import contextlib

from codex_runner.domain.approval import ANSWERED_ELSEWHERE
from codex_runner.domain.events import ApprovalRequest
from codex_runner.domain.task import TaskState
from codex_runner.domain.transitions import Action, InvalidTransition
from codex_runner.service.approvals import ApprovalDesk
from codex_runner.service.writer import TaskWriter
from codex_runner.store.protocol import Store


class TaskApprovals:
    def __init__(
        self,
        desk: ApprovalDesk,
        store: Store,
        writer: TaskWriter,
        task_id: str,
        *,
        lease: int | None = None,
    ) -> None:
        """``lease``: the run's claim; a host that lost it records nothing for the task."""
        self._desk = desk
        self._store = store
        self._writer = writer
        self.task_id = task_id
        self._lease = lease

    async def __call__(self, request: ApprovalRequest) -> str:
        async def parked() -> None:
            await self._transition(Action.PARK_FOR_APPROVAL)

        decision = await self._desk.park(self.task_id, request, parked, lease=self._lease)
        if decision == ANSWERED_ELSEWHERE:
            await self._run_on("approval answered in another Codex client")
        else:
            await self._run_on(f"approval {decision}")
        return decision

    def answered_elsewhere(self, request: ApprovalRequest) -> None:
        """Called by the turn when another client answered ``request`` first: the parked
        request ends recorded as answered elsewhere, and this handler returns."""
        self._desk.answered_elsewhere(request)

    async def _run_on(self, reason: str) -> None:
        # Back to running once nothing else waits for a person.
        if not await self._store.list_pending_approvals(task_id=self.task_id):
            await self._transition(Action.APPROVAL_RESOLVED, reason=reason)

    async def _transition(self, action: Action, reason: str | None = None) -> None:
        """``action`` on the task as it is now, unless another host's claim replaced ours."""
        task = await self._writer.get(self.task_id)
        if self._lease is not None and task.lease != self._lease:
            return  # fenced: the task is another host's now
        if action is Action.PARK_FOR_APPROVAL and task.state is not TaskState.RUNNING:
            return
        with contextlib.suppress(InvalidTransition):
            await self._writer.transition(task, action, reason=reason)
