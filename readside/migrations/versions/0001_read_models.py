"""Read models of the event backbone: cases, timelines, dead letters, intake counts.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(32), primary_key=True),
        sa.Column("township", sa.String(32), nullable=False),
        sa.Column("village", sa.String(64)),
        sa.Column("ref_no", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
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
    )
    op.create_index("ix_cases_township", "cases", ["township"])
    op.create_index("ix_cases_category", "cases", ["category"])
    op.create_table(
        "case_timeline",
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
    op.create_table(
        "dead_letters",
        sa.Column("dead_letter_id", sa.String(96), primary_key=True),
        sa.Column("source_topic", sa.String(128), nullable=False),
        sa.Column("source_partition", sa.Integer, nullable=False),
        sa.Column("source_offset", sa.BigInteger, nullable=False),
        sa.Column("township", sa.String(32)),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("original_b64", sa.Text, nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_dead_letters_reason_code", "dead_letters", ["reason_code"])
    op.create_table(
        "intake_receipts",
        sa.Column("receipt_id", sa.String(96), primary_key=True),
        sa.Column("township", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(32)),
        sa.Column("reason_code", sa.String(32)),
        sa.Column("received_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "intake_counts",
        sa.Column("township", sa.String(32), primary_key=True),
        sa.Column("received", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("dead_lettered", sa.Integer, nullable=False),
    )
    op.create_table(
        "projection_offsets",
        sa.Column("topic", sa.String(128), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "projection_offsets",
        "intake_counts",
        "intake_receipts",
        "dead_letters",
        "case_timeline",
        "cases",
    ):
        op.drop_table(name)
