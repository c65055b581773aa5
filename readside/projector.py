"""The projector: Kafka log -> SQL read models, in batches.

It reads the case-events, intake-receipts and dead-letters topics with a kafka-python
consumer that owns its positions: they live in the ``projection_offsets`` table and are written
in the same transaction as the rows they produced.  A crash therefore loses nothing and applies
nothing twice: the next run starts from the last committed batch.  Events re-emitted by the
stream after a crash (same ``event_id``, same ``seq``) and repeated receipts or dead letters
(same id) are recognised and skipped.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, OffsetOutOfRangeError

from readside import alert_projections as ap
from readside import projections as pj
from readside.bulk import existing_keys, insert_rows, rows_by_key, upsert_rows
from readside.lock import read_model_writer
from readside.tables import (
    alert_timeline,
    alerts,
    case_risk,
    case_timeline,
    cases,
    dead_letters,
    deliveries,
    intake_counts,
    intake_receipts,
    projection_failures,
    projection_offsets,
    risk_assessments,
)
from schemas.events import Envelope
from schemas.receipts import DeadLetter, IntakeReceipt, receipts_from_bytes
from schemas.risk import RiskAssessed
from schemas.settings import KafkaAccess, client_args
from schemas.topics import Topics

log = logging.getLogger("ews.projector")
# errors caused by a message's content (not by the database being unreachable)
DATA_ERRORS = (sa.exc.DataError, sa.exc.IntegrityError, KeyError, TypeError, ValueError)


class ProjectorError(RuntimeError):
    """The projector cannot go on without losing or repeating events (it says why)."""


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    value: bytes


def projected_topics(topics: Topics) -> list[str]:
    return [
        topics.case_events,
        topics.intake_receipts,
        topics.dead_letters,
        topics.risk_assessments,
        topics.alert_events,
    ]


def apply_batch(conn: sa.Connection, batch: Sequence[Message], topics: Topics) -> dict[str, int]:
    """Apply one batch of log messages in the caller's transaction; return row counts."""
    events_topic = topics.case_events
    receipts_topic = topics.intake_receipts
    events: list[tuple[Message, Envelope]] = []
    receipts: list[IntakeReceipt] = []
    deads: list[DeadLetter] = []
    risks: list[RiskAssessed] = []
    alert_events: list[Envelope] = []
    unreadable: list[tuple[Message, Exception]] = []
    for m in batch:
        try:
            if m.topic == events_topic:
                events.append((m, Envelope.from_bytes(m.value)))
            elif m.topic == receipts_topic:
                receipts.extend(receipts_from_bytes(m.value))
            elif m.topic == topics.risk_assessments:
                risks.append(RiskAssessed.from_bytes(m.value))
            elif m.topic == topics.alert_events:
                alert_events.append(Envelope.from_bytes(m.value))
            else:
                deads.append(DeadLetter.from_bytes(m.value))
        except Exception as exc:  # kept in projection_failures, never silently skipped
            unreadable.append((m, exc))
    applied, out_of_sequence = _apply_events(conn, events)
    record_failures(conn, [*unreadable, *out_of_sequence])
    stats = {"events": applied, "failures": len(unreadable) + len(out_of_sequence)}
    stats["receipts"] = _apply_receipts(conn, receipts)
    stats["dead_letters"] = _apply_dead_letters(conn, deads)
    stats["risk"] = _apply_risk(conn, risks)
    stats["alerts"] = _apply_alert_events(conn, alert_events)
    _save_positions(conn, batch)
    return stats


def record_failures(conn: sa.Connection, failed: Sequence[tuple[Message, Exception]]) -> None:
    """Keep log messages this projection could not apply, with the reason, for an operator."""
    rows = [
        {
            "topic": m.topic,
            "partition": m.partition,
            "offset": m.offset,
            "reason": f"{type(exc).__name__}: {exc}"[:2000],
            "value_b64": base64.b64encode(m.value or b"").decode("ascii"),
        }
        for m, exc in failed
    ]
    for r in rows:
        log.error(
            "could not project %s:%s:%s: %s", r["topic"], r["partition"], r["offset"], r["reason"]
        )
    if rows:
        seen = {
            (r.topic, r.partition, r.offset)
            for r in conn.execute(
                sa.select(
                    projection_failures.c.topic,
                    projection_failures.c.partition,
                    projection_failures.c.offset,
                )
            )
        }
        new = [r for r in rows if (r["topic"], r["partition"], r["offset"]) not in seen]
        if new:
            conn.execute(sa.insert(projection_failures), new)


