"""The scoring stage: case events and clock ticks in, ``RiskAssessed`` out.

Two agents of one faust app share a table of watched cases (``domain.risk.assess.Watch``,
changelogged like the case writer's table):

* ``risk_events``: case-events topic -> ``observe`` each event -> after every appended record
  that leaves the case open, an assessment of the case as of that record's moment (all of a
  batch's in one call to the injected ``Assessor``, so the model predicts on arrays) -> the
  ``RiskAssessed`` events a duty officer would notice, to the risk-assessments topic;
* ``risk_clock``: clock topic (one tick per partition) -> at a re-assessment tick, every open
  case of that partition not yet assessed at the tick's time is assessed as of it (deadlines
  come closer, a case goes quiet, a sensitive period begins).  The ticks between them, which
  only check the alerts' deadlines, are passed over.

Every state of a case is assessed as of its own moment and a tick as of its own time, so the
output does not depend on how messages were batched: reprocessing after a crash yields the same
assessment ids (consumers drop the repeats), and a tick already applied to a case is not applied
again.  The same fail-fast rule as the other agents holds: unreadable input is dead-lettered,
anything else stops the process before faust can acknowledge the batch.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust

from domain.case import CaseState
from domain.risk.assess import Assessor, Watch, watch_events, watch_tick
from domain.risk.features import as_datetime
from domain.risk.policy import RiskPolicy
from schemas.events import Envelope
from schemas.risk import ClockTicked
from schemas.settings import Settings
from schemas.topics import Topics
from streams.app import OffsetGuard, _or_die, check_quiet_skips, unreadable, with_skipped
from streams.log import RangeReader
from streams.metrics import StageMetrics
from streams.state import StateTable, _send, delivered, partition_for

log = logging.getLogger("ews.scorer")
CHUNK = 500  # cases per call to the assessor when a tick re-assesses a partition


def add_scorer(
    app: faust.App,
    settings: Settings,
    assessor: Assessor,
    policy: RiskPolicy,
    metrics: StageMetrics,
) -> None:
    """Add the scoring agents and their table to ``app``."""
    topics = settings.topics
    n = topics.partitions
    table = StateTable(app, "risk-watch", topics.risk_watch_changelog, n)
    turn = asyncio.Lock()  # the two agents take turns on the table
    reader = RangeReader(settings.kafka)
    scorer = _Scorer(app, topics, table, assessor, policy)

    async def risk_events(stream: faust.StreamT) -> None:
        guard = OffsetGuard.of(app)
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_within):
            async with turn, _or_die("scorer"), metrics.batch(len(batch)):
                guard.check_all(e.message for e in batch)
                parts = with_skipped(reader, table, batch, settings.batch_size, metrics)
                async for part in parts:
                    await on_events(*part)

    async def risk_clock(stream: faust.StreamT) -> None:
        guard = OffsetGuard.of(app)
        async for batch in stream.take_events(16, within=settings.batch_within):
            async with turn, _or_die("scorer clock"), metrics.batch(len(batch)):
                guard.check_all(e.message for e in batch)
                async for part in with_skipped(reader, table, batch, 16, metrics):
                    await on_ticks(*part)

    async def on_events(messages: list[Any], reached: dict[tuple[str, int], int]) -> None:
        await scorer.on_events(messages, reached)
        metrics.progressed()  # a long repair of skips is progress too, part by part

    async def on_ticks(messages: list[Any], reached: dict[tuple[str, int], int]) -> None:
        for m in messages:
            await scorer.on_tick(m)
        await table.save({}, reached)  # how far the ticks are applied
        metrics.progressed()

    events_topic = app.topic(topics.case_events, internal=False)
    clock_topic = app.topic(topics.clock, internal=False)
    app.agent(events_topic, concurrency=1, name="risk_events")(risk_events)
    app.agent(clock_topic, concurrency=1, name="risk_clock")(risk_clock)
    appliers = {topics.case_events: on_events, topics.clock: on_ticks}
    check_quiet_skips(app, settings, reader, table, turn, appliers, settings.batch_size, metrics)


class _Scorer:
    def __init__(
        self,
        app: faust.App,
        topics: Topics,
        table: StateTable,
        assessor: Assessor,
        policy: RiskPolicy,
    ) -> None:
        self.app, self.topics, self.table = app, topics, table
        self.assess, self.policy = assessor, policy

    def _watch(self, case_id: str) -> Watch:
        stored = self.table.get(case_id)
        return Watch.from_dict(stored) if stored else Watch(CaseState(case_id))

    async def on_events(self, messages: list[Any], reached: dict[tuple[str, int], int]) -> None:
        envelopes, sent = [], []
        for m in messages:
            try:
                envelopes.append(Envelope.from_bytes(m.value))
            except Exception as exc:  # not an event this code can read: keep it, go on
                sent.append(await self._dead(m, "unreadable_event", exc))
        watches = {e.case_id: self._watch(e.case_id) for e in envelopes}
        changed, emitted = watch_events(watches, envelopes, self.assess, self.policy)
        sent.extend([await self._emit(event) for event in emitted])
        await self._commit(changed, sent, reached)

    async def on_tick(self, m: Any) -> None:
        try:
            tick = ClockTicked.from_bytes(m.value)
            at = as_datetime(tick.at)
        except Exception as exc:
            await asyncio.gather(await self._dead(m, "unreadable_tick", exc))
            return
        if not tick.reassess:
            return  # a deadline check: the alert writer's
        mine = {
            case_id: Watch.from_dict(stored)
            for case_id, stored in self.table.items(m.partition)
            if stored is not None
        }
        ids = sorted(mine)
        for i in range(0, len(ids), CHUNK):
            chunk = {cid: mine[cid] for cid in ids[i : i + CHUNK]}
            changed, emitted = watch_tick(chunk, at, self.assess, self.policy)
            await self._commit(changed, [await self._emit(event) for event in emitted])

    async def _emit(self, event: Any) -> Any:
        key = event.case_id.encode("utf-8")
        part = partition_for(event.case_id, self.topics.partitions)
        return await _send(self.app, self.topics.risk_assessments, key, event.to_bytes(), part)

    async def _commit(
        self,
        watches: dict[str, Watch],
        sent: list,
        reached: dict[tuple[str, int], int] | None = None,
    ) -> None:
        """Assessments delivered first, then the watches to the changelog, then the table."""
        await delivered(self.app, sent)
        await self.table.save({case_id: w.to_dict() for case_id, w in watches.items()}, reached)

    async def _dead(self, m: Any, code: str, exc: Exception) -> Any:
        dead = unreadable(m, code, exc)
        return await _send(self.app, self.topics.dead_letters, m.key, dead.to_bytes(), m.partition)
