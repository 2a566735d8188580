"""The admin page's overview: what the last 24 hours or 7 days looked like, from the store.

Read through the store's ordinary read methods (``list_tasks`` pages, newest first, and
``list_turns`` of the tasks that changed in the window), so it works on every store. The
work is capped: at most :data:`MAX_TASKS` tasks are read, created no earlier than a day
before the window (a task created before that and finished inside it is not counted), and
the page says when the cap cut the reading short. Results are kept :data:`CACHE_S` seconds.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from codex_runner.auth.account import RateLimitWindow
from codex_runner.domain.conversation import Turn
from codex_runner.domain.task import TERMINAL_STATES, Task, TaskState
from codex_runner.service.metrics_disk import DiskUsage, KindUsage
from codex_runner.service.metrics_events import DEFAULT_MODEL
from codex_runner.service.metrics_snapshot import rate_limit_windows
from codex_runner.service.tasks import TaskService

MAX_TASKS = 5_000
PAGE = 200
# Tasks created this long before the window are still read (one may finish inside it).
LOOKBACK = timedelta(days=1)
CACHE_S = 30.0
READ_TIMEOUT_S = 30.0
OUTCOMES: tuple[TaskState, ...] = (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED)


class OverviewWindow(StrEnum):
    DAY = "24h"
    WEEK = "7d"

    @property
    def span(self) -> timedelta:
        return timedelta(hours=24) if self is OverviewWindow.DAY else timedelta(days=7)

    @property
    def step(self) -> timedelta:
        """The bucket of the percentile charts: an hour over a day, six over a week."""
        return timedelta(hours=1) if self is OverviewWindow.DAY else timedelta(hours=6)


class UnknownWindow(ValueError):
    def __init__(self, given: str) -> None:
        choices = ", ".join(w.value for w in OverviewWindow)
        super().__init__(f"no overview window {given!r}: pick one of {choices}")


def parse_window(raw: str) -> OverviewWindow:
    try:
        return OverviewWindow(raw)
    except ValueError:
        raise UnknownWindow(raw) from None


@dataclass(frozen=True)
class Percentiles:
    """p50 and p95 per bucket, None where the bucket had no sample."""

    p50: tuple[float | None, ...]
    p95: tuple[float | None, ...]
    samples: int


@dataclass(frozen=True)
class Overview:
    window: OverviewWindow
    since: datetime
    until: datetime
    hours: tuple[datetime, ...]  # start of each hour of the window
    finished: dict[str, tuple[int, ...]]  # outcome -> tasks finished in each hour
    buckets: tuple[datetime, ...]  # start of each percentile bucket
    queue_wait: Percentiles  # seconds from creation to the first turn's start
    turn_duration: Percentiles  # seconds from a turn's start to its end
    days: tuple[date, ...]
    # "model" or "model · auth profile" -> tokens of the turns that ended that day
    tokens: dict[str, tuple[int, ...]]
    rate_limits: tuple[RateLimitWindow, ...]
    tasks_read: int
    capped: bool  # MAX_TASKS reached before the window's start
    turns_read: int = 0
    disk: dict[str, KindUsage] = field(default_factory=dict)  # empty until measured


class OverviewReader:
    """Computes overviews for the admin page and keeps each for :data:`CACHE_S`."""

    def __init__(
        self,
        service: TaskService,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_tasks: int = MAX_TASKS,
        disk: DiskUsage | None = None,
    ) -> None:
        self._service = service
        self._disk = disk
        self._clock = clock
        self._max_tasks = max_tasks
        self._cache: dict[OverviewWindow, tuple[float, Overview]] = {}
        self._lock = asyncio.Lock()

    async def read(self, window: OverviewWindow) -> Overview:
        async with self._lock:  # one reading at a time: a reload storm reads once
            cached = self._cache.get(window)
            if cached is not None and time.monotonic() - cached[0] < CACHE_S:
                overview = cached[1]
            else:
                async with asyncio.timeout(READ_TIMEOUT_S):
                    overview = await self._compute(window)
                self._cache[window] = (time.monotonic(), overview)
            # Disk use has its own pace (a walk every few minutes): always the latest.
            disk = dict(self._disk.current()) if self._disk is not None else {}
            return replace(overview, disk=disk)

    async def _compute(self, window: OverviewWindow) -> Overview:
        until = self._clock()
        # Buckets on the clock's hours (and six-hour marks): the last one holds "now".
        end = _ceil_to(until, window.step)
        since = end - window.span
        tasks, capped = await self._tasks(since)
        turns: list[tuple[Task, Turn]] = []
        for task in tasks:
            if task.updated_at >= since:  # its turns cannot have ended in the window else
                turns.extend((task, turn) for turn in await self._service.store.list_turns(task.id))
        hours = _starts(since, end, timedelta(hours=1))
        buckets = _starts(since, end, window.step)
        days = _days(since, until)
        status = self._service.runtime.status()
        return Overview(
            window=window,
            since=since,
            until=until,
            hours=hours,
            finished=_finished(tasks, since, until, hours),
            buckets=buckets,
            queue_wait=_percentiles(_queue_waits(turns, since, until), buckets, window.step),
            turn_duration=_percentiles(_turn_times(turns, since, until), buckets, window.step),
            days=days,
            tokens=_tokens(turns, since, until, days),
            rate_limits=rate_limit_windows(status.rate_limits),
            tasks_read=len(tasks),
            capped=capped,
            turns_read=len(turns),
        )

    async def _tasks(self, since: datetime) -> tuple[list[Task], bool]:
        oldest = since - LOOKBACK
        read: list[Task] = []
        while len(read) < self._max_tasks:
            page = await self._service.store.list_tasks(
                limit=min(PAGE, self._max_tasks - len(read)), offset=len(read)
            )
            read.extend(page)
            if len(page) == 0 or page[-1].created_at < oldest:
                return [t for t in read if t.created_at >= oldest], False
        return read, True


def _ceil_to(at: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + math.ceil((at - epoch) / step) * step


def _starts(since: datetime, until: datetime, step: timedelta) -> tuple[datetime, ...]:
    count = math.ceil((until - since) / step)
    return tuple(since + i * step for i in range(count))


def _days(since: datetime, until: datetime) -> tuple[date, ...]:
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def _index(at: datetime, since: datetime, step: timedelta, count: int) -> int | None:
    i = int((at - since) / step)
    return i if 0 <= i < count else None


def _finished(
    tasks: Sequence[Task], since: datetime, until: datetime, hours: Sequence[datetime]
) -> dict[str, tuple[int, ...]]:
    counts = {outcome.value: [0] * len(hours) for outcome in OUTCOMES}
    for task in tasks:
        if task.state in TERMINAL_STATES and task.finished_at is not None:
            i = _index(task.finished_at, since, timedelta(hours=1), len(hours))
            if i is not None and task.finished_at <= until:
                counts[task.state.value][i] += 1
    return {outcome: tuple(values) for outcome, values in counts.items()}


def _queue_waits(
    turns: Sequence[tuple[Task, Turn]], since: datetime, until: datetime
) -> list[tuple[datetime, float]]:
    # The first turn's start is when the task left the queue the first time.
    return [
        (turn.started_at, max(0.0, (turn.started_at - task.created_at).total_seconds()))
        for task, turn in turns
        if turn.number == 1 and since <= turn.started_at <= until
    ]


def _turn_times(
    turns: Sequence[tuple[Task, Turn]], since: datetime, until: datetime
) -> list[tuple[datetime, float]]:
    return [
        (turn.finished_at, max(0.0, (turn.finished_at - turn.started_at).total_seconds()))
        for _, turn in turns
        if turn.finished_at is not None and since <= turn.finished_at <= until
    ]


def _percentiles(
    samples: Sequence[tuple[datetime, float]], buckets: Sequence[datetime], step: timedelta
) -> Percentiles:
    grouped: list[list[float]] = [[] for _ in buckets]
    since = buckets[0] if buckets else datetime.now(UTC)
    for at, value in samples:
        i = _index(at, since, step, len(buckets))
        if i is not None:
            grouped[i].append(value)
    return Percentiles(
        p50=tuple(percentile(g, 50) for g in grouped),
        p95=tuple(percentile(g, 95) for g in grouped),
        samples=len(samples),
    )


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _tokens(
    turns: Sequence[tuple[Task, Turn]], since: datetime, until: datetime, days: Sequence[date]
) -> dict[str, tuple[int, ...]]:
    index = {day: i for i, day in enumerate(days)}
    per_model: dict[str, list[int]] = {}
    for task, turn in turns:
        if turn.finished_at is None or not since <= turn.finished_at <= until:
            continue
        used = turn.usage.total_tokens or turn.usage.input_tokens + turn.usage.output_tokens
        if used <= 0:
            continue
        model = task.settings.model or DEFAULT_MODEL
        if turn.auth_profile:  # turns recorded before profiles were, or without any: none
            model = f"{model} · {turn.auth_profile}"
        per_model.setdefault(model, [0] * len(days))[
            index[turn.finished_at.astimezone(UTC).date()]
        ] += used
    return {model: tuple(values) for model, values in sorted(per_model.items())}
