"""Tasks: the fingerprint of the request that used an idempotency key, and when gc
collected the task's worktree.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable ADD COLUMNs: tasks made before this revision have no fingerprint (any request
    # with their key still finds them) and no collection time.
    op.add_column("tasks", sa.Column("idempotency_fingerprint", sa.String(64), nullable=True))
    op.add_column("tasks", sa.Column("workspace_collected_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("workspace_collected_at")
        batch.drop_column("idempotency_fingerprint")
