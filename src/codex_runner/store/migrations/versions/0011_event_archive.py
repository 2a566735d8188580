"""The event archive: the events of tasks finished long ago ([store] event_retention_s),
moved out of ``events`` into one compressed row per task (docs/event-archive.md).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_archives",
        sa.Column("task_id", sa.String(40), nullable=False),
        sa.Column("through_seq", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("archived_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_event_archives_task_id_tasks"),
        sa.PrimaryKeyConstraint("task_id", name="pk_event_archives"),
    )


def downgrade() -> None:
    op.drop_table("event_archives")
