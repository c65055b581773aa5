"""Chaos: 100,000 records while processes die, the broker restarts and a case writer is replaced.

Not in the default test run (it takes several minutes): run it with `make chaos`.  Three
phases, each ending with the read models compared to an uninterrupted reference run over the
same records (the same pure code, without Kafka, crashes or batching):

1. 100,000 records posted while a helper `kill -9`s a random stage process or the projector
   ten times at random moments, restarting each at once;
2. more records while the broker itself is stopped and started again (the processes that give
   up on it, after EWS_BROKER_TIMEOUT, are restarted as a supervisor would);
3. more records while a second case writer joins and the first is `kill -9`ed (a rebalance).

The figures (records, kills, time per phase) are printed; run with `-s` to see them.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from deploy.kafka_local import LocalBroker, free_port
from ews import processes
from ews.demo_batch import demo_batch
from ews.lag import lag
from readside.db import make_engine, migrate
from readside.queries import intake_rows
from readside.snapshot import snapshot
from schemas.settings import Settings
from streams.admin import ensure_topics
from streams.post import post_messages
from tests.support import group_members, posted_records, reference_snapshot

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(not os.environ.get("EWS_CHAOS"), reason="the chaos run: `make chaos`"),
    pytest.mark.timeout(3600),  # 10-15 minutes on 2 cores, more on a busy machine
]

RECORDS = 100_000
KILLS = 10


class Pipeline:
    """The stage processes and the projector, restarted like a supervisor would."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings, self.logs = settings, logs
        self.procs: dict[str, object] = {}
        self.restarts = 0
        for name in (*processes.STAGES, "projector"):
            self.start(name)

    def start(self, name: str, as_name: str | None = None) -> None:
        log = self.logs / f"{as_name or name}.log"
        if name == "projector":
            proc = processes.start_projector(self.settings, log)
        else:
            proc = processes.start_worker(self.settings, log, name)
        self.procs[as_name or name] = proc

    def supervise(self) -> None:
        """Restart whatever has exited."""
        for name, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self.restarts += 1
                self.start(name.split("#")[0], name)

    def kill(self, name: str) -> None:
        processes.kill_hard(self.procs[name])

    def stop(self) -> None:
        for proc in self.procs.values():
            processes.stop(proc)


def post_in_chunks(settings: Settings, batch: list, chunk: int = 2000, pause: float = 0.2):
    def run() -> None:
        for i in range(0, len(batch), chunk):
            data = (p.data for p in batch[i : i + chunk])
            post_messages(settings.bootstrap, settings.topics.records, data)
            time.sleep(pause)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def settle(pipeline: Pipeline, engine, posted: int, timeout: float = 900) -> None:
    s = pipeline.settings
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.supervise()
        try:
            received = sum(r[1] for r in intake_rows(engine))
            if received >= posted and not any(lag(s.bootstrap, s.topics, engine).values()):
                return
        except Exception:  # the broker is restarting
            pass
        time.sleep(1)
    raise AssertionError(f"not settled after {timeout:.0f}s")


def same_as_reference(settings: Settings, engine, workdir: Path) -> None:
    live = snapshot(engine)
    reference = reference_snapshot(
        posted_records(settings.bootstrap, settings.topics), workdir, settings.topics
    )
    for table in reference:
        extra = sorted(set(live[table]) - set(reference[table]))[:5]
        missing = sorted(set(reference[table]) - set(live[table]))[:5]
        assert live[table] == reference[table], (
            f"{table} differs from the reference;\nonly live: {extra}\nonly reference: {missing}"
        )


def test_chaos(tmp_path: Path) -> None:
    broker = LocalBroker(home=tmp_path / "broker", port=free_port(), controller_port=free_port())
    broker.start()
    settings = Settings(
        bootstrap=broker.bootstrap,
        topic_prefix="chaos",
        db_url=f"sqlite:///{tmp_path / 'ews.db'}",
        faust_dir=str(tmp_path / "faust"),
        model_dir=str(tmp_path / "models"),
        outbox_db=f"sqlite:///{tmp_path / 'outbox.db'}",
        broker_timeout=15.0,
    )
    ensure_topics(settings.bootstrap, settings.topics.all())
    engine = make_engine(settings.db_url)
    migrate(engine)
    rng = random.Random(2026)
    every = demo_batch(RECORDS + 20_000, bad_fraction=0.01, duplicates=200)
    first, second, third = (
        every[:RECORDS],
        every[RECORDS : RECORDS + 10_000],
        every[RECORDS + 10_000 :],
    )
    pipeline = Pipeline(settings, tmp_path / "logs")
    try:
        # 1. kill -9 a random process ten times while 100,000 records arrive
        began = time.monotonic()
        poster = post_in_chunks(settings, first)
        names = [*processes.STAGES, "projector"]
        for _ in range(KILLS):
            time.sleep(rng.uniform(2.0, 6.0))
            victim = rng.choice(names)
            pipeline.kill(victim)
            pipeline.start(victim)
        poster.join()
        settle(pipeline, engine, len(first))
        print(
            f"\nphase 1: {len(first):,} records, {KILLS} kill -9: {time.monotonic() - began:.0f}s"
        )
        same_as_reference(settings, engine, tmp_path / "ref1")

        # 2. the broker stops and starts again while records arrive
        began = time.monotonic()
        poster = post_in_chunks(settings, second[: len(second) // 2])
        poster.join()
        time.sleep(1.0)
        broker.stop()
        time.sleep(5.0)
        broker.start()
        poster = post_in_chunks(settings, second[len(second) // 2 :])
        poster.join()
        settle(pipeline, engine, len(first) + len(second))
        print(
            f"phase 2: {len(second):,} records, broker restarted: {time.monotonic() - began:.0f}s,"
            f" {pipeline.restarts} processes restarted by the supervisor"
        )
        same_as_reference(settings, engine, tmp_path / "ref2")

        # 3. a second case writer joins, the first is killed (rebalance)
        began = time.monotonic()
        pipeline.start("cases", "cases#2")
        poster = post_in_chunks(settings, third)
        both = lambda: group_members(settings.bootstrap, settings.topics.group("cases")) == 2  # noqa: E731
        assert processes.wait_until(both, 90), "the second case writer did not join"
        time.sleep(3.0)
        pipeline.kill("cases")
        del pipeline.procs["cases"]
        poster.join()
        settle(pipeline, engine, len(every))
        print(
            f"phase 3: {len(third):,} records, case writer replaced: {time.monotonic() - began:.0f}s"
        )
        same_as_reference(settings, engine, tmp_path / "ref3")
    finally:
        pipeline.stop()
        broker.stop()
