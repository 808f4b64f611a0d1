"""Initial schema: config versions, team state, assignments, record state, outbox, dead letters.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "config_versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("digest", sa.String(64), nullable=False, index=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("applied_at", TS, nullable=False),
    )
    op.create_table(
        "team_states",
        sa.Column("team", sa.String(255), primary_key=True),
        sa.Column("state", JSON, nullable=False),
        sa.Column("decisions", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "assignments",
        sa.Column("routing_id", sa.String(36), primary_key=True),
        sa.Column("record_id", sa.String(18), nullable=False, index=True),
        sa.Column("object_type", sa.String(80), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("owner_id", sa.String(18)),
        sa.Column("team", sa.String(255)),
        sa.Column("method", sa.String(40)),
        sa.Column("config_version", sa.Integer),
        sa.Column("log", JSON, nullable=False),
        sa.Column("event_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=False, index=True),
    )
    op.create_table(
        "record_states",
        sa.Column("object_type", sa.String(80), primary_key=True),
        sa.Column("record_id", sa.String(18), primary_key=True),
        sa.Column("last_event_at", TS, nullable=False),
        sa.Column("routing_id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(18)),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("routing_id", sa.String(36), nullable=False, unique=True),
        sa.Column("object_type", sa.String(80), nullable=False),
        sa.Column("record_id", sa.String(18), nullable=False),
        sa.Column("owner_id", sa.String(18), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(64), nullable=False, index=True),
        sa.Column("queue_name", sa.String(255), nullable=False),
        sa.Column("actor_name", sa.String(255), nullable=False),
        sa.Column("stage", sa.String(40), nullable=False, index=True),
        sa.Column("routing_ids", JSON, nullable=False),
        sa.Column("message", JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("failed_at", TS, nullable=False),
        sa.Column("replayed_at", TS),
        sa.Column("replay_count", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "member_status",
        sa.Column("user_id", sa.String(18), primary_key=True),
        sa.Column("available", sa.Boolean, nullable=False),
        sa.Column("changed_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "member_status", "dead_letters", "outbox", "record_states", "assignments",
        "team_states", "config_versions",
    ):
        op.drop_table(table)
