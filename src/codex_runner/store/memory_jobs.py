"""The in-memory store's background jobs (store.jobs). Mixed into InMemoryStore."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from codex_runner.domain.jobs import Job, JobState
from codex_runner.store.jobs import DEFAULT_JOB_PAGE


class MemoryJobs:
    _jobs: dict[str, Job]  # insertion order is creation order

    def _init_jobs(self) -> None:
        self._jobs = {}

    async def _enter(self) -> None:
        raise NotImplementedError  # InMemoryStore's

    async def add_job(self, job: Job) -> None:
        await self._enter()
        if job.id in self._jobs:
            raise ValueError(f"job {job.id} exists already")
        self._jobs[job.id] = job

    async def job(self, job_id: str) -> Job | None:
        await self._enter()
        return self._jobs.get(job_id)

    async def save_job(self, job: Job) -> None:
        await self._enter()
        old = self._jobs.get(job.id)
        if old is None:
            raise KeyError(job.id)
        self._jobs[job.id] = replace(
            job, task_id=old.task_id, command=old.command, created_at=old.created_at
        )

    async def list_jobs(
        self,
        *,
        task_id: str | None = None,
        host_id: str | None = None,
        states: Sequence[JobState] | None = None,
        limit: int = DEFAULT_JOB_PAGE,
    ) -> list[Job]:
        await self._enter()
        found = [
            j
            for j in reversed(self._jobs.values())
            if task_id in (None, j.task_id)
            and host_id in (None, j.host_id)
            and (states is None or j.state in states)
        ]
        return found[:limit]
