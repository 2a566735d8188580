"""Removing old log files: the daemon's periodic job under ``[logs] retention_s``.

An hourly file goes once its hour ended more than ``retention_s`` ago (judged by its name,
so copying the home does not make old files young); any other ``*.jsonl`` file under the
logs (the old ``tasks/<task-id>.jsonl``, ``runner.jsonl`` and ``codex-rpc.jsonl`` and
their numbered backups) goes once it was last written that long ago. A directory left
empty goes with its last file. Nothing outside ``logs/`` is touched, and a file being
written now is never old enough to go.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from codex_runner.logs.layout import hour_start

HOUR_S = 3600.0
_LOG_FILE = re.compile(r"\.jsonl(\.\d+)?$")


@dataclass
class RemovedLogs:
    """What one pass removed (or, dry, would remove)."""

    files: list[Path] = field(default_factory=list)
    bytes: int = 0


def old_log_files(root: Path, retention_s: float, now: float) -> list[tuple[Path, int]]:
    """The log files under ``root`` older than ``retention_s``, with their sizes."""
    cutoff = now - retention_s
    found: list[tuple[Path, int]] = []
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*")):
        if not path.is_file() or not _LOG_FILE.search(path.name):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        began = hour_start(path.name)
        ended = began + HOUR_S if began is not None else stat.st_mtime
        if ended < cutoff:
            found.append((path, stat.st_size))
    return found


def remove_old_logs(
    root: Path, retention_s: float, now: float, *, dry_run: bool = False
) -> RemovedLogs:
    """Remove (unless ``dry_run``) the log files older than ``retention_s`` under ``root``
    and the directories they leave empty."""
    report = RemovedLogs()
    for path, size in old_log_files(root, retention_s, now):
        if not dry_run:
            try:
                path.unlink()
            except OSError:
                continue
            _remove_empty_parents(path.parent, root)
        report.files.append(path)
        report.bytes += size
    return report


def _remove_empty_parents(directory: Path, root: Path) -> None:
    # Only the per-task and per-session directories go; the layers' own stay.
    while directory != root and directory.parent.name in ("tasks", "sessions"):
        with contextlib.suppress(OSError):
            directory.rmdir()  # fails, and stops here, while it holds anything
        return
