"""Per-task JSONL logs under ``$CODEX_RUNNER_HOME/logs/tasks/<task-id>.jsonl``.

A copy of the durable event log for people and log shippers (``tail -f``, ``jq``): written
after the store commits, in seq order per task. The store stays the truth; a line lost to a
crash between commit and write is not re-created (the API serves events from the store).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import orjson

from codex_runner.domain.durable_event import TaskEvent

log = logging.getLogger(__name__)


class EventSink(Protocol):
    def write(self, events: Sequence[TaskEvent]) -> None:
        """Record committed events (any tasks, seq order within a task)."""


class TaskLogFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, task_id: str) -> Path:
        return self.directory / f"{task_id}.jsonl"

    def write(self, events: Sequence[TaskEvent]) -> None:
        by_task: dict[str, list[str]] = defaultdict(list)
        for event in events:
            by_task[event.task_id].append(
                orjson.dumps(event.to_dict(), option=orjson.OPT_NON_STR_KEYS).decode()
            )
        for task_id, lines in by_task.items():
            try:
                with self.path(task_id).open("a", encoding="utf-8") as out:
                    out.write("\n".join(lines) + "\n")
            except OSError:
                # A full disk must not stop the task: the store already has the events.
                log.exception("could not append to the log of task %s", task_id)
