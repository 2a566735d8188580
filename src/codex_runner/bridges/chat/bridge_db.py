"""A chat bridge's own durable state in one SQLite file (Slack's: ``slack.sqlite``); all its
SQL is here.

- ``sessions``: one per chat thread (channel + thread): its task, requester, and how far
  the relay has read the task's events (``event_cursor``), so a restart neither loses nor
  repeats a post.
- ``seen``: event ids (and message keys) already handled; the chat's retries are dropped.
- ``queued``: messages that arrived while a turn ran, in arrival order.
- ``outbox``: posts not yet delivered to the chat, delivered in order per lane (a thread).
- ``refs``: the chat's ids of posted messages that later get edited (status, approval
  requests).

The columns keep the names the Slack bridge gave them (``thread_ts``, ``refs.ts``), so an
existing ``slack.sqlite`` reads as it is: a chat thread's id and a message id, whatever chat.

Each call is one short transaction on a private file (WAL), fast enough to run on the event
loop; there is one connection and one owner (:class:`BridgeDb`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEEN_RETENTION_S = 7 * 24 * 3600.0
POST = "post"
UPDATE = "update"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    task_id TEXT NOT NULL,
    requester TEXT NOT NULL,
    created_at REAL NOT NULL,
    event_cursor INTEGER NOT NULL DEFAULT 0,
    status_ref TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS sessions_task ON sessions (task_id);
CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS queued (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_key TEXT NOT NULL,
    user TEXT NOT NULL,
    ts TEXT NOT NULL,
    text TEXT NOT NULL,
    images TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lane TEXT NOT NULL,
    task_id TEXT,
    channel TEXT NOT NULL,
    thread_ts TEXT,
    op TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_lane ON outbox (lane, id);
CREATE TABLE IF NOT EXISTS refs (
    lane TEXT NOT NULL,
    ref TEXT NOT NULL,
    ts TEXT NOT NULL,
    PRIMARY KEY (lane, ref)
);
"""


@dataclass(frozen=True)
class Session:
    """One chat thread bound to one task (and so to one Codex thread)."""

    key: str
    channel: str
    thread: str  # the chat thread's id in its channel (Slack: the root message's ts)
    task_id: str
    requester: str
    event_cursor: int = 0
    status_ref: str | None = None

    def post(self, op: str, payload: dict[str, Any]) -> Post:
        """A post in this session's thread, for its task (none yet while it starts)."""
        return Post(
            lane=self.key,
            channel=self.channel,
            op=op,
            payload=payload,
            thread=self.thread,
            task_id=self.task_id or None,
        )


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    session_key: str
    user: str
    message_id: str  # the chat's id of the message (Slack: its ts)
    text: str
    images: tuple[str, ...]


@dataclass(frozen=True)
class Post:
    """One thing to say in the chat, waiting in the outbox.

    ``op`` is :data:`POST` (a new message; with ``payload["ref"]`` its id is remembered),
    :data:`UPDATE` (an edit of the message posted under ``payload["ref"]``), or an op of the
    bridge's own that its transport knows (Slack: ``react``, ``file``).
    """

    lane: str
    channel: str
    op: str
    payload: dict[str, Any]
    thread: str | None = None
    task_id: str | None = None
    # The outbox entry's id once queued: stable until delivered, so a chat that remembers
    # it recognises the resend of a post whose delivery was not confirmed.
    outbox_id: int | None = None


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    post: Post
    attempts: int
    next_at: float


