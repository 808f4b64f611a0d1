"""SLA timers: an assigned record's deadline for being actioned, checked by the scheduler.

Revision ID: 0008_ops_deploy
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_ops_deploy"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_timers",
        sa.Column("routing_id", sa.String(36), primary_key=True),
        sa.Column("object_type", sa.String(80), nullable=False),
        sa.Column("record_id", sa.String(18), nullable=False),
        sa.Column("team", sa.String(255), nullable=False),
        sa.Column("owner_id", sa.String(18), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_sla_timers_due", "sla_timers", ["state", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_sla_timers_due", table_name="sla_timers")
    op.drop_table("sla_timers")
