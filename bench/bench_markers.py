"""Intake over records posted in transactions: what a township system's transaction markers
cost, side by side with the same records posted without transactions.

Each side posts N records to a one-partition records topic first, then starts an intake worker
on the backlog and times it from its first admitted record to its last (``ews_messages_total``
on its /metrics), with the CPU the worker used over the same span:

* plain: an idempotent producer, no transactions (what ``ews post`` does);
* tx100: a transactional producer, 100 records per transaction (a marker after each);
* tx1: one record per transaction, a marker after every record, the worst case: intake reads
  the log again at every gap in the offsets, to tell a marker from a skipped record.

    .venv/bin/python bench/bench_markers.py --records 2000
"""

from __future__ import annotations

import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka import KafkaProducer  # noqa: E402

from bench.common import cpu_seconds, kafka_broker, warm_coordinator  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from deploy.kafka_local import free_port  # noqa: E402
from ews import processes  # noqa: E402
from ews.demo_batch import demo_batch  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402

SIDES = {"plain": 0, "tx100": 100, "tx1": 1}  # records per transaction (0: none)


def post(settings: Settings, data: list[bytes], per: int) -> None:
    extra = {"transactional_id": settings.topic_prefix} if per else {"enable_idempotence": True}
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", **extra)
    if per:
        producer.init_transactions()
    for i, value in enumerate(data):
        if per and i % per == 0:
            producer.begin_transaction()
        producer.send(settings.topics.records, value, partition=0)
        if per and (i % per == per - 1 or i == len(data) - 1):
            producer.commit_transaction()
    producer.flush()
    producer.close()


def admitted(port: int) -> float:
    """The intake's ``ews_messages_total`` (0 before it serves its metrics)."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return 0.0
    lines = [line for line in text.decode().splitlines() if line.startswith("ews_messages_total")]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


def run_side(bootstrap: str, data: list[bytes], per: int, workdir: Path) -> tuple[float, float]:
    """(records/s from the first admitted record to the last, intake CPU ms per record over
    the same span: its start-up not counted)."""
    prefix = "markers" + uuid.uuid4().hex[:6]
    port = free_port()
    settings = Settings(
        bootstrap=bootstrap,
        topic_prefix=prefix,
        partitions=1,
        faust_dir=str(workdir / prefix),
        metrics_port=port,  # intake's is the first
    )
    ensure_topics(bootstrap, settings.topics.all())
    warm_coordinator(settings)
    post(settings, data, per)
    worker = processes.start_worker(settings, workdir / f"{prefix}.log", "intake")
    try:
        deadline = time.monotonic() + 900
        first = None
        while (n := admitted(port)) < len(data):
            if n and first is None:
                first = (time.perf_counter(), n, cpu_seconds(worker.pid))
            if time.monotonic() > deadline:
                raise RuntimeError(f"intake admitted {n:.0f} of {len(data)} in 900 s")
            time.sleep(0.05)
        end = time.perf_counter()
        cpu = cpu_seconds(worker.pid)
    finally:
        processes.stop(worker)
    began, before, cpu_before = first or (end, 0, cpu)
    rate = (len(data) - before) / max(end - began, 1e-3)
    return rate, (cpu - cpu_before) / max(len(data) - before, 1) * 1000


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--records", type=int, default=2000)
    p.add_argument("--sides", default=",".join(SIDES), help="which sides (default: all three)")
    p.add_argument("--bootstrap", help="use a running broker instead of starting one")
    args = p.parse_args()
    data = [posting.data for posting in demo_batch(args.records, bad_fraction=0, duplicates=0)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, kafka_broker(Path(tmp), args.bootstrap) as bs:
        for side in args.sides.split(","):
            rate, cpu_ms = run_side(bs, data, SIDES[side], Path(tmp))
            rows.append((side, rate, cpu_ms))
            print(f"{side}: {rate:,.0f} records/s, intake CPU {cpu_ms:.2f} ms/record", flush=True)
    base = rows[0][1]
    print(f"\n{'side':<8}{'records/s':>12}{'CPU ms/record':>16}{'vs ' + rows[0][0]:>12}")
    for side, rate, cpu_ms in rows:
        print(f"{side:<8}{rate:>12,.0f}{cpu_ms:>16.2f}{rate / base:>11.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
