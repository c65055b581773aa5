"""The stream processor (faust-streaming): the Kafka edge around the pure intake and case fold.

Two agents, each with concurrency 1 (faust can commit past an in-flight message otherwise):

* ``intake``: records topic -> ``streams.intake.admit`` -> commands on the case-commands topic
  (one list per case partition per batch) or a dead letter per bad record, plus the batch's
  intake receipts (one per message, sent as one list);
* ``case_writer``: case-commands topic -> ``streams.case.decide`` against the case's state in
  the ``cases`` table (changelogged, so a restarted worker recovers it) -> events on the
  case-events topic keyed by case id -> ``streams.case.step`` into the table.

A worker runs both (role ``all``) or one of them (``intake`` / ``cases``), so the stages can
use separate cores and scale separately; more partitions and more workers per role scale out.

Crash safety (at-least-once in, exactly-once effect out): the case agent waits until a batch's
events are acknowledged by the broker *before* it writes the new states to the table, and faust
flushes the producer (changelog included) before it commits input offsets.  A crash at any
point therefore either re-emits the same events with the same ids (consumers drop them) or
finds the record's fingerprint already in the state (nothing to emit).

Run it with ``ews worker``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import faust
from faust.serializers import codecs

from schemas.events import (
    DeadLetter,
    Envelope,
    IntakeReceipt,
    SubmitRecord,
    commands_from_bytes,
    commands_to_bytes,
    partition_for,
    receipts_to_bytes,
)
from streams import topology
from streams.case import CaseState, decide, step
from streams.intake import Admitted, Posted, admit

log = logging.getLogger("ews.stream")

BATCH_SIZE = int(os.environ.get("EWS_BATCH_SIZE", "500"))
BATCH_WITHIN = float(os.environ.get("EWS_BATCH_WITHIN", "0.2"))
COMMAND_BATCH_SIZE = 4  # messages of up to BATCH_SIZE commands each


class Utf8(codecs.Codec):
    """Text keys as plain UTF-8 bytes, so a table's changelog key is the topic key."""

    def _dumps(self, obj: Any) -> bytes:
        return obj.encode("utf-8") if isinstance(obj, str) else bytes(obj)

    def _loads(self, s: bytes) -> str:
        return s.decode("utf-8")


codecs.register("utf8", Utf8())


def bootstrap() -> str:
    return os.environ.get("EWS_BOOTSTRAP", "127.0.0.1:9092")


def _faust_dir() -> str:
    path = Path(os.environ.get("EWS_FAUST_DIR", topology.PROJECT_ROOT / "var" / "faust"))
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


ROLES = {"all": ("intake", "cases"), "intake": ("intake",), "cases": ("cases",)}


def group_id(role: str) -> str:
    """The consumer group (faust app id) of a worker role."""
    return f"{topology.prefix()}-{'stream' if role == 'all' else role}"


def create_app(role: str = "all") -> faust.App:
    """The faust app of a worker role: ``all`` runs both agents in one process; ``intake`` and
    ``cases`` run one each, so the two stages can use two cores (and scale separately)."""
    if role not in ROLES:
        raise ValueError(f"unknown worker role {role!r}; use one of {', '.join(ROLES)}")
    app = faust.App(
        group_id(role),
        broker=f"kafka://{bootstrap()}",
        store="memory://",
        topic_partitions=topology.partitions(),
        topic_replication_factor=1,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=5,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        broker_commit_interval=1.0,
        datadir=_faust_dir(),
    )
    agents = ROLES[role]
    if "intake" in agents:
        records = app.topic(topology.records_topic(), internal=False)
        app.agent(records, concurrency=1, name="intake")(_intake(app))
    if "cases" in agents:
        commands = app.topic(topology.commands_topic(), internal=False)
        app.agent(commands, concurrency=1, name="case_writer")(_case_writer(app))
    return app


async def _send(app: faust.App, topic: str, key: bytes | None, value: bytes, partition: int) -> Any:
    """Produce through faust's producer directly (its Topic.send costs several times more);
    faust still flushes this producer before it commits input offsets."""
    return await app.producer.send(
        topic, key, value, partition=partition, timestamp=None, headers=None
    )


