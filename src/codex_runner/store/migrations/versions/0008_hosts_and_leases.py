"""Hosts and leases: each serve process has a row it heartbeats; a task records the host
that claimed it and a lease that grows on every claim and takeover (fencing).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_at", sa.BigInteger(), nullable=False),
        sa.Column("draining", sa.Boolean(), nullable=False),
        sa.Column("dead_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hosts"),
    )
    op.add_column("tasks", sa.Column("host_id", sa.String(64), nullable=True))
    op.add_column(
        "tasks", sa.Column("lease", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
    )
    op.create_index("ix_tasks_host_id", "tasks", ["host_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_tasks_host_id", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("lease")
        batch.drop_column("host_id")
    op.drop_table("hosts")
