"""Each state machine's transitions as a compare-and-set on status and version: a ``version`` on bookings, and
a ``status`` (``held`` or ``rechecking``: a lease the scheduler took) with a ``version`` on held records.
Existing rows start at version 1, and existing holds as ``held`` (a lease in flight is taken again when due).

Revision ID: 0014_lifecycle_versions
Revises: 0013_meeting_counts
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_lifecycle_versions"
down_revision = "0013_meeting_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bookings", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.add_column("holds", sa.Column("status", sa.String(20), nullable=False, server_default="held"))
    op.add_column("holds", sa.Column("version", sa.Integer, nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("holds") as holds:
        holds.drop_column("version")
        holds.drop_column("status")
    with op.batch_alter_table("bookings") as bookings:
        bookings.drop_column("version")
