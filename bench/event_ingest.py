"""Event ingest: Codex events persisted per second under a synthetic firehose.

Three paths write the same events (a tool turn's mix: command started, command completed
with ~200 bytes of output, token usage, agent message) into a fresh SQLite file each:

- floor: plain ``sqlite3`` ``executemany`` of the same rows (serialized before the clock
  starts), one ``BEGIN IMMEDIATE``..``COMMIT`` per batch, same schema and PRAGMAs as the store;
- ``SqlStore.append_events``: batches of ``--batch`` events per call, T tasks appending
  concurrently (the store group-commits what arrives together);
- service path: ``ingest_turn_events`` (what the task service runs for each live turn) over
  a stub Turn that yields its events as fast as it can (control goes back to the loop every
  ``--burst`` events), publishing like the service does: read the batch back, append it to
  the per-task JSONL log and hand it to the event bus.

Each row writes ``--events`` events in all, split across its T tasks. The store's rows are
checked (count) after each run. A last line splits the Python cost per event: turning a
CodexEvent into a durable event (``durable_event.codex``, i.e. ``CodexEvent.to_dict``) and
serializing it to JSON.

``--postgres`` runs the same firehose on a throwaway PostgreSQL instead (Debian's binaries,
as the tests start it; a fresh database per row): the floor is raw psycopg ``executemany``
of the same rows (serialized before the clock starts) into the same ``events`` table, one
transaction per batch, run before and after the store's rows (the faster is the baseline),
against ``SqlStore.append_events`` with T tasks appending at once. Both start from events
made before the clock (the store's rows from durable events, whose JSON it writes itself),
so the ratio is the store's own cost over the driver's; the Python cost of making them is
the last line, as on SQLite.

Run: ``.venv/bin/python bench/event_ingest.py [--events N] [--tasks 1,10,50] [--batch B]
[--postgres]``. Targets: >= 20,000 events/s through the store on SQLite; on PostgreSQL
the slowest store row >= 0.5x the psycopg floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.postgres import running_postgres

from codex_runner.codex.runtime import DeltaListener, TurnInput, TurnResult
from codex_runner.domain import durable_event
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import CodexEvent, EventKind, Item, ItemType, TokenUsage, TurnStatus
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.service.event_bus import EventBus
from codex_runner.service.ingest import ingest_turn_events
from codex_runner.service.task_log import TaskLogFiles
from codex_runner.store.sql import SqlStore
from codex_runner.store.tables import to_micros
from verdicts import report

TARGET_EVENTS_PER_S = 20_000.0
TARGET_POSTGRES_RATIO = 0.5  # the store's slowest row against psycopg executemany
RUN_TIMEOUT_S = 120.0
OUTPUT = "x" * 180 + "\n"


def firehose(n: int) -> list[CodexEvent]:
    """``n`` events in the pattern of a tool turn."""
    out: list[CodexEvent] = []
    usage = TokenUsage(input_tokens=1200, cached_input_tokens=800, output_tokens=40)
    for i in range(n):
        item_id = f"call_{i // 4}"
        match i % 4:
            case 0:
                item = Item(item_id, ItemType.COMMAND_EXECUTION, command="echo x", cwd="/work")
                out.append(CodexEvent(EventKind.ITEM_STARTED, "th1", "tu1", item))
            case 1:
                item = Item(
                    item_id,
                    ItemType.COMMAND_EXECUTION,
                    command="echo x",
                    cwd="/work",
                    exit_code=0,
                    output=OUTPUT,
                    status="completed",
                )
                out.append(CodexEvent(EventKind.ITEM_COMPLETED, "th1", "tu1", item))
            case 2:
                out.append(CodexEvent(EventKind.TOKEN_USAGE, "th1", "tu1", usage=usage))
            case _:
                item = Item(f"msg_{i}", ItemType.AGENT_MESSAGE, text="Ran the command; all good.")
                out.append(CodexEvent(EventKind.ITEM_COMPLETED, "th1", "tu1", item))
    return out


class FirehoseTurn:
    """A Turn whose events are ready at once; yields to the loop every ``burst`` events."""

    def __init__(self, events: Sequence[CodexEvent], burst: int) -> None:
        self._events = events
        self._burst = burst
        self._done = False

    @property
    def thread_id(self) -> str:
        return "th1"

    @property
    def id(self) -> str | None:
        return "tu1"

    @property
    def done(self) -> bool:
        return self._done

    async def events(self) -> AsyncIterator[CodexEvent]:
        for i, event in enumerate(self._events):
            if i % self._burst == 0:
                await asyncio.sleep(0)
            yield event
        self._done = True

    def on_delta(self, listener: DeltaListener | None) -> None:
        pass  # a firehose of events only

    async def wait(self, timeout: float | None = None) -> TurnResult:
        return TurnResult("th1", "tu1", TurnStatus.COMPLETED, None, TokenUsage())

    async def steer(self, prompt: str | Sequence[TurnInput]) -> None:
        return None

    async def interrupt(self) -> TurnResult:
        return await self.wait()


@dataclass
class Row:
    path: str
    tasks: int
    events: int
    batch: str
    seconds: float


async def fresh_store(target: Path | str, tasks: int) -> tuple[SqlStore, list[str]]:
    """A store on ``target`` (a SQLite file or a PostgreSQL URL) with ``tasks`` tasks."""
    store = await SqlStore.open(target)
    ids = IdGenerator()
    now = datetime.now(UTC)
    task_ids: list[str] = []
    for i in range(tasks):
        task = Task(
            id=ids.task_id(),
            prompt=f"firehose {i}",
            workspace=WorkspaceRequest(cwd="/work"),
            created_at=now,
            updated_at=now,
        )
        await store.create_task(task)
        task_ids.append(task.id)
    return store, task_ids


COUNT_CODEX_EVENTS = "SELECT count(*) FROM events WHERE type LIKE 'codex.%'"


def count_codex_events(target: Path | str) -> int:
    if isinstance(target, str):
        with psycopg.connect(**postgres_params(target)) as pg:
            row = pg.execute(COUNT_CODEX_EVENTS).fetchone()
            assert row is not None
            return int(row[0])
    with sqlite3.connect(target) as conn:
        (n,) = conn.execute(COUNT_CODEX_EVENTS).fetchone()
    return int(n)


def postgres_params(url: str) -> dict[str, Any]:
    """psycopg's connection arguments for the store's URL (the same database and socket)."""
    parsed = make_url(url)
    params: dict[str, Any] = {"dbname": parsed.database, "user": parsed.username}
    host = parsed.query.get("host") or parsed.host
    if host:
        params["host"] = host
    return params


def event_rows(task_id: str, events: list[CodexEvent]) -> list[tuple[str, int, str, int, str]]:
    """The events table's rows for ``events`` (seq 1 is the task's ``task.created``)."""
    at = to_micros(datetime.now(UTC))
    return [
        (task_id, seq, durable_event.codex_event_type(e.kind), at, json.dumps(e.to_dict()))
        for seq, e in enumerate(events, 2)
    ]


async def run_floor(path: Path, events: list[CodexEvent], batch: int) -> Row:
    store, (task_id,) = await fresh_store(path, 1)
    await store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        sql = "INSERT INTO events (task_id, seq, type, at, data) VALUES (?, ?, ?, ?, ?)"
        rows = event_rows(task_id, events)
        started = time.perf_counter()
        for first in range(0, len(rows), batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows[first : first + batch])
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    assert count_codex_events(path) == len(events)
    return Row("floor: sqlite3 executemany", 1, len(events), str(batch), seconds)


async def run_postgres_floor(url: str, events: list[CodexEvent], batch: int) -> Row:
    store, (task_id,) = await fresh_store(url, 1)
    await store.close()
    # The data column is PostgreSQL's json: the text is cast as the server reads it.
    sql = "INSERT INTO events (task_id, seq, type, at, data) VALUES (%s, %s, %s, %s, %s::json)"
    rows = event_rows(task_id, events)
    with psycopg.connect(**postgres_params(url), autocommit=True) as conn:
        started = time.perf_counter()
        for first in range(0, len(rows), batch):
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(sql, rows[first : first + batch])
        seconds = time.perf_counter() - started
    assert count_codex_events(url) == len(events)
    return Row("floor: psycopg executemany", 1, len(events), str(batch), seconds)


async def run_append(
    target: Path | str,
    events: list[CodexEvent],
    tasks: int,
    batch: int,
    *,
    prepared: bool = False,
) -> Row:
    """``prepared``: the durable events are made before the clock starts, as the floor's
    rows are, so that only the store's own work is timed (it still serializes them)."""
    store, task_ids = await fresh_store(target, tasks)
    per_task = len(events) // tasks
    made_at = datetime.now(UTC)
    ready = [durable_event.codex(e, at=made_at) for e in events[:per_task]] if prepared else []
    try:

        async def one(task_id: str) -> None:
            mine = events[:per_task]
            for first in range(0, per_task, batch):
                if prepared:
                    new = ready[first : first + batch]
                else:
                    now = datetime.now(UTC)
                    new = [durable_event.codex(e, at=now) for e in mine[first : first + batch]]
                await store.append_events(task_id, new)

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(t) for t in task_ids)), RUN_TIMEOUT_S)
        seconds = time.perf_counter() - started
    finally:
        await store.close()
    total = per_task * tasks
    assert count_codex_events(target) == total
    return Row("SqlStore.append_events", tasks, total, str(batch), seconds)


