"""The task service's queries: a task, its events, turns, diff and approvals, a page of
tasks, a graph. Read-only; the commands are :class:`~codex_runner.service.tasks.TaskService`'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

from codex_runner.domain.approval import Approval
from codex_runner.domain.conversation import Turn as TurnRecord
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.task import Task, TaskState
from codex_runner.service.delta_channel import DeltaSubscription
from codex_runner.service.event_bus import EventBus, follow
from codex_runner.service.graphs import GraphView, load_graph
from codex_runner.service.settling import SettleWatch
from codex_runner.service.worktree_gc import TaskDiff
from codex_runner.service.writer import TaskWriter
from codex_runner.store.errors import ApprovalNotFound
from codex_runner.store.protocol import Store
from codex_runner.workspace.protocol import Workspaces


class TaskQueries:
    """Queries over the parts the service sets up (its store, bus, writer, workspaces)."""

    _store: Store
    _bus: EventBus
    _writer: TaskWriter
    _workspaces: Workspaces

    def _idle_read_s(self) -> float | None:
        """How long a follower waits on the bus before reading the store (None: never)."""
        return None

    async def get(self, task_id: str) -> Task:
        return await self._writer.get(task_id)

    def events(self, task_id: str, after_seq: int = 0) -> AsyncIterator[TaskEvent]:
        """The task's events after ``after_seq``: stored ones, then live ones, with no gap."""
        return follow(self._store, self._bus, task_id, after_seq, idle_read_s=self._idle_read_s())

    def live_deltas(self, task_id: str) -> DeltaSubscription:
        """The task's live deltas from now on (never stored); close it when done."""
        return self._bus.subscribe_deltas(task_id)

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
        purpose: str | None = None,
        metadata: Mapping[str, str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Task]:
        """Tasks newest first; ``metadata`` keys must each hold their value."""
        return await self._store.list_tasks(
            states=states,
            graph_id=graph_id,
            purpose=purpose,
            metadata=metadata,
            limit=limit,
            offset=offset,
        )

    async def settled_at(self, task_id: str, seq: int) -> bool:
        """Whether event ``seq`` left the task settled: it is in a terminal state now and no
        later event exists (a follow-up message would have added one). Followers that stop
        when a task is done (``logs --follow``) stop here."""
        task = await self.get(task_id)
        later = await self._store.read_events(task_id, after_seq=seq, limit=1)
        return task.state.is_terminal and not later

    def settle_watch(self, task_id: str) -> SettleWatch:
        """For a follower of the task's events: tells it when the task has settled."""
        return SettleWatch(self.settled_at, task_id)

    async def graph(self, graph_id: str) -> GraphView:
        return await load_graph(self._store, graph_id)

    async def diff(self, task_id: str) -> TaskDiff:
        """The task branch's unified diff against its base (empty for a directory task);
        for a worktree gc collected, empty with when it was collected."""
        task = await self.get(task_id)
        workspace = await self._workspaces.locate(task.id, task.workspace)
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
