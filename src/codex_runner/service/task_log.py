"""Per-task JSONL logs under ``$CODEX_RUNNER_HOME/logs/tasks/<task-id>.jsonl``.

A copy of the durable event log for people and log shippers (``tail -f``, ``jq``): written
after the store commits, in seq order per task. The store stays the truth; a line lost to a
crash between commit and write is not re-created (the API serves events from the store).
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

import orjson

from codex_runner.domain.durable_event import TaskEvent

log = logging.getLogger(__name__)

# Open log files kept by TaskLogFiles: enough for every running task at the usual caps.
DEFAULT_MAX_OPEN = 128


class TaskLogSink(Protocol):
    """Where committed events are copied for people: the task log files (or a test's list)."""

    def write(self, events: Sequence[TaskEvent]) -> None:
        """Record committed events (any tasks, seq order within a task)."""


class TaskLogFiles:
    """Appends each task's events to its file, keeping the busiest files open.

    Opening a file per batch cost more than encoding the events (one open per committed
    batch, several per Codex turn), so up to ``max_open`` files stay open, least recently
    written closed first. Every batch is flushed before ``write`` returns, so ``tail -f``
    sees it at once and a crash of the daemon loses no line the store had committed before it.
    """

    def __init__(self, directory: Path, *, max_open: int = DEFAULT_MAX_OPEN) -> None:
        if max_open < 1:
            raise ValueError("max_open must be at least 1")
        self.directory = directory
        self.max_open = max_open
        self._open: OrderedDict[str, BinaryIO] = OrderedDict()
        self.failing: str | None = None  # the error while appends fail, said once
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, task_id: str) -> Path:
        return self.directory / f"{task_id}.jsonl"

    def write(self, events: Sequence[TaskEvent]) -> None:
        by_task: dict[str, list[bytes]] = defaultdict(list)
        for event in events:
            by_task[event.task_id].append(
                orjson.dumps(event.to_dict(), option=orjson.OPT_NON_STR_KEYS)
            )
        for task_id, lines in by_task.items():
            try:
                out = self._file(task_id)
                out.write(b"\n".join(lines) + b"\n")
                out.flush()
            except OSError as exc:
                # A full disk must not stop the task: the store already has the events.
                self._forget(task_id)
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
        while self._open:
            _, out = self._open.popitem(last=False)
            with contextlib.suppress(OSError):
                out.close()

    def _file(self, task_id: str) -> BinaryIO:
        out = self._open.get(task_id)
        if out is not None:
            self._open.move_to_end(task_id)
            return out
        while len(self._open) >= self.max_open:
            _, oldest = self._open.popitem(last=False)
            with contextlib.suppress(OSError):
                oldest.close()
        out = self.path(task_id).open("ab")
        self._open[task_id] = out
        return out

    def _forget(self, task_id: str) -> None:
        out = self._open.pop(task_id, None)
        if out is not None:
            with contextlib.suppress(OSError):
                out.close()
