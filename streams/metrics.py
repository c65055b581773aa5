"""What a stage process tells its operator: Prometheus metrics, and a watchdog.

``StageMetrics`` counts the messages a stage handled, what it wrote (dead letters by reason),
and how long its batches took, in its own registry, served on ``/metrics`` when the stage has a
port (setting ``EWS_METRICS_PORT``: the first port; each stage, the projector and the notifier
take the next ones, ``port_of``).

The watchdog: faust can leave a partition unfetched after a rebalance, so a stage may hold
partitions with messages waiting and make no progress at all.  ``stalled`` says when that has
lasted ``EWS_STALL_TIMEOUT`` seconds; the stage then exits (code 75) for its supervisor to
restart it, and the restarted process reads the partitions afresh.  A partition whose last
offsets hold no message (a township system's transaction marker ends the records topic) is
not waiting: the watchdog reads the log there before it calls a stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

if TYPE_CHECKING:
    from streams.log import RangeReader

log = logging.getLogger("ews.stream")

# the order of the ports after EWS_METRICS_PORT
PROCESSES = ("intake", "cases", "risk", "alerts", "projector", "notify")
EXIT_STALLED = 75  # EX_TEMPFAIL: try again (a supervisor restarts the process)
EXIT_BROKER_GONE = 69  # EX_UNAVAILABLE: the broker did not answer for EWS_BROKER_TIMEOUT


def port_of(process: str, first_port: int) -> int:
    """The /metrics port of a process (0 when metrics are off)."""
    return first_port + PROCESSES.index(process) if first_port else 0


class StageMetrics:
    """The metrics of one stage process."""

    def __init__(self, stage: str, port: int = 0) -> None:
        self.stage = stage
        self.registry = CollectorRegistry()
        labels = {"registry": self.registry}
        self.messages = Counter(
            "ews_messages", "input messages handled", ["stage"], **labels
        ).labels(stage)
        self.written = Counter(
            "ews_written", "messages written, by kind", ["stage", "kind"], **labels
        )
        self.dead_letters = Counter(
            "ews_dead_letters", "dead letters written, by reason", ["stage", "reason"], **labels
        )
        self.batch_seconds = Histogram(
            "ews_batch_seconds", "time to handle one batch", ["stage"], **labels
        ).labels(stage)
        self.last_progress = Gauge(
            "ews_last_progress_seconds",
            "when the stage last handled a batch (Unix time)",
            ["stage"],
            **labels,
        ).labels(stage)
        self.read_again = Counter(
            "ews_read_again",
            "input messages the group's position had skipped, read again from the log to apply",
            ["stage"],
            **labels,
        ).labels(stage)
        self.lag = Gauge(
            "ews_lag_messages", "messages waiting on the stage's partitions", ["stage"], **labels
        ).labels(stage)
        self.progressed_at = time.monotonic()
        self.last_progress.set(time.time())
        if port:
            start_http_server(port, addr="127.0.0.1", registry=self.registry)

    @contextlib.asynccontextmanager
    async def batch(self, size: int) -> AsyncIterator[None]:
        began = time.perf_counter()
        yield
        self.batch_seconds.observe(time.perf_counter() - began)
        self.messages.inc(size)
        self.progressed()

    def progressed(self) -> None:
        self.progressed_at = time.monotonic()
        self.last_progress.set(time.time())

    def wrote(self, kind: str, n: int = 1) -> None:
        self.written.labels(self.stage, kind).inc(n)

    def dead_letter(self, reason: str) -> None:
        self.dead_letters.labels(self.stage, reason).inc()


def stalled(
    positions: Mapping[Any, int | None],
    highwaters: Mapping[Any, int],
    idle_seconds: float,
    stall_timeout: float,
) -> list[Any]:
    """The partitions with messages waiting, if the stage has made no progress for longer
    than ``stall_timeout`` seconds; [] otherwise."""
    if idle_seconds <= stall_timeout:
        return []
    return [tp for tp, high in highwaters.items() if (positions.get(tp) or 0) < high]


async def holds_a_message(reader: RangeReader, tp: Any, start: int | None, end: int) -> bool:
    """Whether the log holds a message of ``tp`` from ``start`` to ``end`` (not included);
    True when the log cannot be read within 15 s (the stall is then called as before)."""

    def read() -> bool:
        return any(reader.parts(tp.topic, tp.partition, start or 0, end, 1, timeout_s=10.0))

    try:
        return await asyncio.wait_for(asyncio.to_thread(read), 15.0)
    except Exception:
        return True


def applied_offset(app: Any, tp: Any, highwater: int) -> int | None:
    """The next offset of ``tp`` the stage has yet to apply: its group's committed position, or
    what its tables say it reached if that is further (a mark beyond the log's end, from a
    topic since created again, is not believed).  faust commits a partition whose offsets
    have gaps (a transactional producer's markers) only part of the way."""
    from streams.state import reached_key

    marks = [table.get(reached_key(tp.topic, tp.partition)) for table in app.tables.values()]
    known = [committed_offset(app, tp), *(m["next"] for m in marks if m and m["next"] <= highwater)]
    return max((offset for offset in known if offset is not None), default=None)


def committed_offset(app: Any, tp: Any) -> int | None:
    """The next offset of ``tp`` the stage's group will read: its committed position, as
    faust last read it at assignment or last committed it (None: nothing committed yet)."""
    return app.consumer._committed_offset.get(tp)


def add_watchdog(
    app: Any,
    metrics: StageMetrics,
    topics: set[str],
    stall_timeout: float,
    broker_timeout: float,
    reader: RangeReader,
) -> None:
    """A timer that exits the process when ``stalled`` says so, and ``reader`` finds a message
    waiting, or when the broker has not answered for ``broker_timeout`` seconds (see the
    module's doc)."""
    import os

    unreachable_since: list[float] = []

    @app.timer(interval=max(min(stall_timeout, broker_timeout) / 4, 1.0))
    async def watchdog() -> None:
        tps = [tp for tp in app.consumer.assignment() if tp.topic in topics]
        try:
            if tps:
                highwaters = await asyncio.wait_for(app.consumer.highwaters(*tps), 5.0)
            else:
                await asyncio.wait_for(app.consumer.highwaters(), 5.0)
        except Exception as exc:  # the broker does not answer
            unreachable_since[:] = unreachable_since or [time.monotonic()]
            gone = time.monotonic() - unreachable_since[0]
            log.warning("%s: broker unreachable for %.0fs (%r)", metrics.stage, gone, exc)
            if gone > broker_timeout:
                log.error("%s: broker gone for %.0fs; exiting for a restart", metrics.stage, gone)
                os._exit(EXIT_BROKER_GONE)
            return
        unreachable_since.clear()
        if not tps:
            return
        # what the agents have finished (committed), not what the consumer has fetched: an
        # agent that hangs on fetched messages is a stall too
        positions = {tp: applied_offset(app, tp, highwaters[tp]) for tp in tps}
        metrics.lag.set(sum(max(highwaters[tp] - (positions[tp] or 0), 0) for tp in tps))
        idle = time.monotonic() - metrics.progressed_at
        behind = []
        for tp in stalled(positions, highwaters, idle, stall_timeout):
            if await holds_a_message(reader, tp, positions[tp], highwaters[tp]):
                behind = [tp]  # one is enough to call it
                break
        if behind:
            log.error(
                "%s: no progress for %.0fs with messages waiting on %s; exiting for a restart",
                metrics.stage,
                idle,
                ", ".join(f"{tp.topic}:{tp.partition}" for tp in behind),
            )
            os._exit(EXIT_STALLED)
