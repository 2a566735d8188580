"""Removing finished jobs' folders (``logs/jobs/<job-id>/``) once ``[jobs] keep_s`` passed:
each holds up to ``[jobs] output_max_bytes`` of output, and the store keeps the job's record
(state, exit code, reason) for good."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Collection
from pathlib import Path

from codex_runner.service.jobs_process import EXIT_CODE_FILE, OUTPUT_FILE


def old_job_folders(
    jobs_dir: Path, *, active: Collection[str], keep_s: float, now: float
) -> list[Path]:
    """The folders of jobs not ``active`` whose files were last written before ``now -
    keep_s`` (a job's last write is its end)."""
    if not jobs_dir.is_dir():
        return []
    cutoff = now - keep_s
    found = []
    for folder in sorted(jobs_dir.iterdir()):
        if not folder.is_dir() or folder.name in active:
            continue
        written = [
            p.stat().st_mtime for p in (folder / OUTPUT_FILE, folder / EXIT_CODE_FILE) if p.exists()
        ]
        if max(written, default=folder.stat().st_mtime) < cutoff:
            found.append(folder)
    return found


def remove_old_job_folders(
    jobs_dir: Path, *, active: Collection[str], keep_s: float, now: float
) -> int:
    """Remove what :func:`old_job_folders` finds; how many went."""
    removed = 0
    for folder in old_job_folders(jobs_dir, active=active, keep_s=keep_s, now=now):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove
            shutil.rmtree(folder)
            removed += 1
    return removed
