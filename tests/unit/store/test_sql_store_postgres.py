"""What only the PostgreSQL store has: the schema the migrations make there, lock waits
reported as StoreBusy, and a URL whose password never shows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from codex_runner.domain.durable_event import NewEvent
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.store.errors import SchemaError, StoreBusy
from codex_runner.store.postgres_engines import database_url, safe_url
from codex_runner.store.sql import SqlStore
from codex_runner.store.tables import metadata

from ...support.postgres import PostgresServer, running_postgres

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def new_task() -> Task:
    return Task("t_0001", "p", WorkspaceRequest.directory("/w"), T0, T0)


async def test_the_migrations_make_exactly_tables_py_on_postgresql(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database(migrated=False)
    async with await SqlStore.open(url):
        pass
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


async def test_a_write_that_waits_for_a_lock_too_long_is_store_busy(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    async with await SqlStore.open(url, busy_timeout_s=0.3) as store:
        await store.create_task(new_task())
        with psycopg.connect(
            database_url(url).render_as_string(False).replace("+psycopg", "")
        ) as other:
            other.execute("SELECT 1 FROM event_counters WHERE task_id = 't_0001' FOR UPDATE")
            marker = NewEvent("codex.item.completed", T0, {})
            with pytest.raises(StoreBusy):
                await asyncio.wait_for(store.append_events("t_0001", [marker]), 10)
        # Nothing was written, and the store works again once the lock is gone.
        assert await store.append_events("t_0001", [marker]) == [2]


def test_a_store_url_shows_without_its_password() -> None:
    shown = safe_url("postgresql+psycopg://runner:s3cret-pw@db.internal:5432/runner")
    assert "s3cret-pw" not in shown and "runner@db.internal" not in shown
    assert shown.startswith("postgresql+psycopg://runner:***@db.internal")
    with pytest.raises(SchemaError) as caught:
        database_url("mysql://runner:s3cret-pw@db/runner")
    assert "s3cret-pw" not in str(caught.value)


async def test_the_store_outlives_a_database_restart_writing_each_event_once() -> None:
    """Every connection the store holds breaks when the server restarts; the next write
    and read reconnect (a write whose connection was found broken before it committed runs
    again; none is written twice)."""
    with running_postgres() as server:  # its own server: the others' stays up
        url = server.new_database()
        async with await SqlStore.open(url) as store:
            await store.create_task(new_task())
            marker = NewEvent("codex.item.completed", T0, {})
            assert await store.append_events("t_0001", [marker]) == [2]
            await asyncio.to_thread(server.restart)
            assert await store.append_events("t_0001", [marker, marker]) == [3, 4]
            events = await store.read_events("t_0001")
            assert [e.seq for e in events] == [1, 2, 3, 4]
