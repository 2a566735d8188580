"""Per-task JSONL logs: ``$CODEX_RUNNER_HOME/logs/tasks/<task-id>/YYYY-MM-DD-HH.jsonl``.

A copy of the durable event log for people and log shippers (``tail -f``, ``jq``,
``codex-runner logs --task``): written after the store commits, in seq order per task, into
the task's stream of the layered logs (docs/logs.md), beside the daemon's records about the
task. The store stays the truth; a line lost to a crash between commit and write is not
re-created (the API serves events from the store). Text that looks like an API key or a
bearer token is masked in the copy, as in every log layer. Tasks that ran before the logs
were hourly keep their single ``logs/tasks/<task-id>.jsonl``, which readers still read.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import orjson

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.logs.hourly import HourlyFiles
from codex_runner.logs.layout import Clock, hour_name, safe_name
from codex_runner.logs.redaction import mask_strings

log = logging.getLogger(__name__)

# Open log files kept by TaskLogFiles: enough for every running task at the usual caps.
DEFAULT_MAX_OPEN = 128


class TaskLogSink(Protocol):
    """Where committed events are copied for people: the task log files (or a test's list)."""

    def write(self, events: Sequence[TaskEvent]) -> None:
        """Record committed events (any tasks, seq order within a task)."""


class TaskLogFiles:
    """Appends each task's events to the file of the hour, keeping the busiest files open.

    Opening a file per batch cost more than encoding the events (one open per committed
    batch, several per Codex turn), so up to ``max_open`` files stay open, least recently
    written closed first. Every batch is written (unbuffered, one ``write``) before ``write``
    returns, so ``tail -f`` sees it at once and a crash of the daemon loses no line the
    store had committed before it. ``directory`` is the layered logs' ``tasks/``.
    """

    def __init__(
        self, directory: Path, *, max_open: int = DEFAULT_MAX_OPEN, clock: Clock = time.time
    ) -> None:
        self.directory = directory
        self.clock = clock
        self._files = HourlyFiles(max_open=max_open, make_parents=False)
        self.failing: str | None = None  # the error while appends fail, said once
        directory.mkdir(parents=True, exist_ok=True)

    def stream(self, task_id: str) -> Path:
        """The task's directory of hourly files."""
        return self.directory / safe_name(task_id)

    def path(self, task_id: str) -> Path:
        """The task's file of the current hour."""
        return self.stream(task_id) / hour_name(self.clock())

    def write(self, events: Sequence[TaskEvent]) -> None:
        by_task: dict[str, list[bytes]] = defaultdict(list)
        for event in events:
            # Secret-looking text is masked in the copy; the store keeps the event as it was.
            by_task[event.task_id].append(
                orjson.dumps(mask_strings(event.to_dict()), option=orjson.OPT_NON_STR_KEYS)
            )
        hour = hour_name(self.clock())
        for task_id, lines in by_task.items():
            try:
                self._files.append(self.stream(task_id), hour, b"\n".join(lines) + b"\n")
            except OSError as exc:
                # A full disk must not stop the task: the store already has the events.
                self._failed(task_id, exc)
            else:
                self._recovered()

    def _failed(self, task_id: str, exc: OSError) -> None:
        """One line when appends start failing (a deleted or read-only home fails every
        event of every task: a traceback each would bury the log), not one per event."""
        error = f"{exc.strerror or type(exc).__name__} ({self.directory})"
        if self.failing != error:
            log.error("task logs cannot be written: %s; first lost: task %s", error, task_id)
            self.failing = error

    def _recovered(self) -> None:
        if self.failing is not None:
            log.warning("task logs are written again in %s", self.directory)
            self.failing = None

    def close(self) -> None:
        """Close every open file (the daemon is stopping); a later write reopens."""
        self._files.close()
