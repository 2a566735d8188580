"""The queue starts higher priority first, then oldest, within the cap and when ready."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from codex_runner.domain.scheduling import (
    QUEUE_ORDER,
    busy_by_graph,
    free_slots,
    is_ready,
    pick_next,
    queue_order_key,
)
from codex_runner.domain.task import Task, TaskState, WorkspaceRequest

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def task(
    n: int,
    *,
    priority: int = 0,
    age_s: int = 0,
    state: TaskState = TaskState.QUEUED,
    deps: tuple[str, ...] = (),
) -> Task:
    created = T0 - timedelta(seconds=age_s)
    return Task(
        id=f"t_{n:04d}",
        prompt="p",
        workspace=WorkspaceRequest.directory("/w"),
        created_at=created,
        updated_at=created,
        priority=priority,
        state=state,
        depends_on=deps,
    )


def ids(tasks: list[Task]) -> list[str]:
    return [t.id for t in tasks]


def test_higher_priority_first_then_oldest_then_id() -> None:
    queue = [task(1), task(2, priority=5), task(3, age_s=10), task(4, priority=5, age_s=1), task(0)]
    picked = pick_next(queue, active=0, max_concurrent=10, states={})
    assert ids(picked) == ["t_0004", "t_0002", "t_0003", "t_0000", "t_0001"]


def test_the_concurrency_cap_counts_active_tasks() -> None:
    queue = [task(i) for i in range(5)]
    assert ids(pick_next(queue, active=1, max_concurrent=3, states={})) == ["t_0000", "t_0001"]
    assert pick_next(queue, active=3, max_concurrent=3, states={}) == []
    assert pick_next(queue, active=5, max_concurrent=3, states={}) == []
    assert free_slots(5, 3) == 0


def test_a_task_waits_until_every_prerequisite_completed() -> None:
    waiting = task(1, priority=9, deps=("t_a", "t_b"))
    other = task(2)
    states = {"t_a": TaskState.COMPLETED, "t_b": TaskState.RUNNING}
    assert ids(pick_next([waiting, other], active=0, max_concurrent=1, states=states)) == ["t_0002"]
    states["t_b"] = TaskState.COMPLETED
    assert ids(pick_next([waiting, other], active=0, max_concurrent=1, states=states)) == ["t_0001"]
    assert not is_ready(task(3, deps=("t_unknown",)), states)


def test_only_queued_tasks_are_picked() -> None:
    queue = [task(1, state=TaskState.RUNNING), task(2, state=TaskState.INTERRUPTED), task(3)]
    assert ids(pick_next(queue, active=0, max_concurrent=5, states={})) == ["t_0003"]


tasks_strategy = st.lists(
    st.builds(
        task,
        st.integers(0, 9999),
        priority=st.integers(-3, 3),
        age_s=st.integers(0, 5),
        state=st.sampled_from(list(TaskState)),
    ),
    unique_by=lambda t: t.id,
    max_size=30,
)


@given(tasks_strategy, st.integers(0, 8), st.integers(0, 8))
def test_picks_are_the_front_of_the_ordered_queue(tasks: list[Task], active: int, cap: int) -> None:
    picked = pick_next(tasks, active=active, max_concurrent=cap, states={})
    queued = sorted((t for t in tasks if t.state is TaskState.QUEUED), key=queue_order_key)
    assert picked == queued[: max(0, cap - active)]


@given(tasks_strategy)
def test_the_sort_key_follows_the_stated_queue_order(tasks: list[Task]) -> None:
    # Stable sorts from the last field to the first give the order QUEUE_ORDER states.
    by_fields = list(tasks)
    for field in reversed(QUEUE_ORDER):
        by_fields.sort(key=lambda t: getattr(t, field.name), reverse=field.descending)
    assert by_fields == sorted(tasks, key=queue_order_key)


def in_graph(t: Task, graph_id: str) -> Task:
    return replace(t, graph_id=graph_id)


def test_a_full_graph_waits_in_place_while_the_queue_goes_on_past_it() -> None:
    first, second, third = (in_graph(task(n, age_s=10 - n), "g_1") for n in range(3))
    other = task(9)
    queue = [first, second, third, other]
    picked = pick_next(queue, active=0, max_concurrent=10, states={}, graph_limits={"g_1": 2})
    assert picked == [first, second, other]
    busy = {"g_1": 1}
    picked = pick_next(
        queue, active=0, max_concurrent=10, states={}, graph_limits={"g_1": 2}, busy=busy
    )
    assert picked == [first, other]
    full = pick_next(
        queue, active=0, max_concurrent=10, states={}, graph_limits={"g_1": 1}, busy=busy
    )
    assert full == [other]


def test_busy_counts_running_and_waiting_tasks_per_graph() -> None:
    tasks = [
        in_graph(task(1, state=TaskState.RUNNING), "g_1"),
        in_graph(task(2, state=TaskState.AWAITING_APPROVAL), "g_1"),
        in_graph(task(3, state=TaskState.INTERRUPTED), "g_1"),
        in_graph(task(4, state=TaskState.RUNNING), "g_2"),
        task(5, state=TaskState.RUNNING),
    ]
    assert busy_by_graph(tasks) == {"g_1": 2, "g_2": 1}
