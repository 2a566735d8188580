"""Background jobs (docs/jobs.md): a long-running command started from a task that outlives
the turn and reports back to it. Pure: the job record, its states, and the report text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

JOB_PREFIX = "j_"

# What a job's report carries of its output: the last lines, at most this many bytes.
REPORT_TAIL_LINES = 60
REPORT_TAIL_BYTES = 4096


# The events a job leaves on its task (their data: job_id, name, state, ...; a finished
# one's report is what the task is told).
JOB_STARTED = "job.started"
JOB_FINISHED = "job.finished"


class JobState(StrEnum):
    QUEUED = "queued"  # recorded, its process not started yet (or waiting to re-run)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_active(self) -> bool:
        return self in (JobState.QUEUED, JobState.RUNNING)


ACTIVE_JOB_STATES: tuple[JobState, ...] = (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True)
class Job:
    id: str
    task_id: str
    command: tuple[str, ...]  # argv; a shell string is ("sh", "-c", text)
    name: str
    host_id: str  # the host that supervises it (several may share a PostgreSQL store)
    created_at: datetime
    max_runtime_s: float
    restartable: bool = False
    restarts: int = 0  # re-runs after its process was found gone (at most one)
    state: JobState = JobState.QUEUED
    reason: str | None = None
    pid: int | None = None
    pgid: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    reported_at: datetime | None = None  # when its task was told it ended


def job_name(command: tuple[str, ...], name: str | None) -> str:
    """The name a job shows: the one given, else its command cut short."""
    if name is not None and name.strip():
        return name.strip()[:120]
    shown = command[2] if command[:2] == ("sh", "-c") and len(command) == 3 else " ".join(command)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def output_tail(text: str) -> str:
    """The last :data:`REPORT_TAIL_LINES` lines of ``text``, at most
    :data:`REPORT_TAIL_BYTES` bytes (cut at a line start where one fits)."""
    lines = text.splitlines()[-REPORT_TAIL_LINES:]
    tail = "\n".join(lines)
    data = tail.encode()
    if len(data) <= REPORT_TAIL_BYTES:
        return tail
    cut = data[-REPORT_TAIL_BYTES:].decode(errors="ignore")
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < len(cut) - 1 else cut


def report_text(job: Job, tail: str) -> str:
    """The follow-up message a task gets when one of its jobs ends."""
    if job.state is JobState.SUCCEEDED:
        outcome = "succeeded (exit code 0)"
    elif job.state is JobState.FAILED and job.exit_code is not None:
        outcome = f"failed with exit code {job.exit_code}"
    else:
        outcome = str(job.state).replace("_", " ")
        if job.reason:
            outcome += f": {job.reason}"
    shown = tail.strip("\n") or "(no output)"
    return (
        f"Background job {job.id} ({job.name}) {outcome}.\n"
        f"Last lines of its output:\n```\n{shown}\n```"
    )
