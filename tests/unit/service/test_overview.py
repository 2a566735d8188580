"""The overview's figures from a store with known tasks and turns, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codex_runner.codex.scripted import ScriptedRuntime, complete
from codex_runner.domain.conversation import Turn, TurnState
from codex_runner.domain.events import TokenUsage
from codex_runner.domain.task import RuntimeSettings, Task, TaskState, WorkspaceRequest
from codex_runner.service.event_bus import EventBus
from codex_runner.service.overview import (
    OverviewReader,
    OverviewWindow,
    UnknownWindow,
    parse_window,
    percentile,
)
from codex_runner.service.tasks import TaskService
from codex_runner.store.memory import InMemoryStore
from codex_runner.workspace.memory import InMemoryWorkspaces

from .waiting import wait_state

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


async def _add(
    store: InMemoryStore,
    task_id: str,
    *,
    created: datetime,
    state: TaskState,
    waited_s: float,
    took_s: float,
    tokens: int,
    model: str | None = None,
    profile: str | None = None,
) -> None:
    started = created + timedelta(seconds=waited_s)
    finished = started + timedelta(seconds=took_s)
    await store.create_task(
        Task(
            id=task_id,
            prompt="p",
            workspace=WorkspaceRequest.directory("/tmp"),
            created_at=created,
            updated_at=finished,
            state=state,
            settings=RuntimeSettings(model=model),
            started_at=started,
            finished_at=finished if state.is_terminal else None,
        )
    )
    await store.save_turn(
        Turn(
            task_id=task_id,
            number=1,
            input="p",
            started_at=started,
            state=TurnState.COMPLETED,
            finished_at=finished,
            usage=TokenUsage(total_tokens=tokens),
            auth_profile=profile,
        )
    )


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


def _reader(store: InMemoryStore, tmp_path: Path, **kwargs: int) -> OverviewReader:
    service = TaskService(
        store,
        ScriptedRuntime(lambda _text: complete),
        InMemoryWorkspaces(tmp_path),
        EventBus(),
        max_concurrent=1,
        approval_timeout_s=30.0,
    )
    return OverviewReader(service, clock=lambda: NOW, **kwargs)


async def test_tasks_turns_waits_and_tokens_land_in_their_buckets(
    store: InMemoryStore, tmp_path: Path
) -> None:
    two_hours_ago = NOW - timedelta(hours=2)
    await _add(store, "a", created=two_hours_ago, state=TaskState.COMPLETED, waited_s=10,
               took_s=60, tokens=100, model="gpt-x")  # fmt: skip
    await _add(store, "b", created=two_hours_ago, state=TaskState.FAILED, waited_s=30,
               took_s=120, tokens=50)  # fmt: skip
    await _add(store, "old", created=NOW - timedelta(days=3), state=TaskState.COMPLETED,
               waited_s=1, took_s=1, tokens=7)  # fmt: skip
    await _add(store, "c", created=two_hours_ago, state=TaskState.COMPLETED, waited_s=10,
               took_s=60, tokens=30, model="gpt-x", profile="work")  # fmt: skip

    day = await _reader(store, tmp_path).read(OverviewWindow.DAY)
    assert len(day.hours) == 24 and day.hours[-1] == datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert sum(day.finished["completed"]) == 2 and sum(day.finished["failed"]) == 1
    assert day.finished["completed"][-3] == 2  # finished at 10:31, the 10:00 hour
    assert day.queue_wait.samples == 3
    assert day.queue_wait.p50[-3] == 10 and day.queue_wait.p95[-3] == 30
    assert day.turn_duration.p95[-3] == 120
    # Turns that name their auth profile are counted per model and profile.
    assert day.tokens == {"default": (0, 50), "gpt-x": (0, 100), "gpt-x · work": (0, 30)}
    assert not day.capped

    week = await _reader(store, tmp_path).read(OverviewWindow.WEEK)
    assert sum(week.finished["completed"]) == 3
    assert sum(week.tokens["default"]) == 57


async def test_the_reading_stops_at_the_cap_and_says_so(
    store: InMemoryStore, tmp_path: Path
) -> None:
    for i in range(5):
        await _add(store, f"t{i}", created=NOW - timedelta(minutes=50 - i),
                   state=TaskState.COMPLETED, waited_s=1, took_s=1, tokens=1)  # fmt: skip
    overview = await _reader(store, tmp_path, max_tasks=3).read(OverviewWindow.DAY)
    assert overview.capped and overview.tasks_read == 3


def test_a_window_outside_the_choices_is_refused_naming_them() -> None:
    assert parse_window("7d") is OverviewWindow.WEEK
    with pytest.raises(UnknownWindow, match="24h, 7d"):
        parse_window("1y")


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


async def test_each_turn_records_the_auth_profile_it_ran_under(
    store: InMemoryStore, tmp_path: Path
) -> None:
    active = ["work"]
    service = TaskService(
        store,
        ScriptedRuntime(lambda _text: complete),
        InMemoryWorkspaces(tmp_path),
        EventBus(),
        max_concurrent=1,
        approval_timeout_s=30.0,
        auth_profile=lambda: active[0],
    )
    await service.start()
    try:
        task = await service.submit("p", WorkspaceRequest.directory("/tmp"))
        await wait_state(service, task.id, TaskState.COMPLETED)
        active[0] = "personal"  # a switch between the turns
        await service.message(task.id, "again")
        await wait_state(service, task.id, TaskState.COMPLETED)
    finally:
        await service.stop()
    turns = await store.list_turns(task.id)
    assert [t.auth_profile for t in turns] == ["work", "personal"]
