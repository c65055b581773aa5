"""Risk benchmark: from a posted record to its RiskAssessed, side by side with a per-message
baseline, in one run on one broker.

* pipeline: the real system (intake, case-writer and risk workers, a model in service),
  micro-batched;
* baseline: one kafka-python consumer that, for every posted record, admits it, folds its case,
  decides with the same pure functions as the scorer (``watch_events``, one message at a time,
  so the model's ``predict_proba`` runs on one row), writes one row per transaction and produces
  each RiskAssessed synchronously, the way a first version would.

Both sides must say the same of the same case states under each load: case, state, trigger,
level and rules of every assessment are compared.

Two loads on each: a steady 200 records/s (latency: p50/p99 from the record's post time to its
RiskAssessed reaching the log) and a burst of every record at once (records/s until the last
assessment is out).  Latency counts the assessments that were emitted (a score that changes
nothing a duty officer would see is not re-sent).

    .venv/bin/python bench/bench_risk.py --records 3000
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402

from bench.common import consume, cpu_seconds, kafka_broker, warm_coordinator  # noqa: E402
from bench.common import parser as bench_parser
from domain.case import CaseState, handle_command  # noqa: E402
from domain.intake import Admitted, Posted, admit  # noqa: E402
from domain.risk.assess import Watch, watch_events  # noqa: E402
from domain.risk.policy import RiskPolicy, default_policy  # noqa: E402
from ews import processes  # noqa: E402
from ews.demo_batch import demo_batch  # noqa: E402
from ews.model_cli import publish  # noqa: E402
from models.dataset import build_dataset  # noqa: E402
from models.promotion import promoted_event  # noqa: E402
from models.registry import Registry  # noqa: E402
from models.scoring import score_cases  # noqa: E402
from models.train import TrainConfig  # noqa: E402
from models.workbench import synthetic_events, train_version  # noqa: E402
from schemas.risk import RiskAssessed  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.post import key_for, producer  # noqa: E402


def post(bootstrap: str, topic: str, data: list[bytes], rate: float | None) -> None:
    """Post the records, at ``rate`` per second (paced) or all at once.  Paced, each record is
    sent at its time without waiting for the one before to be acknowledged, as many townships
    posting at once would: one client waiting for every acknowledgement falls behind the
    schedule when the machine is busy, and its lag would be counted as the pipeline's."""
    if rate:
        prod = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    else:
        prod = producer(bootstrap)
    began = time.perf_counter()
    for i, value in enumerate(data):
        if rate:
            wait = began + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        prod.send(topic, key=key_for(value), value=value)  # a case's records in order, as posted
    prod.flush()
    prod.close()


def drain(bootstrap: str, topic: str, quiet: float, timeout: float) -> list[tuple[float, bytes]]:
    """(log-append time in seconds, value) of every message on ``topic`` once none has come
    for ``quiet`` seconds."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    parts = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in parts]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out: list[tuple[float, bytes]] = []
    last, deadline = time.monotonic(), time.monotonic() + timeout
    while time.monotonic() - last < quiet and time.monotonic() < deadline:
        for messages in consumer.poll(timeout_ms=200).values():
            out.extend((m.timestamp / 1000, m.value) for m in messages)
            last = time.monotonic()
    consumer.close()
    return out


def latencies(assessed: list[tuple[float, bytes]]) -> list[float]:
    """Seconds from the record's post time (the assessment's as_of) to the log."""
    return [
        t - dt.datetime.fromisoformat(RiskAssessed.from_bytes(v).as_of).timestamp()
        for t, v in assessed
    ]


def run_pipeline(settings: Settings, data: list[bytes], rate: float | None, workdir: Path) -> dict:
    topics = settings.topics
    ensure_topics(settings.bootstrap, topics.all())
    procs = processes.start_workers(settings, workdir)
    try:
        time.sleep(10)  # workers join their groups; the scorer reads which model is in service
        t0 = time.time()
        post(settings.bootstrap, topics.records, data, rate)
        out = drain(settings.bootstrap, topics.risk_assessments, quiet=6.0, timeout=900)
        cpu = {" ".join(p.args[3:]): cpu_seconds(p.pid) for p in procs}
    finally:
        for p in procs:
            processes.stop(p)
    return _figures(out, t0, len(data), cpu)


def assess_record(
    m: Any, watches: dict[str, Watch], assess: Callable, policy: RiskPolicy
) -> list[RiskAssessed]:
    """One posted record (a kafka-python message) through the stages' pure steps, as a first
    version would run them in one loop: admitted, folded into its case, and assessed with the
    scorer's own ``watch_events``; ``watches`` is updated, the assessments to emit returned."""
    out = admit(Posted(m.topic, m.partition, m.offset, m.timestamp, m.value))
    if not isinstance(out, Admitted):
        return []
    cid = out.command.case_id
    case = watches[cid].case if cid in watches else CaseState(cid)
    _, events = handle_command(case, out.command)
    changed, emitted = watch_events(watches, events, assess, policy)
    watches.update(changed)
    return emitted


