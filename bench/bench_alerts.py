"""Alerts benchmark: from a posted record to its notifications delivered, side by side with a
per-message baseline, in one run on one broker and one loopback webhook receiver (in a process
of its own: not behind the poster's or the baseline's interpreter lock).

Every record is a new wage-arrears case with a threat, which the rules alone (no model, a
policy where a threat alone is red) turn into a red alert for three recipients: the labour
bureau's officer on duty, the township and the county desk (here all on the webhook).

* pipeline: intake, case-writer, risk and alert workers and the notifier (the outbox), as the
  system runs;
* baseline: one kafka-python consumer that, per record, admits it, folds its case, scores it
  and decides with the risk stage's own ``watch_events``, decides its alert with the alert
  stage's ``handle``, and sends each notification synchronously with apprise before the next.

First, ``--warmup`` records go through the pipeline unmeasured, so that the broker runs its
compiled code as a broker that has run for a while does.  Then two loads on each: a steady
200 records/s (latency: p50/p99 from the post to each
notification's arrival at the receiver) and a burst of every record at once (notifications/s
until the last arrives).

    .venv/bin/python bench/bench_alerts.py --records 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import multiprocessing
import os
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kafka import KafkaConsumer  # noqa: E402

from alerts.channels import send  # noqa: E402
from bench.bench_risk import assess_record, post, print_table  # noqa: E402
from bench.common import (  # noqa: E402
    compiler_seconds,
    consume,
    cpu_seconds,
    warm_coordinator,
)
from bench.common import parser as bench_parser  # noqa: E402
from deploy.kafka_local import LocalBroker, free_port  # noqa: E402
from domain.alerts.alert import AlertState, handle  # noqa: E402
from domain.alerts.routing import load_routing  # noqa: E402
from domain.risk.assess import Watch  # noqa: E402
from domain.risk.policy import DEFAULT_POLICY, load_policy  # noqa: E402
from ews import processes  # noqa: E402
from ews.receivers import MailReceiver, WebhookReceiver, routing_for  # noqa: E402
from models.scoring import score_cases  # noqa: E402
from schemas.events import NotificationRequested, case_id_for  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from streams.admin import ensure_topics  # noqa: E402
from streams.log import read_from_start  # noqa: E402

CASE = re.compile(r"案件：(C[0-9a-f]{20})")


def _serve(orders: Connection) -> None:
    """The webhook receiver's own process: says its port, then answers ``count``,
    ``arrivals`` and ``clear`` until ``stop`` or its parent goes (Ctrl-C is the parent's)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    receiver = WebhookReceiver().start()
    orders.send(receiver.port)
    try:
        while (order := orders.recv()) != "stop":
            if order == "count":
                orders.send(len(receiver.items()))
            elif order == "arrivals":
                found = ((r.at, CASE.search(r.body)) for r in receiver.items())
                orders.send([(at, case.group(1)) for at, case in found if case])
            else:  # clear
                orders.send(receiver.received.clear())
    except EOFError:
        pass  # the parent is gone
    finally:
        receiver.stop()


class Receiver:
    """The loopback webhook receiver in a process of its own, so that the notifications it
    takes in do not wait for the poster's (or the baseline's) interpreter lock, nor it for
    theirs."""

    def __init__(self) -> None:
        self._orders, theirs = multiprocessing.Pipe()
        spawn = multiprocessing.get_context("spawn")
        self.process = spawn.Process(target=_serve, args=(theirs,), daemon=True)
        self.process.start()
        theirs.close()  # ours closed: a child that dies is an EOF here, not a wait
        if not self._orders.poll(60):
            self.stop()
            raise RuntimeError("the webhook receiver's process did not start within 60 s")
        self.port: int = self._orders.recv()

    def _ask(self, order: str) -> Any:
        self._orders.send(order)
        return self._orders.recv()

    def count(self) -> int:
        return self._ask("count")

    def arrivals(self) -> list[tuple[float, str]]:
        """(arrival time, case id) of every notification it got."""
        return self._ask("arrivals")

    def clear(self) -> None:
        self._ask("clear")

    def stop(self) -> None:
        try:
            self._orders.send("stop")
        except OSError:
            pass  # it is gone already
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def records(n: int, prefix: str) -> tuple[list[bytes], list[str]]:
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")
    data, cases = [], []
    for i in range(n):
        ref = f"{prefix}-{i:05d}"
        body = {
            "township": "周庄镇",
            "ref_no": ref,
            "category": "拖欠农民工工资",
            "found_at": now,
            "description": "六十多名农民工讨薪，扬言要赴京上访，还要堵路。",
            "people_involved": 60,
        }
        data.append(json.dumps(body, ensure_ascii=False).encode())
        cases.append(case_id_for("周庄镇", ref))
    return data, cases


def figures(receiver: Receiver, posted_at: dict[str, float], began: float, expected: int) -> dict:
    deadline = time.monotonic() + 600
    while receiver.count() < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    got = receiver.arrivals()
    lat = sorted(t - posted_at[c] for t, c in got if c in posted_at)
    last = max((t for t, _ in got), default=began)
    return {
        "notifications": len(got),
        "per_s": round(len(got) / max(last - began, 1e-9), 1),
        "p50_ms": round(1000 * statistics.median(lat)) if lat else None,
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))]) if lat else None,
    }