class OutOfSequence(Exception):
    """A case event that does not follow its case's last one (see ``out_of_sequence``)."""


def _apply_events(
    conn: sa.Connection, messages: list[tuple[Message, Envelope]]
) -> tuple[int, list[tuple[Message, Exception]]]:
    """Apply case events; those out of their case's sequence are returned, not applied."""
    if not messages:
        return 0, []
    events = [e for _, e in messages]
    rows = rows_by_key(conn, cases.c.case_id, {e.case_id for e in events})
    known = set(rows)
    # An event is in the timeline only if its case row had reached its seq (both are written
    # in one transaction), so only those events can be redeliveries: look up their ids alone.
    maybe_seen = {e.event_id for e in events if e.seq <= rows.get(e.case_id, {}).get("last_seq", 0)}
    seen_ids = existing_keys(conn, case_timeline.c.event_id, maybe_seen)
    timeline: list[dict] = []
    failed: list[tuple[Message, Exception]] = []
    changed: set[str] = set()
    for m, e in messages:
        if e.event_id in seen_ids:
            continue  # applied before: a redelivery
        row = rows.get(e.case_id)
        why = pj.out_of_sequence(row, e)
        if why is not None:
            failed.append((m, OutOfSequence(why)))
            continue
        seen_ids.add(e.event_id)
        rows[e.case_id] = pj.apply_to_case(row, e)
        changed.add(e.case_id)
        timeline.append(pj.timeline_row(e))
    insert_rows(conn, cases, [rows[cid] for cid in changed if cid not in known])
    upsert_rows(conn, cases, [rows[cid] for cid in changed if cid in known])
    insert_rows(conn, case_timeline, timeline)
    return len(timeline), failed


def _apply_receipts(conn: sa.Connection, receipts: list[IntakeReceipt]) -> int:
    if not receipts:
        return 0
    unique = {r.receipt_id: pj.receipt_row(r) for r in receipts}
    seen = existing_keys(conn, intake_receipts.c.receipt_id, unique)
    fresh = [r for rid, r in unique.items() if rid not in seen]
    new = _first_postings(conn, intake_receipts.c.idempotency_key, fresh)
    if new:
        insert_rows(conn, intake_receipts, new)
        _count(conn, pj.count_receipts(new))
    kept = {r["receipt_id"] for r in new}
    again = [r for r in fresh if r["receipt_id"] not in kept and r["outcome"] == "accepted"]
    return len(new) + _accepted_after_dead_letter(conn, again)


def _accepted_after_dead_letter(conn: sa.Connection, again: list[dict]) -> int:
    """Of the accepted postings of rows posted before (``again``), those whose first posting
    was dead-lettered (dated after it was posted): each receipt takes the first one's place,
    the townships' counts move it from dead-lettered to accepted, and its dead letter goes.
    How many did so."""
    # the batch's first postings at once: a sheet posted twice has every row here
    found = rows_by_key(
        conn, intake_receipts.c.idempotency_key, {r["idempotency_key"] for r in again}
    )
    firsts = {k: r for k, r in found.items() if r["outcome"] != "accepted"}
    return sum(
        _replace_dead_lettered(conn, firsts.pop(r["idempotency_key"]), r)
        for r in again
        if r["idempotency_key"] in firsts
    )


def _replace_dead_lettered(conn: sa.Connection, first: dict, receipt: dict) -> int:
    key = intake_receipts.c.idempotency_key
    conn.execute(sa.delete(intake_receipts).where(key == receipt["idempotency_key"]))
    insert_rows(conn, intake_receipts, [receipt])
    conn.execute(
        sa.delete(dead_letters).where(dead_letters.c.idempotency_key == receipt["idempotency_key"])
    )
    _count(conn, {first["township"]: (-1, 0, -1)})
    _count(conn, {receipt["township"]: (1, 1, 0)})
    return 1


