"""Worktree gc: remove the worktrees of tasks finished long enough ago, and remember when.

Only terminal tasks are considered; a running task's worktree is never touched. The rules
(recent, plain directory, unmerged work) are the workspaces' own
(:func:`~codex_runner.workspace.protocol.collect_garbage`); this module adds what the
service keeps: each removal's bytes, a ``workspace.removed`` event on the task it belonged
to, the collected mark, and a dry run that removes nothing. The disk policy
(:mod:`~codex_runner.service.disk_policy`) removes worktrees through it too, one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from codex_runner.domain.durable_event import EventType, NewEvent
from codex_runner.domain.task import TERMINAL_STATES, Task
from codex_runner.service.metrics_disk import measure
from codex_runner.store.errors import TaskConflict, TaskNotFound
from codex_runner.store.protocol import Store
from codex_runner.workspace.protocol import (
    FinishedWorkspace,
    KeptWorkspace,
    Workspace,
    Workspaces,
    collect_garbage,
)

# The rule a removal names in its event and report.
RETENTION_RULE = "retention"  # `gc`: finished longer ago than the retention

Record = Callable[[str, Sequence[NewEvent]], Awaitable[object]]


@dataclass(frozen=True)
class TaskDiff:
    """A task branch's diff, or why there is none: gc collected its worktree (and branch)."""

    diff: str
    collected_at: datetime | None = None  # set when gc removed the worktree, diff empty

    @property
    def collected(self) -> bool:
        return self.collected_at is not None


@dataclass(frozen=True)
class WorktreeGc:
    """What a gc removed (or, dry, would remove) with each one's bytes, and what it kept."""

    removed: tuple[Workspace, ...] = ()
    kept: tuple[KeptWorkspace, ...] = ()
    bytes: Mapping[str, int] = field(default_factory=dict)  # task id -> bytes of its worktree
    dry_run: bool = False


@dataclass(frozen=True)
class FinishedWorktree:
    """A terminal task and its worktree, as the disk policy weighs it."""

    task: Task
    finished: FinishedWorkspace


class WorktreeCollector:
    """Removes finished tasks' worktrees for gc and for the disk policy."""

    def __init__(
        self,
        store: Store,
        workspaces: Workspaces,
        *,
        clock: Callable[[], datetime],
        unload: Callable[[str | None], Awaitable[None]] | None = None,
        record: Record | None = None,
    ) -> None:
        self._store = store
        self._workspaces = workspaces
        self._clock = clock
        self._unload = unload
        self._record = record

    async def finished(self) -> list[FinishedWorktree]:
        """Every terminal task's worktree that exists now, oldest finished first."""
        found: list[FinishedWorktree] = []
        for task in await self._store.tasks_in_states(TERMINAL_STATES):
            if not task.workspace.is_git or task.finished_at is None:
                continue
            workspace = await self._workspaces.locate(task.id, task.workspace)
            if workspace is not None:
                found.append(FinishedWorktree(task, FinishedWorkspace(workspace, task.finished_at)))
        return sorted(found, key=lambda f: f.finished.finished_at)

    async def collect(
        self, retention_s: float, *, force: bool, dry_run: bool = False
    ) -> WorktreeGc:
        """Remove (unless ``dry_run``) worktrees of tasks finished more than ``retention_s``
        ago, by the workspaces' gc rules; a dry run asks what removing each would refuse."""
        finished = [f.finished for f in await self.finished()]
        sizes: dict[str, int] = {}

        async def remove(workspace: Workspace, forced: bool) -> None:
            size = await self.size(workspace)
            if dry_run:
                if not forced:
                    await self._workspaces.check_remove(workspace)
            else:
                rule = {"rule": RETENTION_RULE, "retention_s": retention_s}
                await self._remove(workspace, forced, size, rule)
            sizes[workspace.task_id] = size

        report = await collect_garbage(
            remove, finished, retention_s, now=self._clock(), force=force
        )
        return WorktreeGc(report.removed, report.kept, sizes, dry_run)

    async def remove_one(self, workspace: Workspace, rule: str, size: int) -> None:
        """Remove one finished task's worktree for the disk policy; raises UnmergedWork
        (nothing removed) when that would lose work."""
        await self._remove(workspace, False, size, {"rule": rule})

    async def check_remove(self, workspace: Workspace) -> None:
        """Raise what removing the worktree would raise (UnmergedWork), removing nothing."""
        await self._workspaces.check_remove(workspace)

    async def size(self, workspace: Workspace) -> int:
        return (await asyncio.to_thread(measure, workspace.path)).bytes

    async def _remove(
        self, workspace: Workspace, force: bool, size: int, data: dict[str, Any]
    ) -> None:
        await self._workspaces.remove(workspace, force=force)
        thread_id = await _mark_collected(self._store, workspace.task_id, self._clock())
        await self.record_removal(
            workspace.task_id, workspace.path, size, {"branch": workspace.branch, **data}
        )
        if self._unload is not None:
            # Its workspace is gone, so no follow-up can run on the thread: unload it now.
            await self._unload(thread_id)

    async def record_removal(
        self, task_id: str, path: Path, size: int, data: dict[str, Any]
    ) -> None:
        """A ``workspace.removed`` event on the task whose files went (``data`` names the
        rule that chose them)."""
        if self._record is not None:
            event = NewEvent(
                EventType.WORKSPACE_REMOVED,
                self._clock(),
                {"path": str(path), "bytes": size, **data},
            )
            await self._record(task_id, [event])


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