def run_pipeline(
    settings: Settings,
    data: list[bytes],
    cases: list[str],
    rate: float | None,
    receiver: Receiver,
    workdir: Path,
    broker_pid: int,
) -> dict:
    ensure_topics(settings.bootstrap, settings.topics.all())
    warm_coordinator(settings)  # faust can sit idle after a first miss on a new broker
    procs = [
        *processes.start_workers(settings, workdir),
        processes.start(["notify"], settings, workdir / "notifier.log"),
    ]
    try:
        wait_until_live(settings, receiver)
        receiver.clear()
        named = {"broker": broker_pid, "bench (poster)": os.getpid()}
        named["webhook receiver"] = receiver.process.pid
        named |= {" ".join(p.args[3:]).replace("worker --role ", ""): p.pid for p in procs}
        before = {name: cpu_seconds(pid) for name, pid in named.items()}
        jit, began = compiler_seconds(broker_pid), time.monotonic()
        posted_at = _post_timed(settings, data, cases, rate)
        result = figures(receiver, posted_at, min(posted_at.values()), 3 * len(data))
        cpu = {n: cpu_seconds(pid) - before[n] for n, pid in named.items()}
        jit, took = compiler_seconds(broker_pid) - jit, time.monotonic() - began
    finally:
        for p in procs:
            processes.stop(p)
    if rate:
        print_hops(settings, posted_at, receiver)
    print_cpu(cpu, jit, took)
    return result


def print_cpu(cpu: dict[str, float], jit: float, took: float) -> None:
    """CPU each process used from the first post to the last notification.  On two cores, a
    sum near twice the load's length means the machine, not one stage, sets the pace."""
    print(
        f"CPU during the load ({took:.1f} s), s:", ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
    )
    print(
        f"  all together {sum(cpu.values()):.1f} s ({sum(cpu.values()) / took:.2f} cores); "
        f"the broker's JIT compiler {jit:.1f} s of the broker's"
    )


def wait_until_live(settings: Settings, receiver: Receiver, timeout: float = 120) -> None:
    """Post one probe record and wait for its three notifications: every worker has joined
    its group, been given its partitions and read its tables.  (A fixed wait was sometimes too
    short on this busy machine, and the first records then waited over a second.)"""
    data, cases = records(1, "PROBE" + uuid.uuid4().hex[:6].upper())
    post(settings.bootstrap, settings.topics.records, data, None)
    deadline = time.monotonic() + timeout
    while sum(case == cases[0] for _, case in receiver.arrivals()) < 3:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the pipeline did not notify within {timeout:.0f} s of a post")
        time.sleep(0.1)