def _count(conn: sa.Connection, counts: dict[str, tuple[int, int, int]]) -> None:
    """Add (received, accepted, dead-lettered) to each township's intake counts."""
    current = {
        r.township: r
        for r in conn.execute(
            sa.select(intake_counts).where(intake_counts.c.township.in_(list(counts)))
        )
    }
    for township, (rec, acc, dead) in counts.items():
        if township in current:
            conn.execute(
                sa.update(intake_counts)
                .where(intake_counts.c.township == township)
                .values(
                    received=intake_counts.c.received + rec,
                    accepted=intake_counts.c.accepted + acc,
                    dead_lettered=intake_counts.c.dead_lettered + dead,
                )
            )
        else:
            conn.execute(
                sa.insert(intake_counts).values(
                    township=township, received=rec, accepted=acc, dead_lettered=dead
                )
            )


def _first_postings(conn: sa.Connection, key: sa.Column, rows: list[dict]) -> list[dict]:
    """The rows whose idempotency key no earlier row has: a file row posted again (the same
    file sent twice) is counted and kept once."""
    keys = [r["idempotency_key"] for r in rows if r.get("idempotency_key")]
    taken = existing_keys(conn, key, set(keys))
    out = []
    for r in rows:
        k = r.get("idempotency_key")
        if k and k in taken:
            continue
        if k:
            taken.add(k)
        out.append(r)
    return out


def _apply_dead_letters(conn: sa.Connection, deads: list[DeadLetter]) -> int:
    if not deads:
        return 0
    unique = {d.dead_letter_id: pj.dead_letter_row(d) for d in deads}
    seen = existing_keys(conn, dead_letters.c.dead_letter_id, unique)
    new = _first_postings(
        conn, dead_letters.c.idempotency_key, [r for did, r in unique.items() if did not in seen]
    )
    keys = {r["idempotency_key"] for r in new if r.get("idempotency_key")}
    if keys:  # posted again and accepted since (``_accepted_after_dead_letter``)
        found = rows_by_key(conn, intake_receipts.c.idempotency_key, keys)
        accepted = {k for k, r in found.items() if r["outcome"] == "accepted"}
        new = [r for r in new if r.get("idempotency_key") not in accepted]
    insert_rows(conn, dead_letters, new)
    return len(new)


def _apply_risk(conn: sa.Connection, risks: list[RiskAssessed]) -> int:
    """Every new assessment into the history; the latest per case into ``case_risk``."""
    if not risks:
        return 0
    unique = {a.assessment_id: a for a in risks}
    seen = existing_keys(conn, risk_assessments.c.assessment_id, unique)
    new = [a for aid, a in unique.items() if aid not in seen]
    if not new:
        return 0
    insert_rows(conn, risk_assessments, [pj.risk_row(a) for a in new])
    current = rows_by_key(conn, case_risk.c.case_id, {a.case_id for a in new})
    changed: set[str] = set()
    for a in new:
        if pj.newer(current.get(a.case_id), a):
            current[a.case_id] = pj.risk_row(a)
            changed.add(a.case_id)
    upsert_rows(conn, case_risk, [current[cid] for cid in changed])
    return len(new)


def _apply_alert_events(conn: sa.Connection, events: list[Envelope]) -> int:
    """Alert rows, the alert timeline and deliveries; an event seen before is skipped."""
    if not events:
        return 0
    seen = existing_keys(conn, alert_timeline.c.event_id, {e.event_id for e in events})
    fresh = []
    for e in events:
        if e.event_id not in seen:
            seen.add(e.event_id)
            fresh.append(e)
    if not fresh:
        return 0
    insert_rows(conn, alert_timeline, [ap.alert_timeline_row(e) for e in fresh])
    _upsert(conn, alerts, alerts.c.alert_id, fresh, ap.alert_id_of, ap.apply_to_alert)
    _upsert(conn, deliveries, deliveries.c.key, fresh, ap.delivery_key, ap.apply_to_delivery)
    return len(fresh)


