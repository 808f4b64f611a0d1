"""The record's user field an outbox row writes its owner to (issue 21): OwnerId for every routing decision (and
every row stored before), or the host field a booking type names (``owner_field``). A row of another field
never supersedes an OwnerId row, nor is superseded by one.

Revision ID: 0021_outbox_owner_field
Revises: 0020_outbox_fields
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_outbox_owner_field"
down_revision = "0020_outbox_fields"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("owner_field", sa.String(80), nullable=False, server_default="OwnerId"))


def downgrade() -> None:
    op.drop_column("outbox", "owner_field")