def first_appended(bootstrap: str, topic: str) -> dict[str, float]:
    """Case id -> when its first message on ``topic`` was produced (epoch seconds)."""
    first: dict[str, float] = {}
    for m in read_from_start(bootstrap, topic):  # a case's messages are in one partition
        first.setdefault((m.key or b"").decode(), m.timestamp / 1000)
    return first


def print_hops(settings: Settings, posted_at: dict[str, float], receiver: Receiver) -> None:
    """Where a steady run's latency goes: each hop's p50, p99 and worst, case by case, from
    the time each stage produced the case's first message on its output topic."""
    topics = settings.topics
    arrived: dict[str, float] = {}
    for t, case in receiver.arrivals():
        arrived[case] = min(t, arrived.get(case, t))
    steps = [
        ("scheduled post", posted_at),
        (
            "case events (intake, case writer)",
            first_appended(settings.bootstrap, topics.case_events),
        ),
        ("risk assessment", first_appended(settings.bootstrap, topics.risk_assessments)),
        ("alert events", first_appended(settings.bootstrap, topics.alert_events)),
        ("first notification arrived", arrived),
    ]
    print(f"{'per hop, steady load':<40}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}  worst at")
    start = min(posted_at.values())
    for (_, before), (name, after) in itertools.pairwise(steps):
        hops = sorted(
            (after[c] - before[c], before[c] - start)
            for c in posted_at
            if c in after and c in before
        )
        if not hops:
            continue
        ms = [1000 * h for h, _ in hops]
        p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
        print(
            f"-> {name:<37}{statistics.median(ms):>8.0f}{p99:>8.0f}{ms[-1]:>8.0f}  {hops[-1][1]:.1f} s in"
        )


def _post_timed(
    settings: Settings, data: list[bytes], cases: list[str], rate: float | None
) -> dict[str, float]:
    began = time.time()
    post(settings.bootstrap, settings.topics.records, data, rate)
    if rate:
        return {c: began + i / rate for i, c in enumerate(cases)}
    return dict.fromkeys(cases, began)


def run_baseline(
    settings: Settings,
    data: list[bytes],
    cases: list[str],
    rate: float | None,
    receiver: Receiver,
) -> dict:
    """Per record: admit, fold, score, decide the alert, send each notification and wait."""
    ensure_topics(settings.bootstrap, settings.topics.all())
    policy = load_policy(settings.risk_policy)
    routing = load_routing(settings.routing)
    warm_coordinator(settings)  # kafka-python can wait forever for it on a new broker
    consumer = KafkaConsumer(
        settings.topics.records,
        bootstrap_servers=settings.bootstrap,
        group_id=settings.topic_prefix,
        auto_offset_reset="earliest",
    )
    while not consumer.assignment():  # in its group before the load starts, as the pipeline is
        consumer.poll(timeout_ms=100)
    receiver.clear()
    posted_at: dict[str, float] = {}
    poster = threading.Thread(
        target=lambda: posted_at.update(_post_timed(settings, data, cases, rate))
    )
    poster.start()
    watches: dict[str, Watch] = {}
    alerts: dict[str, AlertState] = {}

    def assess(states, moments):  # noqa: ANN001, ANN202  (rules only, no model)
        return score_cases(None, states, moments, policy)

    for m in consume(consumer, len(data)):
        for assessed in assess_record(m, watches, assess, policy):
            cid = assessed.case_id
            alert = alerts.get(cid) or AlertState(cid)
            alerts[cid], events = handle(alert, assessed, routing, assessed.assessment_id, "")
            for e in events:
                if isinstance(e.event, NotificationRequested):
                    send(e.event.url, e.event.title, e.event.body, e.event.key)
    poster.join()
    consumer.close()
    return figures(receiver, posted_at, min(posted_at.values()), 3 * len(data))


