"""The stream processor (faust-streaming): the Kafka edge around the pure intake and case fold.

Agents, each with concurrency 1 (faust can commit past an in-flight message otherwise):

* ``intake``: records topic -> ``domain.intake.admit`` -> commands on the case-commands topic
  (one list per case partition per batch) or a dead letter per bad record, plus the batch's
  intake receipts (one per message, sent as one list);
* ``case_writer``: case-commands topic -> ``domain.case.decide`` against the case's state in
  the ``cases`` table (changelogged, so a restarted worker recovers it) -> events on the
  case-events topic keyed by case id -> ``domain.case.step`` into the table.

* the scorer (``streams.scorer``, role ``risk``): case-events and clock ticks ->
  ``RiskAssessed`` on the risk-assessments topic.

A worker process runs one stage (role ``intake`` / ``cases`` / ``risk`` / ``alerts``), in
that stage's consumer group, so the stages use separate cores and scale separately, and two
processes of one stage share its partitions instead of both processing them (``ews worker``
with no role starts one process per stage); more partitions and more workers per role scale
out.

Crash safety (at-least-once in, exactly-once effect out):

* bad input (a record that fails validation, a command that cannot be read or applied) becomes
  a dead letter with its reason, and the batch goes on;
* every batch waits until all it produced is delivered; the case writer first its events, then
  the new states to the changelog, and only then updates the table in memory;
* the stages' producer is idempotent (``IdempotentProducer``): a batch the broker refused while
  it restarted is sent again, not overtaken by a later batch of its partition;
* anything else that goes wrong in a batch stops the process at once (``_or_die``), so the batch
  is never acknowledged (faust acks a batch even when the agent raises); the restarted worker
  reprocesses it.

A crash at any point therefore either re-emits the same events with the same ids (consumers
drop them) or finds the record's fingerprint already in the state (nothing to emit).

Run it with ``ews worker``; ``create_app(settings, role)`` builds the app (nothing is built
at import).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_kafka
from faust.types.transports import ConsumerT, ProducerT

from domain.alerts.routing import Routing
from domain.case import CaseState, handle_command
from domain.intake import Admitted, Posted, admit
from domain.risk.assess import Assessor
from domain.risk.policy import RiskPolicy
from schemas.commands import SubmitRecord, command_messages, commands_from_bytes
from schemas.privacy import mask_personal
from schemas.receipts import DeadLetter, IntakeReceipt, receipts_to_bytes
from schemas.settings import SCRAM, Settings
from schemas.topics import MAX_MESSAGE_BYTES, Topics
from streams.log import RangeReader
from streams.metrics import (
    EXIT_STALLED,
    StageMetrics,
    add_watchdog,
    committed_offset,
    port_of,
)
from streams.state import STORES, StateTable, _send, delivered, partition_for

log = logging.getLogger("ews.stream")

COMMAND_BATCH_SIZE = 4  # messages of up to settings.batch_size commands each


class QuietWorker(faust.Worker):
    """faust's worker without its terminal spinner.  At log level warn the spinner sets the
    root logger to DEBUG and spins on every record, so every debug line of faust and aiokafka
    is built and then thrown away on the hot path."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None


class IdempotentProducer(faust_kafka.Producer):
    """faust's producer, idempotent (faust makes it so only for exactly-once processing).

    Without idempotence a batch the broker refused while it restarted expires after the request
    timeout (EWS_BROKER_TIMEOUT) and fails, and the next batch of the same partition can still
    land before the process exits: a case's second event in the log without its first.
    Idempotent, a batch refused with an error that may pass (the broker restarting, a leader
    moving) is sent again instead of expiring, in order and without duplicates; ``delivered``
    gives up after twice the request timeout, and the watchdog exits when the broker stays
    away.  A batch still fails when its partition has no known leader for longer than the
    request timeout; the process then exits (``_or_die``), and the broker refuses a later batch
    of the same producer after the gap in its sequence numbers (not when the failed batch was
    the producer's first to that partition: a broker that knows nothing of a producer takes
    any number)."""

    def _settings_extra(self) -> dict[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class CommittedReadConsumer(faust_kafka.Consumer):
    """faust's consumer, reading only what transactions committed (faust does so only for
    exactly-once processing).  A township system that posts through a transactional producer
    and aborts a transaction has taken its records back; they stay in the records topic,
    marked aborted, and read as posted they became cases."""

    def _new_consumer_thread(self) -> faust_kafka.AIOKafkaConsumerThread:
        return _CommittedReadThread(self, loop=self.loop, beacon=self.beacon)


class _CommittedReadThread(faust_kafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        if not hasattr(consumer, "_isolation_level"):  # an aiokafka that keeps it elsewhere
            raise RuntimeError("cannot make the consumer read committed records only")
        consumer._isolation_level = "read_committed"  # what aiokafka's fetcher is made with
        return consumer


class StageApp(faust.App):
    """A stage's faust app: faust's, with the idempotent producer and a consumer that reads
    committed records only."""

    def _new_producer(self) -> ProducerT:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)

    def _new_consumer(self) -> ConsumerT:
        return CommittedReadConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.loop,
        )


