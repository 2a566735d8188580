"""Co-authors: each chat user's git author (inferred from their chat profile or set by a
person), credited in the commits of the tasks they asked for (docs/coauthors.md).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coauthors",
        sa.Column("bridge", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("source", sa.String(16), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("offered_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("bridge", "user_id", name="pk_coauthors"),
    )


def downgrade() -> None:
    op.drop_table("coauthors")
