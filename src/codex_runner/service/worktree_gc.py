"""Worktree gc: remove the worktrees of tasks finished long enough ago, and remember when.

Only terminal tasks are considered; a running task's worktree is never touched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from codex_runner.domain.task import TERMINAL_STATES
from codex_runner.store.errors import TaskConflict, TaskNotFound
from codex_runner.store.protocol import Store
from codex_runner.workspace.protocol import FinishedWorkspace, GcReport, Workspaces


@dataclass(frozen=True)
class TaskDiff:
    """A task branch's diff, or why there is none: gc collected its worktree (and branch)."""

    diff: str
    collected_at: datetime | None = None  # set when gc removed the worktree, diff empty

    @property
    def collected(self) -> bool:
        return self.collected_at is not None


async def collect_worktrees(
    store: Store,
    workspaces: Workspaces,
    retention_s: float,
    *,
    force: bool,
    clock: Callable[[], datetime],
    unload: Callable[[str | None], Awaitable[None]] | None = None,
) -> GcReport:
    """Remove worktrees of tasks finished more than ``retention_s`` ago (see Workspaces.gc)
    and mark each of those tasks collected; ``unload`` is handed each one's thread id (its
    workspace is gone, so no follow-up can run on the thread: unload it now)."""
    finished: list[FinishedWorkspace] = []
    for task in await store.tasks_in_states(TERMINAL_STATES):
        if not task.workspace.is_git or task.finished_at is None:
            continue
        workspace = await workspaces.locate(task.id, task.workspace)
        if workspace is not None:
            finished.append(FinishedWorkspace(workspace, task.finished_at))
    report = await workspaces.gc(finished, retention_s, force=force)
    collected_at = clock()
    for removed in report.removed:
        thread_id = await _mark_collected(store, removed.task_id, collected_at)
        if unload is not None:
            await unload(thread_id)
    return report


async def _mark_collected(store: Store, task_id: str, at: datetime) -> str | None:
    """Remember when gc removed the task's worktree, so its diff can say so; returns the
    task's thread id."""
    for _ in range(3):  # the task may change meanwhile (a follow-up message)
        task = await store.get_task(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        try:
            await store.update_task(
                replace(task, workspace_collected_at=at), expected_state=task.state
            )
        except TaskConflict:
            continue
        return task.thread_id
    return None
