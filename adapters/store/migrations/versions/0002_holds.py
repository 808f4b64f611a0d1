"""Held records: what could not be assigned yet, why, and when to look again.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("routing_id", sa.String(36), primary_key=True),
        sa.Column("object_type", sa.String(80), nullable=False),
        sa.Column("record_id", sa.String(18), nullable=False),
        sa.Column("team", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("context", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recheck_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("checks", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("holds")
