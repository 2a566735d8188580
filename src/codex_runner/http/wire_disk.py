"""The JSON of the disk accounting and policy (``GET /v1/disk``, ``POST /v1/disk/check``;
docs/disk.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class DiskKindOut(BaseModel):
    kind: str = Field(description="worktrees, logs, sessions, repos, codex_sessions, ...")
    bytes: int
    files: int
    complete: bool = Field(description="False when the walk stopped early: at least this.")


class DiskCandidateOut(BaseModel):
    rule: str = Field(description="old_log, finished_worktree or inactive_session.")
    path: str
    bytes: int
    outcome: str = Field(description="removed, would_remove (dry-run) or kept.")
    task_id: str | None = None
    detail: str = ""


class DiskCheckOut(BaseModel):
    at: datetime
    free_bytes: int = Field(description="Free space when the check began.")
    free_after: int = Field(description="Free space after it (dry-run: as it would be).")
    low: bool = Field(description="Free space was below min_free_bytes (disk.low).")
    dry_run: bool
    candidates: list[DiskCandidateOut]


class DiskPolicyOut(BaseModel):
    dry_run: bool
    min_free_bytes: int
    target_free_bytes: int
    old_log_s: float
    inactive_session_s: float
    protection_s: float
    check_interval_s: float


class DiskOut(BaseModel):
    kinds: list[DiskKindOut]
    total_bytes: int = Field(description="All kinds together.")
    free_bytes: int = Field(description="Free space on the file system of the runner's home.")
    policy: DiskPolicyOut
    last_check: DiskCheckOut | None = Field(description="The policy's latest check, if any.")
