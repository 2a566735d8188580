"""Graphs: how many of a graph's tasks may run at once, and an index of the queued tasks
of graphs (where that limit is applied).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: a graph made before this revision has no limit of its own, as before.
    op.add_column("graphs", sa.Column("max_concurrent", sa.Integer(), nullable=True))
    where = sa.text("state = 'queued' AND graph_id IS NOT NULL")
    op.create_index(
        "ix_tasks_queued_graph",
        "tasks",
        ["graph_id", sa.text("priority DESC"), "created_at", "id"],
        sqlite_where=where,
        postgresql_where=where,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_queued_graph", table_name="tasks")
    with op.batch_alter_table("graphs") as batch:
        batch.drop_column("max_concurrent")
