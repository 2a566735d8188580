"""Counters and histograms fed by the committed events the EventBus hands out.

The store's writer is not touched: :class:`EventMetrics` sees each event once, after it
was committed, exactly as a follower would. What one event cannot say alone (when a task
was queued, when its turn started, the usage its turn had reached) is remembered per task
in small maps bounded by :data:`MAX_TRACKED_TASKS`; after a daemon restart a turn or a wait
that began before it is not measured (its end alone says nothing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram

from codex_runner.domain.durable_event import (
    CODEX_PREFIX,
    STATE_CHANGE_TYPES,
    EventType,
    TaskEvent,
)
from codex_runner.domain.events import EventKind
from codex_runner.domain.task import TERMINAL_STATES, Task, TaskState

# Seconds: a turn or a task takes from a second to the five-hour runtime limit.
DURATION_BUCKETS: tuple[float, ...] = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 18000)
QUEUE_WAIT_BUCKETS: tuple[float, ...] = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400)
# Tasks whose wait, turn or usage is remembered at once; past it the oldest is forgotten.
MAX_TRACKED_TASKS = 10_000
# The model label of a task that names none: Codex's configured default runs it.
DEFAULT_MODEL = "default"
TOKEN_KINDS: tuple[str, ...] = ("input", "cached_input", "output", "reasoning_output")

_TURN_ENDS: dict[str, str] = {
    CODEX_PREFIX + EventKind.TURN_COMPLETED.value: "completed",
    CODEX_PREFIX + EventKind.TURN_FAILED.value: "failed",
    CODEX_PREFIX + EventKind.TURN_INTERRUPTED.value: "interrupted",
}
_TURN_STARTED = CODEX_PREFIX + EventKind.TURN_STARTED.value
_TOKEN_USAGE = CODEX_PREFIX + EventKind.TOKEN_USAGE.value
_TERMINAL = frozenset(s.value for s in TERMINAL_STATES)

TaskLookup = Callable[[str], Awaitable[Task | None]]
_V = TypeVar("_V")


class EventMetrics:
    """The event-driven metrics of one registry; :meth:`observe` each committed event."""

    def __init__(self, registry: CollectorRegistry, *, task_lookup: TaskLookup) -> None:
        self._lookup = task_lookup
        self.events = Counter(
            "codex_runner_events",
            "Events appended to the store (seen on the event bus), by type.",
            ["type"],
            registry=registry,
        )
        self.missed = Counter(
            "codex_runner_metrics_missed_events",
            "Times the metrics fell behind the event bus and skipped events.",
            registry=registry,
        )
        self.turns = Counter(
            "codex_runner_turns", "Turns ended, by outcome.", ["outcome"], registry=registry
        )
        self.turn_duration = Histogram(
            "codex_runner_turn_duration_seconds",
            "From a turn's start to its end, by outcome.",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.task_duration = Histogram(
            "codex_runner_task_duration_seconds",
            "From a task's creation to its terminal state, by that state.",
            ["state"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.queue_wait = Histogram(
            "codex_runner_queue_wait_seconds",
            "From a task being queued to it running.",
            buckets=QUEUE_WAIT_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "codex_runner_tokens",
            "Tokens Codex reported using, by the task's model and kind.",
            ["model", "kind"],
            registry=registry,
        )
        self._queued_since: dict[str, datetime] = {}
        self._turn_started: dict[str, datetime] = {}
        self._turn_usage: dict[str, dict[str, int]] = {}
        self._models: dict[str, str] = {}

    async def observe(self, event: TaskEvent) -> None:
        """Count ``event`` and whatever it ends (a wait, a turn, a task)."""
        self.events.labels(event.type).inc()
        kind = event.type
        if kind == EventType.TASK_CREATED:
            _remember(self._queued_since, event.task_id, event.at)
            _remember(self._models, event.task_id, _model_of(event.data.get("settings")))
        elif kind in STATE_CHANGE_TYPES:
            await self._state_changed(event)
        elif kind == _TURN_STARTED:
            _remember(self._turn_started, event.task_id, event.at)
            _remember(self._turn_usage, event.task_id, {})
        elif kind in _TURN_ENDS:
            outcome = _TURN_ENDS[kind]
            self.turns.labels(outcome).inc()
            self._turn_usage.pop(event.task_id, None)
            started = self._turn_started.pop(event.task_id, None)
            if started is not None:
                self.turn_duration.labels(outcome).observe(_seconds(started, event.at))
        elif kind == _TOKEN_USAGE:
            await self._usage(event)

    async def _state_changed(self, event: TaskEvent) -> None:
        to = event.data.get("to")
        if to == TaskState.QUEUED:
            _remember(self._queued_since, event.task_id, event.at)
        elif to == TaskState.RUNNING:
            since = self._queued_since.pop(event.task_id, None)
            if since is not None:
                self.queue_wait.observe(_seconds(since, event.at))
        elif to in _TERMINAL:
            self._queued_since.pop(event.task_id, None)
            task = await self._lookup(event.task_id)
            if task is not None:
                self.task_duration.labels(to).observe(_seconds(task.created_at, event.at))

    async def _usage(self, event: TaskEvent) -> None:
        # Codex reports the turn's usage so far: count what grew since its last report.
        usage = event.data.get("usage")
        if not isinstance(usage, dict):
            return
        before = self._turn_usage.get(event.task_id, {})
        model = await self._model(event.task_id)
        now: dict[str, int] = {}
        for kind in TOKEN_KINDS:
            value = usage.get(f"{kind}_tokens")
            now[kind] = value if isinstance(value, int) else 0
            grew = now[kind] - before.get(kind, 0)
            if grew > 0:
                self.tokens.labels(model, kind).inc(grew)
        _remember(self._turn_usage, event.task_id, now)

    async def _model(self, task_id: str) -> str:
        model = self._models.get(task_id)
        if model is None:  # created before this daemon started
            task = await self._lookup(task_id)
            model = task.settings.model or DEFAULT_MODEL if task is not None else DEFAULT_MODEL
            _remember(self._models, task_id, model)
        return model


def _model_of(settings: Any) -> str:
    model = settings.get("model") if isinstance(settings, dict) else None
    return model if isinstance(model, str) and model else DEFAULT_MODEL


def _remember(values: dict[str, _V], key: str, value: _V) -> None:
    values.pop(key, None)
    values[key] = value
    while len(values) > MAX_TRACKED_TASKS:
        del values[next(iter(values))]


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())
