"""Scale-out shown: two workers per stage on eight partitions, one case writer killed mid-run.

The same records go through the pipeline's intake and case-writer stages twice, each time on
fresh topics of ``--partitions`` partitions:

* **one each**: one intake and one case-writer process;
* **two each**: two of each (faust spreads the partitions over them), every process holding
  partitions before the records are posted;
* **two each, one killed**: the same, and when half of the output is in, one case writer is
  killed with ``kill -9``; the other takes its partitions once the broker drops the dead member
  (``EWS_SESSION_TIMEOUT``, 10 s) and goes on from the changelog and the committed offsets.

Each run's output is compared with the pure functions' over the same messages: every case
event and dead letter, byte for byte.  Re-sent duplicates (the same event id again: the killed
writer's unacknowledged batch) are counted; every consumer drops them by id.  Printed per run:
records/s, CPU per process, and the CPU per record of each stage, from which the per-core rate
of a stage follows (1,000 / ms per record).

    .venv/bin/python bench/bench_scaleout.py --records 10000
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka import KafkaAdminClient, KafkaConsumer  # noqa: E402
from kafka.errors import KafkaError  # noqa: E402

from bench.bench_peers import Side, fold_outputs, outputs_of, reference  # noqa: E402
from bench.common import cpu_seconds, end_total, kafka_broker, warm_coordinator  # noqa: E402
from bench.common import parser as bench_parser
from domain.intake import Posted  # noqa: E402
from ews import processes  # noqa: E402
from ews.demo_batch import demo_batch  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.post import post_messages  # noqa: E402


def expected_count(data: list[bytes]) -> int:
    """How many case events and dead letters the records make (ids aside, the count does not
    depend on where they land: a case's records keep their order in any partition)."""
    out = fold_outputs(
        Posted("c.records", 0, i, 1_790_000_000_000, value) for i, value in enumerate(data)
    )
    return len(out.events) + len(out.dead)


def wait_for_members(settings: Settings, role: str, members: int, timeout: float = 120) -> None:
    """Until the stage's consumer group is stable with ``members`` members."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    group = settings.topics.group(role)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                info = admin.describe_groups([group])[group]
            except KafkaError:  # no coordinator yet
                time.sleep(0.5)
                continue
            if info["group_state"] == "Stable" and len(info["members"]) == members:
                return
            time.sleep(0.5)
    finally:
        admin.close()
    raise SystemExit(f"{group}: not {members} assigned members after {timeout:.0f} s")


def run(
    bootstrap: str, data: list[bytes], workdir: Path, partitions: int, each: int, kill: bool
) -> dict:
    """``each`` processes per stage; with ``kill``, one case writer is killed half-way."""
    prefix = f"scale{each}x{uuid.uuid4().hex[:6]}"
    settings = Settings(
        bootstrap=bootstrap,
        topic_prefix=prefix,
        partitions=partitions,
        faust_dir=str(workdir / prefix),
        db_url=f"sqlite:///{workdir / 'unused.db'}",
    )
    ensure_topics(bootstrap, settings.topics.all())
    warm_coordinator(settings)
    side = Side(prefix, settings.topics.case_events, settings.topics.dead_letters)
    roles = [role for role in ("intake", "cases") for _ in range(each)]
    side.procs = [
        processes.start_worker(settings, workdir / f"{prefix}-{role}{i}.log", role)
        for i, role in enumerate(roles)
    ]
    for role in ("intake", "cases"):  # every process holds partitions before the records come
        wait_for_members(settings, role, each)
    want = expected_count(data)
    t0 = time.perf_counter()
    poster = threading.Thread(target=post_messages, args=(bootstrap, settings.topics.records, data))
    poster.start()
    cpu: dict[int, float] = {}
    killed = None
    watch = KafkaConsumer(bootstrap_servers=bootstrap)
    first = None
    try:
        while True:
            out = end_total(watch, side.events_topic) + end_total(watch, side.dead_topic)
            now = time.perf_counter()
            if out and first is None:
                first = now
            if kill and killed is None and out >= want // 2:
                killed = side.procs[roles.index("cases")]
                cpu[killed.pid] = cpu_seconds(killed.pid)
                processes.kill_hard(killed)
            if out >= want:
                got = outputs_of(bootstrap, side)
                if len(got.events) + len(got.dead) >= want:
                    break
            if now - t0 > 900:
                raise SystemExit(f"{prefix}: not done after 900 s; see {workdir}")
            time.sleep(0.1)
        span, wall = now - first, now - t0
        time.sleep(1.0)
        for proc in side.procs:
            if proc is not killed:
                cpu[proc.pid] = cpu_seconds(proc.pid)
    finally:
        watch.close()
        for proc in side.procs:
            processes.stop(proc)
    poster.join()
    expected = reference(bootstrap, settings.topics.records)
    got = outputs_of(bootstrap, side)
    n = len(data)
    per_stage = {
        role: round(
            sum(cpu[p.pid] for p, r in zip(side.procs, roles, strict=True) if r == role) * 1000 / n,
            3,
        )
        for role in ("intake", "cases")
    }
    return {
        "run": ("one each" if each == 1 else "two each")
        + (", one case writer killed" if kill else ""),
        "partitions": partitions,
        "records_per_s": round(n / span),
        "span_s": round(span, 1),
        "wall_s": round(wall, 1),
        "cpu_s": {
            f"{r}{i}": round(cpu[p.pid], 1)
            for i, (p, r) in enumerate(zip(side.procs, roles, strict=True))
        },
        "cpu_ms_per_record": per_stage,
        "identical": got.events == expected.events and got.dead == expected.dead,
        "duplicates_dropped_by_id": got.duplicates,
    }


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--records", type=int, default=10_000, help="records to post (10,000)")
    p.add_argument("--partitions", type=int, default=8, help="partitions per topic (8)")
    p.add_argument("--bootstrap", help="use a running broker instead of starting one")
    args = p.parse_args()
    data = [x.data for x in demo_batch(args.records, bad_fraction=0.05, duplicates=0)]
    workdir = Path(tempfile.mkdtemp(prefix="ews-scaleout-"))
    results = []
    with kafka_broker(workdir, args.bootstrap) as bootstrap:
        for each, kill in ((1, False), (2, False), (2, True)):
            results.append(run(bootstrap, data, workdir, args.partitions, each, kill))
            print(json.dumps(results[-1]), flush=True)
    print(f"\n{'run':<36}{'records/s':>10}{'span s':>8}  CPU ms/record (intake, cases)  output")
    for r in results:
        ms = r["cpu_ms_per_record"]
        same = "identical" if r["identical"] else "DIFFERENT"
        print(
            f"{r['run']:<36}{r['records_per_s']:>10,}{r['span_s']:>8.1f}  "
            f"{ms['intake']:.3f}, {ms['cases']:.3f}{'':>16}{same}, "
            f"{r['duplicates_dropped_by_id']} duplicates"
        )
    one = results[0]["cpu_ms_per_record"]
    print(
        "per core: intake "
        f"{1000 / one['intake']:,.0f} records/s, case writer {1000 / one['cases']:,.0f} records/s"
    )
    return 0 if all(r["identical"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
