"""Thread rollouts: a copy of each thread's Codex session file, kept at every turn end so
that the host that takes a task over resumes the same thread with its whole history.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thread_rollouts",
        sa.Column("thread_id", sa.String(100), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("thread_id", name="pk_thread_rollouts"),
    )


def downgrade() -> None:
    op.drop_table("thread_rollouts")
