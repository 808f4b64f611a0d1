"""The routing facts an owner write carries to Salesforce beside OwnerId (issue 21): field API name -> value, on
the outbox row itself, so the outbox's ordering rules (sequence per record, superseded rows, compare-and-set)
cover the facts as they cover the owner. Old rows carry none (null): they write the owner only.

Revision ID: 0020_outbox_fields
Revises: 0019_object_describes
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0020_outbox_fields"
down_revision = "0019_object_describes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("fields", sa.JSON().with_variant(JSONB(), "postgresql")))


def downgrade() -> None:
    op.drop_column("outbox", "fields")
