"""Alerts, their timelines and their deliveries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("township", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("units", sa.Text, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("raised_at", sa.String(40), nullable=False),
        sa.Column("acknowledge_by", sa.String(40)),
        sa.Column("feedback_by", sa.String(40)),
        sa.Column("acknowledged_at", sa.String(40)),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("first_feedback_at", sa.String(40)),
        sa.Column("resolved_at", sa.String(40)),
        sa.Column("resolved_by", sa.String(64)),
        sa.Column("satisfaction", sa.String(16)),
        sa.Column("escalation_step", sa.Integer, nullable=False),
        sa.Column("last_seq", sa.Integer, nullable=False),
    )
    op.create_index("ix_alerts_case_id", "alerts", ["case_id"])
    op.create_index("ix_alerts_status", "alerts", ["status"])
    op.create_index("ix_alerts_township", "alerts", ["township"])
    op.create_table(
        "alert_timeline",
        sa.Column("event_id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("alert_id", sa.String(32)),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.String(40), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_index("ix_alert_timeline_case_id", "alert_timeline", ["case_id"])
    op.create_table(
        "deliveries",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_reason", sa.Text),
        sa.Column("requested_at", sa.String(40), nullable=False),
        sa.Column("delivered_at", sa.String(40)),
    )
    op.create_index("ix_deliveries_alert_id", "deliveries", ["alert_id"])
    op.create_index("ix_deliveries_receiver", "deliveries", ["receiver"])
    op.create_index("ix_deliveries_status", "deliveries", ["status"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("alert_timeline")
    op.drop_table("alerts")
