"""The JSON of background jobs (``/v1/jobs``; docs/jobs.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from codex_runner.domain.jobs import Job


class JobIn(BaseModel):
    task_id: str | None = Field(
        default=None,
        max_length=64,
        description="The task the job reports back to (with a session key: its task).",
    )
    command: str | list[str] = Field(
        description="A shell string (run by `sh -c`) or an argv list (run as it is)."
    )
    name: str | None = Field(default=None, max_length=120, description="What lists show.")
    restartable: bool = Field(
        default=False,
        description="Re-run once when its process is found gone after a daemon restart.",
    )
    max_runtime_s: float | None = Field(
        default=None, gt=0, description="Stopped past this (at most [jobs] max_runtime_s)."
    )


class JobOut(BaseModel):
    id: str
    task_id: str
    name: str
    command: list[str]
    state: str = Field(description="queued, running, succeeded, failed, cancelled, timed_out.")
    reason: str | None = Field(description="Why it ended so (a failure, a cap, a cancel).")
    exit_code: int | None
    pid: int | None
    pgid: int | None
    host_id: str = Field(description="The host that runs and supervises it.")
    restartable: bool
    restarts: int
    max_runtime_s: float
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    reported_at: datetime | None = Field(description="When its task got the follow-up.")

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            task_id=job.task_id,
            name=job.name,
            command=list(job.command),
            state=job.state.value,
            reason=job.reason,
            exit_code=job.exit_code,
            pid=job.pid,
            pgid=job.pgid,
            host_id=job.host_id,
            restartable=job.restartable,
            restarts=job.restarts,
            max_runtime_s=job.max_runtime_s,
            created_at=job.created_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
            reported_at=job.reported_at,
        )


class JobList(BaseModel):
    jobs: list[JobOut]


class JobOutput(BaseModel):
    job_id: str
    output: str = Field(description="The end of the job's output, secrets masked.")
