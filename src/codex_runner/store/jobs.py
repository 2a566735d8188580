"""Background jobs every store keeps (part of the Store protocol; domain.jobs).

Rules every implementation keeps: a job's id is unique (adding it again is an error); a
save replaces every field but the id, task, command and creation time; lists are newest
first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from codex_runner.domain.jobs import Job, JobState

DEFAULT_JOB_PAGE = 100


class JobStore(Protocol):
    async def add_job(self, job: Job) -> None:
        """Record a new job (ValueError when its id is taken)."""

    async def job(self, job_id: str) -> Job | None:
        """The job, None when there is none with that id."""

    async def save_job(self, job: Job) -> None:
        """Write a job's state, process, times, exit code and report (KeyError: unknown)."""

    async def list_jobs(
        self,
        *,
        task_id: str | None = None,
        host_id: str | None = None,
        states: Sequence[JobState] | None = None,
        limit: int = DEFAULT_JOB_PAGE,
    ) -> list[Job]:
        """Jobs newest first, optionally of one task, one host and some states."""
