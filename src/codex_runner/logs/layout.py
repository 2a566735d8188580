"""Where the layered logs live under ``$CODEX_RUNNER_HOME/logs``, and how an hour is named.

```
logs/runner/YYYY-MM-DD-HH.jsonl               every daemon log record
logs/tasks/<task-id>/YYYY-MM-DD-HH.jsonl      a task's events and the records about it
logs/sessions/<session-key>/YYYY-MM-DD-HH.jsonl  the records about one chat session
logs/raw/<layer>/YYYY-MM-DD-HH.jsonl          raw layers: codex-rpc, slack-events, http
```

Hours are UTC, so files sort by name in time order and no hour repeats when clocks change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

Clock = Callable[[], float]  # seconds since the epoch: time.time, or a test's

HOUR_FORMAT = "%Y-%m-%d-%H"
HOURLY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2}-\d{2})\.jsonl$")
RAW_LAYERS = ("codex-rpc", "slack-events", "http")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def hour_name(at: float) -> str:
    """The file name of the UTC hour holding ``at``."""
    return datetime.fromtimestamp(at, UTC).strftime(HOUR_FORMAT) + ".jsonl"


def hour_start(name: str) -> float | None:
    """When the hour of file ``name`` began, or None for a name that is not an hour's."""
    match = HOURLY_FILE.match(name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), HOUR_FORMAT).replace(tzinfo=UTC).timestamp()


def safe_name(key: str) -> str:
    """A task id or session key as one directory name (no separators, no leading dot)."""
    name = _UNSAFE.sub("_", key)[:128]
    return "_" + name if name.startswith(".") or not name else name


@dataclass(frozen=True)
class LogLayout:
    """The directories of the layered logs under ``root`` (``$CODEX_RUNNER_HOME/logs``)."""

    root: Path

    @property
    def runner(self) -> Path:
        return self.root / "runner"

    def task(self, task_id: str) -> Path:
        return self.root / "tasks" / safe_name(task_id)

    def legacy_task_file(self, task_id: str) -> Path:
        """Where task logs went before they were hourly: read, never written."""
        return self.root / "tasks" / f"{safe_name(task_id)}.jsonl"

    def session(self, session_key: str) -> Path:
        return self.root / "sessions" / safe_name(session_key)

    def raw(self, layer: str) -> Path:
        if layer not in RAW_LAYERS:
            raise ValueError(f"unknown raw log layer {layer!r}: one of {', '.join(RAW_LAYERS)}")
        return self.root / "raw" / layer
