"""The notifier's outbox: every notification to send, its attempts, and the notifier's
position in the alert-events log, in its own database (the read models are dropped by a
replay; the outbox must not be, or every notification would go out again).

Tables are created with ``create_all`` on start: a small store owned by one process.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("alert_id", sa.String(32), nullable=False),
    sa.Column("case_id", sa.String(32), nullable=False),
    sa.Column("receiver", sa.String(64), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column(
        "status", sa.String(16), nullable=False, index=True
    ),  # pending|sending|delivered|given_up
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.Float, nullable=False, index=True),  # epoch seconds
    sa.Column("last_reason", sa.Text),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

positions = sa.Table(
    "notifier_positions",
    metadata,
    sa.Column("topic", sa.String(128), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("next_offset", sa.BigInteger, nullable=False),
)


def create(engine: sa.Engine) -> None:
    metadata.create_all(engine)
