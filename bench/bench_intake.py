"""Intake benchmark: records/s from post to read model, side by side with a naive loop.

* pipeline: the real system (faust worker: intake + case writer; projector into SQLite),
  timed from the first post until every record is in the read models (lag 0 everywhere);
* naive: a kafka-python consumer on the same records that validates each record and writes
  one row per transaction (no batching, no event log), the way a first version would.

Both read the same N records from the same broker in the same run.

    .venv/bin/python bench/bench_intake.py --records 10000
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from kafka import KafkaConsumer  # noqa: E402

from bench.common import consume, cpu_seconds, kafka_broker  # noqa: E402
from bench.common import parser as bench_parser
from ews import processes  # noqa: E402
from ews.demo_batch import demo_batch  # noqa: E402
from ews.lag import wait_settled  # noqa: E402
from readside.db import make_engine, migrate  # noqa: E402
from schemas.record import RecordRejected, parse_record  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.post import post_messages  # noqa: E402


def run_pipeline(bootstrap: str, data: list[bytes], workdir: Path) -> float:
    prefix = "bench" + uuid.uuid4().hex[:8]
    db_url = f"sqlite:///{workdir / (prefix + '.db')}"
    settings = Settings(bootstrap=bootstrap, topic_prefix=prefix, db_url=db_url)
    ensure_topics(bootstrap, settings.topics.all())
    engine = make_engine(db_url)
    migrate(engine)
    procs = processes.start_workers(settings, workdir)
    procs.append(processes.start_projector(settings, workdir / "projector.log"))
    try:
        time.sleep(8)  # let the worker join its group and recover its (empty) table
        t0 = time.perf_counter()
        post_messages(bootstrap, settings.topics.records, data)
        wait_settled(
            bootstrap, settings.topics, engine, len(data), procs, timeout=600, interval=0.2
        )
        elapsed = time.perf_counter() - t0
        for proc in procs:
            print(f"  cpu {' '.join(proc.args[3:]) or 'worker'}: {cpu_seconds(proc.pid):.1f}s")
        return elapsed
    finally:
        for proc in procs:
            processes.stop(proc)


def run_naive(bootstrap: str, data: list[bytes], workdir: Path) -> float:
    """One consumer, one transaction per record, like a first version would do it."""
    prefix = "naive" + uuid.uuid4().hex[:8]
    topics = Settings(bootstrap=bootstrap, topic_prefix=prefix).topics
    ensure_topics(bootstrap, topics.all())
    engine = sa.create_engine(f"sqlite:///{workdir / (prefix + '.db')}")
    meta = sa.MetaData()
    rows = sa.Table(
        "records",
        meta,
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("township", sa.String),
        sa.Column("ok", sa.Boolean),
        sa.Column("body", sa.Text),
    )
    meta.create_all(engine)
    consumer = KafkaConsumer(
        topics.records,
        bootstrap_servers=bootstrap,
        group_id=prefix,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
    )
    t0 = time.perf_counter()
    post_messages(bootstrap, topics.records, data)
    try:
        for m in consume(consumer, len(data)):
            try:
                rec = parse_record(m.value)
                township, ok = rec["township"], True
            except RecordRejected:
                township, ok = None, False
            with engine.begin() as conn:
                conn.execute(
                    sa.insert(rows).values(
                        id=f"{m.partition}:{m.offset}",
                        township=township,
                        ok=ok,
                        body=m.value.decode("utf-8", "replace"),
                    )
                )
        return time.perf_counter() - t0
    finally:
        consumer.close()


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--bootstrap", help="use a running broker instead of starting one")
    args = p.parse_args()
    data = [x.data for x in demo_batch(args.records, bad_fraction=0.05, duplicates=0)]
    workdir = Path(tempfile.mkdtemp(prefix="ews-bench-"))
    with kafka_broker(workdir, args.bootstrap) as bootstrap:
        naive = run_naive(bootstrap, data, workdir)
        pipeline = run_pipeline(bootstrap, data, workdir)
    n = len(data)
    print(json.dumps({"records": n, "pipeline_s": round(pipeline, 2), "naive_s": round(naive, 2)}))
    print(f"{'':<34}{'seconds':>10}{'records/s':>12}")
    print(f"{'naive loop (1 row per txn)':<34}{naive:>10.1f}{n / naive:>12.0f}")
    print(f"{'pipeline (post -> read model)':<34}{pipeline:>10.1f}{n / pipeline:>12.0f}")
    print(f"speed-up: {naive / pipeline:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
