"""Reference data synced from Salesforce: users, accounts, contacts, open leads, and a sync position per object.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
NAME = sa.String(255)
SALESFORCE_ID = sa.String(18)
COPIES: dict[str, list[tuple[str, sa.types.TypeEngine]]] = {  # type: ignore[type-arg]
    "sf_users": [("name", NAME), ("email", NAME), ("is_active", sa.Boolean()), ("time_zone", sa.String(80)),
                 ("calendar_email", NAME)],
    "sf_accounts": [("name", NAME), ("website", NAME), ("domains", sa.Text()), ("owner_id", SALESFORCE_ID),
                    ("last_activity_date", sa.Date()), ("number_of_employees", sa.Integer()),
                    ("annual_revenue", sa.Float())],
    "sf_contacts": [("first_name", NAME), ("last_name", NAME), ("email", NAME), ("account_id", SALESFORCE_ID),
                    ("owner_id", SALESFORCE_ID), ("last_activity_date", sa.Date())],
    "sf_leads": [("first_name", NAME), ("last_name", NAME), ("company", NAME), ("email", NAME), ("status", NAME),
                 ("owner_id", SALESFORCE_ID), ("last_activity_date", sa.Date())],
}


def upgrade() -> None:
    for table, columns in COPIES.items():
        op.create_table(
            table,
            sa.Column("id", SALESFORCE_ID, primary_key=True),
            *(sa.Column(name, kind) for name, kind in columns),
            sa.Column("system_modstamp", TIMESTAMP, nullable=False),
            sa.Column("removed_reason", sa.String(20)),
            sa.Column("written_at", TIMESTAMP, nullable=False),
        )
        op.create_index(f"ix_{table}_written_at", table, ["written_at"])
    op.create_table(
        "sync_positions",
        sa.Column("object_type", sa.String(80), primary_key=True),
        sa.Column("last_modstamp", TIMESTAMP),
        sa.Column("last_id", SALESFORCE_ID),
        sa.Column("sweep_before", TIMESTAMP),
        sa.Column("synced_at", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_positions")
    for table in reversed(list(COPIES)):
        op.drop_table(table)