def _upsert(conn: sa.Connection, table: sa.Table, key: sa.Column, events, key_of, apply) -> None:  # noqa: ANN001
    """Fold events into rows of ``table`` keyed by ``key_of(event)``, then write the changed."""
    rows = rows_by_key(conn, key, {k for e in events if (k := key_of(e.event))})
    changed = set()
    for e in events:
        k = key_of(e.event)
        if not k:
            continue
        new = apply(rows.get(k), e)
        if new is not None and new is not rows.get(k):
            rows[k] = new
            changed.add(k)
    upsert_rows(conn, table, [rows[k] for k in changed])


def _save_positions(conn: sa.Connection, batch: Sequence[Message]) -> None:
    nexts: dict[tuple[str, int], int] = {}
    for m in batch:
        key = (m.topic, m.partition)
        nexts[key] = max(nexts.get(key, 0), m.offset + 1)
    rows = [{"topic": t, "partition": p, "next_offset": o} for (t, p), o in nexts.items()]
    upsert_rows(conn, projection_offsets, rows)


def positions(engine: sa.Engine) -> dict[tuple[str, int], int]:
    with engine.connect() as conn:
        return {
            (r.topic, r.partition): r.next_offset
            for r in conn.execute(sa.select(projection_offsets))
        }


class Projector:
    """Follows the log and keeps the read models up to date.

    ``share=(i, n)`` projects part of the log, for a replay by ``n`` processes
    (``readside.replay``): the case-events partitions ``p`` with ``p % n == i``, and the other
    topics only in share 0."""

    def __init__(
        self,
        engine: sa.Engine,
        bootstrap: str | KafkaAccess,
        topics: Topics,
        max_batch: int = 5000,
        broker_timeout: float = 30.0,
        share: tuple[int, int] = (0, 1),
    ) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.topics = topics
        self.max_batch = max_batch
        self.share = share
        self.broker_timeout = broker_timeout
        self.unreachable_since: float | None = None
        self.failures = 0  # messages kept in projection_failures by this run
        self.last_batch_at = 0.0  # Unix time of the last batch applied
        self.stopped = threading.Event()
        self.applied = 0

    def _consumer(self) -> tuple[KafkaConsumer, list[TopicPartition]]:
        consumer = KafkaConsumer(
            **client_args(self.bootstrap),
            enable_auto_commit=False,
            group_id=None,
            client_id="ews-projector",
            max_poll_records=self.max_batch,
            fetch_max_bytes=32 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            auto_offset_reset="none",  # never jump over or back to a position in silence
        )
        tps: list[TopicPartition] = []
        index, shares = self.share
        for topic in projected_topics(self.topics):
            if index > 0 and topic != self.topics.case_events:
                continue  # share 0 has the other topics whole
            parts = None
            deadline = time.monotonic() + 30
            while not parts and time.monotonic() < deadline:
                parts = consumer.partitions_for_topic(topic)
                if not parts:
                    time.sleep(0.2)
            if not parts:
                raise RuntimeError(f"topic {topic} does not exist (run `ews topics` first)")
            if topic == self.topics.case_events:
                parts = {p for p in parts if p % shares == index}
            tps.extend(TopicPartition(topic, p) for p in sorted(parts))
        consumer.assign(tps)
        stored = positions(self.engine)
        ends = consumer.end_offsets(tps, timeout_ms=int(self.broker_timeout * 1000))
        beyond = {
            tp: stored[tp.topic, tp.partition]
            for tp in tps
            if stored.get((tp.topic, tp.partition), 0) > ends[tp]
        }
        if beyond:
            consumer.close()
            where = ", ".join(
                f"{tp.topic}:{tp.partition} at {o} (log ends at {ends[tp]})"
                for tp, o in beyond.items()
            )
            raise ProjectorError(
                f"the read models are ahead of the log: {where}. The topics were recreated or "
                "belong to another deployment; rebuild the read models with `ews replay`."
            )
        for tp in tps:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        return consumer, tps

    def _check_broker(self, consumer: KafkaConsumer, tps: list[TopicPartition]) -> None:
        """While no data comes: is the broker there?  Logs while it is not, and gives up (the
        supervisor restarts the projector) once it has been gone for ``broker_timeout``."""
        try:
            consumer.end_offsets(tps, timeout_ms=5000)
        except KafkaError as exc:
            now = time.monotonic()
            self.unreachable_since = self.unreachable_since or now
            gone = now - self.unreachable_since
            if gone > self.broker_timeout:
                raise ProjectorError(
                    f"the broker at {self.bootstrap} has been unreachable for {gone:.0f}s "
                    f"({type(exc).__name__}); stopping"
                ) from exc
            log.warning("broker at %s unreachable for %.0fs (%s)", self.bootstrap, gone, exc)
        else:
            if self.unreachable_since is not None:
                log.warning("broker at %s reachable again", self.bootstrap)
            self.unreachable_since = None

    def run(
        self,
        until_caught_up: bool = False,
        idle_timeout: float | None = None,
        lock: bool = True,
        on_batch: Callable[[int, int | None], None] | None = None,
    ) -> int:
        """Apply batches until stopped; with ``until_caught_up``, stop at the log's end as it
        was when the run started.  Returns how many messages were applied.  Holds the read
        models' writer lock (``readside.lock``) unless the caller holds it (``lock=False``).
        ``on_batch(applied, to_apply)`` is called after every batch: how many messages this run
        has applied, and (``until_caught_up``) how many it has to apply in all."""
        if lock:
            with read_model_writer(self.engine, "the projector"):
                return self._run(until_caught_up, idle_timeout, on_batch)
        return self._run(until_caught_up, idle_timeout, on_batch)

    def _run(
        self,
        until_caught_up: bool,
        idle_timeout: float | None,
        on_batch: Callable[[int, int | None], None] | None,
    ) -> int:
        consumer, tps = self._consumer()
        last_data = last_check = time.monotonic()
        self.unreachable_since = None
        try:
            end = consumer.end_offsets(tps) if until_caught_up else None
            to_apply = (
                sum(end[tp] - consumer.position(tp) for tp in tps) if end is not None else None
            )
            if on_batch is not None:
                on_batch(self.applied, to_apply)
            while not self.stopped.is_set():
                if end is not None and all(consumer.position(tp) >= end[tp] for tp in tps):
                    break
                try:
                    polled = consumer.poll(timeout_ms=200, max_records=self.max_batch)
                except OffsetOutOfRangeError as exc:
                    raise ProjectorError(
                        f"a read-model position is outside the log ({exc}); the topics were "
                        "recreated or truncated: rebuild the read models with `ews replay`"
                    ) from exc
                batch = [
                    Message(r.topic, r.partition, r.offset, r.value)
                    for records in polled.values()
                    for r in records
                ]
                if not batch:
                    now = time.monotonic()
                    if idle_timeout is not None and now - last_data > idle_timeout:
                        break
                    if now - max(last_data, last_check) > 5.0:
                        self._check_broker(consumer, tps)
                        last_check = time.monotonic()
                    continue
                last_data = time.monotonic()
                self._apply(batch)
                self.applied += len(batch)
                if on_batch is not None:
                    on_batch(self.applied, to_apply)
        finally:
            consumer.close()
        return self.applied

    def _apply(self, batch: list[Message]) -> None:
        """One transaction for the batch; if the data of one message is what fails, apply the
        batch message by message and keep the ones that fail in ``projection_failures``, so
        one bad message never stops the projector.  A database that is down still raises."""
        self.last_batch_at = time.time()
        try:
            with self.engine.begin() as conn:
                self.failures += apply_batch(conn, batch, self.topics)["failures"]
            return
        except DATA_ERRORS as exc:
            log.error("batch of %d failed (%s); applying one by one", len(batch), exc)
        for m in batch:
            try:
                with self.engine.begin() as conn:
                    apply_batch(conn, [m], self.topics)
            except DATA_ERRORS as exc:
                self.failures += 1
                with self.engine.begin() as conn:
                    record_failures(conn, [(m, exc)])
                    _save_positions(conn, [m])

    def stop(self) -> None:
        self.stopped.set()
