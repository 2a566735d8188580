"""The notifications outbox: one row per notification and target (webhook), delivered in
order per target and task, with every attempt kept (docs/notifications.md).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_outbox",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("webhook", sa.String(64), nullable=True),
        sa.Column("order_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("position", name="pk_notify_outbox"),
        sa.UniqueConstraint("id", name="uq_notify_outbox_id"),
    )
    op.create_index("ix_notify_outbox_state", "notify_outbox", ["state", "next_attempt_at"])
    op.create_index(
        "ix_notify_outbox_order_key", "notify_outbox", ["order_key", "state", "position"]
    )
    op.create_table(
        "notify_attempts",
        sa.Column("notification_id", sa.String(40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("notification_id", "number", name="pk_notify_attempts"),
    )


def downgrade() -> None:
    op.drop_table("notify_attempts")
    op.drop_index("ix_notify_outbox_order_key", table_name="notify_outbox")
    op.drop_index("ix_notify_outbox_state", table_name="notify_outbox")
    op.drop_table("notify_outbox")
