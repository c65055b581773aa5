"""How far each consumer is behind the log: the stream's stages and the projector.

``settled()`` is true when every posted record has been through intake, every command through
the case writer, and every event, receipt and dead letter into the read models.

Lag counts what the stages can read: records of transactions that committed.  A township system
posting through a transactional producer leaves a marker after each transaction, an offset that
holds no record, and the records of an aborted transaction stay in the log unread; intake's
lag near the log's end is therefore counted in the log (``COUNTED_UP_TO``), not from offsets,
or it would never reach 0.

Each writer saves, with the states of a batch, the next offset of each input partition it has
yet to apply (its mark).  faust can leave the group's committed position behind that mark
(around a rebalance, or a partition it no longer fetches once all of it was applied); lag then
goes by the mark, as the stage's watchdog does, or it would show a message waiting that no
stage will process again.  The mark is looked for among the last messages of its changelog
partition, further back step by step (``MARKS_IN_LAST``: a stage that reads several topics saves
the mark of a quiet one, such as the officers' commands, only when one comes, so it can stand
thousands of messages back); where it is not found there, lag goes by the committed position.
A committed position past the mark (messages faust skipped) counts as applied until the stage
reads them again (``streams.app.check_quiet_skips``), as before.

A transaction still open holds back every record after it in its partition, committed or not:
the stages cannot read past it until its poster commits or the broker aborts it (after the
poster's ``transaction.timeout.ms``).  Lag does not count those records, since nothing can
read them yet; ``open_transactions`` says where they wait and since when.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from ews.processes import restart
from readside.projector import positions, projected_topics
from readside.queries import intake_rows
from schemas.record import CHINA_TZ
from schemas.settings import KafkaAccess, client_args
from schemas.topics import Topics
from streams.app import ROLES, group_id
from streams.log import RangeReader
from streams.metrics import EXIT_STALLED
from streams.state import REACHED, reached_key

COUNTED_UP_TO = 1000  # intake at most this many offsets behind: its records are counted
MARKS_IN_LAST = (8, 200, 5_000)  # messages of a changelog's end its marks are looked in
STILL_OPEN_AFTER = 1.0  # seconds: a transaction open this long after it was seen is reported


def stream_groups(topics: Topics) -> list[str]:
    return [group_id(topics, role) for role in ROLES]


def stages(topics: Topics) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each stream stage: (the consumer groups that run it, the topics it reads)."""
    return {
        "intake": ((group_id(topics, "intake"),), (topics.records,)),
        "case_writer": ((group_id(topics, "cases"),), (topics.case_commands,)),
        "scorer": ((group_id(topics, "risk"),), (topics.case_events, topics.clock)),
        "alert_writer": (
            (group_id(topics, "alerts"),),
            (topics.risk_assessments, topics.alert_commands, topics.clock),
        ),
    }


def mark_changelogs(topics: Topics) -> dict[str, str]:
    """Each stream stage: the changelog of the table its writer keeps its marks in."""
    return {
        "intake": topics.intake_marks_changelog,
        "case_writer": topics.case_state_changelog,
        "scorer": topics.risk_watch_changelog,
        "alert_writer": topics.alert_state_changelog,
    }


def _end_offsets(bootstrap: str | KafkaAccess, topics: list[str]) -> dict[TopicPartition, int]:
    """Where each partition of ``topics`` ends for the stages: after its last committed
    transaction (an open one is not posted yet)."""
    consumer = KafkaConsumer(
        **client_args(bootstrap),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    try:
        tps = [
            TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())
        ]
        return consumer.end_offsets(tps) if tps else {}
    finally:
        consumer.close()


