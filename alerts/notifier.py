"""The notifier: alert events in, notifications out, delivery reports back to the alerts.

* it reads the alert-events topic from its own position (kept in the outbox database, in the
  same transaction as the outbox rows it adds), and puts every ``NotificationRequested`` in the
  outbox once (its key is the primary key);
* it sends what is due, a batch at a time: marks the rows ``sending`` (committed), sends each
  once through apprise (several at once), reports the outcomes to the alert-commands topic
  (``DeliveryReport``s, one message per case of the batch, waited for), then records the
  attempts and the rows' new status; a failure is tried again after the routing's back-off,
  and given up on after its last attempt;
* a crash between sending and recording leaves the row ``sending``, so it is sent again with
  the same idempotency key: a duplicate is only ever a send that was in flight at a crash, and
  the receiver can drop it by the key.  Reports repeat with the same command id, so the alert
  writer applies each once;
* the log also holds each notification's outcome (``NotificationDelivered``,
  ``NotificationGivenUp``): a row whose outcome is read is settled and never sent again, so an
  outbox lost or started afresh (the log read again from its start) sends only what was never
  delivered nor given up, and it sends nothing until it has read as far as the log went when
  it started (at most ``CATCH_UP_AT_MOST``: a partition it cannot read holds back no other);
* once an alert is resolved (``AlertResolved``), what is still pending of it is not sent: it
  is reported given up ("the alert was resolved"), and the desk is not told.

``clock`` is injectable: tests move time instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import sqlalchemy as sa
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from alerts import outbox as ob
from alerts.channels import send as send_once
from domain.alerts.message import mask_personal
from domain.alerts.routing import Routing
from schemas.commands import DeliveryReport, command_messages
from schemas.events import (
    AlertResolved,
    Envelope,
    EventNotReadable,
    NotificationDelivered,
    NotificationGivenUp,
    NotificationRequested,
)
from schemas.settings import KafkaAccess, client_args
from schemas.topics import Topics

log = logging.getLogger("ews.notifier")
REQUESTED = NotificationRequested.type_name()
SETTLED = {
    NotificationDelivered.type_name(): "delivered",
    NotificationGivenUp.type_name(): "given_up",
}
RESOLVED = AlertResolved.type_name()
READ_AT_ONCE = 500  # alert events per poll
CATCH_UP_AT_MOST = 60.0  # seconds: then it sends anyway (a partition it cannot read holds none)
CANCELLED = "预警已办结，不再发送 / the alert was resolved before this was sent"
Sender = Callable[[str, str, str, str], tuple[bool, str]]


class Notifier:
    def __init__(
        self,
        engine: sa.Engine,
        bootstrap: str | KafkaAccess,
        topics: Topics,
        routing: Routing,
        send: Sender = send_once,
        clock: Callable[[], float] = time.time,
        senders: int = 8,
    ) -> None:
        self.engine, self.bootstrap, self.topics, self.routing = engine, bootstrap, topics, routing
        self.send, self.clock = send, clock
        self.pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix="ews-send")
        self.stopped = threading.Event()
        ob.create(engine)

    # ---- reading the alert events into the outbox -------------------------------------------
    def _consumer(self) -> tuple[KafkaConsumer, list[TopicPartition]]:
        consumer = KafkaConsumer(
            **client_args(self.bootstrap),
            group_id=None,
            enable_auto_commit=False,
            client_id="ews-notifier",
        )
        parts = None
        deadline = time.monotonic() + 30
        while not parts and time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(self.topics.alert_events)
            if not parts:
                time.sleep(0.2)
        if not parts:
            raise RuntimeError(
                f"topic {self.topics.alert_events} does not exist (run `ews topics` first)"
            )
        tps = [TopicPartition(self.topics.alert_events, p) for p in sorted(parts)]
        consumer.assign(tps)
        with self.engine.connect() as conn:
            stored = {
                (r.topic, r.partition): r.next_offset for r in conn.execute(sa.select(ob.positions))
            }
        for tp in tps:
            if (tp.topic, tp.partition) in stored:
                consumer.seek(tp, stored[(tp.topic, tp.partition)])
            else:
                consumer.seek_to_beginning(tp)
        return consumer, tps

    def take(self, messages: list) -> int:
        """Put the notifications these alert-event messages ask for in the outbox, and the
        position after them, in one transaction; returns how many were new."""
        rows = []
        settled: dict[str, str] = {}  # key -> its outcome in the log
        resolved: set[str] = set()
        for m in messages:
            try:
                body = orjson.loads(m.value)
                kind = body.get("event_type")
                if kind != REQUESTED and kind not in SETTLED and kind != RESOLVED:
                    continue  # most alert events ask for no notification: not built at all
                envelope = Envelope.from_dict(body)
                e: Any = envelope.event  # the type its event_type names
            except (EventNotReadable, ValueError, KeyError, AttributeError) as exc:
                log.error("unreadable alert event at %s:%s: %s", m.partition, m.offset, exc)
                continue
            if kind in SETTLED:
                settled[e.key] = SETTLED[kind]
                continue
            if kind == RESOLVED:
                resolved.add(e.alert_id)
                continue
            rows.append(
                {
                    "key": e.key,
                    "alert_id": e.alert_id,
                    "case_id": envelope.case_id,
                    "receiver": e.receiver,
                    "url": e.url,
                    "title": e.title,
                    "body": e.body,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": self.clock(),
                    "last_reason": None,
                }
            )
        with self.engine.begin() as conn:
            known = set()
            if rows:
                keys = [r["key"] for r in rows]
                known = set(conn.execute(ob.KNOWN, {"keys": keys}).scalars())
            new = [r for r in {r["key"]: r for r in rows}.values() if r["key"] not in known]
            if new:
                conn.execute(ob.ADD, new)
            if settled:
                conn.execute(ob.SETTLE, [{"row_key": k, "settled": s} for k, s in settled.items()])
            if resolved:
                conn.execute(ob.CANCEL, {"alert_ids": sorted(resolved)})
            self._save_positions(conn, messages)
        return len(new)

    def _save_positions(self, conn: sa.Connection, messages: list) -> None:
        nexts: dict[tuple[str, int], int] = {}
        for m in messages:
            nexts[(m.topic, m.partition)] = max(nexts.get((m.topic, m.partition), 0), m.offset + 1)
        for (topic, partition), offset in nexts.items():
            at = {"at_topic": topic, "at_partition": partition, "offset": offset}
            if conn.execute(ob.MOVE_POSITION, at).rowcount == 0:
                conn.execute(ob.ADD_POSITION, at)

    # ---- sending what is due ------------------------------------------------------------------
    def send_due(self, producer: KafkaProducer, limit: int = 200) -> int:
        """Send every notification that is due now, a batch at a time: the rows are marked
        ``sending`` in one transaction, sent concurrently, their reports produced and waited
        for together, and their outcomes recorded in one transaction.  Returns how many."""
        now = self.clock()
        with self.engine.begin() as conn:
            due = [dict(r) for r in conn.execute(ob.DUE, {"now": now, "limit": limit}).mappings()]
            sending = [r["key"] for r in due if r["status"] != "cancelling"]  # those stay so
            if sending:
                conn.execute(ob.MARK_SENDING, {"keys": sending})
        if not due:
            return 0

        def send(row: dict) -> tuple[bool, str]:
            if row["status"] == "cancelling":
                return False, CANCELLED  # reported given up, never sent
            return self.send(row["url"], row["title"], row["body"], row["key"])

        results = list(self.pool.map(send, due))
        now = self.clock()
        outcomes = [
            self._outcome(row, ok, detail, now)
            for row, (ok, detail) in zip(due, results, strict=True)
        ]
        by_case: dict[str, list[DeliveryReport]] = {}
        for report, _ in outcomes:
            by_case.setdefault(report.case_id, []).append(report)
        futures = [
            producer.send(self.topics.alert_commands, key=case_id.encode(), value=body)
            for case_id, reports in by_case.items()
            for body in command_messages(reports)
        ]
        producer.flush()
        for f in futures:
            f.get(timeout=30)  # every report is in the log before the outcomes are recorded
        with self.engine.begin() as conn:
            conn.execute(
                ob.RECORD_OUTCOME,
                [
                    {"row_key": row["key"], **values}
                    for row, (_, values) in zip(due, outcomes, strict=True)
                ],
            )
            conn.execute(
                ob.ADD_ATTEMPT,
                [
                    {
                        "key": r.key,
                        "attempt": r.attempt,
                        "at": now,
                        "outcome": r.outcome,
                        "detail": r.detail[:500],
                    }
                    for r, _ in outcomes
                ],
            )
        for report, _ in outcomes:
            if report.outcome != "delivered":
                log.warning(
                    "%s to %s, attempt %d: %s",
                    report.outcome,
                    report.receiver,
                    report.attempt,
                    report.detail,
                )
        return len(due)

    def _outcome(
        self, row: dict, delivered: bool, detail: str, now: float
    ) -> tuple[DeliveryReport, dict]:
        """The report of one attempt and the outbox row's new values."""
        attempt = row["attempts"] + 1
        if row["status"] == "cancelling":
            status, outcome, next_at = "cancelled", "given_up", now
        elif delivered:
            status, outcome, next_at = "delivered", "delivered", now
        else:
            wait = self.routing.delivery.next_wait(attempt)
            if wait is None:
                status, outcome, next_at = "given_up", "given_up", now
            else:
                status, outcome, next_at = "pending", "failed", now + wait.total_seconds()
        report = DeliveryReport(
            command_id=f"delivery:{row['key']}:{attempt}",
            case_id=row["case_id"],
            alert_id=row["alert_id"],
            receiver=row["receiver"],
            key=row["key"],
            outcome=outcome,
            attempt=attempt,
            detail=mask_personal(detail),
            at=dt.datetime.fromtimestamp(now, tz=dt.UTC).isoformat(timespec="seconds"),
        )
        values = {
            "status": status,
            "attempts": attempt,
            "next_attempt_at": next_at,
            "last_reason": detail,
        }
        return report, values

    def run(self, idle: float = 0.2) -> None:
        """Follow the alert events and send, until stopped."""
        consumer, tps = self._consumer()
        backlog = consumer.end_offsets(tps)  # outcomes in it settle what it asked for
        catch_up_until = time.monotonic() + CATCH_UP_AT_MOST
        producer = KafkaProducer(
            **client_args(self.bootstrap),
            acks="all",
            linger_ms=50,  # a batch's reports go out together: send_due flushes after the last
            client_id="ews-notifier",
        )
        try:
            while not self.stopped.is_set():
                polled = consumer.poll(timeout_ms=int(idle * 1000), max_records=READ_AT_ONCE)
                messages = [m for batch in polled.values() for m in batch]
                if messages:
                    self.take(messages)
                if backlog:  # until read as far as the log went at the start, nothing is sent
                    behind = [
                        tp.partition for tp, end in backlog.items() if consumer.position(tp) < end
                    ]
                    late = time.monotonic() > catch_up_until
                    if behind and late:
                        log.warning(
                            "alert-event partitions %s not read up to their end in %.0f s: "
                            "sending anyway",
                            behind,
                            CATCH_UP_AT_MOST,
                        )
                    backlog = backlog if behind and not late else {}
                if not backlog:
                    self.send_due(producer)
        finally:
            consumer.close()
            producer.close()

    def stop(self) -> None:
        self.stopped.set()
