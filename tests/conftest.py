"""Fixtures every test package may use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support.postgres import PostgresServer, running_postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run (about a second to start); each test that
    uses it takes a fresh database with ``postgres.new_database()``."""
    with running_postgres() as server:
        yield server
