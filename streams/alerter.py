"""The alert writer: risk assessments, duty officers' commands, delivery reports and clock
ticks in; the alerts' events out (``domain.alerts.alert``).

Three agents of one faust app share a table of alert states (changelogged), keyed by case id
like every input, so one writer decides for a case.  Every input is applied with
``handle(state, input, routing, causation_id)``: events get deterministic ids and an input
already applied (redelivered after a crash) causes nothing.  As elsewhere: unreadable input is
dead-lettered, anything else stops the process before faust can acknowledge the batch.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import faust

from domain.alerts.alert import ACTIVE_STATUSES, AlertState, Tick, handle
from domain.alerts.routing import Routing
from schemas.commands import commands_from_bytes
from schemas.risk import ClockTicked, RiskAssessed
from schemas.settings import Settings
from schemas.topics import Topics
from streams.app import (
    Apply,
    OffsetGuard,
    _or_die,
    check_quiet_skips,
    unreadable,
    with_skipped,
)
from streams.log import RangeReader
from streams.metrics import StageMetrics
from streams.state import StateTable, _send, delivered, partition_for

log = logging.getLogger("ews.alerter")
# every minute's tick looks at the active alerts only; most stored states are of cases whose
# alert was resolved or never raised, and are not decoded
ACTIVE = tuple(f'"{status}"'.encode() for status in ACTIVE_STATUSES)
BATCH = 500  # most inputs of one topic per batch


def add_alerter(
    app: faust.App, settings: Settings, routing: Routing, metrics: StageMetrics
) -> None:
    """Add the alert writer's agents and table to ``app``."""
    topics = settings.topics
    n = topics.partitions
    table = StateTable(app, "alert-state", topics.alert_state_changelog, n)
    turn = asyncio.Lock()
    reader = RangeReader(settings.kafka)
    writer = _AlertWriter(app, topics, table, routing)

    def agent(name: str, topic: str, read: Any) -> Apply:
        """An agent for ``topic``; its apply of (messages, reached) for the check for skips."""

        async def apply(messages: list[Any], reached: dict[tuple[str, int], int]) -> None:
            await writer.apply(messages, read, reached)
            metrics.progressed()  # a long repair of skips is progress too, part by part

        async def run(stream: faust.StreamT) -> None:
            guard = OffsetGuard.of(app)
            async for batch in stream.take_events(BATCH, within=settings.batch_within):
                async with turn, _or_die(f"alert writer ({name})"), metrics.batch(len(batch)):
                    guard.check_all(e.message for e in batch)
                    async for part in with_skipped(reader, table, batch, BATCH, metrics):
                        await apply(*part)

        app.agent(app.topic(topic, internal=False), concurrency=1, name=name)(run)
        return apply

    appliers = {
        topics.risk_assessments: agent("alert_risk", topics.risk_assessments, _read_assessment),
        topics.alert_commands: agent("alert_commands", topics.alert_commands, _read_commands),
        topics.clock: agent("alert_clock", topics.clock, None),
    }
    check_quiet_skips(app, settings, reader, table, turn, appliers, BATCH, metrics)


def _read_assessment(m: Any) -> list[tuple[str, str, Any]]:
    a = RiskAssessed.from_bytes(m.value)
    return [(a.case_id, a.assessment_id, a)]


def _read_commands(m: Any) -> list[tuple[str, str, Any]]:
    return [(c.case_id, c.command_id, c) for c in commands_from_bytes(m.value)]


class _AlertWriter:
    def __init__(self, app: faust.App, topics: Topics, table: StateTable, routing: Routing) -> None:
        self.app, self.topics, self.table, self.routing = app, topics, table, routing

    def _state(self, case_id: str) -> AlertState:
        stored = self.table.get(case_id)
        return AlertState.from_dict(stored) if stored else AlertState(case_id)

    async def apply(
        self, messages: list[Any], read: Any, reached: dict[tuple[str, int], int]
    ) -> None:
        inputs: list[tuple[str, str, Any]] = []
        sent = []
        for m in messages:
            try:
                inputs.extend(read(m) if read else self._tick(m))
            except Exception as exc:  # not an input this code can read: keep it, go on
                sent.append(await self._dead(m, "unreadable_alert_input", exc))
        loaded: dict[str, AlertState] = {}  # as the table has them
        states: dict[str, AlertState] = {}
        recorded = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        for case_id, cause, given in inputs:
            if case_id not in states:
                states[case_id] = loaded[case_id] = self._state(case_id)
            states[case_id], events = handle(states[case_id], given, self.routing, cause, recorded)
            for e in events:
                part = partition_for(case_id, self.topics.partitions)
                sent.append(
                    await _send(
                        self.app, self.topics.alert_events, case_id.encode(), e.to_bytes(), part
                    )
                )
        await delivered(self.app, sent)  # the events are in the log before the states change
        changed = {cid: s for cid, s in states.items() if s is not loaded[cid]}
        await self.table.save({case_id: s.to_dict() for case_id, s in changed.items()}, reached)

    def _tick(self, m: Any) -> list[tuple[str, str, Any]]:
        """A tick: every active alert of the tick's partition is checked against its deadlines."""
        at = ClockTicked.from_bytes(m.value).at
        taken = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return [
            (case_id, f"tick:{at}", Tick(at, taken))
            for case_id, stored in sorted(self.table.items(m.partition, ACTIVE))
            if stored is not None and stored.get("status") in ACTIVE_STATUSES
        ]

    async def _dead(self, m: Any, code: str, exc: Exception) -> Any:
        dead = unreadable(m, code, exc)
        return await _send(self.app, self.topics.dead_letters, m.key, dead.to_bytes(), m.partition)
