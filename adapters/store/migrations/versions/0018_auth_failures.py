"""Failed authentications per client address and one-minute window (issue 20): an address that made
BATON_AUTH_FAILURES_PER_MINUTE bad attempts (bearer token, Canvas request, link, page token, outbound path) is
refused with 429 until its window ends, on every web replica.

A table of its own rather than rows of ``rate_windows``: that table's key column is a token id of at most 32
characters (an IPv6 address has up to 39, more with a zone), and its rows are requests of valid tokens, not
failures of unknown callers.

Revision ID: 0018_auth_failures
Revises: 0017_utc_timestamps
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_auth_failures"
down_revision = "0017_utc_timestamps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.BigInteger, primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("auth_failures")
