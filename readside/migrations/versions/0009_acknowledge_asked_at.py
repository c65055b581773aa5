"""When an alert's current acknowledgement was asked for: at its raise, its upgrade to a higher
level after an acknowledgement (an upgrade of an alert nobody acknowledged asks nothing new),
or its reassignment to another unit.  The acknowledgement time per level counts from
it.  Alerts projected before this revision have none until the read models are rebuilt
(`ews replay`); until then their time counts from the raise, as before this revision.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as t:
        t.add_column(sa.Column("acknowledge_asked_at", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as t:
        t.drop_column("acknowledge_asked_at")
