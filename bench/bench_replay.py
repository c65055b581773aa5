"""Replay: the read models rebuilt from the log, in events per second, into SQLite and
PostgreSQL.

Records are posted and turned into case events by the intake and case-writer stages; then
the workers stop, and ``ews replay``'s rebuild (``readside.replay.replay``) fills an empty
database from the log, timed from its start to the end of the log.
It does so with one process and with several (``ews replay --workers``: each projects its
share of the case-events partitions), ``--rounds`` times, each into a new empty database;
the first replay is the broker's first read of the log.

    .venv/bin/python bench/bench_replay.py --records 40000 --pg-url postgresql://HOST/DB
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka import KafkaConsumer  # noqa: E402

from bench.bench_scaleout import expected_count  # noqa: E402
from bench.common import end_total, kafka_broker, new_databases, warm_coordinator  # noqa: E402
from bench.common import parser as bench_parser
from ews import processes  # noqa: E402
from ews.demo_batch import demo_batch  # noqa: E402
from readside.db import make_engine, migrate  # noqa: E402
from readside.replay import replay  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.post import post_messages  # noqa: E402


def fill_log(settings: Settings, data: list[bytes], workdir: Path) -> int:
    """Post the records and run intake and case writer until every event is in; the count."""
    ensure_topics(settings.bootstrap, settings.topics.all())
    warm_coordinator(settings)
    want = expected_count(data)
    procs = [
        processes.start_worker(settings, workdir / f"{role}.log", role)
        for role in ("intake", "cases")
    ]
    watch = KafkaConsumer(bootstrap_servers=settings.bootstrap)
    try:
        post_messages(settings.bootstrap, settings.topics.records, data, progress=True)
        topics = settings.topics
        while end_total(watch, topics.case_events) + end_total(watch, topics.dead_letters) < want:
            time.sleep(0.5)
        return end_total(watch, topics.case_events)
    finally:
        watch.close()
        for proc in procs:
            processes.stop(proc)


def timed_replay(settings: Settings, db_url: str, workers: int) -> tuple[int, float]:
    """(log messages applied, seconds) for a replay into the empty database ``db_url``."""
    engine = make_engine(db_url)
    migrate(engine)
    t0 = time.perf_counter()
    n = replay(engine, settings.kafka, settings.topics, workers)
    seconds = time.perf_counter() - t0
    engine.dispose()
    return n, seconds


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--records", type=int, default=40_000, help="records to post (40,000)")
    p.add_argument("--pg-url", help="a PostgreSQL server (a database is created on it)")
    p.add_argument("--rounds", type=int, default=3, help="replays per database (3)")
    p.add_argument(
        "--workers", default="1,2", help="processes per replay, a list (1,2: one, then two)"
    )
    args = p.parse_args()
    data = [x.data for x in demo_batch(args.records, bad_fraction=0.05, duplicates=0)]
    workdir = Path(tempfile.mkdtemp(prefix="ews-replay-"))
    with kafka_broker(workdir) as bootstrap:
        settings = Settings(
            bootstrap=bootstrap,
            topic_prefix="replay" + uuid.uuid4().hex[:6],
            faust_dir=str(workdir / "faust"),
        )
        events = fill_log(settings, data, workdir)
        print(f"{len(data):,} records -> {events:,} case events in the log", flush=True)
        targets = new_databases(args.pg_url)
        print(
            f"{'database':<12}{'round':>6}{'workers':>8}{'messages':>10}{'seconds':>9}"
            f"{'events/s':>10}{'messages/s':>12}"
        )
        for i in range(args.rounds):
            for name, new_database in targets:
                for workers in (int(w) for w in args.workers.split(",")):
                    n, seconds = timed_replay(settings, new_database(), workers)
                    print(
                        f"{name:<12}{i + 1:>6}{workers:>8}{n:>10,}{seconds:>9.2f}"
                        f"{events / seconds:>10,.0f}{n / seconds:>12,.0f}",
                        flush=True,
                    )
        print("the first replay is the broker's first read of the log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
