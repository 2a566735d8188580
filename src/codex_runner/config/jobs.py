"""Background jobs' settings (``[jobs]``; docs/jobs.md): how long a job may run, how many
run at once, and how much of its output is kept."""

from __future__ import annotations

from pydantic import Field

from codex_runner.config.base import Strict as _Strict

MIB = 1024**2


class JobSettings(_Strict):
    """``[jobs]``: caps on background jobs started from tasks."""

    max_runtime_s: float = Field(
        default=5 * 3600.0,
        gt=0,
        description="A job running longer is stopped (timed_out); a start may ask for less.",
    )
    max_per_task: int = Field(
        default=2, ge=1, description="Jobs one task may have queued or running at once."
    )
    max_running: int = Field(
        default=8, ge=1, description="Jobs this host runs at once; past it a start is refused."
    )
    output_max_bytes: int = Field(
        default=50 * MIB,
        ge=1024,
        description="A job's output file keeps this much; the rest is cut (with a note) while "
        "the job keeps running.",
    )
    keep_s: float = Field(
        default=7 * 24 * 3600.0,
        ge=0,
        description="A finished job's folder (its output and exit code) is removed this long "
        "after it ended; the job's record stays.",
    )
    check_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="How often the supervisor looks at its jobs."
    )
    kill_grace_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="After SIGTERM to a job's process group, how long before SIGKILL.",
    )
