"""The in-memory store's event archive. The event list stays whole (seqs are list
positions), but reads of an archived task go through the compressed archive, as the SQL
store's do, so the codec is in every contract test's path. Mixed into InMemoryStore."""

from __future__ import annotations

from datetime import datetime

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.task import Task
from codex_runner.store.event_archive_codec import ArchivedEvents, ArchiveTotals, decode, encode


class MemoryEventArchive:
    _tasks: dict[str, Task]
    _events: dict[str, list[TaskEvent]]
    _archives: dict[str, tuple[int, bytes]]  # task id: (through_seq, compressed events)

    async def _enter(self) -> None:
        raise NotImplementedError  # InMemoryStore's

    def _history(self, task_id: str) -> list[TaskEvent]:
        """The task's events in seq order: the archived ones from the archive."""
        log = self._events.get(task_id, [])
        if task_id not in self._archives:
            return log
        through, content = self._archives[task_id]
        return [*decode(task_id, content), *log[through:]]

    def _archivable(self, task_id: str, finished_before: datetime) -> bool:
        task = self._tasks.get(task_id)
        if task is None or not task.state.is_terminal or task.finished_at is None:
            return False
        through = self._archives.get(task_id, (0, b""))[0]
        return task.finished_at < finished_before and len(self._events[task_id]) > through

    async def tasks_to_archive(self, *, finished_before: datetime, limit: int) -> list[str]:
        await self._enter()
        found = [t for t in self._tasks.values() if self._archivable(t.id, finished_before)]
        found.sort(key=lambda t: (t.finished_at, t.id))
        return [t.id for t in found[: max(limit, 0)]]

    async def archive_events(
        self, task_id: str, *, finished_before: datetime, now: datetime
    ) -> ArchivedEvents | None:
        await self._enter()
        if not self._archivable(task_id, finished_before):
            return None
        through = self._archives.get(task_id, (0, b""))[0]
        history = self._history(task_id)
        content = encode(history)
        self._archives[task_id] = (len(history), content)
        return ArchivedEvents(task_id, len(history), len(history) - through, len(content))

    async def event_archive_totals(self) -> ArchiveTotals:
        await self._enter()
        kept = self._archives.values()
        return ArchiveTotals(
            tasks=len(kept),
            events=sum(n for n, _ in kept),
            bytes=sum(len(content) for _, content in kept),
        )
