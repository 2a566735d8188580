"""Archiving old events (``[store] event_retention_s``; docs/event-archive.md).

A task finished longer ago than the retention has its events moved out of the event log
into a compressed archive in the store; the task row, its turns and its summary stay, and
reading its events goes on as before (the store reads the archive). The daemon runs a pass
every :data:`ARCHIVE_INTERVAL_S`, each pass archiving at most :data:`BATCH` tasks so that it
holds the store's write lock briefly; a full pass is followed by the next one at once.

Archiving records no event on the task: an event would be one more to archive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from codex_runner.store import Store, StoreClosed
from codex_runner.store.event_archive_codec import ArchivedEvents

log = logging.getLogger(__name__)

ARCHIVE_INTERVAL_S = 600.0
BATCH = 50


@dataclass(frozen=True)
class ArchivePass:
    """What one pass did: the tasks archived, the ones that failed (logged, tried again on
    the next pass), and whether the batch was full (more may wait)."""

    archived: tuple[ArchivedEvents, ...] = ()
    failed: tuple[str, ...] = ()
    full: bool = False

    @property
    def moved(self) -> int:
        return sum(a.moved for a in self.archived)


class EventArchiver:
    """Moves the events of tasks finished more than ``retention_s`` ago into the archive."""

    def __init__(
        self,
        store: Store,
        retention_s: float,
        *,
        batch: int = BATCH,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if retention_s <= 0:
            raise ValueError(f"retention_s must be positive, not {retention_s!r}")
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch!r}")
        self._store = store
        self._retention = timedelta(seconds=retention_s)
        self._batch = batch
        self._clock = clock

    async def archive_once(self) -> ArchivePass:
        """One pass: archive up to ``batch`` of the tasks that are due."""
        now = self._clock()
        cutoff = now - self._retention
        due = await self._store.tasks_to_archive(finished_before=cutoff, limit=self._batch)
        archived: list[ArchivedEvents] = []
        failed: list[str] = []
        for task_id in due:
            try:
                done = await self._store.archive_events(task_id, finished_before=cutoff, now=now)
            except StoreClosed:
                raise
            except Exception:
                log.exception("archiving the events of task %s failed", task_id)
                failed.append(task_id)
                continue
            if done is not None:
                archived.append(done)
        return ArchivePass(tuple(archived), tuple(failed), full=len(due) >= self._batch)

    async def run(self, *, interval_s: float = ARCHIVE_INTERVAL_S) -> None:
        """Pass after pass until cancelled; a failed pass is logged and tried again later."""
        while True:
            done = ArchivePass()
            try:
                done = await self.archive_once()
            except StoreClosed:
                return
            except Exception:
                log.exception("archiving old events failed")
            if done.archived:
                log.info(
                    "archived %d events of %d finished tasks",
                    done.moved,
                    len(done.archived),
                )
            # A full pass that archived all it found goes on at once; otherwise (nothing
            # more, or a task that keeps failing) it waits, so a failure cannot spin.
            backlog = done.full and not done.failed and len(done.archived) > 0
            await asyncio.sleep(0 if backlog else interval_s)


async def archive_now_and_then(
    store: Store, retention_s: float | None, *, interval_s: float = ARCHIVE_INTERVAL_S
) -> None:
    """The daemon's archive job: nothing when ``retention_s`` is None (archiving is off)."""
    if retention_s is None:
        return
    await EventArchiver(store, retention_s).run(interval_s=interval_s)
