"""The turn recorder's memory bound: output is shed first, then the oldest events go."""

from __future__ import annotations

from codex_runner.codex.runtime import DROPPED_OUTPUT, TurnRecorder
from codex_runner.domain.events import CodexEvent, EventKind, Item, ItemType, TurnStatus


def _command(n: int) -> CodexEvent:
    item = Item(f"c{n}", ItemType.COMMAND_EXECUTION, command=f"echo {n}", output=f"out {n}")
    return CodexEvent(EventKind.ITEM_COMPLETED, "th", "tu", item=item, data={"n": n})


def _started(n: int) -> CodexEvent:
    return CodexEvent(EventKind.ITEM_STARTED, "th", "tu", data={"n": n})


async def _all(rec: TurnRecorder) -> list[CodexEvent]:
    return [e async for e in rec.events()]


async def test_past_the_cap_old_output_is_shed_one_per_event_and_structure_stays() -> None:
    rec = TurnRecorder("th", max_events=4)
    for n in range(6):
        rec.emit(_command(n))
    rec.finish(TurnStatus.COMPLETED)
    events = await _all(rec)
    assert len(events) == 7  # nothing dropped below twice the cap
    outputs = [e.item.output for e in events if e.item is not None]
    assert outputs == [DROPPED_OUTPUT, DROPPED_OUTPUT, "out 2", "out 3", "out 4", "out 5"]
    # Shedding keeps every other field of the event and its item.
    first = events[0]
    assert first.item is not None and first.item.command == "echo 0"
    assert first.data == {"n": 0} and first.turn_id == "tu"


async def test_past_twice_the_cap_the_oldest_events_go_and_memory_stays_bounded() -> None:
    rec = TurnRecorder("th", max_events=10)
    for n in range(1000):
        rec.emit(_command(n) if n % 2 else _started(n))
    rec.finish(TurnStatus.COMPLETED)
    events = await _all(rec)
    assert len(events) <= 2 * 10 + 1
    numbers = [e.data["n"] for e in events if e.data]
    assert numbers == list(range(1000 - len(numbers), 1000))  # the newest, in order
    assert events[-1].kind is EventKind.TURN_COMPLETED


async def test_a_reader_that_fell_behind_skips_dropped_events_without_repeating_any() -> None:
    rec = TurnRecorder("th", max_events=5)
    reader = rec.events()
    rec.emit(_started(0))
    assert (await anext(reader)).data == {"n": 0}
    for n in range(1, 50):
        rec.emit(_started(n))
    rec.finish(TurnStatus.COMPLETED)
    rest = [e async for e in reader]
    numbers = [e.data["n"] for e in rest if e.data]
    assert numbers == sorted(set(numbers)) and numbers[-1] == 49
    assert numbers[0] > 1  # the events dropped while it was away are skipped
    assert rest[-1].kind is EventKind.TURN_COMPLETED
