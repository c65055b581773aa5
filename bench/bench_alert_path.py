"""CPU of the alert path's own work, without faust and without HTTP: what a change to the alert
writer's fold or to the notifier saves, measured where the machine's drift does not hide it.

* alert fold: the ``RiskAssessed`` of N red alerts (``bench_alerts.py``'s records, scored by
  the rules alone), each read from bytes, its alert state read, folded with ``handle``, the
  events written to bytes and the state written back; microseconds per assessment (best of
  ``--rounds``);
* notifier: the seven alert events of each of the N alerts (raised, three notifications
  requested, three delivered), read 100 at a time into a SQLite outbox, then sent by a sender
  that answers "delivered" at once, the delivery reports produced to a real broker and waited
  for; milliseconds of the process's CPU per notification.

Both count Python function calls (cProfile), which do not drift with the machine.  To compare
with another version, run the same script against that version's checkout, in turns:

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/bench_alert_path.py --alerts 2000 --src /tmp/before
    .venv/bin/python bench/bench_alert_path.py --alerts 2000
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import sys
import tempfile
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def fold_figures(n: int, rounds: int) -> tuple[float, int]:
    """(best microseconds per assessment, Python calls of one round)."""
    from bench.bench_alerts import records
    from bench.bench_risk import assess_record
    from domain.alerts.alert import AlertState, handle
    from domain.alerts.routing import load_routing
    from domain.risk.policy import DEFAULT_POLICY, load_policy
    from ews.receivers import routing_for
    from models.scoring import score_cases
    from schemas.risk import RiskAssessed

    work = Path(tempfile.mkdtemp(prefix="ews-bench-alert-path-"))
    policy_file = work / "policy.yaml"
    policy_file.write_text(  # a threat alone is red, as in bench_alerts.py
        DEFAULT_POLICY.read_text(encoding="utf-8").replace(
            "explicit_threat: {raises: yellow, alone: orange",
            "explicit_threat: {raises: yellow, alone: red",
        ),
        encoding="utf-8",
    )
    policy = load_policy(policy_file)
    port = types.SimpleNamespace(port=9)
    routing = load_routing(routing_for(port, port, work / "routing.yaml"))
    data, _ = records(n, "F")
    watches: dict = {}
    assessed = []
    for i, value in enumerate(data):
        m = types.SimpleNamespace(
            topic="t",
            partition=0,
            offset=i,
            timestamp=int(time.time() * 1000),
            value=value,
            key=None,
        )
        found = assess_record(m, watches, lambda s, m: score_cases(None, s, m, policy), policy)
        assessed += [a.to_bytes() for a in found]

    def one_round() -> None:
        table: dict = {}
        recorded = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        for body in assessed:
            a = RiskAssessed.from_bytes(body)
            stored = table.get(a.case_id)
            state = AlertState.from_dict(stored) if stored else AlertState(a.case_id)
            state, events = handle(state, a, routing, a.assessment_id, recorded)
            for e in events:
                e.to_bytes()
            table[a.case_id] = state.to_dict()

    one_round()
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        one_round()
        best = min(best, time.perf_counter() - began)
    profile = cProfile.Profile()
    profile.runcall(one_round)
    return 1e6 * best / len(assessed), pstats.Stats(profile).total_calls  # type: ignore[attr-defined]


def notifier_figures(n: int) -> tuple[float, int]:
    """(milliseconds of CPU per notification, Python calls), against a broker of its own."""
    from kafka import KafkaProducer

    from alerts.notifier import Notifier
    from deploy.kafka_local import LocalBroker, free_port
    from domain.alerts.routing import DEFAULT_ROUTING, load_routing
    from readside.db import make_engine
    from readside.projector import Message
    from schemas.events import (
        AlertRaised,
        Envelope,
        NotificationDelivered,
        NotificationRequested,
    )
    from schemas.topics import Topics
    from streams.admin import ensure_topics

    work = Path(tempfile.mkdtemp(prefix="ews-bench-alert-path-"))
    broker = LocalBroker(home=work / "broker", port=free_port(), controller_port=free_port())
    broker.start()
    try:
        topics = Topics(prefix="benchnotify")
        ensure_topics(broker.bootstrap, topics.all())
        messages = []
        for i in range(n):
            case, alert = f"C{i:06d}", f"A{i:06d}"
            events: list = [
                AlertRaised(alert, "red", "周庄镇", "wage_arrears", ("hrss",), ("扬言（进京）",),
                            0.9, alert, "2027-01-15T09:00:00+08:00", "2027-01-16T08:00:00+08:00")
            ]  # fmt: skip
            for r in range(3):
                key = f"{alert}-r{r}-1"
                events.append(
                    NotificationRequested(alert, f"r{r}", "值班员", "json://127.0.0.1:9/hook",
                                          "duty", "hrss", key, "红色预警", "周庄镇 拖欠农民工工资")
                )  # fmt: skip
            events += [
                NotificationDelivered(alert, f"r{r}", f"{alert}-r{r}-1", 1) for r in range(3)
            ]
            for seq, e in enumerate(events, 1):
                envelope = Envelope(f"{case}-{seq}", case, seq, "2027-01-15T08:00:00+08:00",
                                    "2027-01-15T00:00:00.000+00:00", "bench", e)  # fmt: skip
                messages.append(Message(topics.alert_events, 0, len(messages), envelope.to_bytes()))
        engine = make_engine(f"sqlite:///{work}/outbox.db")
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=50)
        notifier = Notifier(
            engine,
            broker.bootstrap,
            topics,
            load_routing(DEFAULT_ROUTING),
            send=lambda url, title, body, key: (True, "HTTP 200"),
            clock=lambda: 1_800_000_000.0,
        )

        def run() -> None:
            for start in range(0, len(messages), 100):  # as the notifier polls them
                notifier.take(messages[start : start + 100])
                while notifier.send_due(producer, limit=200):
                    pass

        profile = cProfile.Profile()
        began = time.process_time()
        profile.runcall(run)
        cpu = time.process_time() - began
        producer.close()
        engine.dispose()
        calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
        return 1e3 * cpu / (3 * n), calls
    finally:
        broker.stop()


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--alerts", type=int, default=2000, help="red alerts (3 notifications each)")
    p.add_argument("--rounds", type=int, default=3, help="the fold: best of this many rounds")
    p.add_argument(
        "--src", type=Path, default=HERE, help="the checkout whose code is measured (default: this)"
    )
    args = p.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    print(f"code measured: {args.src.resolve()}")
    us, calls = fold_figures(args.alerts, args.rounds)
    print(f"alert fold: {us:.0f} us per assessment (best of {args.rounds}), {calls:,} calls")
    ms, calls = notifier_figures(args.alerts)
    print(
        f"notifier: {ms:.3f} ms of CPU per notification (profiled, no HTTP), {calls:,} calls, "
        f"{3 * args.alerts} notifications"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
