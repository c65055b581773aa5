"""Who caused an alert event (an officer's action), for the audit view.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_timeline") as t:
        t.add_column(sa.Column("actor", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("alert_timeline") as t:
        t.drop_column("actor")
