from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.durable_event import NewEvent, TaskEvent
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.service.delta_channel import MAX_PENDING_ITEMS
from codex_runner.service.event_bus import EventBus, Lagged, follow
from codex_runner.store.memory import InMemoryStore

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _event(task_id: str, seq: int) -> TaskEvent:
    return TaskEvent(task_id, seq, "task.message_received", NOW, {"text": str(seq)})


async def test_subscriber_gets_only_its_task() -> None:
    bus = EventBus()
    sub_a = bus.subscribe("a")
    sub_all = bus.subscribe(None)
    bus.publish([_event("a", 1), _event("b", 1), _event("a", 2)])
    got = [await anext(sub_a), await anext(sub_a)]
    assert [(e.task_id, e.seq) for e in got] == [("a", 1), ("a", 2)]
    got_all = [await anext(sub_all) for _ in range(3)]
    assert [(e.task_id, e.seq) for e in got_all] == [("a", 1), ("b", 1), ("a", 2)]
    sub_a.close()
    sub_all.close()
    assert bus.subscriber_count() == 0
    with pytest.raises(StopAsyncIteration):
        await anext(sub_a)


async def test_overflow_ends_with_lagged_not_silent_drop() -> None:
    bus = EventBus(queue_size=2)
    sub = bus.subscribe("a")
    bus.publish([_event("a", i) for i in range(1, 5)])
    assert (await anext(sub)).seq == 1
    assert (await anext(sub)).seq == 2
    with pytest.raises(Lagged):
        await anext(sub)
    assert bus.subscriber_count() == 0


async def _append(store: InMemoryStore, bus: EventBus, task_id: str, n: int) -> None:
    new = [NewEvent("task.message_received", NOW, {"text": str(i)}) for i in range(n)]
    seqs = await store.append_events(task_id, new)
    bus.publish(await store.read_events(task_id, after_seq=seqs[0] - 1, limit=len(seqs)))


async def test_follow_catch_up_then_live_without_gap_or_duplicate() -> None:
    store = InMemoryStore()
    bus = EventBus(queue_size=3)
    task = Task("t1", "do it", WorkspaceRequest.directory("/tmp"), NOW, NOW)
    await store.create_task(task)
    await _append(store, bus, "t1", 4)  # seq 2..5 before anyone follows

    seen: list[int] = []
    done = asyncio.Event()

    async def consume() -> None:
        async for event in follow(store, bus, "t1", after_seq=1):
            seen.append(event.seq)
            if event.seq == 30:
                done.set()
                return

    consumer = asyncio.create_task(consume())
    for _ in range(5):  # live appends interleaved with the catch-up, some bursts overflow
        await _append(store, bus, "t1", 5)
    async with asyncio.timeout(5):
        await done.wait()
    await consumer
    assert seen == list(range(2, 31))
    assert bus.subscriber_count() == 0


def _delta(item: str, text: str) -> Delta:
    return Delta(item, DeltaKind.AGENT_MESSAGE, text)


async def test_deltas_reach_only_their_task_coalesced_per_item() -> None:
    bus = EventBus()
    sub = bus.subscribe_deltas("t1")
    for piece in ("a", "b", "c"):
        bus.publish_delta("t1", _delta("i1", piece))
    bus.publish_delta("t1", _delta("i2", "x"))
    bus.publish_delta("t2", _delta("i1", "other task"))
    await asyncio.wait_for(sub.wait_ready(), 1)
    assert sub.take() == [_delta("i1", "abc"), _delta("i2", "x")]
    assert sub.take() == []
    sub.close()
    assert bus.subscriber_count() == 0
    bus.publish_delta("t1", _delta("i1", "late"))
    assert sub.take() == []


async def test_a_delta_subscriber_that_holds_too_much_is_dropped_not_blocking() -> None:
    bus = EventBus()
    sub = bus.subscribe_deltas("t1")
    for n in range(MAX_PENDING_ITEMS + 1):
        bus.publish_delta("t1", _delta(f"i{n}", "x"))
    assert sub.dropped
    assert bus.subscriber_count() == 0
    await asyncio.wait_for(sub.wait_ready(), 1)
    assert sub.take() == []
    bus.publish_delta("t1", _delta("i0", "more"))  # no longer subscribed: nothing held
    assert sub.take() == []


async def test_follow_reads_events_another_host_wrote_when_the_bus_is_quiet() -> None:
    store = InMemoryStore()
    bus = EventBus()
    await store.create_task(Task("t1", "do it", WorkspaceRequest.directory("/tmp"), NOW, NOW))
    seen: list[int] = []

    async def consume() -> None:
        async for event in follow(store, bus, "t1", idle_read_s=0.01):
            seen.append(event.seq)
            if event.seq == 4:
                return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.02)
    # Written by another host: committed to the shared store, never published on this bus.
    await store.append_events("t1", [NewEvent("codex.item.completed", NOW, {}) for _ in range(3)])
    async with asyncio.timeout(5):
        await consumer
    assert seen == [1, 2, 3, 4]
