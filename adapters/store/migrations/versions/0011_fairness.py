"""Fairness over time for booking pools: calibration credits per pool, period and host; the meeting
lifecycle: which host's calendar holds a booking's event (a reassigned meeting moves to another), and the
``events.list`` sync token of each calendar polled for hosts' own changes.

Revision ID: 0011_fairness
Revises: 0010_security
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_fairness"
down_revision = "0010_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pool_credits",
        sa.Column("pool", sa.String(255), primary_key=True),
        sa.Column("period", sa.String(20), primary_key=True),
        sa.Column("host_id", sa.String(18), primary_key=True),
        sa.Column("credit", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("bookings", sa.Column("calendar_host_id", sa.String(18)))
    op.create_table(
        "calendar_sync",
        sa.Column("calendar", sa.String(320), primary_key=True),
        sa.Column("sync_token", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("calendar_sync")
    op.drop_column("bookings", "calendar_host_id")
    op.drop_table("pool_credits")
