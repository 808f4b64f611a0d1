"""Batch reassignment jobs: what a job reads (SOQL or CSV file), its state and its counts, so an interrupted
or deferred job can be resumed by id.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reassign_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("object_type", sa.String(80), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("bulk_query_job_id", sa.String(32)),
        sa.Column("counts", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reassign_jobs_state", "reassign_jobs", ["state"])


def downgrade() -> None:
    op.drop_index("ix_reassign_jobs_state", table_name="reassign_jobs")
    op.drop_table("reassign_jobs")
