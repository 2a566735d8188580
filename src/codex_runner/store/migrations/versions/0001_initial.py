"""Initial schema: tasks, dependencies, events, approvals, graphs, threads, turns.

Revision ID: 0001
Revises: -
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 40
CODEX_ID = 100


def _timestamp(name: str, nullable: bool = True) -> sa.Column[int]:
    # UTC microseconds since the epoch (see tables.Timestamp).
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def _usage_columns() -> list[sa.Column[int]]:
    names = [
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "reasoning_output_tokens",
        "total_tokens",
    ]
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "graphs",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("parent_id", sa.String(ID), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_graphs"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("repo", sa.Text()),
        sa.Column("base_ref", sa.Text()),
        sa.Column("cwd", sa.Text()),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("effort", sa.String(50)),
        sa.Column("sandbox", sa.String(50)),
        sa.Column("approval_policy", sa.String(50)),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text()),
        _timestamp("created_at", nullable=False),
        _timestamp("updated_at", nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        sa.Column("thread_id", sa.String(CODEX_ID)),
        *_usage_columns(),
        sa.Column("final_message", sa.Text()),
        sa.Column("branch", sa.Text()),
        sa.Column("diff_summary", sa.Text()),
        sa.Column("parent_id", sa.String(ID)),
        sa.Column("graph_id", sa.String(ID)),
        sa.Column("key", sa.String(64)),
        sa.Column("depends_on", sa.Text(), nullable=False),  # JSON array of task ids
        sa.Column("max_runtime_s", sa.Float(), nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("pending_message", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.ForeignKeyConstraint(["parent_id"], ["tasks.id"], name="fk_tasks_parent_id_tasks"),
        sa.ForeignKeyConstraint(["graph_id"], ["graphs.id"], name="fk_tasks_graph_id_graphs"),
    )
    op.create_index(
        "ix_tasks_queue", "tasks", ["state", sa.text("priority DESC"), "created_at", "id"]
    )
    op.create_index("ix_tasks_created_at", "tasks", ["created_at", "id"])
    op.create_index("ix_tasks_graph_id", "tasks", ["graph_id"])
    op.create_index("ix_tasks_parent_id", "tasks", ["parent_id"])
    op.create_index("uq_tasks_idempotency_key", "tasks", ["idempotency_key"], unique=True)

    op.create_table(
        "task_dependencies",
        sa.Column("task_id", sa.String(ID), nullable=False),
        sa.Column("prerequisite_id", sa.String(ID), nullable=False),
        sa.PrimaryKeyConstraint("task_id", "prerequisite_id", name="pk_task_dependencies"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_task_dependencies_task_id_tasks"
        ),
        sa.ForeignKeyConstraint(
            ["prerequisite_id"], ["tasks.id"], name="fk_task_dependencies_prerequisite_id_tasks"
        ),
    )
    op.create_index(
        "ix_task_dependencies_prerequisite_id", "task_dependencies", ["prerequisite_id"]
    )

    op.create_table(
        "event_counters",
        sa.Column("task_id", sa.String(ID), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_event_counters"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_event_counters_task_id_tasks"),
    )

    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("task_id", sa.String(ID), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        _timestamp("at", nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_events_task_id_tasks"),
        sa.UniqueConstraint("task_id", "seq", name="uq_events_task_id_seq"),
    )

    op.create_table(
        "approvals",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("task_id", sa.String(ID), nullable=False),
        sa.Column("request_id", sa.String(CODEX_ID), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.Column("thread_id", sa.String(CODEX_ID)),
        sa.Column("turn_id", sa.String(CODEX_ID)),
        sa.Column("item_id", sa.String(CODEX_ID)),
        sa.Column("command", sa.Text()),
        sa.Column("cwd", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("available_decisions", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(100)),
        sa.Column("decided_by", sa.String(200)),
        _timestamp("decided_at"),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_approvals_task_id_tasks"),
    )
    op.create_index("ix_approvals_state_created_at", "approvals", ["state", "created_at"])
    op.create_index("ix_approvals_task_id_state", "approvals", ["task_id", "state"])

    op.create_table(
        "threads",
        sa.Column("thread_id", sa.String(CODEX_ID), nullable=False),
        sa.Column("task_id", sa.String(ID), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.Column("replaces", sa.String(CODEX_ID)),
        sa.PrimaryKeyConstraint("thread_id", name="pk_threads"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_threads_task_id_tasks"),
    )
    op.create_index("ix_threads_task_id", "threads", ["task_id"])

    op.create_table(
        "turns",
        sa.Column("task_id", sa.String(ID), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _timestamp("started_at", nullable=False),
        sa.Column("thread_id", sa.String(CODEX_ID)),
        sa.Column("codex_turn_id", sa.String(CODEX_ID)),
        _timestamp("finished_at"),
        *_usage_columns(),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("task_id", "number", name="pk_turns"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_turns_task_id_tasks"),
    )


def downgrade() -> None:
    for name in (
        "turns",
        "threads",
        "approvals",
        "events",
        "event_counters",
        "task_dependencies",
        "tasks",
        "graphs",
    ):
        op.drop_table(name)
