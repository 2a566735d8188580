"""The SQLite engines of the store: one for the writer thread, one for the reader threads.

- WAL journal: readers never block the writer and the writer never blocks readers.
- ``synchronous=NORMAL``: with WAL a commit survives a crash of the process and the
  database stays consistent through power loss (the newest commits may be lost then).
- Every write transaction starts with ``BEGIN IMMEDIATE`` (the SQLAlchemy recipe: the driver's
  own BEGIN is switched off with ``isolation_level=None`` and a ``begin`` event emits ours), so
  the write lock is taken up front and two writers never deadlock upgrading read locks into
  "database is locked"; ``busy_timeout`` covers writers in other processes.

Nothing beyond these PRAGMAs and ``BEGIN IMMEDIATE`` is SQLite-specific in the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry


def open_engines(file: Path, *, busy_timeout_s: float, readers: int) -> tuple[Engine, Engine]:
    """The (writer, reader) engines on the database ``file``; nothing is connected yet."""
    url = URL.create("sqlite", database=str(file))
    # Connections move between the threads of a pool (one user at a time).
    connect_args = {"check_same_thread": False}
    busy_ms = int(busy_timeout_s * 1000)
    writer = create_engine(
        url,
        connect_args=connect_args,
        pool_size=1,
        max_overflow=0,
        pool_timeout=busy_timeout_s,
        json_serializer=_dump_json,
        json_deserializer=orjson.loads,
    )
    _configure_sqlite(writer, busy_ms=busy_ms, begin="BEGIN IMMEDIATE")
    reader = create_engine(
        url,
        connect_args=connect_args,
        pool_size=readers,
        max_overflow=0,
        pool_reset_on_return=None,  # reads never open a transaction
        json_serializer=_dump_json,
        json_deserializer=orjson.loads,
    )
    _configure_sqlite(reader, busy_ms=busy_ms, begin=None)
    return writer, reader


def _dump_json(value: Any) -> str:
    # orjson: event payloads are encoded once per event, on the ingest path's hottest line.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _configure_sqlite(engine: Engine, *, busy_ms: int, begin: str | None) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module, which would emit a deferred
        # BEGIN of its own, and only before DML.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    if begin is not None:

        @event.listens_for(engine, "begin")
        def on_begin(connection: Connection) -> None:
            connection.exec_driver_sql(begin)
