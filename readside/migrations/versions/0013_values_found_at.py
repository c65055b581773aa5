"""When the record behind each of a case's latest values was found.

A record found between two others but posted after both (a follow-up filed late) gave the case
row nothing: the row compared it with the case's latest record only, while the scorer takes
each value (head count, petition received on ...) from the latest-found record that gives it.
The time-limit map then counted from another day than the alert's reason.  ``values_found_at``
holds, per value, the found time of the record it came from.  Cases projected before this
revision start without it: their values count as found at the case's latest record, as before,
until ``ews replay``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("values_found_at", sa.String(400)))  # in place, as in 0011


def downgrade() -> None:
    op.execute("ALTER TABLE cases DROP COLUMN values_found_at")  # in place (SQLite 3.35 or later)
