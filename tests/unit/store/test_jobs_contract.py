"""The background jobs contract (store.jobs), against every store: in memory, SQLite and
PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from codex_runner.domain.jobs import Job, JobState
from codex_runner.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(every_store: Store) -> Store:
    return every_store


def job(n: int, *, task_id: str = "t_1", host_id: str = "h1") -> Job:
    return Job(
        id=f"j_{n}",
        task_id=task_id,
        command=("sh", "-c", f"echo {n}"),
        name=f"job {n}",
        host_id=host_id,
        created_at=T0 + timedelta(seconds=n),
        max_runtime_s=60.0,
        restartable=n % 2 == 0,
    )


async def test_a_job_added_reads_back_as_it_was(store: Store) -> None:
    await store.add_job(job(1))

    assert await store.job("j_1") == job(1)
    assert await store.job("j_unknown") is None


async def test_adding_a_job_twice_is_refused(store: Store) -> None:
    await store.add_job(job(1))

    with pytest.raises(ValueError, match="j_1"):
        await store.add_job(job(1))


async def test_a_save_writes_the_state_process_and_times(store: Store) -> None:
    await store.add_job(job(2))
    ended = replace(
        job(2),
        state=JobState.FAILED,
        reason="exit code 3",
        pid=4242,
        pgid=4242,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=5),
        exit_code=3,
        restarts=1,
        reported_at=T0 + timedelta(seconds=6),
    )

    await store.save_job(ended)

    assert await store.job("j_2") == ended


async def test_a_save_keeps_the_task_and_command(store: Store) -> None:
    await store.add_job(job(1))

    await store.save_job(replace(job(1), task_id="t_other", command=("true",)))

    assert await store.job("j_1") == job(1)


async def test_saving_an_unknown_job_is_an_error(store: Store) -> None:
    with pytest.raises(KeyError):
        await store.save_job(job(9))


async def test_jobs_list_newest_first_by_task_host_and_state(store: Store) -> None:
    await store.add_job(job(1))
    await store.add_job(job(2, task_id="t_2"))
    await store.add_job(job(3, host_id="h2"))
    await store.save_job(replace(job(3, host_id="h2"), state=JobState.RUNNING))

    assert [j.id for j in await store.list_jobs()] == ["j_3", "j_2", "j_1"]
    assert [j.id for j in await store.list_jobs(task_id="t_1")] == ["j_3", "j_1"]
    assert [j.id for j in await store.list_jobs(host_id="h1")] == ["j_2", "j_1"]
    running = await store.list_jobs(states=[JobState.RUNNING])
    assert [j.id for j in running] == ["j_3"]
    assert [j.id for j in await store.list_jobs(limit=1)] == ["j_3"]
