"""When the record that stated a case's follow-up status was found: of records posted out of
order, the status of the one found latest stands, as the scorer reads it.  Cases whose status
was set before this revision have none until the read models are rebuilt (`ews replay`); until
then the next record that states a status sets it, as before this revision.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as t:
        t.add_column(sa.Column("status_found_at", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("cases") as t:
        t.drop_column("status_found_at")
