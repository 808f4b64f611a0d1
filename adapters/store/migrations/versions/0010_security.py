"""API credentials: bearer tokens kept as SHA-256 digests with their scopes, and per-token request
windows for the booking API's rate limit.

Revision ID: 0010_security
Revises: 0008_booking_chain
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010_security"
down_revision = "0008_booking_chain"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("scheduler_user_id", sa.String(18)),
        sa.Column("rate_per_minute", sa.Integer),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP),
        sa.Column("revoked_at", TIMESTAMP),
    )
    op.create_table(
        "rate_windows",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("window_start", sa.BigInteger, primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_windows")
    op.drop_table("api_tokens")