ROLES = {  # a worker role -> the stages it runs: one each, so each has its own group
    "intake": ("intake",),
    "cases": ("cases",),
    "risk": ("risk",),
    "alerts": ("alerts",),
}


def group_id(topics: Topics, role: str) -> str:
    """The consumer group (faust app id) of a worker role: one per stage, whoever runs it."""
    return topics.group(role)


def store_base(settings: Settings, role: str) -> Path:
    """The state-store folder of a stage's first worker on this machine (the others': the same
    name with ``.1``, ``.2`` ...)."""
    return Path(settings.faust_dir) / group_id(settings.topics, role)


def create_app(
    settings: Settings,
    role: str,
    assessor: Assessor | None = None,
    policy: RiskPolicy | None = None,
    routing: Routing | None = None,
    datadir: Path | None = None,
) -> faust.App:
    """The faust app of a worker role (one stage).  The risk stage needs an ``assessor`` (the
    model in service, or the rules) and the risk ``policy``; the alert stage the ``routing``.
    ``datadir``: the worker's own state-store folder (``streams.state.claim_store_dir``);
    by default the stage's folder under ``EWS_FAUST_DIR``."""
    if role not in ROLES:
        raise ValueError(
            f"unknown worker role {role!r}; use one of {', '.join(ROLES)} "
            "(`ews worker` without a role starts one process per stage)"
        )
    if "risk" in ROLES[role] and (assessor is None or policy is None):
        raise ValueError("the risk stage needs an assessor and a risk policy")
    if "alerts" in ROLES[role] and routing is None:
        raise ValueError("the alert stage needs the alert routing")
    topics = settings.topics
    # one folder per consumer group: a state store holds the offsets of one changelog only
    datadir = datadir or store_base(settings, role)
    datadir.mkdir(parents=True, exist_ok=True)
    app = StageApp(
        group_id(topics, role),
        broker=f"kafka://{settings.bootstrap}",
        store=STORES[settings.state_store],
        topic_partitions=topics.partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=5,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        # a request the broker has not answered by then is sent again; the watchdog exits
        # when the broker has not answered for EWS_BROKER_TIMEOUT
        producer_request_timeout=settings.broker_timeout,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        broker_commit_interval=1.0,
        # a worker that died (kill -9, power cut) leaves the group after this long, so its
        # partitions move to the others or to its restarted self
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=3.0,
        datadir=str(datadir),
        broker_credentials=credentials(settings),
        Worker=QuietWorker,
    )
    agents = ROLES[role]
    metrics = StageMetrics(role, port_of(role, settings.metrics_port))
    if "intake" in agents:
        records = app.topic(topics.records, internal=False)
        app.agent(records, concurrency=1, name="intake")(_intake(app, settings, metrics))
    if "cases" in agents:
        commands = app.topic(topics.case_commands, internal=False)
        writer = _case_writer(app, settings, metrics)
        app.agent(commands, concurrency=1, name="case_writer")(writer)
    if "risk" in agents:
        from streams.scorer import add_scorer  # the scorer uses this module's helpers

        add_scorer(app, settings, assessor, policy, metrics)  # type: ignore[arg-type]
    if "alerts" in agents:
        from streams.alerter import add_alerter

        add_alerter(app, settings, routing, metrics)  # type: ignore[arg-type]
    add_watchdog(
        app,
        metrics,
        INPUTS[role](topics),
        settings.stall_timeout,
        settings.broker_timeout,
        RangeReader(settings.kafka),  # its own: a stage's reader may be what is stuck
    )
    return app


