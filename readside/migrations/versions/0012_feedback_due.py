"""The feedback deadline an alert has now, beside the one the on-time share measures.

An escalation gives the unit's head a feedback deadline of their own (``AlertEscalated``); the
county's on-time share still measures the deadline the unit was given (``feedback_by``), so the
console's countdown showed a deadline long past for the whole day the head has.  The console
now reads ``feedback_due``, which every event that sets a feedback deadline moves.  Alerts
projected before this revision start with their ``feedback_by``: exact for every alert not
escalated since its unit was given its deadline, and for those after ``ews replay``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("feedback_due", sa.String(40)))  # in place, as in 0011
    op.execute("UPDATE alerts SET feedback_due = feedback_by")


def downgrade() -> None:
    op.execute("ALTER TABLE alerts DROP COLUMN feedback_due")  # in place (SQLite 3.35 or later)
