"""The answers at follow-up visits (回访满意度).

* Each case's answer, as its latest-found record gave it, on the case row: the county's
  satisfaction figure (``readside.alert_queries.kpis``) reads it instead of searching every
  timeline entry's text on every request (``bench/bench_kpis.py``).  The cases projected
  before this revision get theirs from their timelines here, by the rule the projection keeps
  (``readside.projections._appended_row``).
* An alert's answer held 16 characters, and ``basically_satisfied`` (基本满意) has 19:
  PostgreSQL refused the row of an alert resolved with it.  (SQLite does not enforce a
  length.)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

from schemas.events import RecordAppended

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# add_column, not batch_alter_table: SQLite adds (and, from 3.35, drops) a column in place, and
# keeps the expression indexes of 0010 that a copy of the table would lose


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("alerts", "satisfaction", type_=sa.String(24), existing_type=sa.String(16))
    op.add_column("cases", sa.Column("satisfaction", sa.String(24)))
    conn = op.get_bind()
    appended = {"kind": RecordAppended.type_name()}
    answered = sa.text(
        "SELECT DISTINCT case_id FROM case_timeline "
        "WHERE event_type = :kind AND payload LIKE '%\"satisfaction\"%'"
    )
    records = sa.text(
        "SELECT payload FROM case_timeline "
        "WHERE case_id = :case_id AND event_type = :kind ORDER BY seq"
    )
    update = sa.text("UPDATE cases SET satisfaction = :answer WHERE case_id = :case_id")
    for (case_id,) in conn.execute(answered, appended).all():
        payloads = conn.execute(records, {"case_id": case_id} | appended).scalars()
        answer = _latest_found([json.loads(p)["record"] for p in payloads])
        if answer is not None:
            conn.execute(update, {"answer": answer, "case_id": case_id})


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
    op.execute("ALTER TABLE cases DROP COLUMN satisfaction")  # in place, as it was added
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("alerts", "satisfaction", type_=sa.String(16), existing_type=sa.String(24))
