"""Directories: the thread `codex-runner run` last used in each, for `run --continue`.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


CODEX_ID = 100  # as tables.CODEX_ID


def upgrade() -> None:
    op.create_table(
        "directory_threads",
        sa.Column("path", sa.Text(), primary_key=True),
        sa.Column("thread_id", sa.String(CODEX_ID), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),  # UTC microseconds
    )


def downgrade() -> None:
    op.drop_table("directory_threads")
