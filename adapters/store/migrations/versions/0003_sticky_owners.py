"""Sticky owners: who last received a record for an account or email domain, per team.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sticky_owners",
        sa.Column("team", sa.String(255), primary_key=True),
        sa.Column("sticky_key", sa.String(300), primary_key=True),
        sa.Column("owner_id", sa.String(18), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sticky_owners")
