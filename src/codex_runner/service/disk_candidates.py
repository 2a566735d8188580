"""What the disk policy may reclaim, found on disk: old log files (by the logs' own
retention rule, grouped per folder) and chat sessions' workspaces with the tasks that ran
in them. Plain file reads, run in a worker thread by the policy; nothing is removed here
except by :func:`remove_log_group` and :func:`empty_session`."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from codex_runner.domain.task import Task
from codex_runner.logs.retention import old_log_files
from codex_runner.service.metrics_disk import measure

# What of a chat session's folder is its workspace (emptied when inactive); session.json
# and the outbox stay, so the session works again on its next message.
SESSION_PARTS = ("workspace", "images")


@dataclass(frozen=True)
class LogGroup:
    """The old log files of one folder (a task's, a session's, a layer's)."""

    folder: Path
    files: tuple[Path, ...]
    bytes: int
    oldest: float  # the oldest file's modification time


@dataclass(frozen=True)
class SessionWorkspace:
    """A chat session's folder, the tasks that ran in it, and when it was last active."""

    root: Path
    tasks: tuple[Task, ...]
    last_active: datetime

    @property
    def key(self) -> str:
        return self.root.name

    @property
    def newest_task(self) -> Task | None:
        return max(self.tasks, key=lambda t: t.updated_at, default=None)


def old_log_groups(logs: Path, old_log_s: float, now: float) -> list[LogGroup]:
    """Log files older than ``old_log_s`` under ``logs``, per folder, oldest folder first."""
    by_folder: dict[Path, list[tuple[Path, int, float]]] = {}
    for path, size in old_log_files(logs, old_log_s, now):
        with contextlib.suppress(OSError):
            by_folder.setdefault(path.parent, []).append((path, size, path.stat().st_mtime))
    groups = [
        LogGroup(
            folder,
            tuple(p for p, _, _ in found),
            sum(s for _, s, _ in found),
            min(m for _, _, m in found),
        )
        for folder, found in by_folder.items()
    ]
    return sorted(groups, key=lambda g: g.oldest)


def remove_log_group(group: LogGroup) -> int:
    """Remove the group's files (and a task's or session's folder left empty); the bytes
    freed."""
    freed = 0
    for path, size in zip(group.files, _sizes(group.files), strict=True):
        try:
            path.unlink()
        except OSError:
            continue
        freed += size
    if group.folder.parent.name in ("tasks", "sessions"):
        with contextlib.suppress(OSError):
            group.folder.rmdir()  # fails while it holds anything (a file being written)
    return freed


def session_workspaces(sessions: Path, tasks: Iterable[Task]) -> list[SessionWorkspace]:
    """Each chat session folder under ``sessions`` with the tasks whose workspace lies in it
    (a session's tasks run in ``sessions/<key>/workspace``); last active when its newest
    task last changed, or, with none, when the folder did."""
    if not sessions.is_dir():
        return []
    roots = sorted(p for p in sessions.iterdir() if p.is_dir() and not p.is_symlink())
    found: dict[Path, list[Task]] = {root: [] for root in roots}
    for task in tasks:
        cwd = task.workspace.cwd
        if cwd is None:
            continue
        path = Path(cwd)
        for root in roots:
            if path.is_relative_to(root):
                found[root].append(task)
                break
    result = []
    for root, ran in found.items():
        if ran:
            last = max(t.updated_at for t in ran)
        else:
            last = datetime.fromtimestamp(root.lstat().st_mtime, UTC)
        result.append(SessionWorkspace(root, tuple(ran), last))
    return result


def session_bytes(session: SessionWorkspace) -> int:
    return sum(measure(session.root / part).bytes for part in SESSION_PARTS)


def empty_session(session: SessionWorkspace) -> int:
    """Empty the session's workspace and images (the folders stay, so its next message
    runs again); the bytes freed."""
    freed = 0
    for part in SESSION_PARTS:
        folder = session.root / part
        if not folder.is_dir() or folder.is_symlink():
            continue
        with os.scandir(folder) as entries:
            children = [Path(e.path) for e in entries]
        for child in children:
            size = measure(child).bytes
            try:
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)  # does not follow links inside
                else:
                    child.unlink()
            except OSError:
                continue
            freed += size
    return freed


def _sizes(paths: Sequence[Path]) -> list[int]:
    sizes = []
    for path in paths:
        try:
            info = path.lstat()
        except OSError:
            sizes.append(0)
            continue
        sizes.append(info.st_size if stat.S_ISREG(info.st_mode) else 0)
    return sizes
