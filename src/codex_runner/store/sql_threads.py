"""The store's threads: one writer thread that commits queued writes together, reader threads.

- One owner for the write connection: a single writer thread runs every write transaction
  from start to end. Writes that arrive while one runs are committed together (group
  commit); if one of them fails, each is retried alone, so it does not undo the others.
- Reads run on a small pool of reader threads in autocommit mode (one statement, one
  snapshot), in parallel with writes. Every store thread keeps its own connection open.
- Why threads and not the aiosqlite driver: aiosqlite hops to its thread for every cursor
  call, about 1.2 ms per transaction on top of SQLite's own work (measured: 288 vs 1,900
  single-event appends/s, 24k vs 50k events/s in batches of 100). Here the event loop
  pays one hop per operation and the whole transaction runs at native speed.
- A write that has started finishes even if its caller is cancelled; a write still waiting
  in the queue when its caller is cancelled is dropped. Either way nothing is half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from codex_runner.store.errors import StoreBusy

MAX_WRITES_PER_COMMIT = 256

T = TypeVar("T")
Work = Callable[[Connection], Any]


class ConnectionPerThread:
    """Each store thread keeps one connection of ``engine`` for as long as the store is open.

    Checking a connection out of the pool and resetting it on return cost about as much as
    a small transaction itself; a thread's own connection skips both. A connection the
    driver invalidated (a database error that broke it) is replaced on its next use.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Connection] = []

    def get(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not (conn.closed or conn.invalidated):
            return conn
        if conn is not None:  # give its pool slot back before taking a new one
            with contextlib.suppress(Exception):
                conn.close()
            with self._lock:
                self._all.remove(conn)
            # Forgotten now: if connecting fails (the database is unreachable), the next
            # call must not give the same slot back twice.
            self._local.conn = None
        conn = self.engine.connect()
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection and the engine (the threads have stopped)."""
        with self._lock:
            opened, self._all = self._all, []
        for conn in opened:
            with contextlib.suppress(Exception):
                conn.close()
        self.engine.dispose()


@dataclass
class _WriteJob:
    work: Work
    future: asyncio.Future[Any]


class GroupCommitWriter:
    """The one writer thread: queued writes are committed together, as many as are waiting."""

    def __init__(self, engine: Engine) -> None:
        self.connections = ConnectionPerThread(engine)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="codex-runner-store-write")
        self._queue: list[_WriteJob] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run_in_thread(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the writer thread, outside group commit (schema migration)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, function)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` inside a write transaction; its exception undoes only its own writes."""
        job = _WriteJob(work, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="codex-runner-store-writer")
        result: T = await job.future
        return result

    async def drain(self) -> None:
        """Wait until every write already accepted has been committed or refused."""
        if self._flusher is not None:
            await asyncio.wait([self._flusher])

    def shut_down(self) -> None:
        """Stop the thread and close its connection (blocking; call after :meth:`drain`)."""
        self._thread.shutdown(wait=True)
        self.connections.close()

    async def _flush(self) -> None:
        """Commit queued writes, as many per transaction as are waiting."""
        loop = asyncio.get_running_loop()
        while self._queue:
            batch = [j for j in self._queue[:MAX_WRITES_PER_COMMIT] if not j.future.done()]
            del self._queue[:MAX_WRITES_PER_COMMIT]
            if not batch:
                continue
            works = [j.work for j in batch]
            try:
                outcomes = await loop.run_in_executor(
                    self._thread, _commit, self.connections, works
                )
            except asyncio.CancelledError:
                for job in [*batch, *self._queue]:
                    job.future.cancel()
                self._queue.clear()
                raise
            except Exception as e:  # the executor is gone: nobody will run these
                outcomes = [(False, e)] * len(batch)
            for job, (ok, value) in zip(batch, outcomes, strict=True):
                if job.future.done():  # the caller was cancelled meanwhile
                    continue
                if ok:
                    job.future.set_result(value)
                else:
                    job.future.set_exception(value)


class ReaderPool:
    """Reader threads, each with its own autocommit connection: one statement, one snapshot."""

    def __init__(self, engine: Engine, *, readers: int) -> None:
        self.connections = ConnectionPerThread(engine)
        self._threads = ThreadPoolExecutor(readers, thread_name_prefix="codex-runner-store-read")

    async def read(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, _run_read, self.connections, work)

    async def open_all(self, readers: int) -> None:
        """Open every reader thread's connection now, while the file is surely there.

        Opened lazily, a reader's first connection failed ("unable to open database file")
        once the home had been deleted under the daemon, so a read could fail or not by
        which thread it landed on; connections open from the start keep working on the
        file until the daemon restarts (the home watch says why it should).
        """
        barrier = threading.Barrier(readers, timeout=30)

        def open_one() -> None:
            self.connections.get()
            barrier.wait()  # holds this thread, so each of the others opens its own

        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._threads, open_one) for _ in range(readers))
        )

    def shut_down(self) -> None:
        """Stop the threads and close their connections (blocking)."""
        self._threads.shutdown(wait=True)
        self.connections.close()


