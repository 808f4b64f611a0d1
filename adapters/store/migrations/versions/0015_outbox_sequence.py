"""Outbox rows in order per record, changed by compare-and-set: ``sequence`` numbers a record's owner writes as
they were stored (1, 2, ...; unique per record), so the flusher never sends an older owner over a newer decision;
``version`` is bumped by every change of a row; ``retrying_since`` is a write's first transient failure (it is
retried for BATON_OUTBOX_RETRY_WINDOW_S from then); ``superseded_by`` names the newer decision that superseded a
row. Existing rows are numbered by their id within their record.

Revision ID: 0015_outbox_sequence
Revises: 0014_lifecycle_versions
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_outbox_sequence"
down_revision = "0014_lifecycle_versions"
branch_labels = None
depends_on = None

NUMBER_EXISTING_ROWS = """
UPDATE outbox SET sequence = numbered.position
FROM (SELECT id, row_number() OVER (PARTITION BY object_type, record_id ORDER BY id) AS position FROM outbox)
    AS numbered
WHERE outbox.id = numbered.id
"""


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("sequence", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("retrying_since", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("superseded_by", sa.String(36)))
    op.execute(NUMBER_EXISTING_ROWS)
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("sequence", server_default=None, existing_type=sa.BigInteger, existing_nullable=False)
    op.create_index("ux_outbox_record_sequence", "outbox", ["object_type", "record_id", "sequence"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_outbox_record_sequence", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("superseded_by")
        batch.drop_column("retrying_since")
        batch.drop_column("version")
        batch.drop_column("sequence")
