"""Read-model tables (SQLAlchemy Core).  The schema itself is created by Alembic migrations
in ``readside/migrations``; this module only describes it for queries.

Every table here is a projection of the Kafka log and can be dropped and rebuilt by replaying
it (``ews replay``).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("case_id", sa.String(32), primary_key=True),
    sa.Column("township", sa.String(32), nullable=False, index=True),
    sa.Column("village", sa.String(64)),
    sa.Column("ref_no", sa.String(64), nullable=False),
    sa.Column("category", sa.String(32), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("opened_at", sa.String(40), nullable=False),
    sa.Column("closed_at", sa.String(40)),
    sa.Column("last_found_at", sa.String(40)),
    sa.Column("record_count", sa.Integer, nullable=False),
    sa.Column("people_involved", sa.Integer),
    sa.Column("amount_involved_yuan", sa.Float),
    sa.Column("is_petition", sa.Boolean),
    sa.Column("petition_received_on", sa.String(10)),
    sa.Column("follow_up_status", sa.String(16)),
    sa.Column("escalation_kind", sa.String(16)),
    sa.Column("last_seq", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    # when the correction that set the category was found (migration 0007)
    sa.Column("category_corrected_at", sa.String(40)),
    # when the record that stated the follow-up status was found (migration 0008)
    sa.Column("status_found_at", sa.String(40)),
    sa.Column("satisfaction", sa.String(24)),  # the follow-up visit's answer (回访满意度)
    # {value: found_at} of the record each latest value came from (migration 0013)
    sa.Column("values_found_at", sa.String(400)),
)
# The case list's order, the latest found first (``case_queries.case_rows``): one order on
# SQLite and PostgreSQL, whatever each does with NULL.  The '' is written into the SQL, not
# bound, so that the databases match it with the indexes below (migration 0010): a page is
# then read from an index instead of sorting every case of the county.
FOUND_ORDER = sa.func.coalesce(cases.c.last_found_at, sa.literal_column("''"))
sa.Index("ix_cases_found_order", FOUND_ORDER.desc(), cases.c.case_id)
sa.Index("ix_cases_township_found_order", cases.c.township, FOUND_ORDER.desc(), cases.c.case_id)

case_timeline = sa.Table(
    "case_timeline",
    metadata,
    sa.Column("event_id", sa.String(32), primary_key=True),
    sa.Column("case_id", sa.String(32), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("occurred_at", sa.String(40), nullable=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.UniqueConstraint("case_id", "seq", name="uq_case_timeline_case_seq"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("dead_letter_id", sa.String(96), primary_key=True),
    sa.Column("source_topic", sa.String(128), nullable=False),
    sa.Column("source_partition", sa.Integer, nullable=False),
    sa.Column("source_offset", sa.BigInteger, nullable=False),
    sa.Column("township", sa.String(32)),
    sa.Column("reason_code", sa.String(32), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("original_b64", sa.Text, nullable=False),
    sa.Column("received_at", sa.String(40), nullable=False),
    sa.Column("source_file", sa.String(255)),
    sa.Column("source_row", sa.Integer),
    sa.Column("idempotency_key", sa.String(255), index=True),  # 64 until 0011
)

intake_receipts = sa.Table(
    "intake_receipts",
    metadata,
    sa.Column("receipt_id", sa.String(96), primary_key=True),
    sa.Column("township", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("case_id", sa.String(32)),
    sa.Column("reason_code", sa.String(32)),
    sa.Column("received_at", sa.String(40), nullable=False),
    sa.Column("idempotency_key", sa.String(255), index=True),  # 64 until 0011
)

intake_counts = sa.Table(
    "intake_counts",
    metadata,
    sa.Column("township", sa.String(32), primary_key=True),
    sa.Column("received", sa.Integer, nullable=False),
    sa.Column("accepted", sa.Integer, nullable=False),
    sa.Column("dead_lettered", sa.Integer, nullable=False),
)

projection_offsets = sa.Table(
    "projection_offsets",
    metadata,
    sa.Column("topic", sa.String(128), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("next_offset", sa.BigInteger, nullable=False),
)

projection_failures = sa.Table(
    "projection_failures",
    metadata,
    sa.Column("topic", sa.String(128), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("offset", sa.BigInteger, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("value_b64", sa.Text, nullable=False),
)


def _risk_columns(key: str) -> list[sa.Column]:
    """The columns of an assessment; ``key`` is the primary key."""
    return [
        sa.Column(
            "assessment_id", sa.String(32), primary_key=key == "assessment_id", nullable=False
        ),
        sa.Column(
            "case_id",
            sa.String(32),
            primary_key=key == "case_id",
            nullable=False,
            index=key != "case_id",
        ),
        sa.Column("case_seq", sa.Integer, nullable=False),
        sa.Column("as_of", sa.String(40), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("level", sa.String(8), nullable=False, index=True),
        sa.Column("township", sa.String(32), nullable=False, index=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("model_version", sa.String(16)),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("factors", sa.Text, nullable=False),
    ]


# every RiskAssessed, and the latest one per case (the level a duty officer sees now)
risk_assessments = sa.Table("risk_assessments", metadata, *_risk_columns("assessment_id"))
case_risk = sa.Table("case_risk", metadata, *_risk_columns("case_id"))

# a case's alerts, what happened to them, and every notification (from the alert events)
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("alert_id", sa.String(32), primary_key=True),
    sa.Column("case_id", sa.String(32), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("township", sa.String(32), nullable=False, index=True),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("units", sa.Text, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("raised_at", sa.String(40), nullable=False),
    sa.Column("acknowledge_by", sa.String(40)),
    sa.Column("feedback_by", sa.String(40)),  # the unit's: what the on-time share measures
    sa.Column("feedback_due", sa.String(40)),  # the one due now: an escalation moves it (0012)
    # when the acknowledgement now due was asked for: raise, upgrade, reassignment (0009)
    sa.Column("acknowledge_asked_at", sa.String(40)),
    sa.Column("acknowledged_at", sa.String(40)),
    sa.Column("acknowledged_by", sa.String(64)),
    sa.Column("first_feedback_at", sa.String(40)),
    sa.Column("resolved_at", sa.String(40)),
    sa.Column("resolved_by", sa.String(64)),
    sa.Column("satisfaction", sa.String(24)),  # 16 until 0011: too short for basically_satisfied
    sa.Column("escalation_step", sa.Integer, nullable=False),
    sa.Column("last_seq", sa.Integer, nullable=False),
)

alert_timeline = sa.Table(
    "alert_timeline",
    metadata,
    sa.Column("event_id", sa.String(32), primary_key=True),
    sa.Column("case_id", sa.String(32), nullable=False, index=True),
    sa.Column("alert_id", sa.String(32)),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("occurred_at", sa.String(40), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("actor", sa.String(64)),  # the person whose action caused it (migration 0006)
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("alert_id", sa.String(32), nullable=False, index=True),
    sa.Column("case_id", sa.String(32), nullable=False),
    sa.Column("receiver", sa.String(64), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("unit", sa.String(32)),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_reason", sa.Text),
    sa.Column("requested_at", sa.String(40), nullable=False),
    sa.Column("delivered_at", sa.String(40)),
)

READ_MODELS = (
    cases,
    case_timeline,
    dead_letters,
    intake_receipts,
    intake_counts,
    projection_failures,
    risk_assessments,
    case_risk,
    alerts,
    alert_timeline,
    deliveries,
)