def _intake(app: faust.App):  # type: ignore[no-untyped-def]
    n = topology.partitions()
    commands, receipts, dead_letters = (
        topology.commands_topic(),
        topology.receipts_topic(),
        topology.dead_letters_topic(),
    )

    async def intake(stream: faust.StreamT) -> None:
        async for batch in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
            by_partition: dict[int, list[SubmitRecord]] = defaultdict(list)
            batch_receipts: list[IntakeReceipt] = []
            for event in batch:
                m = event.message
                posted = Posted(m.topic, m.partition, m.offset, int(m.timestamp * 1000), m.value)
                outcome = admit(posted)
                batch_receipts.append(outcome.receipt)
                if isinstance(outcome, Admitted):
                    cmd = outcome.command
                    by_partition[partition_for(cmd.case_id, n)].append(cmd)
                else:
                    dead = outcome.dead_letter
                    log.warning("dead letter %s: %s", dead.dead_letter_id, dead.reason)
                    await _send(app, dead_letters, m.key, dead.to_bytes(), m.partition)
            for partition, cmds in by_partition.items():
                await _send(app, commands, None, commands_to_bytes(cmds), partition)
            first = batch[0].message.partition
            await _send(app, receipts, None, receipts_to_bytes(batch_receipts), first)

    return intake


def _case_writer(app: faust.App):  # type: ignore[no-untyped-def]
    n = topology.partitions()
    events = topology.case_events_topic()
    dead_letters = topology.dead_letters_topic()
    # use_partitioner: a case's changelog partition follows its key exactly like the
    # commands topic does, so table and commands stay co-partitioned.
    changelog = app.topic(
        topology.case_state_changelog_topic(),
        partitions=n,
        compacting=True,
        deleting=False,
        key_serializer="utf8",  # recovery must restore str keys, as the agent looks them up
        value_serializer="json",
    )
    cases = app.Table(
        "cases", default=None, partitions=n, use_partitioner=True, changelog_topic=changelog
    )
    cases.key_serializer = "utf8"
    cases.value_serializer = "json"

    async def case_writer(stream: faust.StreamT) -> None:
        async for batch in stream.take_events(COMMAND_BATCH_SIZE, within=BATCH_WITHIN):
            states: dict[str, CaseState] = {}
            pending = []
            for event in batch:
                try:
                    received = commands_from_bytes(event.message.value)
                except Exception as exc:  # keep the worker alive; keep the message
                    m = event.message
                    log.error("unreadable command %s:%s: %s", m.partition, m.offset, exc)
                    dead = DeadLetter(
                        dead_letter_id=f"case-commands:{m.partition}:{m.offset}",
                        source_topic=m.topic,
                        source_partition=m.partition,
                        source_offset=m.offset,
                        reason_code="unreadable_command",
                        reason=f"{type(exc).__name__}: {exc}",
                        original_b64=base64.b64encode(m.value or b"").decode("ascii"),
                        received_at=Posted(
                            m.topic, m.partition, m.offset, int(m.timestamp * 1000), None
                        ).received_at,
                    )
                    await _send(app, dead_letters, m.key, dead.to_bytes(), m.partition)
                    continue
                for command in received:
                    state = states.get(command.case_id) or _load(cases, command.case_id)
                    state, new_events = handle_command(state, command)
                    states[command.case_id] = state
                    for e in new_events:
                        key = e.case_id.encode()
                        part = partition_for(e.case_id, n)
                        pending.append(await _send(app, events, key, e.to_bytes(), part))
            # the events must be in the log before the new states go to the changelog
            if pending:
                await asyncio.gather(*pending)
            for case_id, state in states.items():
                await _save(app, cases, case_id, state, n)

    return case_writer


async def _save(app: faust.App, table: Any, case_id: str, state: CaseState, n: int) -> None:
    """table[case_id] = state, with the changelog record produced directly: faust's own
    changelog path sends one buffered message at a time and was the pipeline's bottleneck.
    The bytes are what the table's serializers write, so faust's recovery reads them back."""
    value = state.to_dict()
    table.data[case_id] = value
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    topic = topology.case_state_changelog_topic()
    await _send(app, topic, case_id.encode("utf-8"), body, partition_for(case_id, n))


def _load(table: Any, case_id: str) -> CaseState:
    stored = table.get(case_id)
    return CaseState.from_dict(stored) if stored else CaseState(case_id=case_id)


def handle_command(state: CaseState, command: SubmitRecord) -> tuple[CaseState, list[Envelope]]:
    """decide + step in one call: the case agent's logic for one command, without Kafka."""
    new_events = decide(state, command)
    for e in new_events:
        state = step(state, e)
    return state, new_events


app = create_app(os.environ.get("EWS_WORKER_ROLE", "all"))
