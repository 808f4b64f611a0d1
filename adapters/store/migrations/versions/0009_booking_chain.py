"""Hot handover booking: bookings and their reservations; on PostgreSQL an exclusion constraint keeps
two reservations of one host from overlapping (btree_gist for the host id's equality).

Revision ID: 0008_booking_chain
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008_booking_chain"
down_revision = "0008_ops_deploy"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("booking_type", sa.String(255), nullable=False),
        sa.Column("object_type", sa.String(80), nullable=False),
        sa.Column("record_id", sa.String(18), nullable=False),
        sa.Column("scheduler_user_id", sa.String(18), nullable=False),
        sa.Column("host_id", sa.String(18), nullable=False),
        sa.Column("pool", sa.String(255)),
        sa.Column("co_host_ids", JSON, nullable=False),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.Column("guest_email", sa.String(320), nullable=False),
        sa.Column("invitees", JSON, nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("request", JSON, nullable=False),
        sa.Column("calendar_event_id", sa.String(1024)),
        sa.Column("meet_link", sa.Text),
        sa.Column("salesforce_event_id", sa.String(18)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_bookings_status", "bookings", ["status"])
    op.create_index("ix_bookings_record_id", "bookings", ["record_id"])
    op.create_index("ix_bookings_host_created", "bookings", ["host_id", "created_at"])
    op.create_table(
        "reservations",
        sa.Column("booking_id", sa.String(36), primary_key=True),
        sa.Column("host_id", sa.String(18), primary_key=True),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="ck_reservations_positive"),
    )
    op.create_index("ix_reservations_host_time", "reservations", ["host_id", "starts_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public")
        op.execute(
            "ALTER TABLE reservations ADD CONSTRAINT ex_reservations_host_time EXCLUDE USING gist "
            "(host_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)"
        )


def downgrade() -> None:
    op.drop_table("reservations")
    op.drop_index("ix_bookings_host_created", table_name="bookings")
    op.drop_index("ix_bookings_record_id", table_name="bookings")
    op.drop_index("ix_bookings_status", table_name="bookings")
    op.drop_table("bookings")
