"""The state store's tables (SQLAlchemy Core). Alembic migrations create them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)

config_versions = sa.Table(
    "config_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.String(64), nullable=False, index=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("applied_at", Timestamp, nullable=False),
)

team_states = sa.Table(
    "team_states",
    metadata,
    sa.Column("team", sa.String(255), primary_key=True),
    sa.Column("state", Json, nullable=False),
    sa.Column("decisions", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", Timestamp, nullable=False),
)

assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("routing_id", sa.String(36), primary_key=True),
    sa.Column("record_id", sa.String(18), nullable=False, index=True),
    sa.Column("object_type", sa.String(80), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("owner_id", sa.String(18)),
    sa.Column("team", sa.String(255)),
    sa.Column("method", sa.String(40)),
    sa.Column("config_version", sa.Integer),
    sa.Column("log", Json, nullable=False),
    sa.Column("event_at", Timestamp, nullable=False),
    sa.Column("decided_at", Timestamp, nullable=False, index=True),
)

record_states = sa.Table(
    "record_states",
    metadata,
    sa.Column("object_type", sa.String(80), primary_key=True),
    sa.Column("record_id", sa.String(18), primary_key=True),
    sa.Column("last_event_at", Timestamp, nullable=False),
    sa.Column("routing_id", sa.String(36), nullable=False),
    sa.Column("owner_id", sa.String(18)),
    sa.Column("updated_at", Timestamp, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("routing_id", sa.String(36), nullable=False, unique=True),
    sa.Column("object_type", sa.String(80), nullable=False),
    sa.Column("record_id", sa.String(18), nullable=False),
    sa.Column("owner_id", sa.String(18), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("sent_at", Timestamp),
    sa.Column("channel", sa.String(10), nullable=False, server_default="realtime"),
    sa.Column("next_attempt_at", Timestamp),
    sa.Index("ix_outbox_due", "status", "channel", "id"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(64), nullable=False, index=True),
    sa.Column("queue_name", sa.String(255), nullable=False),
    sa.Column("actor_name", sa.String(255), nullable=False),
    sa.Column("stage", sa.String(40), nullable=False, index=True),
    sa.Column("routing_ids", Json, nullable=False),
    sa.Column("message", Json, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("failed_at", Timestamp, nullable=False),
    sa.Column("replayed_at", Timestamp),
    sa.Column("replay_count", sa.Integer, nullable=False, server_default="0"),
)

member_status = sa.Table(
    "member_status",
    metadata,
    sa.Column("user_id", sa.String(18), primary_key=True),
    sa.Column("available", sa.Boolean, nullable=False),
    sa.Column("changed_at", Timestamp, nullable=False),
)

holds = sa.Table(
    "holds",
    metadata,
    sa.Column("routing_id", sa.String(36), primary_key=True),
    sa.Column("object_type", sa.String(80), nullable=False),
    sa.Column("record_id", sa.String(18), nullable=False),
    sa.Column("team", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("context", Json, nullable=False),
    sa.Column("held_at", Timestamp, nullable=False),
    sa.Column("recheck_at", Timestamp, nullable=False, index=True),
    sa.Column("checks", sa.Integer, nullable=False, server_default="0"),
)

sticky_owners = sa.Table(
    "sticky_owners",
    metadata,
    sa.Column("team", sa.String(255), primary_key=True),
    sa.Column("sticky_key", sa.String(300), primary_key=True),
    sa.Column("owner_id", sa.String(18), nullable=False),
    sa.Column("assigned_at", Timestamp, nullable=False),
)

api_usage = sa.Table(
    "api_usage",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("used", sa.BigInteger, nullable=False),
    sa.Column("limit", sa.BigInteger, nullable=False),
    sa.Column("observed_at", Timestamp, nullable=False),
)

reassign_jobs = sa.Table(
    "reassign_jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("object_type", sa.String(80), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("bulk_query_job_id", sa.String(32)),
    sa.Column("counts", Json, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)
