"""Fixtures of the store tests: one ``every_store``, opened in memory, on SQLite and on
PostgreSQL in turn, for the contracts of the store's parts (jobs, notifications, co-authors)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codex_runner.store import InMemoryStore, Store
from codex_runner.store.sql import SqlStore

from ...support.postgres import PostgresServer


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def every_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "memory":
        opened = InMemoryStore()
    elif request.param == "sqlite":
        opened = await SqlStore.open(tmp_path / "runner.sqlite")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        opened = await SqlStore.open(server.new_database())
    yield opened
    await opened.close()
