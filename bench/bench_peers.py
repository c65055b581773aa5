"""Post -> case events, side by side with the peers: the same records through

* **pipeline**: this project (faust; the intake and case-writer stages, one process each, the
  commands topic between them, the case states in a changelogged table);
* **quixstreams**: the same pure logic (``domain.intake.admit``, ``domain.case.handle_command``)
  on quixstreams, one process, RocksDB state with its changelog (``bench/peers/quix_app.py``);
* **loop**: a hand-written confluent-kafka loop calling the same functions, one process, the
  states in a dict and no changelog (``bench/peers/loop_confluent.py``): the floor of Python.

The records are posted once; every side reads the same topic in its own consumer group and
writes its own case-events and dead-letters topics.  Each side's output is read back and
compared with the reference, the pure functions run here over the same messages: the same
event ids with the same bytes, the same dead letters, no duplicate.  Figures per side:

* records/s: records / the span from the first output this script sees (it polls the
  topics' end offsets every 50 ms) to the last: start-up and group join left out, for every
  side alike (quixstreams stamps its output with the input's time, so message times cannot
  be used);
* wall: from starting its processes until all its output is in;
* CPU: user + system seconds per process, from /proc, and CPU ms per record in all.

Needs the ``bench`` extra (``pip install -e ".[bench]" -c constraints.txt``).

    .venv/bin/python bench/bench_peers.py --records 10000
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka import KafkaConsumer  # noqa: E402

from bench.common import cpu_seconds, end_total, kafka_broker  # noqa: E402
from bench.common import parser as bench_parser
from bench.peers.logic import Output, admitted, step  # noqa: E402
from domain.intake import Posted  # noqa: E402
from ews import processes  # noqa: E402
from ews.demo_batch import demo_batch  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from schemas.topics import TopicSpec  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.log import read_from_start  # noqa: E402
from streams.post import post_messages  # noqa: E402

HERE = Path(__file__).resolve().parent


@dataclass
class Outputs:
    events: dict[str, bytes] = field(default_factory=dict)  # event id -> bytes
    dead: dict[str, bytes] = field(default_factory=dict)  # dead letter id -> bytes
    duplicates: int = 0


@dataclass
class Side:
    name: str
    events_topic: str
    dead_topic: str
    procs: list[subprocess.Popen] = field(default_factory=list)


def reference(bootstrap: str, topic: str) -> Outputs:
    """The outputs of the pure functions over the posted messages, in partition order."""
    messages = sorted(read_from_start(bootstrap, topic), key=lambda m: (m.partition, m.offset))
    return fold_outputs(
        Posted(m.topic, m.partition, m.offset, m.timestamp, m.value, tuple(m.headers or ()))
        for m in messages
    )


def fold_outputs(posted: Iterable[Posted]) -> Outputs:
    """The outputs of the pure functions over ``posted``, in that order."""
    out, states = Outputs(), {}
    for message in posted:
        case_id, result = admitted(message)
        if case_id is None:
            assert isinstance(result, Output)
            out.dead[json.loads(result.value)["dead_letter_id"]] = result.value
            continue
        states[case_id], events = step(states.get(case_id), result)
        for e in events:
            out.events[json.loads(e.value)["event_id"]] = e.value
    return out


def outputs_of(bootstrap: str, side: Side) -> Outputs:
    out = Outputs()
    for topic, into, id_field in (
        (side.events_topic, out.events, "event_id"),
        (side.dead_topic, out.dead, "dead_letter_id"),
    ):
        for m in read_from_start(bootstrap, topic):
            ident = json.loads(m.value)[id_field]
            if ident in into:
                out.duplicates += 1
            into[ident] = m.value
    return out


def peer(script: str, log: Path, **options: str) -> subprocess.Popen:
    args = [sys.executable, str(HERE / "peers" / script)]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", value]
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT)


def start_side(name: str, settings: Settings, workdir: Path) -> Side:
    bootstrap, records = settings.bootstrap, settings.topics.records
    if name == "pipeline":
        topics = settings.topics
        side = Side(name, topics.case_events, topics.dead_letters)
        for role in ("intake", "cases"):
            side.procs.append(
                processes.start_worker(settings, workdir / f"pipeline-{role}.log", role)
            )
        return side
    prefix = f"{name}{uuid.uuid4().hex[:6]}"
    side = Side(name, f"{prefix}.case-events", f"{prefix}.dead-letters")
    ensure_topics(
        bootstrap,
        [
            TopicSpec(t, settings.topics.partitions, {}, name)
            for t in (side.events_topic, side.dead_topic)
        ],
    )
    common = dict(
        bootstrap=bootstrap,
        records=records,
        events=side.events_topic,
        dead_letters=side.dead_topic,
        group=prefix,
    )
    if name == "quixstreams":
        common["state_dir"] = str(workdir / f"{prefix}-state")
        side.procs.append(peer("quix_app.py", workdir / f"{name}.log", **common))
    else:
        side.procs.append(peer("loop_confluent.py", workdir / f"{name}.log", **common))
    return side


def run_side(name: str, settings: Settings, expected: Outputs, workdir: Path) -> dict:
    bootstrap = settings.bootstrap
    t0 = time.perf_counter()
    side = start_side(name, settings, workdir)
    watch = KafkaConsumer(bootstrap_servers=bootstrap)
    want = len(expected.events) + len(expected.dead)
    first = None
    try:
        while True:
            done = end_total(watch, side.events_topic) + end_total(watch, side.dead_topic)
            now = time.perf_counter()
            if done and first is None:
                first = now
            if done >= want:
                break
            for proc in side.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"{name}: a process exited ({proc.returncode}); see {workdir}")
            if now - t0 > 900:
                raise SystemExit(f"{name}: not done after 900 s; see {workdir}")
            time.sleep(0.05)
        wall, span = now - t0, now - first
        time.sleep(1.0)  # anything more (a duplicate) would show up in the output
        cpu = [cpu_seconds(proc.pid) for proc in side.procs]
    finally:
        watch.close()
        for proc in side.procs:
            processes.stop(proc)
    got = outputs_of(bootstrap, side)
    identical = got.events == expected.events and got.dead == expected.dead and got.duplicates == 0
    return {
        "side": name,
        "records_per_s": None,
        "span_s": round(span, 2),
        "wall_s": round(wall, 2),
        "cpu_s": [round(c, 1) for c in cpu],
        "events": len(got.events),
        "dead_letters": len(got.dead),
        "duplicates": got.duplicates,
        "identical": identical,
    }


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--records", type=int, default=10_000, help="records to post (10,000)")
    p.add_argument(
        "--sides",
        default="loop,quixstreams,pipeline",
        help="which sides, in this order (loop,quixstreams,pipeline)",
    )
    p.add_argument("--bootstrap", help="use a running broker instead of starting one")
    args = p.parse_args()
    data = [x.data for x in demo_batch(args.records, bad_fraction=0.05, duplicates=0)]
    workdir = Path(tempfile.mkdtemp(prefix="ews-peers-"))
    results = []
    with kafka_broker(workdir, args.bootstrap) as bootstrap:
        prefix = "peers" + uuid.uuid4().hex[:8]
        settings = Settings(
            bootstrap=bootstrap,
            topic_prefix=prefix,
            db_url=f"sqlite:///{workdir / 'unused.db'}",
            faust_dir=str(workdir / "faust"),
        )
        ensure_topics(bootstrap, settings.topics.all())
        post_messages(bootstrap, settings.topics.records, data)
        expected = reference(bootstrap, settings.topics.records)
        print(
            f"{len(data):,} records posted; reference: {len(expected.events):,} case events, "
            f"{len(expected.dead):,} dead letters",
            flush=True,
        )
        for name in args.sides.split(","):
            result = run_side(name, settings, expected, workdir)
            result["records_per_s"] = round(len(data) / result["span_s"])
            results.append(result)
            print(json.dumps(result, ensure_ascii=False), flush=True)
    n = len(data)
    print(f"\n{'side':<13}{'records/s':>10}{'wall s':>9}{'CPU s':>16}{'CPU ms/rec':>12}  output")
    for r in results:
        cpu = " + ".join(f"{c:.1f}" for c in r["cpu_s"])
        per = sum(r["cpu_s"]) * 1000 / n
        same = "identical" if r["identical"] else "DIFFERENT"
        print(
            f"{r['side']:<13}{r['records_per_s']:>10,}{r['wall_s']:>9.1f}{cpu:>16}{per:>12.2f}  {same}"
        )
    by = {r["side"]: r for r in results}
    if "pipeline" in by and "quixstreams" in by:
        ratio = by["pipeline"]["records_per_s"] / by["quixstreams"]["records_per_s"]
        print(f"pipeline / quixstreams: {ratio:.2f}x")
    if "pipeline" in by and "loop" in by:
        ratio = by["pipeline"]["records_per_s"] / by["loop"]["records_per_s"]
        print(f"pipeline / loop: {ratio:.2f}x")
    return 0 if all(r["identical"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
