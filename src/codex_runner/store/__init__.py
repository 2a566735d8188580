"""Durable state and the event log.

The service talks to :class:`Store` only. :class:`InMemoryStore` is the test double;
``codex_runner.store.sql.SqlStore`` is the real store (SQLite by default), kept out of this
module's imports so the in-memory path does not load SQLAlchemy.
"""

from codex_runner.store.errors import (
    ApprovalAlreadyExists,
    ApprovalNotFound,
    DuplicateIdempotencyKey,
    GraphAlreadyExists,
    InvalidGraph,
    LeaseLost,
    StoreClosed,
    StoreError,
    TaskAlreadyExists,
    TaskConflict,
    TaskNotFound,
    ThreadOwnedElsewhere,
    UnknownDependency,
)
from codex_runner.store.memory import InMemoryStore
from codex_runner.store.protocol import Store, TaskUpdate

__all__ = [
    "ApprovalAlreadyExists",
    "ApprovalNotFound",
    "DuplicateIdempotencyKey",
    "GraphAlreadyExists",
    "InMemoryStore",
    "InvalidGraph",
    "LeaseLost",
    "Store",
    "StoreClosed",
    "StoreError",
    "TaskAlreadyExists",
    "TaskConflict",
    "TaskNotFound",
    "TaskUpdate",
    "ThreadOwnedElsewhere",
    "UnknownDependency",
]
