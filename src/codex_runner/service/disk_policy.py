"""The disk policy (``[disk]``; docs/disk.md): when free space on the home's file system
falls below ``min_free_bytes``, reclaim until ``target_free_bytes`` is free.

Order: old log files first (the logs' retention rule at ``old_log_s``), then finished
tasks' worktrees (through gc's own removal, :class:`~codex_runner.service.worktree_gc.
WorktreeCollector`) and inactive chat sessions' workspaces, oldest first. Protected: a
branch with unmerged work, always; a running task, one awaiting approval or queued input
(a pending follow-up message), until it is ``protection_s`` old. In dry-run (the default)
each candidate is logged and reported with its bytes and the rule that chose it, and
nothing is removed. Free space comes through one boundary,
:class:`~codex_runner.service.disk_space.FreeSpace`.

A check that finds free space below the minimum is a ``disk.low`` moment: logged as a
warning, counted (``low_checks``, in /metrics) and handed to :attr:`DiskPolicy.on_low`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from codex_runner.config.disk import DiskSettings
from codex_runner.domain.task import ACTIVE_STATES, Task, TaskState
from codex_runner.service.disk_candidates import (
    SessionWorkspace,
    empty_session,
    old_log_groups,
    remove_log_group,
    session_bytes,
    session_workspaces,
)
from codex_runner.service.disk_space import FreeSpace
from codex_runner.service.worktree_gc import FinishedWorktree, WorktreeCollector
from codex_runner.store.protocol import Store
from codex_runner.workspace.protocol import UnmergedWork, WorkspaceError

log = logging.getLogger(__name__)

# The rule that chose a candidate.
OLD_LOG = "old_log"
FINISHED_WORKTREE = "finished_worktree"
INACTIVE_SESSION = "inactive_session"
# What became of it.
REMOVED = "removed"
WOULD_REMOVE = "would_remove"
KEPT = "kept"

STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DiskCandidate:
    """One thing the policy removed, would remove (dry-run) or kept, and why."""

    rule: str
    path: Path
    bytes: int
    outcome: str
    task_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class DiskLow:
    """Free space on the home's file system fell below the minimum."""

    path: Path
    free_bytes: int
    min_free_bytes: int
    target_free_bytes: int
    at: datetime


@dataclass(frozen=True)
class DiskCheck:
    """One check: free space before and after (dry-run: as it would be after)."""

    at: datetime
    free_bytes: int
    free_after: int
    low: bool
    dry_run: bool
    candidates: tuple[DiskCandidate, ...] = ()

    @property
    def reclaimed_bytes(self) -> int:
        return sum(c.bytes for c in self.candidates if c.outcome in (REMOVED, WOULD_REMOVE))


class _Reclaim:
    """Free space as the pass goes: probed again after each removal, added up in dry-run."""

    def __init__(self, free: int, target: int, dry_run: bool) -> None:
        self.free = free
        self.target = target
        self.dry_run = dry_run
        self.candidates: list[DiskCandidate] = []

    @property
    def done(self) -> bool:
        return self.free >= self.target


