"""Bytes and files per kind of thing the runner writes (the kinds:
:mod:`~codex_runner.service.disk_kinds`), for ``/metrics``, the admin page and
``codex-runner disk``: a plain walk of each kind's folders, measured in a worker thread at
most every :data:`REFRESH_S` seconds (``disk`` asks for a fresher one and waits for it).

A scrape never waits for the walk: it gets the latest measure (none before the first) and,
when that is stale, starts the next one. Each walk stops after :data:`MAX_ENTRIES` entries
per kind and says so (``complete`` false), so a huge worktree cannot keep a thread busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

REFRESH_S = 300.0
MAX_ENTRIES = 200_000
CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class KindUsage:
    bytes: int
    files: int
    complete: bool = True  # False when the walk stopped at MAX_ENTRIES


def measure(root: Path, *, max_entries: int = MAX_ENTRIES) -> KindUsage:
    """Apparent bytes and regular files under ``root`` (a file counts alone); symlinks are
    not followed; a missing root is empty."""
    total = files = seen = 0
    pending = [root]
    while pending:
        path = pending.pop()
        try:
            info = path.lstat()
        except OSError:
            continue
        seen += 1
        if seen > max_entries:
            return KindUsage(total, files, complete=False)
        if stat.S_ISREG(info.st_mode):
            total += info.st_size
            files += 1
        elif stat.S_ISDIR(info.st_mode):
            try:
                with os.scandir(path) as entries:
                    pending.extend(Path(e.path) for e in entries)
            except OSError:
                continue
    return KindUsage(total, files)


class DiskUsage:
    """The latest measure of each kind's paths (``kind -> paths``, summed)."""

    def __init__(
        self,
        kinds: Mapping[str, tuple[Path, ...]],
        *,
        refresh_s: float = REFRESH_S,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kinds = dict(kinds)
        self._refresh_s = refresh_s
        self._max_entries = max_entries
        self._clock = clock
        self._latest: dict[str, KindUsage] = {}
        self._measured_at: float | None = None
        self._walk: asyncio.Task[None] | None = None

    def current(self) -> Mapping[str, KindUsage]:
        """The latest measure; starts a new one in the background when it is stale."""
        stale = self._measured_at is None or self._clock() - self._measured_at >= self._refresh_s
        if stale and (self._walk is None or self._walk.done()):
            self._walk = asyncio.create_task(self._measure(), name="metrics-disk-usage")
        return dict(self._latest)

    async def fresh(self, max_age_s: float) -> Mapping[str, KindUsage]:
        """A measure at most ``max_age_s`` old, walking now (and waiting) when the latest is
        older: for ``codex-runner disk``, which a person waits for."""
        age = None if self._measured_at is None else self._clock() - self._measured_at
        if age is None or age > max_age_s:
            if self._walk is None or self._walk.done():
                self._walk = asyncio.create_task(self._measure(), name="metrics-disk-usage")
            await self.wait_measured()
        return dict(self._latest)

    async def wait_measured(self) -> None:
        """Until the walk under way (if any) is done; for tests and shutdown."""
        if self._walk is not None:
            await asyncio.shield(self._walk)

    async def close(self) -> None:
        walk, self._walk = self._walk, None
        if walk is not None:
            # The thread itself cannot be stopped; it ends at MAX_ENTRIES at the latest.
            walk.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(walk, CLOSE_TIMEOUT_S)

    async def _measure(self) -> None:
        try:
            self._latest = await asyncio.to_thread(self._measure_all)
        except Exception:  # a metric must not take the daemon down
            log.exception("measuring disk use failed")
        self._measured_at = self._clock()

    def _measure_all(self) -> dict[str, KindUsage]:
        usage = {}
        for kind, paths in self._kinds.items():
            parts = [measure(p, max_entries=self._max_entries) for p in paths]
            usage[kind] = KindUsage(
                sum(p.bytes for p in parts),
                sum(p.files for p in parts),
                all(p.complete for p in parts),
            )
        return usage