def credentials(settings: Settings) -> faust.SASLCredentials | None:
    """The worker's SCRAM credentials on a secured broker (None: no authentication)."""
    if not settings.kafka_user:
        return None
    return faust.SASLCredentials(
        username=settings.kafka_user, password=settings.kafka_password, mechanism=SCRAM
    )


INPUTS = {  # the topics each stage reads (the watchdog checks they do not stall)
    "intake": lambda t: {t.records},
    "cases": lambda t: {t.case_commands},
    "risk": lambda t: {t.case_events, t.clock},
    "alerts": lambda t: {t.risk_assessments, t.alert_commands, t.clock},
}


class OffsetGap(RuntimeError):
    """An input message arrived after a hole in its partition's offsets."""


class OffsetGuard:
    """Each input partition must reach an agent without a hole.  Within one consumer-group
    generation, a message more than one past the highest seen on its partition means the
    consumer skipped messages; the first message of a partition in a generation must be at or
    before the group's committed position read at assignment (another process may have
    handled the partition in between, so the position, not this process's memory, says where
    to go on).  Faust counts offsets it skips as processed (around a rebalance), so on a hole
    the agent stops before the batch is acknowledged (``_or_die``) and the restarted worker
    reads the skipped messages again.  Offsets seen again (a redelivery after a seek back)
    are fine: every consumer here is idempotent.

    Only for the internal topics: the workers write them without transactions and they are
    never compacted, so their offsets have no holes of their own.  The records topic is not
    guarded (a township system's transactional producer leaves holes there)."""

    def __init__(
        self,
        generation: Callable[[], int] = lambda: 0,
        committed: Callable[[str, int], int | None] = lambda topic, partition: None,
    ) -> None:
        self.generation, self.committed = generation, committed
        self.highest: dict[tuple[str, int], tuple[int, int]] = {}  # -> (generation, offset)

    @classmethod
    def of(cls, app: faust.App) -> OffsetGuard:
        """The guard of an agent of ``app`` (its consumer's generation and positions)."""
        from faust.types import TP

        def committed(topic: str, partition: int) -> int | None:
            return committed_offset(app, TP(topic, partition))

        return cls(lambda: app.consumer_generation_id, committed)

    def check(self, m: Any) -> None:
        key = (m.topic, m.partition)
        generation = self.generation()
        seen = self.highest.get(key)
        if seen is None or seen[0] != generation:
            start = self.committed(m.topic, m.partition)
            if start is not None and m.offset > start:
                raise OffsetGap(
                    f"{m.topic}:{m.partition}: offset {m.offset} arrived first, the group's "
                    f"position was {start}; {m.offset - start} message(s) were skipped"
                )
            self.highest[key] = (generation, m.offset)
            return
        highest = seen[1]
        if m.offset > highest + 1:
            raise OffsetGap(
                f"{m.topic}:{m.partition}: offset {m.offset} arrived after {highest}; "
                f"{m.offset - highest - 1} message(s) were skipped"
            )
        self.highest[key] = (generation, max(highest, m.offset))

    def check_all(self, messages: Any) -> None:
        for m in messages:
            self.check(m)


def headers_of(m: Any) -> tuple[tuple[str, bytes], ...]:
    """A message's Kafka headers as (name, value) pairs (faust gives a list or a mapping)."""
    headers = m.headers or ()
    pairs = headers.items() if hasattr(headers, "items") else headers
    return tuple((str(k), v) for k, v in pairs)


def unreadable(m: Any, code: str, exc: Exception, position: object = None) -> DeadLetter:
    """The dead letter of an input message this code cannot read (``position``: where in the
    message, when it holds several inputs, e.g. ``offset:index`` of a command list)."""
    at = m.offset if position is None else position
    log.error("%s at %s:%s:%s: %s", code, m.topic, m.partition, at, mask_personal(str(exc)))
    return DeadLetter.of(
        m.value or b"",
        f"{type(exc).__name__}: {exc}",
        dead_letter_id=f"{m.topic.split('.', 1)[-1]}:{m.partition}:{at}",
        source_topic=m.topic,
        source_partition=m.partition,
        source_offset=m.offset,
        reason_code=code,
        received_at=Posted(
            m.topic, m.partition, m.offset, int(m.timestamp * 1000), None
        ).received_at,
    )


