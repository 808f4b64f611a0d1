"""Teams counting meetings (and pools counting by meeting time) count a host's bookings by start time:
an index over ``bookings (host_id, starts_at)``, as ``(host_id, created_at)`` serves counting by booking time.

Revision ID: 0013_meeting_counts
Revises: 0012_group_hosts
"""

from alembic import op

revision = "0013_meeting_counts"
down_revision = "0012_group_hosts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_bookings_host_starts", "bookings", ["host_id", "starts_at"])


def downgrade() -> None:
    op.drop_index("ix_bookings_host_starts", table_name="bookings")
