"""Restart of the case writer holding many cases: from the process start to its first event.

The case-state changelog is filled with ``--cases`` states (real ones: synthetic records folded
by ``domain.case``, copied under new case ids; about 2.8 KB of JSON each), then a case writer
(``ews worker --role cases``) is started with each state store and one new record's command is
posted at once.  Measured: seconds from the start of the process until that command's event
is in the case-events topic, the worker's RSS then, and the store's size on disk.

* ``memory``: every start reads the whole changelog into a dict first;
* ``rocksdb``, first start on an empty folder (a new machine: it fills RocksDB from the
  changelog), then a restart after ``kill -9`` (the usual case: the states and the offset
  they reach are on disk; only what came after is read).

Needs the ``bench`` extra (confluent-kafka fills the changelog quickly).

    .venv/bin/python bench/bench_restart.py --cases 1000000 --stores rocksdb
    .venv/bin/python bench/bench_restart.py --cases 100000 --stores memory,rocksdb
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Producer  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bench.common import end_total, kafka_broker, warm_coordinator  # noqa: E402
from bench.common import parser as bench_parser
from bench.peers.logic import admitted, step  # noqa: E402
from domain.intake import Posted  # noqa: E402
from ews import processes  # noqa: E402
from ews.demo_batch import demo_batch  # noqa: E402
from schemas.commands import command_messages  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.metrics import EXIT_STALLED  # noqa: E402
from streams.state import partition_for  # noqa: E402


def template_states(records: int = 2000) -> list[dict]:
    """Case states folded from synthetic records (the shapes a real county has)."""
    states: dict = {}
    for i, posting in enumerate(demo_batch(records, bad_fraction=0, duplicates=0, seed=11)):
        case_id, command = admitted(Posted("t.records", 0, i, 1_790_000_000_000, posting.data))
        states[case_id], _ = step(states.get(case_id), command)
    return [s.to_dict() for s in states.values()]


def fill_changelog(settings: Settings, cases: int) -> int:
    """``cases`` states on the case-state changelog; returns the bytes written."""
    templates = template_states()
    producer = Producer({"bootstrap.servers": settings.bootstrap, "linger.ms": 50})
    topic, n, written = settings.topics.case_state_changelog, settings.partitions, 0
    for i in tqdm(range(cases), desc="filling the changelog", unit="case", mininterval=2):
        case_id = "C" + hashlib.blake2b(str(i).encode(), digest_size=10).hexdigest()
        state = dict(templates[i % len(templates)], case_id=case_id)
        body = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()
        written += len(body)
        while True:
            try:
                producer.produce(topic, body, case_id.encode(), partition=partition_for(case_id, n))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(120):
        raise SystemExit("the changelog was not filled")
    return written


def probe(settings: Settings, seq: int) -> None:
    """Post one new record's command (a case no one has seen) to the case-commands topic."""
    posting = demo_batch(1, bad_fraction=0, duplicates=0, seed=1000 + seq)[0]
    case_id, command = admitted(Posted("p.records", 0, seq, int(time.time() * 1000), posting.data))
    assert case_id is not None, "the probe record must be valid"
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    for body in command_messages([command]):
        producer.send(
            settings.topics.case_commands,
            body,
            partition=partition_for(case_id, settings.partitions),
        )
    producer.flush()
    producer.close()


GIVE_UP_AFTER = 2  # watchdog restarts before a run counts as never processing


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def start_to_first_event(settings: Settings, workdir: Path, label: str, seq: int) -> tuple:
    """(seconds from process start to the probe's event, the worker, its RSS in MB, how often
    the watchdog restarted it on the way)."""
    watch = KafkaConsumer(bootstrap_servers=settings.bootstrap)
    topic = settings.topics.case_events
    before = end_total(watch, topic)
    t0 = time.perf_counter()
    worker = processes.start_worker(settings, workdir / f"{label}.log", "cases")
    probe(settings, seq)
    restarts = 0
    while end_total(watch, topic) <= before:
        if worker.poll() == EXIT_STALLED:  # the watchdog: restart it, as a supervisor would
            restarts += 1
            if restarts > GIVE_UP_AFTER:
                return None, worker, float("nan"), restarts
            worker = processes.restart(worker)
        elif worker.poll() is not None:
            raise SystemExit(f"{label}: the worker exited ({worker.returncode}); see {workdir}")
        if time.perf_counter() - t0 > 3600:
            raise SystemExit(f"{label}: no event after an hour; see {workdir}")
        time.sleep(0.1)
    seconds = time.perf_counter() - t0
    watch.close()
    return seconds, worker, rss_mb(worker.pid), restarts


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--cases", type=int, default=100_000, help="cases on the changelog (100,000)")
    p.add_argument("--stores", default="memory,rocksdb", help="memory,rocksdb (both)")
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=60.0,
        help="the workers' watchdog (EWS_STALL_TIMEOUT; 60 s here): a worker that sits idle "
        "with commands waiting exits and is restarted, as a supervisor would",
    )
    p.add_argument("--bootstrap", help="use a running broker instead of starting one")
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ews-restart-"))
    rows = []
    with kafka_broker(workdir, args.bootstrap) as bootstrap:
        base = Settings(
            bootstrap=bootstrap,
            topic_prefix="restart" + uuid.uuid4().hex[:8],
            stall_timeout=args.stall_timeout,
        )
        ensure_topics(bootstrap, base.topics.all())
        warm_coordinator(base)
        t0 = time.perf_counter()
        size = fill_changelog(base, args.cases)
        print(f"{args.cases:,} states, {size / 2**20:,.0f} MB, in {time.perf_counter() - t0:.0f} s")
        seq = 0
        for store in args.stores.split(","):
            folder = workdir / f"faust-{store}"
            settings = base.replace(state_store=store, faust_dir=str(folder))
            runs = ["start"]
            if store == "rocksdb":
                runs = ["first start", "restart", "restart after kill -9"]
            for i, run in enumerate(runs):
                seq += 1
                label = f"{store}-{seq}"
                seconds, worker, rss, restarts = start_to_first_event(settings, workdir, label, seq)
                if runs[i + 1 :] and runs[i + 1].endswith("kill -9"):
                    processes.kill_hard(worker)
                else:
                    processes.stop(worker)
                row = {
                    "store": store,
                    "run": run,
                    "cases": args.cases,
                    "start_to_first_event_s": None if seconds is None else round(seconds, 1),
                    "rss_mb": None if seconds is None else round(rss),
                    "rss_kb_per_case": None
                    if seconds is None
                    else round(rss * 1024 / args.cases, 2),
                    "disk_mb": round(disk_mb(folder)),
                    "watchdog_restarts": restarts,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(
        f"\n{'store':<9}{'run':<24}{'cases':>11}{'to first event':>16}{'RSS MB':>8}{'disk MB':>9}"
        f"{'restarts':>10}"
    )
    for r in rows:
        took = r["start_to_first_event_s"]
        took = f"{took:>14.1f} s" if took is not None else f"{'never':>16}"
        print(
            f"{r['store']:<9}{r['run']:<24}{r['cases']:>11,}{took}"
            f"{r['rss_mb'] or '-':>8}{r['disk_mb']:>9}{r['watchdog_restarts']:>10}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
