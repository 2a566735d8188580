"""The PostgreSQL engines of the store (psycopg 3 under SQLAlchemy): the twin of
``sqlite_engines`` for a database several hosts share.

- The writer engine runs each write transaction at READ COMMITTED: every write the store
  makes is a compare-and-set (``UPDATE ... WHERE state = expected``) or takes the row lock of
  the task's event counter first, so concurrent writers serialise on the rows they touch.
- The reader engine is in AUTOCOMMIT (one statement, one snapshot), as SQLite's readers are.
- ``pool_pre_ping`` replaces a connection a database restart broke; a statement waiting for
  a lock longer than the busy timeout fails (``lock_timeout``) and is reported as StoreBusy.
- A partition drops packets rather than closing connections: TCP keepalives and a TCP
  user timeout, on both ends (:data:`CLIENT_LIVENESS`, :data:`SERVER_LIVENESS`), turn a
  silent peer into an error within seconds instead of the system's two hours, and a
  transaction its host left open (cut off mid-write) is ended by the server after
  :data:`IDLE_IN_TRANSACTION_MS`, so its row locks cannot hold up the host taking over.
- The URL may hold a password: it is shown only through :func:`safe_url`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from codex_runner.store.errors import SchemaError
from codex_runner.store.sqlite_engines import open_engines

SCHEMES = ("postgresql", "postgresql+psycopg")
CONNECT_TIMEOUT_S = 10
# libpq's: probe an idle connection after 5 s, every 2 s, 3 times; fail a send unacknowledged
# for 15 s. (Ignored on a Unix socket.)
CLIENT_LIVENESS: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}
# The server's, per session: it forgets a vanished host's connection as quickly.
SERVER_LIVENESS = (
    "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 "
    "-c tcp_user_timeout=15000"
)
# Every write transaction of the store runs to its end at once: one idle this long has lost
# its host.
IDLE_IN_TRANSACTION_MS = 15_000


def is_database_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(tuple(f"{s}://" for s in SCHEMES))


def database_url(text: str) -> URL:
    """The URL with psycopg 3 as its driver; SchemaError names a malformed one (safely)."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise SchemaError(
            "the store URL is not a database URL; write postgresql+psycopg://USER@HOST/DB"
        ) from None
    if url.get_backend_name() != "postgresql":
        raise SchemaError(f"store URL {safe_url(url)}: only PostgreSQL URLs are supported")
    return url.set(drivername="postgresql+psycopg")


def safe_url(url: URL | str) -> str:
    """The URL with its password hidden: what logs and errors may show."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except ArgumentError:
            return "(an unreadable URL)"
    return url.render_as_string(hide_password=True)


def open_postgres_engines(
    url: URL, *, busy_timeout_s: float, readers: int
) -> tuple[Engine, Engine]:
    """The (writer, reader) engines on ``url``; nothing is connected yet."""
    lock_ms = int(busy_timeout_s * 1000)
    connect_args = {
        **CLIENT_LIVENESS,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "options": f"-c lock_timeout={lock_ms} "
        f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS} {SERVER_LIVENESS}",
        "application_name": "codex-runner",
    }
    common: dict[str, Any] = {
        "connect_args": connect_args,
        "pool_pre_ping": True,
        "json_serializer": _dump_json,
        "json_deserializer": orjson.loads,
    }
    writer = create_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=busy_timeout_s,
        isolation_level="READ COMMITTED",
        **common,
    )
    reader = create_engine(
        url, pool_size=readers, max_overflow=0, isolation_level="AUTOCOMMIT", **common
    )
    return writer, reader


def _dump_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def engines_for(
    target: str | os.PathLike[str], *, busy_timeout_s: float, readers: int
) -> tuple[Engine, Engine, Path | None]:
    """(writer, reader, SQLite file or None) for a PostgreSQL URL or a SQLite file."""
    if is_database_url(target):
        writer, reader = open_postgres_engines(
            database_url(str(target)), busy_timeout_s=busy_timeout_s, readers=readers
        )
        return writer, reader, None
    file = Path(target)
    if str(file) in ("", ":memory:"):
        raise ValueError("SqlStore needs a database file; use InMemoryStore for memory")
    writer, reader = open_engines(file, busy_timeout_s=busy_timeout_s, readers=readers)
    return writer, reader, file
