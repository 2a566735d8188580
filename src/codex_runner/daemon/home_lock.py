"""One daemon per home: an exclusive lock on ``$CODEX_RUNNER_HOME/daemon.lock``.

Two daemons on one home reconcile each other's running tasks, resume each other's threads
and remove each other's ``run/`` files, so ``serve`` takes this lock before anything else
(before the store is opened or reconciled, before ``run/`` is touched) and holds it until
the process ends.

The lock is ``flock(2)`` on an open file: the kernel releases it when the process dies,
however it dies, so the lock of a killed daemon is stale by construction and the next
``serve`` simply takes it. The descriptor is close-on-exec, so a Codex child that outlives
a killed daemon does not keep the home locked. The file holds the owner's pid, read only to
name it in the refusal. (Several hosts may share a PostgreSQL database, never a home.)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from codex_runner.runner_home.daemon_info import running_daemon

LOCK_FILE = "daemon.lock"


class HomeInUse(Exception):
    """Another live process holds the home's lock; the message names it and the fix."""

    def __init__(self, home: Path, pid: int | None, url: str | None) -> None:
        self.home = home
        self.pid = pid
        self.url = url
        who = f"pid {pid}" if pid is not None else "pid unknown"
        where = url or "still starting, no URL yet"
        super().__init__(
            f"a daemon ({who}, {where}) already uses this home ({home}); stop it first, "
            "or set CODEX_RUNNER_HOME to another home for a second daemon"
        )


def lock_path(home: Path) -> Path:
    return home / LOCK_FILE


@dataclass
class HomeLock:
    """The held lock; :meth:`release` (or process exit) lets the next daemon in."""

    home: Path
    fd: int | None

    def release(self) -> None:
        if self.fd is None:
            return
        # Empty the pid first: a reader between unlock and close must not name us.
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)  # closing the last descriptor releases the flock
        self.fd = None

    def __enter__(self) -> HomeLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def acquire(home: Path) -> HomeLock:
    """Lock ``home`` for this process, or raise :class:`HomeInUse` naming the holder.

    Never blocks: a second daemon is refused at once rather than queued behind the first.
    """
    path = lock_path(home)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        pid = _holder_pid(path)
        info = running_daemon(home)
        url = info.url if info is not None and info.pid == pid else None
        raise HomeInUse(home, pid, url) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return HomeLock(home, fd)


def _holder_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