def _intake(app: faust.App, settings: Settings, metrics: StageMetrics):  # type: ignore[no-untyped-def]
    topics = settings.topics
    n = topics.partitions
    commands, receipts, dead_letters = (
        topics.case_commands,
        topics.intake_receipts,
        topics.dead_letters,
    )

    # how far intake got in each records partition, saved with each batch, so that records
    # the group's position skipped around a rebalance are read again (``with_skipped``)
    marks = StateTable(app, "intake-marks", topics.intake_marks_changelog, n)
    turn = asyncio.Lock()  # the agent and the check for skips take turns
    reader = RangeReader(settings.kafka)

    async def apply(messages: list[Any], reached: dict[tuple[str, int], int]) -> None:
        by_partition: dict[int, list[SubmitRecord]] = defaultdict(list)
        batch_receipts: list[IntakeReceipt] = []
        sent = []
        for m in messages:
            ts = int(m.timestamp * 1000)
            posted = Posted(m.topic, m.partition, m.offset, ts, m.value, headers_of(m))
            outcome = admit(posted)
            batch_receipts.append(outcome.receipt)
            if isinstance(outcome, Admitted):
                cmd = outcome.command
                by_partition[partition_for(cmd.case_id, n)].append(cmd)
            else:
                dead = outcome.dead_letter
                log.warning("dead letter %s: %s", dead.dead_letter_id, dead.reason)
                metrics.dead_letter(dead.reason_code)
                sent.append(await _send(app, dead_letters, m.key, dead.to_bytes(), m.partition))
        for partition, cmds in by_partition.items():
            for body in command_messages(cmds):
                sent.append(await _send(app, commands, None, body, partition))
        if batch_receipts:
            body = receipts_to_bytes(batch_receipts)
            sent.append(await _send(app, receipts, None, body, messages[0].partition))
        await delivered(app, sent)  # or we die before the batch is acked
        await marks.save({}, reached)
        metrics.progressed()

    async def intake(stream: faust.StreamT) -> None:
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_within):
            async with turn, _or_die("intake"), metrics.batch(len(batch)):
                async for part in with_skipped(reader, marks, batch, settings.batch_size, metrics):
                    await apply(*part)

    appliers = {topics.records: apply}
    check_quiet_skips(app, settings, reader, marks, turn, appliers, settings.batch_size, metrics)
    return intake


def _case_writer(app: faust.App, settings: Settings, metrics: StageMetrics):  # type: ignore[no-untyped-def]
    topics = settings.topics
    n = topics.partitions
    events = topics.case_events
    dead_letters = topics.dead_letters
    # use_partitioner: a case's changelog partition follows its key exactly like the
    # commands topic does, so table and commands stay co-partitioned.
    cases = StateTable(app, "cases", topics.case_state_changelog, n)

    turn = asyncio.Lock()  # the agent and the check for skips take turns on the table
    reader = RangeReader(settings.kafka)

    async def apply(messages: list[Any], reached: dict[tuple[str, int], int]) -> None:
        states: dict[str, CaseState] = {}
        sent = []
        for m in messages:
            try:
                received = commands_from_bytes(m.value)
            except Exception as exc:  # not a command list: keep it, go on
                dead = unreadable(m, "unreadable_command", exc)
                sent.append(await _send(app, dead_letters, m.key, dead.to_bytes(), m.partition))
                continue
            for i, command in enumerate(received):
                try:
                    state = states.get(command.case_id) or _load(cases, command.case_id)
                    state, new_events = handle_command(state, command)
                except Exception as exc:  # a malformed command: keep it, go on
                    dead = unreadable(m, "invalid_command", exc, f"{m.offset}:{i}")
                    sent.append(await _send(app, dead_letters, m.key, dead.to_bytes(), m.partition))
                    continue
                states[command.case_id] = state
                metrics.wrote("case_event", len(new_events))
                for e in new_events:
                    key, part = e.case_id.encode(), partition_for(e.case_id, n)
                    sent.append(await _send(app, events, key, e.to_bytes(), part))
        # the events must be in the log before the new states go to the changelog
        await delivered(app, sent)
        await cases.save({cid: s.to_dict() for cid, s in states.items()}, reached)
        metrics.progressed()  # a long repair of skips is progress too, part by part

    async def case_writer(stream: faust.StreamT) -> None:
        guard = OffsetGuard.of(app)
        async for batch in stream.take_events(COMMAND_BATCH_SIZE, within=settings.batch_within):
            async with turn, _or_die("case writer"), metrics.batch(len(batch)):
                guard.check_all(e.message for e in batch)
                parts = with_skipped(reader, cases, batch, COMMAND_BATCH_SIZE, metrics)
                async for part in parts:
                    await apply(*part)

    appliers = {topics.case_commands: apply}
    check_quiet_skips(app, settings, reader, cases, turn, appliers, COMMAND_BATCH_SIZE, metrics)
    return case_writer


