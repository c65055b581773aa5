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
    ),  # pending|sending|delivered|given_up, and cancelling|cancelled (the alert was resolved)
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


# The notifier's statements, built once (building them for every batch cost more than running
# them); the lists of keys are expanding parameters.
KNOWN = sa.select(outbox.c.key).where(outbox.c.key.in_(sa.bindparam("keys", expanding=True)))
ADD = sa.insert(outbox)
DUE = (
    sa.select(outbox)
    .where(
        outbox.c.status.in_(("pending", "sending", "cancelling")),
        outbox.c.next_attempt_at <= sa.bindparam("now"),
    )
    .order_by(outbox.c.next_attempt_at, outbox.c.key)
    .limit(sa.bindparam("limit"))
)
MARK_SENDING = (
    sa.update(outbox)
    .where(outbox.c.key.in_(sa.bindparam("keys", expanding=True)))
    .values(status="sending")
)
RECORD_OUTCOME = sa.update(outbox).where(outbox.c.key == sa.bindparam("row_key"))
# an outcome the log already holds (a report whose outbox row was lost or not yet recorded);
# OR, not IN: it runs with many keys at once, and SQLAlchemy expands an IN per statement
SETTLE = (
    sa.update(outbox)
    .where(
        outbox.c.key == sa.bindparam("row_key"),
        sa.or_(*(outbox.c.status == s for s in ("pending", "sending", "cancelling"))),
    )
    .values(status=sa.bindparam("settled"))
)
# what is still to send of an alert once it is resolved: reported, never sent
CANCEL = (
    sa.update(outbox)
    .where(
        outbox.c.alert_id.in_(sa.bindparam("alert_ids", expanding=True)),
        outbox.c.status == "pending",
    )
    .values(status="cancelling")
)
ADD_ATTEMPT = sa.insert(attempts)
_AT = (positions.c.topic == sa.bindparam("at_topic")) & (
    positions.c.partition == sa.bindparam("at_partition")
)
MOVE_POSITION = sa.update(positions).where(_AT).values(next_offset=sa.bindparam("offset"))
ADD_POSITION = sa.insert(positions).values(
    topic=sa.bindparam("at_topic"),
    partition=sa.bindparam("at_partition"),
    next_offset=sa.bindparam("offset"),
)
