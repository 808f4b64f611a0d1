"""Outbox flusher: a channel per row (real-time rows go out in sObject Collections, batch jobs' rows through
Bulk API 2.0), a per-row next attempt for rows whose write failed transiently, and the org's API usage as
last reported in Salesforce's Sforce-Limit-Info header.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("channel", sa.String(10), nullable=False, server_default="realtime"))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
    op.create_index("ix_outbox_due", "outbox", ["status", "channel", "id"])
    op.create_table(
        "api_usage",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("used", sa.BigInteger, nullable=False),
        sa.Column("limit", sa.BigInteger, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("api_usage")
    op.drop_index("ix_outbox_due", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("channel")
