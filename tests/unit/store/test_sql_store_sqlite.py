"""What only the SQL store has: migrations, SQLite settings, locking across connections."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event

from codex_runner.domain.durable_event import NewEvent
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.store import migrations, rows, tables
from codex_runner.store.errors import SchemaError, StoreBusy
from codex_runner.store.sql import DEFAULT_READERS, SqlStore
from codex_runner.store.tables import metadata

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def new_task(n: int = 1) -> Task:
    return Task(
        id=f"t_{n:04d}",
        prompt="p",
        workspace=WorkspaceRequest.directory("/w"),
        created_at=T0,
        updated_at=T0,
    )


def marker(value: str) -> NewEvent:
    return NewEvent("codex.warning", T0, {"marker": value})


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "runner.sqlite"  # the directory does not exist yet


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqlStore]:
    async with await SqlStore.open(db_path) as opened:
        yield opened


async def test_open_creates_the_directory_and_refuses_memory(db_path: Path) -> None:
    async with await SqlStore.open(db_path):
        assert await asyncio.to_thread(db_path.exists)
    with pytest.raises(ValueError, match="InMemoryStore"):
        await SqlStore.open(":memory:")


async def test_the_migrated_schema_is_exactly_tables_py(store: SqlStore, db_path: Path) -> None:
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        # Autogenerate does not compare expression indexes; check the queue index by hand.
        sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'ix_tasks_queue'"
        ).scalar()
    engine.dispose()
    assert sql == "CREATE INDEX ix_tasks_queue ON tasks (state, priority DESC, created_at, id)"


def test_schema_revision_is_the_head_and_migrations_ship_in_the_package() -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations.MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == migrations.SCHEMA_REVISION
    folder = migrations.MIGRATIONS_DIR
    # Packages (with __init__.py) so that setuptools puts the .py files in the wheel.
    for name in ("__init__.py", "env.py", "versions/__init__.py", "versions/0001_initial.py"):
        assert (folder / name).is_file(), name


async def test_reopening_a_current_database_does_not_run_alembic(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await SqlStore.open(db_path) as first:
        await first.create_task(new_task())

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("alembic ran on a database that is already current")

    monkeypatch.setattr("alembic.command.upgrade", refuse)
    async with await SqlStore.open(db_path) as second:
        assert await second.get_task("t_0001") is not None


async def test_a_database_from_a_newer_runner_is_refused_with_a_clear_error(
    db_path: Path,
) -> None:
    async with await SqlStore.open(db_path):
        pass
    with sqlite3.connect(db_path) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    raw.close()
    with pytest.raises(SchemaError, match="newer codex-runner"):
        await SqlStore.open(db_path)


async def test_connections_use_wal_normal_sync_foreign_keys_and_a_busy_timeout(
    store: SqlStore,
) -> None:
    # Implementation detail on purpose: these PRAGMAs are the durability contract.
    expected = {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30_000}

    def pragmas(conn: Any) -> dict[str, Any]:
        return {n: conn.exec_driver_sql(f"PRAGMA {n}").scalar() for n in expected}

    # Through the store's own connections: every one is open from the start.
    writer = store._writes.connections
    assert await store._writes.run_in_thread(lambda: pragmas(writer.get())) == expected
    assert await store._reads.read(pragmas) == expected  # synchronous 1 is NORMAL


async def test_every_store_connection_is_open_from_the_start(store: SqlStore) -> None:
    # A connection opened later fails once the file is deleted (a home removed under the
    # daemon); the open ones keep working until the restart.
    assert len(store._writes.connections._all) == 1
    assert len(store._reads.connections._all) == DEFAULT_READERS


async def test_every_write_transaction_begins_immediate(store: SqlStore) -> None:
    statements: list[str] = []

    @event.listens_for(store._writes.connections.engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    await store.create_task(new_task())
    await store.append_events("t_0001", [marker("x")])
    assert statements.count("BEGIN IMMEDIATE") == 2
    assert not [s for s in statements if s.strip().upper() in ("BEGIN", "BEGIN DEFERRED")]


async def test_a_writer_in_another_process_makes_us_wait_not_fail(
    store: SqlStore, db_path: Path
) -> None:
    await store.create_task(new_task())
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # hold the write lock, like another runner would
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, other.execute, "COMMIT")
    try:
        assert await asyncio.wait_for(store.append_events("t_0001", [marker("a")]), 10) == [2]
    finally:
        other.close()


async def test_two_stores_on_one_file_keep_seqs_gapless(store: SqlStore, db_path: Path) -> None:
    await store.create_task(new_task())
    async with await SqlStore.open(db_path) as second:
        calls = [
            (store if i % 2 else second).append_events("t_0001", [marker(str(i))] * 3)
            for i in range(40)
        ]
        await asyncio.gather(*calls)
    seqs = [e.seq for e in await store.read_events("t_0001", limit=1000)]
    assert seqs == list(range(1, 1 + 1 + 40 * 3))


async def test_a_cancelled_write_is_all_or_nothing(store: SqlStore) -> None:
    await store.create_task(new_task())
    calls = [
        asyncio.ensure_future(store.append_events("t_0001", [marker(str(i))] * 5))
        for i in range(60)
    ]
    await asyncio.sleep(0)  # let them queue
    for call in calls[::3]:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    await store.append_events("t_0001", [marker("after")])  # the store still works
    stored = await store.read_events("t_0001", limit=1000)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    counts: dict[str, int] = {}
    for e in stored[1:]:
        counts[e.data["marker"]] = counts.get(e.data["marker"], 0) + 1
    assert all(n == 5 for m, n in counts.items() if m != "after")
    for i, call in enumerate(calls):
        if not call.cancelled():
            assert counts.get(str(i)) == 5


def test_task_rows_are_unpacked_in_the_table_column_order() -> None:
    assert tuple(c.name for c in tables.tasks.c) == rows.TASK_COLUMNS


async def test_a_broken_connection_is_replaced_without_waiting_for_its_pool_slot(
    store: SqlStore,
) -> None:
    await store.create_task(new_task(1))
    await store.get_task("t_0001")
    # A database error that breaks a connection leaves it invalidated; the writer's pool
    # holds one connection, so the broken one must be given back before a new one is made.
    for kept in (store._writes.connections, store._reads.connections):
        for conn in list(kept._all):
            conn.invalidate()
    await asyncio.wait_for(store.create_task(new_task(2)), timeout=10)
    found = await asyncio.wait_for(store.get_task("t_0002"), timeout=10)
    assert found is not None and found.id == "t_0002"


async def test_a_lock_held_elsewhere_past_the_busy_timeout_is_store_busy(db_path: Path) -> None:
    async with await SqlStore.open(db_path, busy_timeout_s=0.1) as store:
        await store.create_task(new_task())
        other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN EXCLUSIVE")  # another process holding the database
        try:
            with pytest.raises(StoreBusy, match="the store is busy") as caught:
                await asyncio.wait_for(store.append_events("t_0001", [marker("a")]), 10)
            assert caught.value.retry_after_s > 0
            # Several writes committed together get the same answer, each on its own.
            batch = [store.append_events("t_0001", [marker(str(i))]) for i in range(3)]
            outcomes = await asyncio.wait_for(asyncio.gather(*batch, return_exceptions=True), 10)
            assert all(isinstance(o, StoreBusy) for o in outcomes)
        finally:
            other.execute("ROLLBACK")
            other.close()
        # Nothing was written, and the store works again once the lock is gone.
        assert await asyncio.wait_for(store.append_events("t_0001", [marker("b")]), 10) == [2]


async def test_tasks_from_schema_0002_keep_working_after_the_upgrade(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    engine = create_engine(f"sqlite:///{db_path}")
    config = Config()
    config.set_main_option("script_location", str(migrations.MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        row = rows.task_to_row(new_task())
        added_later = ("idempotency_fingerprint", "workspace_collected_at")
        added_later += ("session_options", "purpose", "meta", "next_turn", "result_json")
        added_later += ("host_id", "lease")
        for added in added_later:
            row.pop(added)
        conn.execute(tables.tasks.insert().values(**row))
    engine.dispose()
    async with await SqlStore.open(db_path) as store:
        found = await store.get_task("t_0001")
    assert found is not None
    assert found.idempotency_fingerprint is None and found.workspace_collected_at is None
    assert found.session.to_json() == {} and found.metadata == {} and found.purpose is None
