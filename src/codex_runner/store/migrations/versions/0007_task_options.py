"""Tasks keep their Codex session options, purpose, metadata, the next turn's overrides and
the structured result of a turn with an output schema.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TASK_COLUMNS = ("session_options", "purpose", "meta", "next_turn", "result_json")


def upgrade() -> None:
    # All nullable: a task made before this revision set none of them.
    op.add_column("tasks", sa.Column("session_options", sa.Text(), nullable=True))
    op.add_column("tasks", sa.Column("purpose", sa.String(64), nullable=True))
    op.add_column("tasks", sa.Column("meta", sa.Text(), nullable=True))
    op.add_column("tasks", sa.Column("next_turn", sa.Text(), nullable=True))
    op.add_column("tasks", sa.Column("result_json", sa.Text(), nullable=True))
    op.create_index("ix_tasks_purpose", "tasks", ["purpose", "created_at"])
    op.add_column("turns", sa.Column("result_json", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_index("ix_tasks_purpose", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        for name in TASK_COLUMNS:
            batch.drop_column(name)
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("result_json")
