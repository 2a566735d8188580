"""Turns: each turn keeps Codex's final message, so a task's turns can be read one by one.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: a turn recorded before this revision has no final message of its own.
    op.add_column("turns", sa.Column("final_message", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("final_message")
