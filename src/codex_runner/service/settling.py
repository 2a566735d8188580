"""When a follower of a task's events may stop: the task has settled.

A task has settled at an event when it is in a terminal state and no later event exists (a
follow-up message would have added one): :meth:`TaskService.settled_at
<codex_runner.service.tasks.TaskService.settled_at>`. A :class:`SettleWatch` spares the
store that question after events that cannot have settled the task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from codex_runner.domain.durable_event import STATE_CHANGE_TYPES, TaskEvent
from codex_runner.domain.task import TaskState

SettledAt = Callable[[str, int], Awaitable[bool]]  # (task_id, seq) -> settled at that event


class SettleWatch:
    """One follower's view of one task: whether it may have settled by the events seen.

    A state change into a terminal state may have settled it, any other state change has
    not, and other events leave the view as it was. It starts as "may have": the events
    after a follower's cursor can be only ones recorded after the task settled (an
    adapter's own, such as ``slack.delivered``).
    """

    def __init__(self, settled_at: SettledAt, task_id: str) -> None:
        self._settled_at = settled_at
        self.task_id = task_id
        self._may_have_settled = True

    def may_have_settled(self, event: TaskEvent) -> bool:
        """Take ``event`` into the view; whether the task may have settled with it."""
        if event.type in STATE_CHANGE_TYPES:
            self._may_have_settled = TaskState(event.data["to"]).is_terminal
        return self._may_have_settled

    async def settled_at(self, seq: int) -> bool:
        """Whether event ``seq`` left the task settled (asks the store)."""
        return await self._settled_at(self.task_id, seq)

    async def settled_after(self, event: TaskEvent) -> bool:
        """Whether the task has settled with ``event`` (the store is asked only when it may
        have)."""
        return self.may_have_settled(event) and await self.settled_at(event.seq)
