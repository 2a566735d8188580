"""SQLAlchemy Core tables of the SQL store (the schema the migrations create).

Database-neutral: timestamps are UTC microseconds since the epoch in a BIGINT (fast to
compare and index, exact, the same on SQLite and PostgreSQL); lists are JSON.
``tasks`` columns are read by position in ``rows.task_from_row``: keep the two in step.
Change the schema only together with a new migration in ``migrations/versions``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware UTC times")
    return (value - EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class Timestamp(TypeDecorator[datetime]):
    """An aware datetime stored as integer microseconds since the epoch (UTC)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: int | None, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(value)


class IdList(TypeDecorator[tuple[str, ...]]):
    """A tuple of ids stored as a JSON array in TEXT (an empty one is read without parsing)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Sequence[str] | None, dialect: Dialect) -> str:
        return json.dumps(list(value or ()))

    def process_result_value(self, value: str | None, dialect: Dialect) -> tuple[str, ...]:
        if not value or value == "[]":
            return ()
        return tuple(json.loads(value))


class JsonText(TypeDecorator[dict[str, Any]]):
    """A JSON object in TEXT; an empty one is stored as NULL (most tasks set nothing)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Mapping[str, Any] | None, dialect: Dialect) -> str | None:
        return json.dumps(dict(value), separators=(",", ":")) if value else None

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[str, Any]:
        return json.loads(value) if value else {}


# A BIGINT key that is still SQLite's rowid (only INTEGER PRIMARY KEY is).
RowId = BigInteger().with_variant(Integer(), "sqlite")

ID = 40  # "t_" + 26 characters, with room to spare
CODEX_ID = 100

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

graphs = Table(
    "graphs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("parent_id", String(ID), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("max_concurrent", Integer()),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("prompt", Text(), nullable=False),
    Column("repo", Text()),
    Column("base_ref", Text()),
    Column("cwd", Text()),
    Column("priority", Integer(), nullable=False),
    Column("model", String(200)),
    Column("effort", String(50)),
    Column("sandbox", String(50)),
    Column("approval_policy", String(50)),
    Column("state", String(32), nullable=False),
    Column("reason", Text()),
    Column("created_at", Timestamp(), nullable=False),
    Column("updated_at", Timestamp(), nullable=False),
    Column("started_at", Timestamp()),
    Column("finished_at", Timestamp()),
    Column("thread_id", String(CODEX_ID)),
    Column("input_tokens", BigInteger(), nullable=False),
    Column("cached_input_tokens", BigInteger(), nullable=False),
    Column("output_tokens", BigInteger(), nullable=False),
    Column("reasoning_output_tokens", BigInteger(), nullable=False),
    Column("total_tokens", BigInteger(), nullable=False),
    Column("final_message", Text()),
    Column("branch", Text()),
    Column("diff_summary", Text()),
    Column("parent_id", String(ID), ForeignKey("tasks.id")),
    Column("graph_id", String(ID), ForeignKey("graphs.id")),
    Column("key", String(64)),
    Column("depends_on", IdList(), nullable=False),
    Column("max_runtime_s", Float(), nullable=False),
    Column("idempotency_key", String(200)),
    Column("attempts", Integer(), nullable=False),
    Column("pending_message", Text()),
    Column("pending_images", IdList(), nullable=False),
    Column("runs_codex", Boolean(), nullable=False),
    Column("idempotency_fingerprint", String(64)),
    Column("workspace_collected_at", Timestamp()),
    Column("session_options", JsonText()),
    Column("purpose", String(64)),
    Column("meta", JsonText()),
    Column("next_turn", JsonText()),
    Column("result_json", Text()),
    Column("host_id", String(64)),
    Column("lease", BigInteger(), nullable=False, server_default=text("0")),
)
# The scheduler's queue: equality on state, then exactly the ORDER BY of next_queued.
Index(
    "ix_tasks_queue",
    tasks.c.state,
    tasks.c.priority.desc(),
    tasks.c.created_at,
    tasks.c.id,
)
Index("ix_tasks_created_at", tasks.c.created_at, tasks.c.id)
Index("ix_tasks_graph_id", tasks.c.graph_id)
# The queued tasks of graphs, few beside the whole queue, per graph in queue order: where a
# graph's max_concurrent is applied (the WHERE is literal so that the planner can prove a
# query's implies it).
_QUEUED_IN_A_GRAPH = text("state = 'queued' AND graph_id IS NOT NULL")
Index(
    "ix_tasks_queued_graph",
    tasks.c.graph_id,
    tasks.c.priority.desc(),
    tasks.c.created_at,
    tasks.c.id,
    sqlite_where=_QUEUED_IN_A_GRAPH,
    postgresql_where=_QUEUED_IN_A_GRAPH,
)
Index("ix_tasks_parent_id", tasks.c.parent_id)
Index("ix_tasks_purpose", tasks.c.purpose, tasks.c.created_at)
Index("uq_tasks_idempotency_key", tasks.c.idempotency_key, unique=True)

