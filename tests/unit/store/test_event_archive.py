"""The event archive, against every store (memory, SQLite, PostgreSQL): events of tasks
finished long ago move into a compressed archive and read back exactly as they were."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codex_runner.domain.durable_event import EventType, NewEvent, TaskEvent
from codex_runner.domain.task import Task, TaskState, WorkspaceRequest
from codex_runner.store import InMemoryStore, Store, sql_event_archive
from codex_runner.store.event_archive_codec import ArchiveTotals, DecodedArchives, decode, encode
from codex_runner.store.sql import SqlStore
from codex_runner.store.tables import events as events_table

from ...support.postgres import PostgresServer

S = TaskState
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(days=30)  # every task below finished before it
NOW = LATER + timedelta(days=1)


class Stores:
    """Opens the store under test again and again (the SQL ones keep their data)."""

    def __init__(self, target: str | Path | None) -> None:
        self.target = target
        self.opened: list[Store] = []

    async def open(self) -> Store:
        store: Store = InMemoryStore() if self.target is None else await SqlStore.open(self.target)
        self.opened.append(store)
        return store


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    target: str | Path | None = None
    if request.param == "sqlite":
        target = tmp_path / "runner.sqlite"
    elif request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        target = server.new_database()
    opened = Stores(target)
    yield opened
    for store in opened.opened:
        await store.close()


@pytest.fixture
async def store(stores: Stores) -> Store:
    return await stores.open()


_numbers = itertools.count(1)


def event(n: int, type_: str = "codex.item.completed", **data: Any) -> NewEvent:
    at = T0 + timedelta(seconds=n, microseconds=n)
    return NewEvent(type_, at, {"n": n, "nested": {"list": [n, "x", None]}, **data})


async def finished_task(
    store: Store,
    *,
    events: int = 5,
    state: TaskState = S.COMPLETED,
    finished_at: datetime = T0 + timedelta(days=1),
) -> Task:
    """A task with ``events`` events after task.created, then put in ``state``."""
    task = Task(f"t_{next(_numbers):04d}", "fix it", WorkspaceRequest.directory("/w"), T0, T0)
    await store.create_task(task)
    await store.append_events(task.id, [event(i) for i in range(events)])
    done = replace(task, state=state, finished_at=finished_at if state.is_terminal else None)
    await store.update_task(done, expected_state=S.QUEUED)
    return done


async def everything(store: Store, task_id: str) -> list[TaskEvent]:
    return await store.read_events(task_id, limit=100_000)


async def test_archived_events_read_back_exactly_as_they_were_written(store: Store) -> None:
    task = await finished_task(store, events=30)
    before = await everything(store, task.id)

    done = await store.archive_events(task.id, finished_before=LATER, now=NOW)

    assert done is not None and (done.through_seq, done.moved) == (31, 31) and done.size > 0
    assert await everything(store, task.id) == before
    assert await store.last_seq(task.id) == 31
    # Pages inside the archive, across its end, and past everything.
    assert await store.read_events(task.id, after_seq=3, limit=4) == before[3:7]
    assert await store.read_events(task.id, after_seq=29, limit=10) == before[29:]
    assert await store.read_events(task.id, after_seq=31) == []
    assert await store.read_events(task.id, limit=0) == []
    assert await store.event_archive_totals() == ArchiveTotals(1, 31, done.size)


async def test_only_tasks_finished_before_the_cutoff_are_due_longest_finished_first(
    store: Store,
) -> None:
    late = await finished_task(store, finished_at=T0 + timedelta(days=2))
    early = await finished_task(store, state=S.FAILED, finished_at=T0 + timedelta(days=1))
    await finished_task(store, finished_at=LATER + timedelta(seconds=1))  # too recent
    running = await finished_task(store, state=S.RUNNING)
    cancelled = await finished_task(store, state=S.CANCELLED)

    due = await store.tasks_to_archive(finished_before=LATER, limit=10)

    assert due == [early.id, cancelled.id, late.id] or due == [early.id, late.id, cancelled.id]
    assert await store.tasks_to_archive(finished_before=LATER, limit=1) == [early.id]
    assert await store.archive_events(running.id, finished_before=LATER, now=NOW) is None
    assert await store.archive_events("t_missing", finished_before=LATER, now=NOW) is None
    assert await store.event_archive_totals() == ArchiveTotals()


async def test_archiving_again_is_a_no_op_until_a_follow_up_adds_events(store: Store) -> None:
    task = await finished_task(store, events=3)
    assert await store.archive_events(task.id, finished_before=LATER, now=NOW) is not None
    assert await store.archive_events(task.id, finished_before=LATER, now=NOW) is None
    assert await store.tasks_to_archive(finished_before=LATER, limit=10) == []

    # A follow-up: the task runs again, its new events go on from seq 5.
    again = replace(task, state=S.RUNNING, finished_at=None)
    await store.update_task(again, expected_state=S.COMPLETED)
    assert await store.append_events(task.id, [event(10), event(11)]) == [5, 6]
    assert [e.seq for e in await everything(store, task.id)] == [1, 2, 3, 4, 5, 6]
    assert (
        await store.read_events(task.id, after_seq=2, limit=3)
        == (await everything(store, task.id))[2:5]
    )
    finished = replace(again, state=S.COMPLETED, finished_at=T0 + timedelta(days=3))
    await store.update_task(finished, expected_state=S.RUNNING)
    before = await everything(store, task.id)

    assert await store.tasks_to_archive(finished_before=LATER, limit=10) == [task.id]
    merged = await store.archive_events(task.id, finished_before=LATER, now=NOW)

    assert merged is not None and (merged.through_seq, merged.moved) == (6, 2)
    assert await everything(store, task.id) == before
    assert (await store.event_archive_totals()).events == 6


async def test_a_graph_parents_stream_reads_the_same_once_archived(store: Store) -> None:
    task = await finished_task(store, events=2)
    at = T0 + timedelta(hours=1)
    stream = [
        NewEvent(EventType.GRAPH_CHILD_STARTED, at, {"child": "a"}),
        NewEvent(EventType.GRAPH_CHILD_COMPLETED, at, {"child": "a"}),
    ]
    await store.append_events(task.id, stream)
    before = await store.read_graph_events(task.id)
    assert len(before) == 2

    await store.archive_events(task.id, finished_before=LATER, now=NOW)
    await store.append_events(task.id, [NewEvent(EventType.GRAPH_COMPLETED, at, {})])

    after = await store.read_graph_events(task.id)
    assert after[:2] == before and after[2].type == EventType.GRAPH_COMPLETED
    assert await store.read_graph_events(task.id, skip=1, limit=1) == before[1:]


async def test_archived_events_survive_a_reopen(stores: Stores) -> None:
    if stores.target is None:
        pytest.skip("the in-memory store does not outlive itself")
    store = await stores.open()
    task = await finished_task(store, events=4)
    before = await everything(store, task.id)
    await store.archive_events(task.id, finished_before=LATER, now=NOW)
    await store.close()

    reopened = await stores.open()

    assert await everything(reopened, task.id) == before


async def test_a_crash_between_writing_the_archive_and_deleting_the_rows_loses_nothing(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    if stores.target is None:
        pytest.skip("the SQL stores' transaction is what is tested")
    store = await stores.open()
    task = await finished_task(store, events=4)
    before = await everything(store, task.id)
    real_delete = sql_event_archive.delete

    def crash_at_the_rows(table: Any) -> Any:
        if table is events_table:
            raise RuntimeError("crashed after the archive was written")
        return real_delete(table)

    monkeypatch.setattr(sql_event_archive, "delete", crash_at_the_rows)
    with pytest.raises(RuntimeError, match="crashed"):
        await store.archive_events(task.id, finished_before=LATER, now=NOW)
    monkeypatch.undo()

    # The archive went with the transaction; the rows are there, and archiving again works.
    assert await store.event_archive_totals() == ArchiveTotals()
    assert await everything(store, task.id) == before
    assert await store.tasks_to_archive(finished_before=LATER, limit=10) == [task.id]
    assert await store.archive_events(task.id, finished_before=LATER, now=NOW) is not None
    assert await everything(store, task.id) == before


def test_the_archive_is_gzipped_json_lines_that_decode_to_the_same_events() -> None:
    import gzip
    import json

    events = [TaskEvent("t_1", n, "x", T0 + timedelta(microseconds=n), {"n": n}) for n in (1, 2)]
    archive = encode(events)
    lines = gzip.decompress(archive).decode().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]
    assert decode("t_1", archive) == events
    assert encode(events) == archive  # the same events make the same bytes


def test_decoded_archives_are_kept_within_their_count_and_size() -> None:
    events = [TaskEvent("a", n, "x", T0, {"n": n}) for n in range(1, 11)]
    archive = encode(events)
    loads: list[str] = []

    def load(name: str) -> Callable[[], bytes]:
        return lambda: loads.append(name) or archive

    cache = DecodedArchives(size=2, chars=10_000)
    assert cache.page("a", 10, load("a"), after_seq=2, limit=3) == events[2:5]
    cache.page("a", 10, load("a"), after_seq=5, limit=3)
    cache.page("b", 10, load("b"), after_seq=0, limit=1)
    cache.page("c", 10, load("c"), after_seq=0, limit=1)  # "a" is the oldest: dropped
    cache.page("a", 10, load("a"), after_seq=0, limit=1)
    assert loads == ["a", "b", "c", "a"]

    tiny = DecodedArchives(size=2, chars=10)  # no archive fits: each read loads it
    tiny.page("a", 10, load("a"), after_seq=0, limit=1)
    tiny.page("a", 10, load("a"), after_seq=0, limit=1)
    assert loads[-2:] == ["a", "a"]