async def with_skipped(
    reader: RangeReader,
    table: StateTable,
    batch: list[Any],
    most: int,
    metrics: StageMetrics | None = None,
) -> AsyncIterator[tuple[list[Any], dict[tuple[str, int], int]]]:
    """A batch's messages (faust events), each partition's preceded by any the group's position
    skipped since the table's writer last saved (read from the log again), with per input
    (topic, partition) the next offset after them, to save with the states.  Many skipped
    messages come in parts of about ``most`` (the stage's batch size), each to be applied and
    saved before the next is read: memory stays as bounded as in any batch, and a restart goes
    on from the last part saved (counted in ``metrics.read_again``), read through the stage's
    ``reader``.  For every stage: intake (its table holds only how far it got), the case
    writer, the scorer, the alert writer.

    Around a rebalance faust can commit a partition's position past messages no writer applied
    (the offset guard sees a hole only within one process); the next owner starts there, with
    the states of the one before.  The table keeps, with the states, the next offset its writer
    had not applied, so a later first offset means messages were skipped: they are applied
    first, in order.  An offset below it (a redelivery, or a log created again) is applied as
    it comes: the folds drop what they have seen, and the read side what intake admits again
    (by receipt and event id).  A gap of one offset with nothing in it (a transaction's
    marker, in the records topic) costs one fetch and says nothing."""
    messages: list[Any] = []
    reached: dict[tuple[str, int], int] = {}
    for event in batch:
        m = event.message
        at = (m.topic, m.partition)
        expected = reached[at] if at in reached else table.reached(*at)
        if expected is not None and m.offset > expected:  # skipped, or a transaction's marker
            why = "; applying the messages the log holds first"
            async with contextlib.aclosing(
                read_in_parts(reader, at, expected, m.offset, most, why, metrics)
            ) as parts:
                async for missed in parts:
                    messages += missed
                    reached[at] = missed[-1].offset + 1
                    if len(messages) >= most:
                        yield messages, dict(reached)
                        messages = []
        messages.append(m)
        reached[at] = max(m.offset + 1, expected or 0)
    yield messages, reached


async def read_in_parts(
    reader: RangeReader,
    at: tuple[str, int],
    start: int,
    end: int,
    most: int,
    why: str,
    metrics: StageMetrics | None = None,
) -> AsyncIterator[list[Read]]:
    """The log's messages of partition ``at`` from ``start`` to ``end`` (not included), which
    the group's position skipped, in parts of at most ``most``, each read when the one before
    has been taken (and counted in ``metrics.read_again``).  The first part found is logged as
    an error, followed by ``why``; a range with nothing in it (a transaction's marker, several
    producers' markers, retention) says nothing at warn level."""
    parts = reader.parts(*at, start, end, most)
    reading: asyncio.Future | None = None
    found = False
    try:
        while True:
            reading = asyncio.ensure_future(asyncio.to_thread(next, parts, None))
            part = await asyncio.shield(reading)  # cancelled, the thread still reads
            if part is None:
                if not found and end - start > 1:
                    log.info("%s:%s: offsets %d-%d hold no message", *at, start, end - 1)
                return
            if not found:
                found = True
                log.error(
                    "%s:%s: offsets %d-%d were skipped by the group's position%s",
                    *at,
                    start,
                    end - 1,
                    why,
                )
            if metrics is not None:
                metrics.read_again.inc(len(part))
            yield [Read.of(r) for r in part]
    finally:
        if reading is not None and not reading.done():  # closed once the thread is done
            reading.add_done_callback(lambda _: parts.close())
        else:
            await asyncio.to_thread(parts.close)