def _commit(writer: ConnectionPerThread, works: Sequence[Work]) -> list[tuple[bool, Any]]:
    """Run ``works`` in one transaction: (True, result) or (False, exception) for each.

    Optimistic group commit: the works run one after the other in one transaction. If one
    raises, that transaction is rolled back and each work runs again in a transaction of
    its own, so a failing write never takes the others with it. Works are plain functions
    of the database, so running one again after a rollback gives the same outcome. When the
    database itself fails (locked past busy_timeout, disk I/O), every work gets that error
    at once instead of waiting for it again one by one; a lock held elsewhere is StoreBusy.
    """
    retry = list(works)
    if len(works) > 1:
        try:
            return [(True, result) for result in _transaction(writer, _together(works))]
        except _BrokenBeforeCommit:
            pass  # the connection broke (a database restart): each runs again on a new one
        except _BrokenAtCommit as e:
            # The commit may have happened: only the works that may run twice run again.
            if not any(is_idempotent(work) for work in works):
                return [(False, e.error)] * len(works)
            retry = [work for work in works if is_idempotent(work)]
            if len(retry) < len(works):
                again = dict(zip(map(id, retry), _commit(writer, retry), strict=True))
                return [again.get(id(work), (False, e.error)) for work in works]
        except OperationalError as e:
            if not e.connection_invalidated:
                return [(False, _busy_or_same(e))] * len(works)
        except Exception:
            pass  # one of the works refused: run each on its own
    outcomes: list[tuple[bool, Any]] = []
    for work in retry:
        try:
            outcomes.append((True, _until_reachable(writer, work)))
        except (_BrokenBeforeCommit, _BrokenAtCommit) as e:
            outcomes.append((False, e.error))
        except Exception as e:  # rolled back: nothing of this work was written
            outcomes.append((False, _busy_or_same(e)))
    return outcomes


# How long a write waits for its database to come back (a restart, a failover) before it
# fails: what a restart of a PostgreSQL server takes, and then some.
UNREACHABLE_WAIT_S = 30.0


def _until_reachable(writer: ConnectionPerThread, work: Work) -> Any:
    """``work`` in a transaction, run again while the database cannot be reached before the
    work committed (its connection broke, or a new one is refused while the server restarts),
    until UNREACHABLE_WAIT_S; nothing is run twice once it may have committed."""
    deadline = time.monotonic() + UNREACHABLE_WAIT_S
    pause = 0.1
    while True:
        try:
            return _transaction(writer, work)
        except _BrokenBeforeCommit:
            if time.monotonic() >= deadline:
                raise
        except _BrokenAtCommit:
            if not is_idempotent(work) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)  # the writer's own thread: the writes behind it wait their turn
        pause = min(pause * 2, 1.0)


class _BrokenBeforeCommit(Exception):
    def __init__(self, error: DBAPIError) -> None:
        self.error = error


class _BrokenAtCommit(Exception):
    """The connection broke while committing: the commit may or may not have happened."""

    def __init__(self, error: DBAPIError) -> None:
        self.error = error


