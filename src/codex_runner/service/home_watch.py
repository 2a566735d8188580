"""Watching the runner's home: still there, still the same store, still writable.

A home deleted under a running daemon (``rm -rf``) leaves SQLite writing into an unlinked
file that the next start no longer finds, and Codex without its config.toml calls the
default provider; a home turned read-only (a remount, a full disk) fails every write. None
of that shows unless someone looks, so the daemon looks every few seconds: the home and the
store file are still the ones opened at start, the config files that
existed still exist, and a small probe file can be written. While a problem lasts, the
daemon is not ready, refuses new work naming it, stops running turns, and logs it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 2.0
PROBE_NAME = ".write-probe"


class HomeUnavailable(Exception):
    """New work is refused because the runner's home is gone or not writable."""


class Anchor:
    """An open descriptor on a file or directory, to tell whether the path still names it.

    Comparing inode numbers alone is not enough: a file system reuses a freed inode at
    once, so a home deleted and made again can have the number the old one had. An open
    descriptor keeps the old one alive, and its link count says whether it was removed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_DIRECTORY if path.is_dir() else 0)
        self._fd: int | None = os.open(path, flags)

    def change(self) -> str | None:
        """``"deleted"``, ``"replaced"`` or None (still the same)."""
        if self._fd is None:
            return None
        held = os.fstat(self._fd)
        try:
            now = self.path.stat()
        except FileNotFoundError:
            return "deleted"
        if held.st_nlink == 0 or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            return "replaced"
        return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True)
class HomeBaseline:
    """What the home looked like when the daemon started; :meth:`close` when done."""

    home: Anchor
    store: Anchor | None
    config_files: tuple[Path, ...]  # those that existed at start

    @classmethod
    def take(
        cls, home: Path, *, store_file: Path | None = None, config_files: Sequence[Path] = ()
    ) -> HomeBaseline:
        anchor = Anchor(home)
        try:
            store = Anchor(store_file) if store_file is not None and store_file.exists() else None
        except BaseException:
            anchor.close()
            raise
        return cls(
            home=anchor, store=store, config_files=tuple(p for p in config_files if p.exists())
        )

    @property
    def path(self) -> Path:
        return self.home.path

    def close(self) -> None:
        self.home.close()
        if self.store is not None:
            self.store.close()


def inspect_home(baseline: HomeBaseline) -> str | None:
    """What is wrong with the home now, said so a person can fix it; None when all is well.

    Blocking (file-system calls): run it in a thread.
    """
    home = baseline.path
    restart = "restart the daemon once it is back; work submitted meanwhile is refused"
    change = baseline.home.change()
    if change is not None:
        return f"the runner's home {home} was {change} while the daemon ran; {restart}"
    if baseline.store is not None:
        change = baseline.store.change()
        if change is not None:
            store = baseline.store.path
            return f"the store {store} was {change} while the daemon ran; {restart}"
    for config in baseline.config_files:
        if not config.exists():
            return (
                f"{config} was deleted while the daemon ran (Codex would lose its settings); "
                f"put it back and {restart}"
            )
    return _write_problem(home)


def _write_problem(home: Path) -> str | None:
    """Whether a file can be created, written and removed in ``home`` (a real write: as
    root, permission bits do not say whether the file system is mounted read-only)."""
    probe = home / f"{PROBE_NAME}-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()
        reason = exc.strerror or type(exc).__name__
        return (
            f"the runner's home {home} is not writable ({reason}); make it writable "
            "(or free space) and the daemon takes work again"
        )
    return None


class HomeWatch:
    """Checks the home every ``interval_s`` and reports each change of problem once.

    ``problem`` is the current one (None: healthy). ``on_change(problem)`` runs when it
    appears, changes or clears; the watch logs one line per change, never per event.
    """

    def __init__(
        self,
        baseline: HomeBaseline,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        on_change: Callable[[str | None], Awaitable[None]] | None = None,
        inspect: Callable[[HomeBaseline], str | None] = inspect_home,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.baseline = baseline
        self.interval_s = interval_s
        self.problem: str | None = None
        self._on_change = on_change
        self._inspect = inspect
        self._task: asyncio.Task[None] | None = None

    def check_admission(self) -> None:
        """Raise HomeUnavailable (naming the problem) while the home has one."""
        if self.problem is not None:
            raise HomeUnavailable(self.problem)

    async def check(self) -> str | None:
        """Inspect once now; reports a change like the loop does."""
        # A hung file system (a dead network mount) must not stall the loop: bounded.
        try:
            problem = await asyncio.wait_for(
                asyncio.to_thread(self._inspect, self.baseline), self.interval_s * 5
            )
        except TimeoutError:
            problem = f"the runner's home {self.baseline.path} does not answer (file system hung)"
        if problem != self.problem:
            previous, self.problem = self.problem, problem
            if problem is not None:
                log.error("home unavailable: %s", problem)
            elif previous is not None:
                log.warning("home available again: %s", self.baseline.path)
            if self._on_change is not None:
                try:
                    await self._on_change(problem)
                except Exception:
                    log.exception("reacting to the home's state failed")
        return problem

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="home-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.baseline.close()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.check()