@dataclass(frozen=True)
class Read:
    """A message read from the log outside faust (its attributes as faust names them)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float  # seconds
    headers: tuple = ()

    @classmethod
    def of(cls, record: Any) -> Read:
        """A kafka-python record as faust would give it."""
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            record.timestamp / 1000,
            tuple(record.headers or ()),
        )


Apply = Callable[[list[Any], dict[tuple[str, int], int]], Awaitable[None]]


def check_quiet_skips(
    app: faust.App,
    settings: Settings,
    reader: RangeReader,
    table: StateTable,
    turn: asyncio.Lock,
    appliers: dict[str, Apply],
    most: int,
    metrics: StageMetrics,
) -> None:
    """A timer for a stage with a table: the skips ``with_skipped`` cannot see.

    ``with_skipped`` finds messages the group's position passed over when a later message of
    the partition arrives.  On a partition that gets nothing more, they would stay unapplied
    while the lag reads 0.  Every ``EWS_SKIP_CHECK_EVERY`` seconds, between the stage's
    batches, each input partition of this worker whose committed position is past the offset
    its table reached, and still is at the next check, has the messages between read from the
    log and applied in parts of at most ``most`` (``appliers``: per input topic, the stage's
    apply of (messages, reached)).

    Not while the group rebalances or tables recover, when the table is not whole.  A
    rebalance that starts meanwhile waits for the part being applied (the revoked partitions'
    states are dropped after it), and the rest is left to the partition's next owner."""
    gaps: dict[tuple[str, int], tuple[int, int]] = {}  # seen at the last check
    stage = metrics.stage

    def still_mine(tp: Any, generation: int) -> bool:
        return (
            not app.rebalancing
            and app.consumer_generation_id == generation
            and tp in app.consumer.assignment()
        )

    async def check() -> None:
        if app.rebalancing or app.in_recovery or not app.tables.recovery.completed.is_set():
            gaps.clear()
            return
        generation = app.consumer_generation_id
        for tp in sorted(app.consumer.assignment()):
            at = (tp.topic, tp.partition)
            if tp.topic not in appliers:
                continue
            async with turn, _or_die(f"{stage} (check for skips)"):
                if not still_mine(tp, generation):
                    return
                reached, committed = table.reached(*at), committed_offset(app, tp)
                if reached is None or committed is None or committed <= reached:
                    gaps.pop(at, None)
                    continue
                if gaps.get(at) != (reached, committed):
                    gaps[at] = (reached, committed)  # applied at the next check if still there
                    continue
                del gaps[at]
                why = " and nothing came after them; applying the messages the log holds"
                async with contextlib.aclosing(
                    read_in_parts(reader, at, reached, committed, most, why, metrics)
                ) as parts:
                    async for missed in parts:
                        if not still_mine(tp, generation):
                            log.warning("%s:%s: rebalancing; the rest is the next owner's", *at)
                            return
                        await appliers[tp.topic](missed, {at: missed[-1].offset + 1})
                if table.reached(*at) < committed:  # the log no longer holds the last ones
                    await appliers[tp.topic]([], {at: committed})

    async def let_a_part_finish(_app: Any, revoked: Any, **_kwargs: Any) -> None:
        async with turn:  # faust drops the revoked partitions' states after this returns
            pass

    app.on_partitions_revoked.connect(let_a_part_finish)
    app.timer(interval=settings.skip_check_every, name=f"{stage} check for skips")(check)


@contextlib.asynccontextmanager
async def _or_die(agent: str) -> AsyncIterator[None]:
    """Bad input never gets here (it is dead-lettered); anything that does (a send that failed
    after the producer's retries, a bug) stops the process at once, like kill -9, so that
    faust cannot ack the batch on the way out: a restarted worker reprocesses it.  An offset
    gap (faust skipped messages) exits with ``EXIT_STALLED``, the code that asks the supervisor
    for a restart, like the watchdog: nothing is wrong but the consumer's position."""
    try:
        yield
    except OffsetGap:
        log.error("%s: messages were skipped; exiting for a restart", agent, exc_info=True)
        logging.shutdown()
        os._exit(EXIT_STALLED)
    except Exception:
        log.critical("%s: batch failed; exiting without acknowledging it", agent, exc_info=True)
        logging.shutdown()
        os._exit(70)


def _load(table: StateTable, case_id: str) -> CaseState:
    stored = table.get(case_id)
    return CaseState.from_dict(stored) if stored else CaseState(case_id=case_id)