def idempotent(work: Callable[[Connection], T]) -> Callable[[Connection], T]:
    """Mark ``work`` as one that writes the same rows to the same values however often it
    runs (an upsert): a connection that breaks at its commit, which may have happened, runs
    it again like one that broke before. Other works are never run twice."""
    work.idempotent = True  # type: ignore[attr-defined]
    return work


def is_idempotent(work: Work) -> bool:
    return getattr(work, "idempotent", False) is True


def _together(works: Sequence[Work]) -> Work:
    """The works as one, in one transaction (group commit): idempotent if each of them is."""

    def run(conn: Connection) -> list[Any]:
        return [work(conn) for work in works]

    return idempotent(run) if all(is_idempotent(w) for w in works) else run


def _transaction(writer: ConnectionPerThread, work: Work) -> Any:
    """``work`` in a transaction of its own. A connection found broken while the work ran
    is _BrokenBeforeCommit (nothing was written: safe to run again); one that breaks at
    the commit itself is _BrokenAtCommit, run again only for an idempotent work, since the
    commit may have happened."""
    try:
        conn = writer.get()
    except OperationalError as e:
        if writer.engine.dialect.name != "postgresql":
            raise  # a SQLite file that cannot be opened is not coming back by waiting
        raise _BrokenBeforeCommit(e) from e  # no connection (the server restarts): run nothing
    transaction = conn.begin()
    try:
        result = work(conn)
    except DBAPIError as e:
        with contextlib.suppress(Exception):
            transaction.rollback()
        if e.connection_invalidated:
            raise _BrokenBeforeCommit(e) from e
        raise
    except BaseException:
        with contextlib.suppress(Exception):
            transaction.rollback()
        raise
    try:
        transaction.commit()
    except DBAPIError as e:
        if e.connection_invalidated:
            raise _BrokenAtCommit(e) from e
        raise
    return result


# SQLITE_BUSY and SQLITE_LOCKED (primary result codes; extended ones add high bits).
_LOCK_ERROR_CODES = frozenset({5, 6})


# PostgreSQL's twins: lock_timeout, a deadlock, a serialization failure, a cancelled statement.
_PG_BUSY_STATES = frozenset({"55P03", "40P01", "40001", "57014"})


def _busy_or_same(error: Exception) -> Exception:
    """StoreBusy for "database is locked" past the busy timeout (SQLite) or a lock wait
    that timed out (PostgreSQL), else ``error`` itself."""
    if not isinstance(error, OperationalError | DBAPIError):
        return error
    code = getattr(error.orig, "sqlite_errorcode", None)
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate is not None:
        locked = sqlstate in _PG_BUSY_STATES
    elif isinstance(code, int):
        locked = code & 0xFF in _LOCK_ERROR_CODES
    else:
        locked = "database is locked" in str(error.orig)
    if not locked:
        return error
    busy = StoreBusy()
    busy.__cause__ = error
    return busy


def _run_read(reader: ConnectionPerThread, work: Callable[[Connection], T]) -> T:
    """One read, run again (reads are safe to repeat) while the database cannot be reached:
    its connection broke, or PostgreSQL refuses new ones while it restarts, up to
    UNREACHABLE_WAIT_S."""
    deadline = time.monotonic() + UNREACHABLE_WAIT_S
    pause = 0.1
    while True:
        try:
            return _read_once(reader, work)
        except DBAPIError as e:
            unreachable = e.connection_invalidated or (
                isinstance(e, OperationalError)
                and reader.engine.dialect.name == "postgresql"
                and e.statement is None  # raised while connecting, not by a statement
            )
            if not unreachable or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def _read_once(reader: ConnectionPerThread, work: Callable[[Connection], T]) -> T:
    conn = reader.get()
    try:
        return work(conn)
    except DBAPIError as e:
        busy = _busy_or_same(e)
        if busy is e:
            raise
        raise busy from e
    finally:
        # Ends SQLAlchemy's implicit transaction; the driver is in autocommit (no BEGIN was
        # sent), so nothing is held between reads.
        with contextlib.suppress(Exception):
            conn.rollback()
