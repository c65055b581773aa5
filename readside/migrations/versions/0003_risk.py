"""Risk assessments (every RiskAssessed) and the current risk of each case.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _columns(current: bool) -> list[sa.Column]:
    key = "case_id" if current else "assessment_id"
    return [
        sa.Column(
            "assessment_id", sa.String(32), primary_key=key == "assessment_id", nullable=False
        ),
        sa.Column("case_id", sa.String(32), primary_key=key == "case_id", nullable=False),
        sa.Column("case_seq", sa.Integer, nullable=False),
        sa.Column("as_of", sa.String(40), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("township", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("model_version", sa.String(16)),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("factors", sa.Text, nullable=False),
    ]


def upgrade() -> None:
    op.create_table("risk_assessments", *_columns(current=False))
    op.create_index("ix_risk_assessments_case_id", "risk_assessments", ["case_id"])
    op.create_index("ix_risk_assessments_level", "risk_assessments", ["level"])
    op.create_index("ix_risk_assessments_township", "risk_assessments", ["township"])
    op.create_table("case_risk", *_columns(current=True))
    op.create_index("ix_case_risk_level", "case_risk", ["level"])
    op.create_index("ix_case_risk_township", "case_risk", ["township"])


def downgrade() -> None:
    op.drop_table("case_risk")
    op.drop_table("risk_assessments")
