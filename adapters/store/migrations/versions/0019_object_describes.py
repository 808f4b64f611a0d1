"""Each routed object's Salesforce describe in the store (issue 21): ``baton sync`` fetches it on every pass;
``baton check``, ``baton config apply`` (a write-back mapping to a missing, wrong-typed or read-only field is
refused) and the record reader read it from here rather than describing the object per process.

One row per object type; the describe is JSON (fields with type, updateable, length, referenceTo, picklist
values, restrictedPicklist, calculated; the queryable field list) and ``fetched_at`` tells how fresh it is.

Revision ID: 0019_object_describes
Revises: 0018_auth_failures
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0019_object_describes"
down_revision = "0018_auth_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "object_describes",
        sa.Column("object_type", sa.String(80), primary_key=True),
        sa.Column("describe", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("object_describes")