class BridgeDb:
    """The one connection to a bridge's database, and its only owner."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # --- de-duplication --------------------------------------------------------------------

    def first_sighting(self, *ids: str, now: float | None = None) -> bool:
        """Record ``ids`` as handled; False if any of them was handled before."""
        at = time.time() if now is None else now
        with self._tx() as c:
            placeholders = ",".join("?" for _ in ids)
            seen = c.execute(f"SELECT 1 FROM seen WHERE id IN ({placeholders})", ids).fetchone()
            c.executemany(
                "INSERT OR IGNORE INTO seen (id, at) VALUES (?, ?)", [(i, at) for i in ids]
            )
        return seen is None

    def forget_seen_before(self, cutoff: float) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM seen WHERE at < ?", (cutoff,))

    # --- sessions --------------------------------------------------------------------------

    def add_session(self, session: Session) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO sessions (key, channel, thread_ts, task_id, requester, created_at,"
                " event_cursor, status_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.key,
                    session.channel,
                    session.thread,
                    session.task_id,
                    session.requester,
                    time.time(),
                    session.event_cursor,
                    session.status_ref,
                ),
            )

    def session(self, key: str) -> Session | None:
        row = self._conn.execute(
            f"SELECT {_SESSION_COLS} FROM sessions WHERE key = ?", (key,)
        ).fetchone()
        return Session(*row) if row else None

    def session_by_task(self, task_id: str) -> Session | None:
        row = self._conn.execute(
            f"SELECT {_SESSION_COLS} FROM sessions WHERE task_id = ?", (task_id,)
        ).fetchone()
        return Session(*row) if row else None

    def sessions(self) -> list[Session]:
        rows = self._conn.execute(
            f"SELECT {_SESSION_COLS} FROM sessions ORDER BY created_at"
        ).fetchall()
        return [Session(*r) for r in rows]

    def replace_task(self, key: str, task_id: str) -> None:
        """The session continues on a new task (its old one failed or was cancelled)."""
        with self._tx() as c:
            c.execute(
                "UPDATE sessions SET task_id = ?, event_cursor = 0, status_ref = NULL"
                " WHERE key = ?",
                (task_id, key),
            )

    # --- the queue -------------------------------------------------------------------------

    def enqueue_message(
        self, key: str, user: str, message_id: str, text: str, images: Sequence[str]
    ) -> int:
        """Queue a message; returns the queue's depth after it."""
        with self._tx() as c:
            c.execute(
                "INSERT INTO queued (session_key, user, ts, text, images) VALUES (?, ?, ?, ?, ?)",
                (key, user, message_id, text, json.dumps(list(images))),
            )
            return int(
                c.execute("SELECT COUNT(*) FROM queued WHERE session_key = ?", (key,)).fetchone()[0]
            )

    def queue_depth(self, key: str) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM queued WHERE session_key = ?", (key,)
        ).fetchone()
        return int(row[0])

    def queued_count(self) -> int:
        """Messages waiting in every session's queue (the admin page's open chat input)."""
        return int(self._conn.execute("SELECT COUNT(*) FROM queued").fetchone()[0])

    def next_queued(self, key: str) -> QueuedMessage | None:
        row = self._conn.execute(
            "SELECT id, session_key, user, ts, text, images FROM queued WHERE session_key = ?"
            " ORDER BY id LIMIT 1",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return QueuedMessage(row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])))

    def remove_queued(self, message_id: int) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM queued WHERE id = ?", (message_id,))

    def queued_with(self, message_ids: Sequence[str]) -> list[QueuedMessage]:
        """The queued messages (of any session) with these chat message ids, oldest first."""
        if not message_ids:
            return []
        placeholders = ",".join("?" for _ in message_ids)
        rows = self._conn.execute(
            "SELECT id, session_key, user, ts, text, images FROM queued"
            f" WHERE ts IN ({placeholders}) ORDER BY id",
            tuple(message_ids),
        ).fetchall()
        return [QueuedMessage(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5]))) for r in rows]

    def clear_queue(self, key: str) -> int:
        with self._tx() as c:
            return c.execute("DELETE FROM queued WHERE session_key = ?", (key,)).rowcount

    # --- the outbox ------------------------------------------------------------------------

    def relay(
        self, key: str, posts: Sequence[Post], *, cursor: int, status_ref: str | None
    ) -> None:
        """Queue ``posts`` and advance the session's event cursor, in one transaction."""
        with self._tx() as c:
            self._insert_posts(c, posts)
            c.execute(
                "UPDATE sessions SET event_cursor = ?, status_ref = ? WHERE key = ?",
                (cursor, status_ref, key),
            )

    def enqueue_posts(self, posts: Sequence[Post]) -> None:
        with self._tx() as c:
            self._insert_posts(c, posts)

    def _insert_posts(self, c: sqlite3.Connection, posts: Sequence[Post]) -> None:
        for post in posts:
            ref = post.payload.get("ref") if post.op == UPDATE else None
            if ref is not None:
                # A newer edit of the same message supersedes any edit not yet sent.
                c.execute(
                    "DELETE FROM outbox WHERE lane = ? AND op = 'update' AND attempts = 0"
                    " AND json_extract(payload, '$.ref') = ?",
                    (post.lane, ref),
                )
            c.execute(
                "INSERT INTO outbox (lane, task_id, channel, thread_ts, op, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    post.lane,
                    post.task_id,
                    post.channel,
                    post.thread,
                    post.op,
                    json.dumps(post.payload),
                ),
            )

    def outbox_heads(self) -> list[OutboxEntry]:
        """The oldest entry of each lane: the only one that may be sent next."""
        rows = self._conn.execute(
            "SELECT id, lane, task_id, channel, thread_ts, op, payload, attempts, next_at"
            " FROM outbox WHERE id IN (SELECT MIN(id) FROM outbox GROUP BY lane) ORDER BY id"
        ).fetchall()
        return [
            OutboxEntry(
                id=r[0],
                post=Post(
                    lane=r[1],
                    task_id=r[2],
                    channel=r[3],
                    thread=r[4],
                    op=r[5],
                    payload=json.loads(r[6]),
                    outbox_id=r[0],
                ),
                attempts=r[7],
                next_at=r[8],
            )
            for r in rows
        ]

    def outbox_size(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def mark_attempt(self, entry_id: int) -> None:
        """The entry is being sent; it can no longer be superseded."""
        with self._tx() as c:
            c.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (entry_id,))

    def delivered(self, entry: OutboxEntry, message_id: str | None) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM outbox WHERE id = ?", (entry.id,))
            ref = entry.post.payload.get("ref")
            if entry.post.op == POST and ref and message_id:
                c.execute(
                    "INSERT OR REPLACE INTO refs (lane, ref, ts) VALUES (?, ?, ?)",
                    (entry.post.lane, ref, message_id),
                )

    def retry_later(self, entry_id: int, next_at: float, error: str) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE outbox SET next_at = ?, last_error = ? WHERE id = ?",
                (next_at, error, entry_id),
            )

    def retry_now(self) -> None:
        """Every entry waiting out a backoff is due at once."""
        with self._tx() as c:
            c.execute("UPDATE outbox SET next_at = 0 WHERE next_at > 0")

    def drop(self, entry_id: int) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def message_id(self, lane: str, ref: str) -> str | None:
        """The chat's id of the message posted in ``lane`` under ``ref``, once delivered."""
        row = self._conn.execute(
            "SELECT ts FROM refs WHERE lane = ? AND ref = ?", (lane, ref)
        ).fetchone()
        return str(row[0]) if row else None


_SESSION_COLS = "key, channel, thread_ts, task_id, requester, event_cursor, status_ref"
