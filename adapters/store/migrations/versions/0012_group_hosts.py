"""Multi-pool bookings: the host taken from each extra pool, so that pool's fairness (counts, caps, credits)
sees the meetings they host for it.

Revision ID: 0012_group_hosts
Revises: 0011_fairness
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_group_hosts"
down_revision = "0011_fairness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "booking_group_hosts",
        sa.Column("booking_id", sa.String(36), primary_key=True),
        sa.Column("pool", sa.String(255), primary_key=True),
        sa.Column("host_id", sa.String(18), nullable=False),
    )
    op.create_index("ix_booking_group_hosts_host", "booking_group_hosts", ["host_id"])


def downgrade() -> None:
    op.drop_table("booking_group_hosts")
