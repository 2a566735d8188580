"""The archive job: passes over the real (SQLite) store, bounded, failures kept apart."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codex_runner.domain.durable_event import NewEvent
from codex_runner.domain.task import Task, TaskState, WorkspaceRequest
from codex_runner.service.event_archive import EventArchiver, archive_now_and_then
from codex_runner.store.sql import SqlStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = 24 * 3600.0
_numbers = itertools.count(1)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with await SqlStore.open(tmp_path / "runner.sqlite") as opened:
        yield opened


async def finished(store: SqlStore, finished_at: datetime, state: TaskState) -> Task:
    task = Task(f"t_{next(_numbers):04d}", "p", WorkspaceRequest.directory("/w"), T0, T0)
    await store.create_task(task)
    await store.append_events(task.id, [NewEvent("codex.item.completed", T0, {"n": 1})])
    done = replace(task, state=state, finished_at=finished_at if state.is_terminal else None)
    await store.update_task(done, expected_state=TaskState.QUEUED)
    return done


async def test_a_pass_archives_the_tasks_finished_before_the_retention_at_most_a_batch(
    store: SqlStore,
) -> None:
    now = T0 + timedelta(days=10)
    old = [await finished(store, T0 + timedelta(hours=h), TaskState.COMPLETED) for h in (1, 2, 3)]
    recent = await finished(store, now - timedelta(hours=1), TaskState.FAILED)
    running = await finished(store, T0, TaskState.RUNNING)
    archiver = EventArchiver(store, DAY, batch=2, clock=lambda: now)

    first = await archiver.archive_once()
    second = await archiver.archive_once()
    third = await archiver.archive_once()

    assert [a.task_id for a in first.archived] == [old[0].id, old[1].id] and first.full
    assert [a.task_id for a in second.archived] == [old[2].id] and not second.full
    assert third.archived == () and first.moved == 4  # task.created and one more, each
    totals = await store.event_archive_totals()
    assert (totals.tasks, totals.events) == (3, 6)
    # The recent one is due only once the retention is over; the running one never is.
    assert await store.tasks_to_archive(finished_before=now, limit=5) == [recent.id]
    assert running.id not in await store.tasks_to_archive(finished_before=now, limit=5)


async def test_a_task_that_fails_to_archive_is_reported_and_the_others_go_on(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = T0 + timedelta(days=10)
    bad = await finished(store, T0, TaskState.COMPLETED)
    good = await finished(store, T0 + timedelta(hours=1), TaskState.CANCELLED)
    real = store.archive_events

    async def failing(task_id: str, **kwargs: datetime) -> object:
        if task_id == bad.id:
            raise RuntimeError("disk on fire")
        return await real(task_id, **kwargs)

    monkeypatch.setattr(store, "archive_events", failing)

    done = await EventArchiver(store, DAY, clock=lambda: now).archive_once()

    assert done.failed == (bad.id,) and [a.task_id for a in done.archived] == [good.id]


async def test_the_job_does_nothing_when_archiving_is_off_and_ends_with_the_store(
    store: SqlStore,
) -> None:
    await asyncio.wait_for(archive_now_and_then(store, None), 5)
    await store.close()
    # A closed store ends the job rather than have it log a failure every interval.
    await asyncio.wait_for(EventArchiver(store, DAY).run(interval_s=3600), 5)


def test_a_retention_or_batch_that_makes_no_sense_is_refused(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="retention_s must be positive"):
        EventArchiver(store, 0)
    with pytest.raises(ValueError, match="batch must be at least 1"):
        EventArchiver(store, DAY, batch=0)