Index("ix_tasks_host_id", tasks.c.host_id, tasks.c.state)

# A copy of each thread's Codex session file (zlib), path relative to the Codex home: the
# host that takes a task over restores it and resumes the same thread.
thread_rollouts = Table(
    "thread_rollouts",
    metadata,
    Column("thread_id", String(CODEX_ID), primary_key=True),
    Column("path", Text(), nullable=False),
    Column("content", LargeBinary(), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("updated_at", Timestamp(), nullable=False),
)

# Each serve process, live or dead (domain.hosts).
hosts = Table(
    "hosts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("hostname", Text(), nullable=False),
    Column("version", String(64), nullable=False),
    Column("capacity", Integer(), nullable=False),
    Column("started_at", Timestamp(), nullable=False),
    Column("heartbeat_at", Timestamp(), nullable=False),
    Column("draining", Boolean(), nullable=False),
    Column("dead_at", Timestamp()),
)

# Edges of depends_on, so readiness is one query (tasks.depends_on keeps the order).
task_dependencies = Table(
    "task_dependencies",
    metadata,
    Column("task_id", String(ID), ForeignKey("tasks.id"), nullable=False),
    Column("prerequisite_id", String(ID), ForeignKey("tasks.id"), nullable=False),
    PrimaryKeyConstraint("task_id", "prerequisite_id"),
)
Index("ix_task_dependencies_prerequisite_id", task_dependencies.c.prerequisite_id)

# The last event number per task, kept apart from the wide tasks row so that appending
# events rewrites one small row; it is also the row a writer locks to number events.
event_counters = Table(
    "event_counters",
    metadata,
    Column("task_id", String(ID), ForeignKey("tasks.id"), primary_key=True),
    Column("last_seq", Integer(), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("task_id", String(ID), ForeignKey("tasks.id"), nullable=False),
    Column("seq", Integer(), nullable=False),
    Column("type", String(64), nullable=False),
    Column("at", Timestamp(), nullable=False),
    Column("data", JSON(), nullable=False),
    UniqueConstraint("task_id", "seq", name="uq_events_task_id_seq"),
)

# The events of tasks finished long ago, moved out of ``events`` ([store]
# event_retention_s): seqs 1 to through_seq, compressed (store.event_archive_codec). In the
# store rather than in files, so every host sharing it reads them (docs/event-archive.md).
event_archives = Table(
    "event_archives",
    metadata,
    Column("task_id", String(ID), ForeignKey("tasks.id"), primary_key=True),
    Column("through_seq", Integer(), nullable=False),
    Column("content", LargeBinary(), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("archived_at", Timestamp(), nullable=False),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("task_id", String(ID), ForeignKey("tasks.id"), nullable=False),
    Column("request_id", String(CODEX_ID), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("thread_id", String(CODEX_ID)),
    Column("turn_id", String(CODEX_ID)),
    Column("item_id", String(CODEX_ID)),
    Column("command", Text()),
    Column("cwd", Text()),
    Column("reason", Text()),
    Column("changes", JSON(), nullable=False),
    Column("available_decisions", JSON(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("decision", String(100)),
    Column("decided_by", String(200)),
    Column("decided_at", Timestamp()),
)
Index("ix_approvals_state_created_at", approvals.c.state, approvals.c.created_at)
Index("ix_approvals_task_id_state", approvals.c.task_id, approvals.c.state)

threads = Table(
    "threads",
    metadata,
    Column("thread_id", String(CODEX_ID), primary_key=True),
    Column("task_id", String(ID), ForeignKey("tasks.id"), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("replaces", String(CODEX_ID)),
)
Index("ix_threads_task_id", threads.c.task_id)

turns = Table(
    "turns",
    metadata,
    Column("task_id", String(ID), ForeignKey("tasks.id"), nullable=False),
    Column("number", Integer(), nullable=False),
    Column("input", Text(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_at", Timestamp(), nullable=False),
    Column("thread_id", String(CODEX_ID)),
    Column("codex_turn_id", String(CODEX_ID)),
    Column("finished_at", Timestamp()),
    Column("input_tokens", BigInteger(), nullable=False),
    Column("cached_input_tokens", BigInteger(), nullable=False),
    Column("output_tokens", BigInteger(), nullable=False),
    Column("reasoning_output_tokens", BigInteger(), nullable=False),
    Column("total_tokens", BigInteger(), nullable=False),
    Column("error", Text()),
    Column("final_message", Text()),
    Column("result_json", Text()),
    Column("auth_profile", String(128)),
    PrimaryKeyConstraint("task_id", "number"),
)

# The thread `codex-runner run` last used in each directory (by resolved path), so that
# `run --continue` resumes it; kept here rather than in a dot-file in the user's repo.
directory_threads = Table(
    "directory_threads",
    metadata,
    Column("path", Text(), primary_key=True),
    Column("thread_id", String(CODEX_ID), nullable=False),
    Column("updated_at", Timestamp(), nullable=False),
)

# Notifications waiting for, or done with, delivery to a webhook (domain.notify); position
# is the order each (url, order_key) gets them in.
notify_outbox = Table(
    "notify_outbox",
    metadata,
    Column("position", RowId, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False),
    Column("url", Text(), nullable=False),
    Column("webhook", String(64)),
    Column("order_key", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("body", Text(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("next_attempt_at", Timestamp(), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("last_status", Integer()),
    Column("last_error", Text()),
    Column("finished_at", Timestamp()),
    Column("claimed_by", String(64)),
    Column("claimed_until", Timestamp()),
    UniqueConstraint("id", name="uq_notify_outbox_id"),
)
Index("ix_notify_outbox_state", notify_outbox.c.state, notify_outbox.c.next_attempt_at)
Index(
    "ix_notify_outbox_order_key",
    notify_outbox.c.order_key,
    notify_outbox.c.state,
    notify_outbox.c.position,
)

# Every try at a notification's delivery: the status the receiver answered, or the error.
notify_attempts = Table(
    "notify_attempts",
    metadata,
    Column("notification_id", String(40), nullable=False),
    Column("number", Integer(), nullable=False),
    Column("at", Timestamp(), nullable=False),
    Column("status_code", Integer()),
    Column("error", Text()),
    PrimaryKeyConstraint("notification_id", "number"),
)

# Background jobs (domain.jobs): a command started from a task, supervised by one host.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("task_id", String(ID), nullable=False),
    Column("name", Text(), nullable=False),
    Column("command", JSON(), nullable=False),
    Column("host_id", String(64), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("max_runtime_s", Float(), nullable=False),
    Column("restartable", Boolean(), nullable=False),
    Column("restarts", Integer(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text()),
    Column("pid", Integer()),
    Column("pgid", Integer()),
    Column("started_at", Timestamp()),
    Column("ended_at", Timestamp()),
    Column("exit_code", Integer()),
    Column("reported_at", Timestamp()),
)
Index("ix_jobs_task", jobs.c.task_id, jobs.c.created_at)
Index("ix_jobs_host_state", jobs.c.host_id, jobs.c.state)

# Co-authors (store.coauthors): a chat user's git author, credited in their tasks' commits.
coauthors = Table(
    "coauthors",
    metadata,
    Column("bridge", String(32), nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("author", Text()),
    Column("source", String(16)),
    Column("display_name", Text(), nullable=False),
    Column("updated_at", Timestamp(), nullable=False),
    Column("offered_at", Timestamp()),
    PrimaryKeyConstraint("bridge", "user_id"),
)
