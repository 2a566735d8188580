"""One worktree change at a time per repository, across processes: ``git worktree add``
reads every other worktree's admin files, and one half-written by a concurrent add (another
task here, or another host sharing the repository on this machine) makes it fail. The lock
is a file in the repository's git directory, held with flock (released if a holder dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

LOCK_NAME = "codex-runner-worktrees.lock"


class RepoLocks:
    def __init__(self) -> None:
        self._local: dict[Path, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, repo: Path) -> AsyncIterator[None]:
        """Exclusive use of ``repo``'s worktrees: this process's tasks queue on an asyncio
        lock, other processes on the file lock (taken in a thread: it may wait)."""
        async with self._local.setdefault(repo, asyncio.Lock()):
            git_dir = repo / ".git"
            if not git_dir.is_dir():  # a worktree or bare layout: this process's lock only
                yield
                return
            fd = os.open(git_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock
