"""The link's numbering: every event of the runner's tasks gets one ``seq`` for the chat
server, once and for all, so that a reconnect (or a restart) resends exactly what the server
has not acknowledged, from the durable event log, and nothing twice.

A small SQLite file of the link's own (``$CODEX_RUNNER_HOME/link/numbering.db``): the
instance id (stable for the home and runner id, so ``seq`` never restarts), each numbered
event's task id and event seq (the event itself stays in the store), and per task the last
event numbered (the watermark a catch-up starts from).
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS instance (runner_id TEXT PRIMARY KEY, instance_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS numbered (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    UNIQUE (task_id, event_seq)
);
CREATE TABLE IF NOT EXISTS watermark (task_id TEXT PRIMARY KEY, event_seq INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Numbered:
    seq: int
    task_id: str
    event_seq: int


class NotificationNumbers:
    """The numbering, on its own SQLite file; each call is one short transaction, run off
    the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()  # one writer; sqlite3 connections are not shared

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.to_thread(db.close)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the link's numbering is not open")
        return self._db

    async def _run(self, work: Callable[[], T]) -> T:
        async with self._lock:
            return await asyncio.to_thread(work)

    async def instance_id(self, runner_id: str) -> str:
        """This home's instance id for ``runner_id``, made once."""

        def work() -> str:
            db = self._conn()
            row = db.execute(
                "SELECT instance_id FROM instance WHERE runner_id = ?", (runner_id,)
            ).fetchone()
            if row is not None:
                return str(row[0])
            made = f"inst_{uuid.uuid4().hex}"
            db.execute("INSERT INTO instance VALUES (?, ?)", (runner_id, made))
            return made

        return await self._run(work)

    async def number(self, task_id: str, event_seqs: Sequence[int]) -> list[Numbered]:
        """Number the task's events not numbered yet (in order); returns the new ones."""

        def work() -> list[Numbered]:
            db = self._conn()
            new: list[Numbered] = []
            db.execute("BEGIN IMMEDIATE")
            try:
                for event_seq in sorted(set(event_seqs)):
                    cursor = db.execute(
                        "INSERT OR IGNORE INTO numbered (task_id, event_seq) VALUES (?, ?)",
                        (task_id, event_seq),
                    )
                    if cursor.rowcount:
                        new.append(Numbered(int(cursor.lastrowid or 0), task_id, event_seq))
                if new:
                    db.execute(
                        "INSERT INTO watermark VALUES (?, ?) ON CONFLICT (task_id) DO UPDATE "
                        "SET event_seq = max(event_seq, excluded.event_seq)",
                        (task_id, max(n.event_seq for n in new)),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return new

        return await self._run(work)

    async def watermark(self, task_id: str) -> int:
        def work() -> int:
            row = (
                self._conn()
                .execute("SELECT event_seq FROM watermark WHERE task_id = ?", (task_id,))
                .fetchone()
            )
            return int(row[0]) if row else 0

        return await self._run(work)

    async def after(self, seq: int, limit: int = 500) -> list[Numbered]:
        """Numbered events after ``seq``, in order (a page of at most ``limit``)."""

        def work() -> list[Numbered]:
            rows = (
                self._conn()
                .execute(
                    "SELECT seq, task_id, event_seq FROM numbered WHERE seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (seq, limit),
                )
                .fetchall()
            )
            return [Numbered(int(a), str(b), int(c)) for a, b, c in rows]

        return await self._run(work)

    async def last_seq(self) -> int:
        def work() -> int:
            row = self._conn().execute("SELECT max(seq) FROM numbered").fetchone()
            return int(row[0] or 0)

        return await self._run(work)
