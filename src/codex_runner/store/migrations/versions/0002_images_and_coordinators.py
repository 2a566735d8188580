"""Tasks: images waiting for the next turn, and graph parents that run no Codex turn.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild): SQLite keeps the queue index exactly as created.
    op.add_column(
        "tasks", sa.Column("pending_images", sa.Text(), nullable=False, server_default="[]")
    )
    op.add_column(
        "tasks", sa.Column("runs_codex", sa.Boolean(), nullable=False, server_default=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("runs_codex")
        batch.drop_column("pending_images")
