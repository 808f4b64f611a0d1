"""The state store's tables (SQLAlchemy Core). Alembic migrations create them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from adapters.store.utc import UtcDateTime

metadata = sa.MetaData()

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = UtcDateTime()  # every timestamp column: aware datetimes in, aware UTC out (adapters/store/utc.py)

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
    sa.Column("sequence", sa.BigInteger, nullable=False),  # the record's owner writes numbered as stored: 1, 2, ...
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),  # bumped by every change (compare-and-set)
    sa.Column("retrying_since", Timestamp),  # the first transient failure: retries go on for the retry window
    sa.Column("superseded_by", sa.String(36)),  # the newer decision's routing id, for a superseded row
    # routing facts written beside the owner (field API name -> value), or SQL NULL (not JSON null) for none
    sa.Column("fields", sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")),
    # the record's user field the owner is written to: OwnerId, or the host field a booking type names
    sa.Column("owner_field", sa.String(80), nullable=False, server_default="OwnerId"),
    sa.Index("ix_outbox_due", "status", "channel", "id"),
    sa.Index("ux_outbox_record_sequence", "object_type", "record_id", "sequence", unique=True),
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
    sa.Column("status", sa.String(20), nullable=False, server_default="held"),  # routing/lifecycles/hold.py
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),  # counts its transitions
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

stream_positions = sa.Table(
    "stream_positions",
    metadata,
    sa.Column("channel", sa.String(255), primary_key=True),
    sa.Column("replay_id", sa.BigInteger),
    sa.Column("event_at", Timestamp),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# Baton's copy of Salesforce reference data (matching reads it, never the API per record) ---------

SalesforceId = sa.String(18)
Text255 = sa.String(255)


def _synced_copy(table_name: str, /, **columns: sa.types.TypeEngine) -> sa.Table:  # type: ignore[type-arg]
    """One synced object: its fields, its SystemModstamp, and a tombstone reason once it is gone."""
    return sa.Table(
        table_name,
        metadata,
        sa.Column("id", SalesforceId, primary_key=True),
        *(sa.Column(column, kind) for column, kind in columns.items()),
        sa.Column("system_modstamp", Timestamp, nullable=False),
        sa.Column("removed_reason", sa.String(20)),  # deleted | converted | closed; NULL while live
        sa.Column("written_at", Timestamp, nullable=False, index=True),
    )


# what matching reads of a lead or a contact besides its company
_PERSON = {"first_name": Text255, "last_name": Text255, "email": Text255, "owner_id": SalesforceId,
           "last_activity_date": sa.Date()}

sf_users = _synced_copy("sf_users", name=Text255, email=Text255, is_active=sa.Boolean(), time_zone=sa.String(80),
                        calendar_email=Text255)
sf_accounts = _synced_copy("sf_accounts", name=Text255, website=Text255, domains=sa.Text(), owner_id=SalesforceId,
                           last_activity_date=sa.Date(), number_of_employees=sa.Integer(), annual_revenue=sa.Float())
sf_contacts = _synced_copy("sf_contacts", **_PERSON, account_id=SalesforceId)
sf_leads = _synced_copy("sf_leads", **_PERSON, company=Text255, status=Text255)

SYNCED_TABLES = {"User": sf_users, "Account": sf_accounts, "Contact": sf_contacts, "Lead": sf_leads}

sync_positions = sa.Table(
    "sync_positions",
    metadata,
    sa.Column("object_type", sa.String(80), primary_key=True),
    sa.Column("last_modstamp", Timestamp),
    sa.Column("last_id", sa.String(18)),
    sa.Column("sweep_before", Timestamp),  # a full sync started then: rows not rewritten since go at its end
    sa.Column("synced_at", Timestamp, nullable=False),
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

sla_timers = sa.Table(
    "sla_timers",
    metadata,
    sa.Column("routing_id", sa.String(36), primary_key=True),
    sa.Column("object_type", sa.String(80), nullable=False),
    sa.Column("record_id", sa.String(18), nullable=False),
    sa.Column("team", sa.String(255), nullable=False),
    sa.Column("owner_id", sa.String(18), nullable=False),
    sa.Column("assigned_at", Timestamp, nullable=False),
    sa.Column("due_at", Timestamp, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # open | actioned | breached
    sa.Column("closed_at", Timestamp),
    sa.Index("ix_sla_timers_due", "state", "due_at"),
)


# Hot handover booking ---------------------------------------------------------------------------

bookings = sa.Table(
    "bookings",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("booking_type", sa.String(255), nullable=False),
    sa.Column("object_type", sa.String(80), nullable=False),
    sa.Column("record_id", sa.String(18), nullable=False, index=True),
    sa.Column("scheduler_user_id", sa.String(18), nullable=False),
    sa.Column("host_id", sa.String(18), nullable=False),
    sa.Column("pool", sa.String(255)),
    sa.Column("co_host_ids", Json, nullable=False),
    sa.Column("starts_at", Timestamp, nullable=False),
    sa.Column("ends_at", Timestamp, nullable=False),
    sa.Column("guest_email", sa.String(320), nullable=False),
    sa.Column("invitees", Json, nullable=False),
    sa.Column("platform", sa.String(20), nullable=False),
    sa.Column("request", Json, nullable=False),
    sa.Column("calendar_event_id", sa.String(1024)),
    sa.Column("meet_link", sa.Text),
    sa.Column("salesforce_event_id", sa.String(18)),
    sa.Column("error", sa.Text),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("calendar_host_id", sa.String(18)),  # whose calendar holds the event (a reassigned meeting moves)
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),  # counts its status transitions
    sa.Index("ix_bookings_host_created", "host_id", "created_at"),
    sa.Index("ix_bookings_host_starts", "host_id", "starts_at"),  # meetings counted by when they take place
)

# One row per host and co-host over the meeting plus its buffers; PostgreSQL refuses overlaps of one
# host (an exclusion constraint, created by the migration).
reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("booking_id", sa.String(36), primary_key=True),
    sa.Column("host_id", sa.String(18), primary_key=True),
    sa.Column("starts_at", Timestamp, nullable=False),
    sa.Column("ends_at", Timestamp, nullable=False),
    sa.Index("ix_reservations_host_time", "host_id", "starts_at"),
)

# The host a booking took from each of its extra pools (one host from each group): they count, and are capped,
# for that pool like a main host.
booking_group_hosts = sa.Table(
    "booking_group_hosts",
    metadata,
    sa.Column("booking_id", sa.String(36), primary_key=True),
    sa.Column("pool", sa.String(255), primary_key=True),
    sa.Column("host_id", sa.String(18), nullable=False),
    sa.Index("ix_booking_group_hosts_host", "host_id"),
)

pool_credits = sa.Table(
    "pool_credits",
    metadata,
    sa.Column("pool", sa.String(255), primary_key=True),
    sa.Column("period", sa.String(20), primary_key=True),
    sa.Column("host_id", sa.String(18), primary_key=True),
    sa.Column("credit", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", Timestamp, nullable=False),
)

calendar_sync = sa.Table(
    "calendar_sync",
    metadata,
    sa.Column("calendar", sa.String(320), primary_key=True),
    sa.Column("sync_token", sa.Text, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# API credentials ---------------------------------------------------------------------------------

# Bearer tokens of the JSON relay, the booking API and /metrics: only the SHA-256 of each token is kept.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", Json, nullable=False),
    sa.Column("scheduler_user_id", sa.String(18)),
    sa.Column("rate_per_minute", sa.Integer),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp),
    sa.Column("revoked_at", Timestamp),
)

# Requests per token and fixed one-minute window (the booking API's rate limit, shared by web replicas).
rate_windows = sa.Table(
    "rate_windows",
    metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

# Failed authentications per client address and fixed one-minute window (shared by web replicas): an address
# that reached BATON_AUTH_FAILURES_PER_MINUTE is refused until its window ends.
auth_failures = sa.Table(
    "auth_failures",
    metadata,
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

# Salesforce describes ------------------------------------------------------------------------------

# Each routed object's describe as ``baton sync`` last fetched it (``adapters/store/describes.py``): per field its
# type, whether Baton may write it, length, lookup targets and picklist values; read by ``baton check``,
# ``baton config apply`` and the record reader instead of asking Salesforce per process.
object_describes = sa.Table(
    "object_describes",
    metadata,
    sa.Column("object_type", sa.String(80), primary_key=True),
    sa.Column("describe", Json, nullable=False),
    sa.Column("fetched_at", Timestamp, nullable=False),
)

# The embedded default's inbox ----------------------------------------------------------------------

# Every message sent to the in-process broker of the embedded web process, stored before it is queued in memory
# (so before the Ack or 202): pending until its actor finished or it was dead-lettered. ``drainer`` is the
# draining run that queued it; a pending row held by no running drainer is claimed again (after a restart).
inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("queue_name", sa.String(255), nullable=False),
    sa.Column("actor_name", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("drainer", sa.String(64)),
    sa.Column("accepted_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp),
    sa.Index("ix_inbox_status_accepted", "status", "accepted_at"),
)

# Admin changes to members (issue 22) ---------------------------------------------------------------

admin_audit = sa.Table(
    "admin_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp, nullable=False, index=True),
    sa.Column("actor_id", sa.String(120), nullable=False),
    sa.Column("actor_name", sa.String(200), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("member_id", sa.String(120), nullable=True, index=True),
    sa.Column("team", sa.String(200), nullable=True),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("before", Json, nullable=True),
    sa.Column("after", Json, nullable=True),
    sa.Column("config_version", sa.Integer, nullable=True),
)

record_rejections = sa.Table(
    "record_rejections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("object_type", sa.String(80), nullable=False),
    sa.Column("record_id", sa.String(18), nullable=False),
    sa.Column("member_id", sa.String(18), nullable=False),
    sa.Column("team", sa.String(200), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("rejected_at", Timestamp, nullable=False),
    sa.Column("routing_id", sa.String(36), nullable=True),  # the re-route's; a repeated request finds it
    sa.Index("ix_record_rejections_record", "object_type", "record_id"),
    sa.Index("ux_record_rejections_routing_id", "routing_id", unique=True),
    sa.Index("ix_record_rejections_member_at", "member_id", "rejected_at"),
)