def run_baseline(
    settings: Settings, data: list[bytes], rate: float | None, workdir: Path, model
) -> dict:  # noqa: ANN001
    """One record at a time: admit, fold, decide, one row per transaction, send and wait."""
    topics = settings.topics
    ensure_topics(settings.bootstrap, topics.all())
    engine = sa.create_engine(f"sqlite:///{workdir / (settings.topic_prefix + '.db')}")
    meta = sa.MetaData()
    rows = sa.Table(
        "risk", meta, sa.Column("id", sa.String, primary_key=True), sa.Column("body", sa.Text)
    )
    meta.create_all(engine)
    policy = default_policy()
    warm_coordinator(settings)  # kafka-python can wait forever for it on a new broker
    consumer = KafkaConsumer(
        topics.records,
        bootstrap_servers=settings.bootstrap,
        group_id=settings.topic_prefix,
        auto_offset_reset="earliest",
    )
    prod = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    import threading

    poster = threading.Thread(target=post, args=(settings.bootstrap, topics.records, data, rate))
    t0 = time.time()
    poster.start()
    watches: dict[str, Watch] = {}

    def assess(states, moments):  # noqa: ANN001, ANN202
        return score_cases(model, states, moments, policy)

    for m in consume(consumer, len(data)):
        for event in assess_record(m, watches, assess, policy):
            with engine.begin() as conn:
                conn.execute(
                    sa.insert(rows).values(id=event.assessment_id, body=event.to_bytes().decode())
                )
            prod.send(
                topics.risk_assessments, key=event.case_id.encode(), value=event.to_bytes()
            ).get(30)
    poster.join()
    consumer.close()
    prod.close()
    out = drain(settings.bootstrap, topics.risk_assessments, quiet=2.0, timeout=60)
    return _figures(out, t0, len(data), {})


def _said(a: RiskAssessed) -> tuple:
    """What an assessment said of which state of which case (its id and ``as_of`` hold the
    time its records were posted, which differs between the two sides' topics)."""
    return a.case_id, a.case_seq, a.trigger, a.level, tuple(r["code"] for r in a.rules)


def _figures(out: list[tuple[float, bytes]], t0: float, n: int, cpu: dict) -> dict:
    lat = sorted(latencies(out))
    done = max((t for t, _ in out), default=t0)
    return {
        "assessments": len(out),
        "seconds": round(done - t0, 2),
        "records_per_s": round(n / max(done - t0, 1e-9), 1),
        "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1) if lat else None,
        "cpu_s": cpu,
        "said": sorted(_said(RiskAssessed.from_bytes(v)) for _, v in out),
    }


def print_table(
    results: dict[tuple[str, str], dict],
    rate: float,
    speed: tuple[str, str],
    count: tuple[str, str],
) -> None:
    """Both sides under both loads, one line each: speed, p50, p99 and how many came out;
    ``speed`` and ``count`` are (column title, key in the results)."""
    print(f"{'':<28}{speed[0]:>10}{'p50 ms':>10}{'p99 ms':>10}{count[0]:>10}")
    for (name, load), r in results.items():
        label = f"{name}, {'steady ' + str(int(rate)) + '/s' if load == 'steady' else 'burst'}"
        print(
            f"{label:<28}{r[speed[1]]:>10}{r['p50_ms'] or 0:>10}{r['p99_ms'] or 0:>10}{r[count[1]]:>10}"
        )


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--records", type=int, default=3000)
    p.add_argument("--rate", type=float, default=200.0, help="steady load, records/s (default 200)")
    p.add_argument("--bootstrap", help="use a running broker instead of starting one")
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ews-bench-risk-"))
    # records as posted now (their found_at stays historical), no malformed ones
    data = [x.data for x in demo_batch(args.records, bad_fraction=0.0, duplicates=0)]
    with kafka_broker(workdir, args.bootstrap) as bootstrap:
        models = workdir / "models"
        registry = Registry(models)
        trained = train_version(build_dataset(synthetic_events(3000, 99)), TrainConfig(), registry)
        model = registry.load(trained.version)
        results = {}
        for load, rate in (("steady", args.rate), ("burst", None)):
            for name in ("baseline", "pipeline"):
                prefix = f"{name}{load}{uuid.uuid4().hex[:6]}"
                settings = Settings(
                    bootstrap=bootstrap,
                    topic_prefix=prefix,
                    model_dir=str(models),
                    faust_dir=str(workdir / prefix),
                )
                ensure_topics(bootstrap, settings.topics.all())
                publish(
                    settings, promoted_event(trained.version, None, model.metadata.get("sha256"))
                )
                run = run_pipeline if name == "pipeline" else run_baseline
                extra = () if name == "pipeline" else (model,)
                results[(name, load)] = run(settings, data, rate, workdir, *extra)
                shown = {k: v for k, v in results[(name, load)].items() if k != "said"}
                print(name, load, json.dumps(shown), flush=True)
    print(
        f"\n{args.records} records, model {trained.version}; latency from post to RiskAssessed in the log"
    )
    print_table(results, args.rate, ("records/s", "records_per_s"), ("assessed", "assessments"))
    for load in ("steady", "burst"):
        same = results[("baseline", load)]["said"] == results[("pipeline", load)]["said"]
        print(f"same assessments from both sides, {load}: {'yes' if same else 'NO'}")
    b, q = results[("baseline", "burst")], results[("pipeline", "burst")]
    print(f"burst throughput, pipeline / baseline: {q['records_per_s'] / b['records_per_s']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