class DiskPolicy:
    """Checks free space every ``check_interval_s`` (:meth:`start`) or once (:meth:`check`)."""

    def __init__(
        self,
        settings: DiskSettings,
        *,
        home: Path,
        store: Store,
        worktrees: WorktreeCollector,
        free_space: FreeSpace,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self._home = home
        self._store = store
        self._worktrees = worktrees
        self._free_space = free_space
        self._clock = clock
        # Told of each disk.low moment (notifications subscribe here); must not block.
        self.on_low: Callable[[DiskLow], None] | None = None
        self.low_checks = 0  # checks that found free space below the minimum
        self.removed_bytes = 0  # bytes removed for real since start
        self.last: DiskCheck | None = None
        self._job: asyncio.Task[None] | None = None
        self._checking = asyncio.Lock()  # the job's check and one asked for now never overlap

    def start(self) -> None:
        if self._job is None:
            self._job = asyncio.create_task(self._run(), name="disk-policy")

    async def stop(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(job, STOP_TIMEOUT_S)

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # the next check tries again
                log.exception("disk policy check failed")
            await asyncio.sleep(self.settings.check_interval_s)

    async def free_bytes(self) -> int:
        return await asyncio.to_thread(self._free_space.free_bytes, self._home)

    async def check(self) -> DiskCheck:
        """Probe free space; below the minimum, record disk.low and reclaim (or, dry-run,
        report what would be reclaimed) until the target is free. One check at a time."""
        async with self._checking:
            return await self._check()

    async def _check(self) -> DiskCheck:
        settings, at = self.settings, self._clock()
        free = await self.free_bytes()
        if free >= settings.min_free_bytes:
            self.last = DiskCheck(at, free, free, low=False, dry_run=settings.dry_run)
            return self.last
        self._record_low(
            DiskLow(self._home, free, settings.min_free_bytes, settings.target_free_bytes, at)
        )
        reclaim = _Reclaim(free, settings.target_free_bytes, settings.dry_run)
        await self._old_logs(reclaim)
        if not reclaim.done:
            await self._workspaces(reclaim)
        self.last = DiskCheck(
            at, free, reclaim.free, True, settings.dry_run, tuple(reclaim.candidates)
        )
        log.warning(
            "disk policy%s: %s free before, %s after; %d candidates",
            " (dry-run, nothing removed)" if settings.dry_run else "",
            free,
            reclaim.free,
            len(reclaim.candidates),
        )
        return self.last

    def _record_low(self, low: DiskLow) -> None:
        self.low_checks += 1
        log.warning(
            "disk.low: %d bytes free on %s, below disk.min_free_bytes %d",
            low.free_bytes,
            low.path,
            low.min_free_bytes,
        )
        if self.on_low is not None:
            try:
                self.on_low(low)
            except Exception:  # a subscriber must not stop the policy
                log.exception("a disk.low subscriber failed")

    async def _old_logs(self, reclaim: _Reclaim) -> None:
        groups = await asyncio.to_thread(
            old_log_groups, self._home / "logs", self.settings.old_log_s, self._clock().timestamp()
        )
        for group in groups:
            if reclaim.done:
                return
            detail = f"{len(group.files)} log files older than {self.settings.old_log_s:g}s"
            if reclaim.dry_run:
                await self._chosen(
                    reclaim,
                    DiskCandidate(OLD_LOG, group.folder, group.bytes, WOULD_REMOVE, detail=detail),
                )
                continue
            freed = await asyncio.to_thread(remove_log_group, group)
            await self._chosen(
                reclaim, DiskCandidate(OLD_LOG, group.folder, freed, REMOVED, detail=detail)
            )

    async def _workspaces(self, reclaim: _Reclaim) -> None:
        """Finished tasks' worktrees and inactive sessions' workspaces, oldest first."""
        now = self._clock()
        items: list[tuple[datetime, FinishedWorktree | SessionWorkspace]] = [
            (f.finished.finished_at, f) for f in await self._worktrees.finished()
        ]
        tasks = await self._store.tasks_in_states(frozenset(TaskState))
        sessions = await asyncio.to_thread(session_workspaces, self._home / "sessions", tasks)
        for session in sessions:
            if (now - session.last_active).total_seconds() >= self.settings.inactive_session_s:
                items.append((session.last_active, session))
        for _, item in sorted(items, key=lambda pair: pair[0]):
            if reclaim.done:
                return
            if isinstance(item, SessionWorkspace):
                await self._session(reclaim, item, now)
            else:
                await self._worktree(reclaim, item, now)

    async def _worktree(self, reclaim: _Reclaim, item: FinishedWorktree, now: datetime) -> None:
        workspace, task = item.finished.workspace, item.task
        size = await self._worktrees.size(workspace)
        held = self._protection([task], now)
        if held is not None:
            await self._chosen(
                reclaim, DiskCandidate(FINISHED_WORKTREE, workspace.path, size, KEPT, task.id, held)
            )
            return
        # A dry run asks what removing would do; otherwise it removes. Either way the same
        # rules keep a worktree (unmerged work always).
        dry = reclaim.dry_run
        try:
            if dry:
                await self._worktrees.check_remove(workspace)
            else:
                await self._worktrees.remove_one(workspace, FINISHED_WORKTREE, size)
        except UnmergedWork:
            outcome, detail = KEPT, "unmerged work on its branch (always kept)"
        except WorkspaceError as exc:
            outcome, detail = KEPT, f"removing {'would fail' if dry else 'failed'}: {exc}"
        else:
            outcome = WOULD_REMOVE if dry else REMOVED
            detail = f"task {task.state.value} at {task.finished_at}"
        await self._chosen(
            reclaim,
            DiskCandidate(FINISHED_WORKTREE, workspace.path, size, outcome, task.id, detail),
        )

    async def _session(self, reclaim: _Reclaim, session: SessionWorkspace, now: datetime) -> None:
        size = await asyncio.to_thread(session_bytes, session)
        newest = session.newest_task
        task_id = newest.id if newest is not None else None
        held = self._protection(session.tasks, now)
        idle = f"session {session.key} inactive since {session.last_active.isoformat()}"
        if held is not None:
            outcome, detail = KEPT, held
        elif size == 0:
            return  # already empty: nothing to gain, nothing to say
        elif reclaim.dry_run:
            outcome, detail = WOULD_REMOVE, idle
        else:
            size = await asyncio.to_thread(empty_session, session)
            outcome, detail = REMOVED, idle
            if task_id is not None:
                await self._worktrees.record_removal(
                    task_id, session.root / "workspace", size, {"rule": INACTIVE_SESSION}
                )
        await self._chosen(
            reclaim, DiskCandidate(INACTIVE_SESSION, session.root, size, outcome, task_id, detail)
        )

    def _protection(self, tasks: Sequence[Task], now: datetime) -> str | None:
        """Why these tasks' files are protected now, or None: a running task, one awaiting
        approval or with queued input protects them until it is ``protection_s`` old."""
        for task in tasks:
            age_s = (now - task.updated_at).total_seconds()
            if age_s >= self.settings.protection_s:
                continue
            if task.state in ACTIVE_STATES or task.state is TaskState.QUEUED:
                return f"task {task.id} is {task.state.value} (protected)"
            if task.pending_message is not None:
                return f"task {task.id} has queued input (protected)"
        return None

    async def _chosen(self, reclaim: _Reclaim, candidate: DiskCandidate) -> None:
        reclaim.candidates.append(candidate)
        log.warning(
            "disk policy: %s %s (%d bytes, rule %s%s)%s",
            candidate.outcome.replace("_", " "),
            candidate.path,
            candidate.bytes,
            candidate.rule,
            f", task {candidate.task_id}" if candidate.task_id else "",
            f": {candidate.detail}" if candidate.detail else "",
            # In the task's own log layer too (docs/logs.md).
            extra={"task_id": candidate.task_id} if candidate.task_id else None,
        )
        if candidate.outcome == WOULD_REMOVE:
            reclaim.free += candidate.bytes
        elif candidate.outcome == REMOVED:
            self.removed_bytes += candidate.bytes
            reclaim.free = await self.free_bytes()
