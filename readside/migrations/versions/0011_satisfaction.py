"""The answers at follow-up visits (回访满意度), and columns too short for what they hold.

* Each case's answer, as its latest-found record gave it, on the case row: the county's
  satisfaction figure (``readside.alert_queries.kpis``) reads it instead of searching every
  timeline entry's text on every request (``bench/bench_kpis.py``).  The cases projected
  before this revision get theirs from their timelines here, by the rule the projection keeps
  (``readside.projections._appended_row``), in one ordered read and one batch of updates.
* An alert's answer held 16 characters, and ``basically_satisfied`` (基本满意) has 19; a
  receipt's and a dead letter's idempotency key held 64, and a township system posting to the
  records topic itself may send a key of up to 255 (``domain.intake.Posted.header``).
  PostgreSQL refused such rows; SQLite does not enforce a length.  The downgrade leaves them
  wide: narrowing would refuse the rows that need the width.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

import datetime as dt
import json
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from schemas.events import RecordAppended

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WIDER = (
    ("alerts", "satisfaction", 16, 24),
    *((t, "idempotency_key", 64, 255) for t in ("intake_receipts", "dead_letters")),
)

# add_column, not batch_alter_table: SQLite adds (and, from 3.35, drops) a column in place, and
# keeps the expression indexes of 0010 that a copy of the table would lose


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        for table, column, was, now in WIDER:
            op.alter_column(table, column, type_=sa.String(now), existing_type=sa.String(was))
    op.add_column("cases", sa.Column("satisfaction", sa.String(24)))
    kind = {"kind": RecordAppended.type_name()}
    records = sa.text(
        "SELECT case_id, payload FROM case_timeline WHERE event_type = :kind AND case_id IN "
        "(SELECT case_id FROM case_timeline WHERE event_type = :kind "
        "AND payload LIKE '%\"satisfaction\"%') ORDER BY case_id, seq"
    )
    rows = conn.execute(records.execution_options(stream_results=True), kind)
    answers = []
    for case_id, payloads in groupby(rows, key=lambda row: row[0]):
        answer = _latest_found([json.loads(payload)["record"] for _, payload in payloads])
        if answer is not None:
            answers.append({"answer": answer, "case_id": case_id})
    update = sa.text("UPDATE cases SET satisfaction = :answer WHERE case_id = :case_id")
    if answers:
        conn.execute(update, answers)


def _latest_found(records: list[dict]) -> str | None:
    """The answer of the latest-found record that gives one; a record found before the latest
    fills only what is still empty."""
    latest: dt.datetime | None = None
    answer = None
    for r in records:
        found = dt.datetime.fromisoformat(r["found_at"])
        found = found if found.tzinfo else found.replace(tzinfo=dt.UTC)
        current = latest is None or found >= latest
        latest = found if current else latest
        if r.get("satisfaction") is not None and (current or answer is None):
            answer = r["satisfaction"]
    return answer


def downgrade() -> None:
    op.execute("ALTER TABLE cases DROP COLUMN satisfaction")  # in place (SQLite 3.35 or later)
