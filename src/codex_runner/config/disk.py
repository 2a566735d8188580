"""The disk policy's settings (``[disk]``; docs/disk.md): when free space on the home's file
system runs low, remove old logs, then finished tasks' worktrees and inactive sessions'
workspaces, oldest first. Dry-run (report, remove nothing) until switched off."""

from __future__ import annotations

from pydantic import Field, model_validator

from codex_runner.config.base import Strict as _Strict

GIB = 1024**3
DAY_S = 24 * 3600.0


class DiskSettings(_Strict):
    """``[disk]``: free-space thresholds, ages, and whether the policy removes for real."""

    min_free_bytes: int = Field(
        default=5 * GIB,
        ge=0,
        description="Below this much free space on the home's file system the policy acts "
        "(and disk.low is recorded).",
    )
    target_free_bytes: int = Field(
        default=10 * GIB,
        ge=0,
        description="The policy removes until this much is free (or nothing is left to remove).",
    )
    old_log_s: float = Field(
        default=3 * DAY_S,
        ge=0,
        description="Log files older than this are the first to go when space is low.",
    )
    inactive_session_s: float = Field(
        default=7 * DAY_S,
        ge=0,
        description="A chat session's workspace idle this long may be emptied when space is low.",
    )
    protection_s: float = Field(
        default=DAY_S,
        ge=0,
        description="A running task, one awaiting approval or queued chat input protects its "
        "files until it is this old; unmerged branches are always protected.",
    )
    check_interval_s: float = Field(
        default=300.0, gt=0, description="How often free space is checked."
    )
    dry_run: bool = Field(
        default=True,
        description="Only report what would be removed (each candidate, its bytes and rule).",
    )

    @model_validator(mode="after")
    def _target_above_minimum(self) -> DiskSettings:
        if self.target_free_bytes < self.min_free_bytes:
            raise ValueError(
                f"disk.target_free_bytes ({self.target_free_bytes}) must be at least "
                f"min_free_bytes ({self.min_free_bytes}): the policy removes until the target "
                "is free; raise target_free_bytes or lower min_free_bytes"
            )
        return self
