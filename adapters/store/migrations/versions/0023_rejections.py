"""Record rejections (issue 22): a member who rejected a record (``baton reject``, ``POST /v1/records/{object}/{id}/reject``),
when, in which team and why. The assign stage never offers the record to them again in the same period; their
rejections of the day are counted against the team's daily limit.

Revision ID: 0023_rejections
Revises: 0022_admin_audit
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_rejections"
down_revision = "0022_admin_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_rejections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("object_type", sa.String(80), nullable=False),
        sa.Column("record_id", sa.String(18), nullable=False),
        sa.Column("member_id", sa.String(18), nullable=False),
        sa.Column("team", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("routing_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_record_rejections_record", "record_rejections", ["object_type", "record_id"])
    op.create_index("ux_record_rejections_routing_id", "record_rejections", ["routing_id"], unique=True)
    op.create_index("ix_record_rejections_member_at", "record_rejections", ["member_id", "rejected_at"])


def downgrade() -> None:
    op.drop_index("ux_record_rejections_routing_id", "record_rejections")
    op.drop_index("ix_record_rejections_member_at", "record_rejections")
    op.drop_index("ix_record_rejections_record", "record_rejections")
    op.drop_table("record_rejections")