@dataclass(frozen=True)
class OpenTransaction:
    """Records a transaction still open holds back in one partition: from its first record
    (``stable_end``, where the stages can read up to) to the log's end."""

    topic: str
    partition: int
    stable_end: int
    end: int
    opened_at: datetime | None  # when its first record was sent (None: not read in time)

    @property
    def held(self) -> int:
        return self.end - self.stable_end

    def line(self, now: datetime) -> str:
        since = "at an unknown time"
        if self.opened_at is not None:
            minutes = max((now - self.opened_at).total_seconds(), 0) / 60
            opened = self.opened_at.astimezone(CHINA_TZ).isoformat(sep=" ", timespec="seconds")
            since = f"since {opened} ({minutes:.0f} min)"
        return (
            f"{self.topic} partition {self.partition}: {self.held:,} offsets held back by a "
            f"transaction open {since}, from offset {self.stable_end:,}; the stages read them "
            "when its poster commits or the broker aborts it at the poster's transaction timeout"
        )


def open_transactions(bootstrap: str | KafkaAccess, topic: str) -> list[OpenTransaction]:
    """Partitions of ``topic`` whose log goes on past a transaction still open, and still
    did a moment later (a transaction of a few milliseconds, or a record written between two
    reads of the ends, is none)."""
    stable = _end_offsets(bootstrap, [topic])
    consumer = KafkaConsumer(**client_args(bootstrap), group_id=None, enable_auto_commit=False)
    try:
        ends = consumer.end_offsets(list(stable)) if stable else {}
        held, later = [tp for tp in stable if ends[tp] > stable[tp]], stable
        if held:
            time.sleep(STILL_OPEN_AFTER)
            later = _end_offsets(bootstrap, [topic])
            held = sorted((tp for tp in held if later[tp] < ends[tp]), key=lambda tp: tp.partition)
        return [
            OpenTransaction(
                tp.topic, tp.partition, later[tp], ends[tp], _sent_at(consumer, tp, later[tp])
            )
            for tp in held
        ]
    finally:
        consumer.close()


def _sent_at(consumer: KafkaConsumer, tp: TopicPartition, offset: int) -> datetime | None:
    """When the record at ``offset`` was sent, as its timestamp says."""
    consumer.assign([tp])
    consumer.seek(tp, offset)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in consumer.poll(timeout_ms=500).get(tp, ()):
            if message.offset >= offset and message.timestamp >= 0:
                return datetime.fromtimestamp(message.timestamp / 1000, UTC)
    return None


def lag(bootstrap: str | KafkaAccess, topics: Topics, engine: sa.Engine) -> dict[str, int]:
    """Messages not yet processed, per stage."""
    plan = stages(topics)
    projected = set(projected_topics(topics))
    wanted = {t for _, ts in plan.values() for t in ts} | projected
    ends = _end_offsets(bootstrap, sorted(wanted))
    admin = KafkaAdminClient(**client_args(bootstrap))
    committed: dict[str, dict] = {}  # group -> {tp: offset}
    try:
        existing = {g["group_id"] for g in admin.list_groups()}
        for group in {g for groups, _ in plan.values() for g in groups} & existing:
            offsets = committed.setdefault(group, {})
            for found in admin.list_group_offsets(group).values():
                for tp, meta in found.items():
                    offsets[tp] = max(offsets.get(tp, 0), meta.offset if meta.offset >= 0 else 0)
    finally:
        admin.close()
    done = positions(engine)
    out = {stage: 0 for stage in plan} | {"projector": 0}
    reader = RangeReader(bootstrap)
    changelogs = mark_changelogs(topics)
    marks: Marks | None = None  # the changelogs' ends are read when first needed
    try:
        for stage, (groups, read) in plan.items():
            for tp, end in ends.items():
                if tp.topic not in read:
                    continue
                at = max((committed.get(g, {}).get(tp, 0) for g in groups), default=0)
                if at < end:
                    marks = marks or Marks(reader, _end_offsets(bootstrap, [*changelogs.values()]))
                    changelog = TopicPartition(changelogs[stage], tp.partition)  # input p's: p
                    mark = marks.of(changelog, tp) or 0
                    at = max(at, mark if mark <= end else 0)  # beyond the end: not believed
                if tp.topic == topics.records and 0 < end - at <= COUNTED_UP_TO:
                    out[stage] += _records_in(reader, tp, at, end)
                else:
                    out[stage] += max(end - at, 0)  # committed after the ends were read: 0
    finally:
        reader.close()
    for tp, end in ends.items():
        if tp.topic in projected:
            out["projector"] += max(end - done.get((tp.topic, tp.partition), 0), 0)
    return out


