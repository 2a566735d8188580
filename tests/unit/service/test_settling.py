from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.service.settling import SettleWatch

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(seq: int, type: str, **data: Any) -> TaskEvent:
    return TaskEvent("t1", seq, type, T0, data)


class Store:
    """Answers settled_at as told, and remembers which events it was asked about."""

    def __init__(self, settled: set[int]) -> None:
        self.settled = settled
        self.asked: list[int] = []

    async def settled_at(self, task_id: str, seq: int) -> bool:
        assert task_id == "t1"
        self.asked.append(seq)
        return seq in self.settled


async def test_the_store_is_asked_only_after_events_that_may_have_settled_the_task() -> None:
    store = Store(settled={6})
    watch = SettleWatch(store.settled_at, "t1")
    feed = [
        event(1, "slack.delivered"),  # after a cursor: may be past the settling event
        event(2, "task.state_changed", to="running"),
        event(3, "codex.item_completed"),
        event(4, "task.state_changed", to="completed"),
        event(5, "task.state_changed", to="queued"),  # a follow-up message re-queued it
        event(6, "task.state_changed", to="failed"),
    ]
    assert [await watch.settled_after(e) for e in feed] == [False] * 5 + [True]
    assert store.asked == [1, 4, 6]


async def test_events_recorded_after_the_task_settled_are_asked_about_too() -> None:
    store = Store(settled={8})
    watch = SettleWatch(store.settled_at, "t1")
    assert not await watch.settled_after(event(7, "task.state_changed", to="cancelled"))
    assert await watch.settled_after(event(8, "slack.delivered"))
    assert await watch.settled_at(8) and not await watch.settled_at(7)
