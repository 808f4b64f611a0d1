"""The admin audit (issue 22): every change an admin API call or ``baton member`` made to a member (availability,
out of office, tags, team membership, weight, skills, caps), who made it (the token's id and name, or the OS user
of the CLI), what (the action, the member, the team, the values before and after, the reason), when, and the
config version it produced when the change lives in the org config.

Revision ID: 0022_admin_audit
Revises: 0021_outbox_owner_field
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0022_admin_audit"
down_revision = "0021_outbox_owner_field"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(120), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("member_id", sa.String(120), nullable=True),
        sa.Column("team", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("before", json, nullable=True),
        sa.Column("after", json, nullable=True),
        sa.Column("config_version", sa.Integer, nullable=True),
    )
    op.create_index("ix_admin_audit_at", "admin_audit", ["at"])
    op.create_index("ix_admin_audit_member_id", "admin_audit", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_admin_audit_member_id", "admin_audit")
    op.drop_index("ix_admin_audit_at", "admin_audit")
    op.drop_table("admin_audit")