def _measure(args: argparse.Namespace, workdir: Path, broker: LocalBroker) -> dict:
    """Both sides under both loads, on ``broker``, with the loopback receivers."""
    broker_pid = broker.running_pid() or 0
    receiver, mail = Receiver(), MailReceiver().start()
    routing = routing_for(receiver, mail, workdir / "routing.yaml")  # it reads ``port`` only
    text = routing.read_text(encoding="utf-8")  # the desk on the webhook too, for one clock
    routing.write_text(
        re.sub(
            r'county-desk: \{zh: (\S+), url: "mailto://[^"]+"\}',
            rf'county-desk: {{zh: \1, url: "json://127.0.0.1:{receiver.port}/county-desk"}}',
            text,
        ),
        encoding="utf-8",
    )
    policy = workdir / "policy.yaml"
    policy.write_text(
        DEFAULT_POLICY.read_text(encoding="utf-8").replace(
            "explicit_threat: {raises: yellow, alone: orange",
            "explicit_threat: {raises: yellow, alone: red",
        ),
        encoding="utf-8",
    )

    def settings_for(prefix: str) -> Settings:
        return Settings(
            bootstrap=broker.bootstrap,
            topic_prefix=prefix,
            db_url=f"sqlite:///{workdir / (prefix + '.db')}",
            outbox_db=f"sqlite:///{workdir / (prefix + '-outbox.db')}",
            faust_dir=str(workdir / prefix),
            model_dir=str(workdir / "models"),
            routing=str(routing),
            risk_policy=str(policy),
            batch_within=args.batch_within,
        )

    results = {}
    try:
        if args.warmup:
            # the broker, like one that has run for a while, has its hot paths compiled: on a
            # broker just started, its JIT compiler took half of its CPU during the first run
            prefix = f"warmup{uuid.uuid4().hex[:6]}"
            data, cases = records(args.warmup, prefix.upper())
            warm = run_pipeline(
                settings_for(prefix), data, cases, args.rate, receiver, workdir, broker_pid
            )
            print("warm-up (not counted)", json.dumps(warm), flush=True)
        for load, rate in (("steady", args.rate), ("burst", None)):
            for name in ("baseline", "pipeline"):
                prefix = f"{name}{load}{uuid.uuid4().hex[:6]}"
                settings = settings_for(prefix)
                data, cases = records(args.records, prefix.upper())
                if name == "pipeline":
                    results[(name, load)] = run_pipeline(
                        settings, data, cases, rate, receiver, workdir, broker_pid
                    )
                else:
                    results[(name, load)] = run_baseline(settings, data, cases, rate, receiver)
                print(name, load, json.dumps(results[(name, load)]), flush=True)
    finally:
        receiver.stop()
        mail.stop()
    return results


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument(
        "--records", type=int, default=2000, help="records per run (2,000: 10 s at 200/s)"
    )
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument(
        "--batch-within",
        type=float,
        default=Settings().batch_within,
        help="the stages' batch window in seconds (EWS_BATCH_WITHIN)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=4000,
        help="records through the pipeline before anything is measured (0: none); with "
        "1,000, the broker's JIT compiler still took half of its CPU in the measured load",
    )
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ews-bench-alerts-"))
    broker = LocalBroker(home=workdir / "broker", port=free_port(), controller_port=free_port())
    broker.start()
    try:  # whatever fails or is stopped (Ctrl-C), the broker is not left running
        results = _measure(args, workdir, broker)
    finally:
        broker.stop()
    print(
        f"\n{args.records} red alerts, 3 recipients each; latency from post to arrival at the receiver"
    )
    print_table(results, args.rate, ("notif./s", "per_s"), ("arrived", "notifications"))
    b, q = results[("baseline", "burst")], results[("pipeline", "burst")]
    print(f"burst notifications/s, pipeline / baseline: {q['per_s'] / max(b['per_s'], 1e-9):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