class Marks:
    """The latest mark of each input among the last messages of its stage's changelog
    partition, read from the end backwards a step at a time (``MARKS_IN_LAST``), each message
    once however many inputs' marks are looked for there."""

    def __init__(self, reader: RangeReader, ends: dict[TopicPartition, int]) -> None:
        self.reader, self.ends = reader, ends
        self._read: dict[TopicPartition, tuple[int, dict[bytes, bytes]]] = {}  # depth, marks

    def of(self, changelog: TopicPartition, tp: TopicPartition) -> int | None:
        """The next offset of ``tp`` its stage's writer has yet to apply; None: no mark within
        reach (or no changelog, as from an earlier version)."""
        end = self.ends.get(changelog) or 0
        key = reached_key(tp.topic, tp.partition).encode("utf-8")
        depth, found = self._read.get(changelog, (0, {}))
        for last in MARKS_IN_LAST:
            if key in found or depth >= end:
                break
            if last > depth:
                found = self._older(changelog, max(end - last, 0), end - depth) | found
                depth = last
        self._read[changelog] = (depth, found)
        return int(json.loads(found[key])["next"]) if key in found else None

    def _older(self, changelog: TopicPartition, start: int, end: int) -> dict[bytes, bytes]:
        """The latest mark of each input from ``start`` to ``end`` (not included)."""
        parts = self.reader.parts(changelog.topic, changelog.partition, start, end, end - start)
        marks = (m for part in parts for m in part)
        return {m.key: m.value for m in marks if m.value and (m.key or b"").startswith(_MARK)}


_MARK = REACHED.encode("utf-8")


def _records_in(reader: RangeReader, tp: TopicPartition, start: int, end: int) -> int:
    """The records of ``tp`` from ``start`` to ``end`` (not included) that transactions
    committed, as the log holds them."""
    return sum(len(part) for part in reader.parts(tp.topic, tp.partition, start, end, end - start))


def settled(bootstrap: str | KafkaAccess, topics: Topics, engine: sa.Engine) -> bool:
    return not any(lag(bootstrap, topics, engine).values())


class NotSettled(RuntimeError):
    """The pipeline did not get through everything posted: a process exited, or time ran out."""


def wait_settled(
    bootstrap: str | KafkaAccess,
    topics: Topics,
    engine: sa.Engine,
    posted: int,
    procs: Sequence[subprocess.Popen],
    timeout: float = 300,
    interval: float = 0.5,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Wait until ``posted`` records have receipts and every stage's lag is zero, while the
    pipeline's processes run; raise NotSettled if one exits or ``timeout`` passes.  A process
    whose watchdog stopped it (``EXIT_STALLED``) is restarted in ``procs``, as a supervisor
    would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for i, proc in enumerate(procs):
            if proc.poll() == EXIT_STALLED and isinstance(procs, list):
                procs[i] = restart(proc)  # its watchdog asked for a restart: a supervisor's job
            elif proc.poll() is not None:
                name = " ".join(str(a) for a in proc.args[2:])
                raise NotSettled(f"{name} exited with {proc.returncode}; see its log")
        received = sum(r[1] for r in intake_rows(engine))
        if on_progress:
            on_progress(received)
        if received >= posted and not any(lag(bootstrap, topics, engine).values()):
            return
        time.sleep(interval)
    raise NotSettled(f"not settled after {timeout:.0f}s: lag {lag(bootstrap, topics, engine)}")
