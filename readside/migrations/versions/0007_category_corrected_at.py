"""When the correction that set a case's category was found: of corrections posted out of
order, the one found latest stands.  Cases corrected before this revision have none until the
read models are rebuilt (`ews replay`); until then a correction posted late for such a case
sets the category as before this revision did.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as t:
        t.add_column(sa.Column("category_corrected_at", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("cases") as t:
        t.drop_column("category_corrected_at")