async def run_ingest(path: Path, events: list[CodexEvent], tasks: int, burst: int) -> Row:
    store, task_ids = await fresh_store(path, tasks)
    per_task = len(events) // tasks
    bus = EventBus()
    sink = TaskLogFiles(path.parent / f"{path.stem}-logs")
    batches: list[int] = []

    async def publish(committed: Sequence[TaskEvent]) -> None:
        # What TaskService._publish_events does after each committed batch.
        batches.append(len(committed))
        sink.write(committed)
        bus.publish(committed)

    try:
        started = time.perf_counter()
        pumps = [
            ingest_turn_events(
                store,
                task_id,
                FirehoseTurn(events[:per_task], burst),
                clock=lambda: datetime.now(UTC),
                publish=publish,
            )
            for task_id in task_ids
        ]
        await asyncio.wait_for(asyncio.gather(*pumps), RUN_TIMEOUT_S)
        seconds = time.perf_counter() - started
    finally:
        await store.close()
    total = per_task * tasks
    assert count_codex_events(path) == total
    mean = sum(batches) / len(batches) if batches else 0
    return Row("ingest_turn_events", tasks, total, f"~{mean:.0f}", seconds)


def python_cost(events: list[CodexEvent]) -> tuple[float, float]:
    """Microseconds per event: durable_event.codex(), then json.dumps of its data."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    converted = [durable_event.codex(e, at=now) for e in events]
    middle = time.perf_counter()
    for new in converted:
        json.dumps(new.data)
    ended = time.perf_counter()
    n = len(events)
    return (middle - started) / n * 1e6, (ended - middle) / n * 1e6


def print_table(title: str, rows: list[Row], floor: float) -> None:
    load = os.getloadavg()[0]
    print(f"\nevent ingest, {title} ({os.cpu_count()} cores, load average {load:.1f})\n")
    print("| path                       | tasks | events | batch | seconds | events/s | vs floor |")
    print("|----------------------------|-------|--------|-------|---------|----------|----------|")
    for r in rows:
        rate = r.events / r.seconds
        print(
            f"| {r.path:<26} | {r.tasks:>5} | {r.events:>6} | {r.batch:>5} | {r.seconds:>7.2f} "
            f"| {rate:>8,.0f} | {rate / floor:>7.2f}x |"
        )


def print_python_cost(events: list[CodexEvent]) -> None:
    convert_us, dumps_us = python_cost(events[:10_000])
    print(
        f"\nper event, Python side: durable_event.codex() {convert_us:.1f} us, "
        f"json.dumps {dumps_us:.1f} us (one core's ceiling: {1e6 / (convert_us + dumps_us):,.0f}/s)"
    )


async def main(n_events: int, task_counts: list[int], batch: int, burst: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="codex-runner-ingest-"))
    events = firehose(n_events)
    rows: list[Row] = []
    try:
        counter = 0

        def db() -> Path:
            nonlocal counter
            counter += 1
            return root / f"run{counter}.sqlite"

        # Warm-up (imports, statement caches); not reported.
        await run_append(db(), events[:2000], 1, batch)
        await run_ingest(db(), events[:2000], 1, burst)
        rows.append(await run_floor(db(), events, batch))
        for tasks in task_counts:
            rows.append(await run_append(db(), events, tasks, batch))
        for tasks in task_counts:
            rows.append(await run_ingest(db(), events, tasks, burst))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_table("fresh SQLite file", rows, rows[0].events / rows[0].seconds)
    print_python_cost(events)
    worst = min(r.events / r.seconds for r in rows[1:])
    report(
        "event ingest",
        "slowest store path",
        f"{worst:,.0f} events/s",
        f">= {TARGET_EVENTS_PER_S:,.0f} events/s",
        worst >= TARGET_EVENTS_PER_S,
    )


async def main_postgres(n_events: int, task_counts: list[int], batch: int) -> None:
    events = firehose(n_events)
    floors: list[Row] = []
    stored: list[Row] = []
    with running_postgres() as server:
        # Warm-up (imports, the server's caches); not reported.
        await run_append(server.new_database(), events[:2000], 1, batch)
        await run_postgres_floor(server.new_database(), events[:2000], batch)
        # The floor before and after the store's rows: the machine's speed drifts, and the
        # faster of the two is the stricter baseline.
        floors.append(await run_postgres_floor(server.new_database(), events, batch))
        for tasks in task_counts:
            url = server.new_database()
            stored.append(await run_append(url, events, tasks, batch, prepared=True))
        floors.append(await run_postgres_floor(server.new_database(), events, batch))
    floor = max(r.events / r.seconds for r in floors)
    print_table("fresh PostgreSQL database", [floors[0], *stored, floors[1]], floor)
    print_python_cost(events)
    worst = min(r.events / r.seconds for r in stored)
    ratio = worst / floor
    report(
        "event ingest (PostgreSQL)",
        "slowest SqlStore.append_events row vs psycopg executemany",
        f"{worst:,.0f} vs {floor:,.0f} events/s ({ratio:.2f}x)",
        f">= {TARGET_POSTGRES_RATIO}x",
        ratio >= TARGET_POSTGRES_RATIO,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per row")
    parser.add_argument("--tasks", default="1,10,50", help="concurrent tasks, comma-separated")
    parser.add_argument("--batch", type=int, default=100, help="events per append_events call")
    parser.add_argument("--burst", type=int, default=100, help="stub turn yields every N events")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="on a throwaway PostgreSQL, against psycopg executemany (needs initdb)",
    )
    args = parser.parse_args()
    counts = [int(s) for s in args.tasks.split(",") if s.strip()]
    if args.postgres:
        asyncio.run(main_postgres(args.events, counts, args.batch))
    else:
        asyncio.run(main(args.events, counts, args.batch, args.burst))
