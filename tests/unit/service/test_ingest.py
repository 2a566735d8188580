from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from codex_runner.codex.runtime import DeltaListener, TurnRecorder
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import CodexEvent, EventKind, Item, ItemType, TurnStatus
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.service.ingest import ingest_turn_events
from codex_runner.store.memory import InMemoryStore

NOW = datetime(2025, 1, 1, tzinfo=UTC)


class _RecordedTurn:
    """Just enough of a Turn for ingest: its recorder's events and delta listener."""

    def __init__(self, recorder: TurnRecorder) -> None:
        self.recorder = recorder

    def events(self) -> AsyncIterator[CodexEvent]:
        return self.recorder.events()

    def on_delta(self, listener: DeltaListener | None) -> None:
        self.recorder.delta_listener = listener


async def test_deltas_go_live_to_publish_delta_and_never_to_the_store() -> None:
    store = InMemoryStore()
    task = Task("t1", "prompt", WorkspaceRequest.directory("/tmp"), NOW, NOW)
    await store.create_task(task)
    recorder = TurnRecorder("th")
    published: list[TaskEvent] = []
    live: list[tuple[str, Delta]] = []

    async def publish(events: Sequence[TaskEvent]) -> None:
        published.extend(events)

    ingest = asyncio.create_task(
        ingest_turn_events(
            store,
            task.id,
            _RecordedTurn(recorder),  # type: ignore[arg-type]
            clock=lambda: NOW,
            publish=publish,
            publish_delta=lambda task_id, delta: live.append((task_id, delta)),
        )
    )
    recorder.emit(CodexEvent(EventKind.TURN_STARTED, "th"))
    await asyncio.sleep(0)  # ingest subscribes to the turn's deltas once it runs
    pieces = [Delta("m1", DeltaKind.AGENT_MESSAGE, p) for p in ("Hel", "lo")]
    for piece in pieces:
        recorder.emit_delta(piece)
    item = Item(id="m1", type=ItemType.AGENT_MESSAGE, text="Hello")
    recorder.emit(CodexEvent(EventKind.ITEM_COMPLETED, "th", item=item))
    recorder.finish(TurnStatus.COMPLETED)
    await asyncio.wait_for(ingest, 5)

    assert live == [("t1", p) for p in pieces]
    stored = await store.read_events(task.id)
    assert "codex.item.completed" in [e.type for e in stored]
    assert not [e for e in stored if "delta" in e.type]
    assert recorder.delta_listener is None  # ingest stops listening when the turn ends
