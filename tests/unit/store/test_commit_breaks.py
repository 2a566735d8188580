"""A connection that breaks at COMMIT (a database restarting under the write) leaves it
unknown whether the commit happened: a write is never run twice then, unless it is marked
idempotent (it writes the same rows to the same values, like an upsert), which runs again
on a new connection. The writer's transaction logic against a connection that breaks on
cue: a real restart cannot be timed to land inside a COMMIT."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy.exc import OperationalError

from codex_runner.store.sql_threads import _commit, idempotent


class Transaction:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def commit(self) -> None:
        if self.conn.breaks_at_commit:
            self.conn.breaks_at_commit -= 1
            lost = Exception("server closed the connection unexpectedly")
            raise OperationalError("COMMIT", {}, lost, connection_invalidated=True)
        self.conn.committed += 1

    def rollback(self) -> None:
        pass


class Connection:
    def __init__(self, breaks_at_commit: int) -> None:
        self.breaks_at_commit = breaks_at_commit
        self.committed = 0

    def begin(self) -> Transaction:
        return Transaction(self)


class Writer:
    """ConnectionPerThread's face: one connection, on PostgreSQL."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.engine = SimpleNamespace(dialect=SimpleNamespace(name="postgresql"))

    def get(self) -> Connection:
        return self.conn


def counting(name: str, runs: list[str]) -> Any:
    def work(conn: Any) -> str:
        runs.append(name)
        return name

    return work


def test_a_write_that_may_have_committed_is_not_run_again() -> None:
    runs: list[str] = []
    conn = Connection(breaks_at_commit=1)
    [(ok, error)] = _commit(Writer(conn), [counting("append", runs)])  # type: ignore[arg-type]
    assert not ok and isinstance(error, OperationalError)
    assert runs == ["append"] and conn.committed == 0


def test_an_idempotent_write_runs_again_on_a_new_connection() -> None:
    runs: list[str] = []
    conn = Connection(breaks_at_commit=1)
    outcome = _commit(Writer(conn), [idempotent(counting("save_turn", runs))])  # type: ignore[arg-type]
    assert outcome == [(True, "save_turn")]
    assert runs == ["save_turn", "save_turn"] and conn.committed == 1


def test_in_a_group_only_the_idempotent_writes_run_again() -> None:
    runs: list[str] = []
    conn = Connection(breaks_at_commit=1)
    works = [counting("append", runs), idempotent(counting("save_turn", runs))]
    outcomes = _commit(Writer(conn), works)  # type: ignore[arg-type]
    assert outcomes[1] == (True, "save_turn")
    assert not outcomes[0][0] and isinstance(outcomes[0][1], OperationalError)
    # Both ran in the group commit that broke; only save_turn ran again, and committed.
    assert runs == ["append", "save_turn", "save_turn"] and conn.committed == 1
