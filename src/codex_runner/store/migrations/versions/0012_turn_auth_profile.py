"""Turns: the auth profile each turn ran under, so token use can be told apart per profile
(the admin overview's tokens per day by model and auth profile).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: a turn recorded before this revision, or run without profiles, names none.
    op.add_column("turns", sa.Column("auth_profile", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("auth_profile")
