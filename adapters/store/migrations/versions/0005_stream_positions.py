"""Stream positions: the last replay id processed per Streaming API channel, and when its event happened.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_positions",
        sa.Column("channel", sa.String(255), primary_key=True),
        sa.Column("replay_id", sa.BigInteger),
        sa.Column("event_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stream_positions")
