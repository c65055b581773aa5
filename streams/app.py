"""The stream processor (faust-streaming): the Kafka edge around the pure intake and case fold.

Two agents, each with concurrency 1 (faust can commit past an in-flight message otherwise):

* ``intake``: records topic -> ``streams.intake.admit`` -> a command on the case-commands topic
  (keyed by case id) or a dead letter, plus one intake receipt per message;
* ``cases``: case-commands topic -> ``streams.case.decide`` against the case's state in the
  ``cases`` table (changelogged, so a restarted worker recovers it) -> events on the
  case-events topic keyed by case id -> ``streams.case.step`` into the table.

Crash safety (at-least-once in, exactly-once effect out): the case agent waits until a batch's
events are acknowledged by the broker *before* it writes the new states to the table, and faust
flushes the producer (changelog included) before it commits input offsets.  A crash at any
point therefore either re-emits the same events with the same ids (consumers drop them) or
finds the record's fingerprint already in the state (nothing to emit).

Run it with ``ews worker``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import faust
from faust.serializers import codecs

from schemas.events import Envelope, SubmitRecord, command_from_bytes
from streams import topology
from streams.case import CaseState, decide, step
from streams.intake import Admitted, Posted, admit

log = logging.getLogger("ews.stream")

BATCH_SIZE = int(os.environ.get("EWS_BATCH_SIZE", "500"))
BATCH_WITHIN = float(os.environ.get("EWS_BATCH_WITHIN", "0.2"))


class Utf8(codecs.Codec):
    """Text keys as plain UTF-8 bytes, so a table's changelog key is the topic key."""

    def _dumps(self, obj: Any) -> bytes:
        return obj.encode("utf-8") if isinstance(obj, str) else bytes(obj)

    def _loads(self, s: bytes) -> str:
        return s.decode("utf-8")


codecs.register("utf8", Utf8())


def bootstrap() -> str:
    return os.environ.get("EWS_BOOTSTRAP", "127.0.0.1:9092")


def create_app() -> faust.App:
    prefix = topology.prefix()
    app = faust.App(
        f"{prefix}-stream",
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
    )
    n = topology.partitions()
    records = app.topic(topology.records_topic(), partitions=n, internal=False)
    commands = app.topic(topology.commands_topic(), partitions=n, internal=False)
    events = app.topic(topology.case_events_topic(), partitions=n, internal=False)
    receipts = app.topic(topology.receipts_topic(), partitions=n, internal=False)
    dead_letters = app.topic(topology.dead_letters_topic(), partitions=n, internal=False)
    # use_partitioner: the changelog partition follows the key exactly like the commands
    # topic does, so table and commands stay co-partitioned whatever batch a write is in.
    cases = app.Table(
        "cases",
        default=None,
        partitions=n,
        use_partitioner=True,
    )
    cases.key_serializer = "utf8"
    cases.value_serializer = "json"

    @app.agent(records, concurrency=1)
    async def intake(stream: faust.StreamT) -> None:
        async for batch in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
            for event in batch:
                m = event.message
                posted = Posted(m.topic, m.partition, m.offset, int(m.timestamp * 1000), m.value)
                outcome = admit(posted)
                receipt = outcome.receipt
                if isinstance(outcome, Admitted):
                    cmd = outcome.command
                    await commands.send(key=cmd.case_id.encode(), value=cmd.to_bytes())
                else:
                    dead = outcome.dead_letter
                    log.warning("dead letter %s: %s", dead.dead_letter_id, dead.reason)
                    await dead_letters.send(key=m.key, value=dead.to_bytes())
                await receipts.send(key=receipt.township.encode(), value=receipt.to_bytes())

    @app.agent(commands, concurrency=1)
    async def case_writer(stream: faust.StreamT) -> None:
        async for batch in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
            states: dict[str, CaseState] = {}
            pending = []
            for event in batch:
                try:
                    command = command_from_bytes(event.message.value)
                except Exception as exc:  # not ours to decide; keep the worker alive
                    log.error("unreadable command at offset %s: %s", event.message.offset, exc)
                    continue
                state = states.get(command.case_id) or _load(cases, command.case_id)
                new_events = decide(state, command)
                for e in new_events:
                    fut = await events.send(key=e.case_id.encode(), value=e.to_bytes())
                    pending.append(fut)
                    state = step(state, e)
                states[command.case_id] = state
            if pending:
                await asyncio.gather(*pending)
            for case_id, state in states.items():
                cases[case_id] = state.to_dict()

    app.ews_agents = (intake, case_writer)  # type: ignore[attr-defined]
    return app


def _load(table: Any, case_id: str) -> CaseState:
    stored = table.get(case_id)
    return CaseState.from_dict(stored) if stored else CaseState(case_id=case_id)


def handle_command(state: CaseState, command: SubmitRecord) -> tuple[CaseState, list[Envelope]]:
    """decide + step in one call: the case agent's logic for one command, without Kafka."""
    new_events = decide(state, command)
    for e in new_events:
        state = step(state, e)
    return state, new_events


app = create_app()
