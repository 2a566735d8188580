"""The SQL store's background jobs (store.jobs). Mixed into SqlStore."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from codex_runner.domain.jobs import Job, JobState
from codex_runner.store.jobs import DEFAULT_JOB_PAGE
from codex_runner.store.sql_base import SqlAccess
from codex_runner.store.tables import jobs

_FIXED = ("id", "task_id", "command", "created_at")
_CHANGING = (
    "name",
    "host_id",
    "max_runtime_s",
    "restartable",
    "restarts",
    "state",
    "reason",
    "pid",
    "pgid",
    "started_at",
    "ended_at",
    "exit_code",
    "reported_at",
)


def _changing(job: Job) -> dict[str, Any]:
    row = {name: getattr(job, name) for name in _CHANGING}
    row["state"] = job.state.value
    return row


def _job(row: RowMapping) -> Job:
    values = {name: row[name] for name in _FIXED + _CHANGING}
    values["command"] = tuple(row["command"])
    values["state"] = JobState(row["state"])
    values["restartable"] = bool(row["restartable"])
    return Job(**values)


class SqlJobs(SqlAccess):
    async def add_job(self, job: Job) -> None:
        row = {
            "id": job.id,
            "task_id": job.task_id,
            "command": list(job.command),
            "created_at": job.created_at,
            **_changing(job),
        }

        def work(conn: Connection) -> None:
            if conn.scalar(select(jobs.c.id).where(jobs.c.id == job.id)) is not None:
                raise ValueError(f"job {job.id} exists already")
            conn.execute(insert(jobs), [row])

        await self._write(work)

    async def job(self, job_id: str) -> Job | None:
        def work(conn: Connection) -> Job | None:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
            return None if row is None else _job(row)

        return await self._read(work)

    async def save_job(self, job: Job) -> None:
        def work(conn: Connection) -> None:
            done = conn.execute(update(jobs).where(jobs.c.id == job.id).values(**_changing(job)))
            if done.rowcount == 0:
                raise KeyError(job.id)

        await self._write(work)

    async def list_jobs(
        self,
        *,
        task_id: str | None = None,
        host_id: str | None = None,
        states: Sequence[JobState] | None = None,
        limit: int = DEFAULT_JOB_PAGE,
    ) -> list[Job]:
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        if task_id is not None:
            query = query.where(jobs.c.task_id == task_id)
        if host_id is not None:
            query = query.where(jobs.c.host_id == host_id)
        if states is not None:
            query = query.where(jobs.c.state.in_([s.value for s in states]))

        def work(conn: Connection) -> list[Job]:
            return [_job(r) for r in conn.execute(query).mappings()]

        return await self._read(work)
