"""Where a dead letter came from (file and row), and the idempotency key of a posted row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as t:
        t.add_column(sa.Column("source_file", sa.String(255)))
        t.add_column(sa.Column("source_row", sa.Integer))
        t.add_column(sa.Column("idempotency_key", sa.String(64)))
        t.create_index("ix_dead_letters_idempotency_key", ["idempotency_key"])
    with op.batch_alter_table("intake_receipts") as t:
        t.add_column(sa.Column("idempotency_key", sa.String(64)))
        t.create_index("ix_intake_receipts_idempotency_key", ["idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("intake_receipts") as t:
        t.drop_index("ix_intake_receipts_idempotency_key")
        t.drop_column("idempotency_key")
    with op.batch_alter_table("dead_letters") as t:
        t.drop_index("ix_dead_letters_idempotency_key")
        t.drop_column("idempotency_key")
        t.drop_column("source_row")
        t.drop_column("source_file")
