"""The embedded default's inbox: every message sent to the in-process broker of the web process, stored before
the Ack or 202 and finished once its actor finished or it was dead-lettered (created on PostgreSQL too, where
it stays empty unless a web process runs without RabbitMQ).

Revision ID: 0016_inbox
Revises: 0015_outbox_sequence
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_inbox"
down_revision = "0015_outbox_sequence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("queue_name", sa.String(255), nullable=False),
        sa.Column("actor_name", sa.String(255), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("drainer", sa.String(64)),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_inbox_status_accepted", "inbox", ["status", "accepted_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_status_accepted", table_name="inbox")
    op.drop_table("inbox")
