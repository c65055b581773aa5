"""``ews demo``: the whole pipeline on a generated batch, with a real broker, and a report.

1. start a local Kafka broker (KRaft, SASL/SCRAM with ACLs) and create fresh topics for this
   run, with each user's rights (deploy/kafka/acls.yaml);
2. start the stream workers, the notifier and the projector as separate processes (the
   pipeline's own credential), and the web console (the web service's credential) with
   demo accounts;
3. post a synthetic county's records, as a township's system would (its credential), with
   malformed records of every kind and duplicates;
4. wait until every record has gone through, then report what happened, per township;
5. replay the log into a second database and check that it gives identical read models;
6. at a terminal, keep the console up until Ctrl-C (``--keep-running``: leave it all up).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections import Counter

import sqlalchemy as sa
from tqdm import tqdm

from deploy.kafka_local import LocalBroker, free_port, grant, port_open
from domain.risk.policy import load_policy
from ews import processes
from ews.demo_batch import demo_batch, expected_counts
from ews.lag import NotSettled, wait_settled
from ews.receivers import MailReceiver, WebhookReceiver, routing_for
from readside.db import make_engine, migrate
from readside.queries import case_timeline_text, intake_rows, intake_table
from readside.snapshot import snapshot
from readside.tables import case_timeline, cases, dead_letters
from schemas.events import RecordAppended
from schemas.record import fingerprint, parse_record
from schemas.settings import Settings
from streams.admin import ensure_topics
from streams.post import post_messages

VAR = processes.PROJECT_ROOT / "var" / "demo"


def run_demo(
    settings: Settings,
    records: int = 10_000,
    bad_fraction: float = 0.05,
    duplicates: int = 50,
    keep_running: bool = False,
    port: int = 19092,
    web_port: int = 8080,
) -> int:
    run = dt.datetime.now().strftime("demo%Y%m%d%H%M%S")
    VAR.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{VAR / f'{run}.db'}"
    logs = VAR / "logs"

    print(f"== dispute-ews demo, run {run}")
    broker = LocalBroker(
        home=processes.PROJECT_ROOT / ".cache" / "demo-broker-secured",
        port=port,
        controller_port=port + 1,
        jars=processes.project_path(settings.kafka_jars),
        secure=True,
    )
    t0 = time.monotonic()
    print("-- starting Kafka 4.1 (KRaft, single node) from the cached Maven jars ...", flush=True)
    broker.start()
    bootstrap = broker.bootstrap
    worker = broker.access("ews-worker")
    settings = settings.replace(
        bootstrap=bootstrap,
        topic_prefix=run,
        db_url=db_url,
        kafka_user=worker.user,
        kafka_password=worker.password,
    )
    topics = settings.topics
    print(f"   broker up at {bootstrap} in {time.monotonic() - t0:.1f}s")
    rights = grant(broker, run)
    ensure_topics(broker.access(), topics.all())
    print(
        f"   SASL/SCRAM with {rights} ACLs: users {', '.join(broker.passwords())} "
        f"(passwords in {broker.credentials_file})"
    )
    engine = make_engine(db_url)
    migrate(engine)
    settings = settings.replace(model_dir=str(VAR / f"{run}-models"))
    _promote_a_model(settings)
    webhook, mail = WebhookReceiver().start(), MailReceiver().start()
    routing = routing_for(webhook, mail, VAR / f"{run}-routing.yaml")
    settings = settings.replace(
        routing=str(routing), outbox_db=f"sqlite:///{VAR / f'{run}-outbox.db'}"
    )
    print(
        f"-- a webhook receiver on 127.0.0.1:{webhook.port} and an SMTP server on "
        f"127.0.0.1:{mail.port} stand in for the units' group bots and the duty desk's mailbox"
    )
    workers = processes.start_workers(settings, logs)
    workers.append(processes.start(["notify"], settings, logs / f"{run}-notifier.log"))
    projector = processes.start_projector(settings, logs / f"{run}-projector.log")
    pids = ", ".join(str(w.pid) for w in workers)
    print(
        f"-- intake, case-writer, risk and alert workers and the notifier (pids {pids}), "
        f"projector (pid {projector.pid}); logs in {logs}"
    )
    if port_open(web_port):
        web_port = free_port()  # 8080 is taken: any free port
    web_settings = settings.replace(
        kafka_user="ews-web",
        kafka_password=broker.passwords()["ews-web"],
        accounts_db=f"sqlite:///{VAR / f'{run}-accounts.db'}",
        web_port=web_port,
    )
    accounts = _demo_accounts(web_settings)
    web = processes.start(["web"], web_settings, logs / f"{run}-web.log")
    workers.append(web)
    console = f"http://{web_settings.web_host}:{web_port}/"
    print(f"-- the console: {console} (API docs {console}docs); demo accounts:")
    for name, (role, scope, password) in accounts.items():
        print(f"   {name:<12} {password:<14} {role} {scope}")
    try:
        print(
            f"-- generating {records} records of a synthetic county ({bad_fraction:.0%} malformed, {duplicates} posted twice)"
        )
        batch = demo_batch(records, bad_fraction=bad_fraction, duplicates=duplicates)
        jsonl = VAR / f"{run}-records.jsonl"
        jsonl.write_bytes(b"\n".join(p.data for p in batch) + b"\n")
        t_post = time.monotonic()
        posted = post_messages(
            broker.access("township"),
            topics.records,
            (p.data for p in batch),
            progress=True,
            timestamps_ms=(p.posted_at_ms for p in batch),
        )
        print(f"   posted {posted} records ({jsonl})")
        ok = _wait(settings, engine, posted, [*workers, projector])
        elapsed = time.monotonic() - t_post
        print(
            f"-- {'all records processed' if ok else 'NOT all records processed'} in {elapsed:.1f}s ({posted / elapsed:.0f} records/s from post to read model)"
        )
        code = _report(engine, batch)
        acked = _acknowledge_one(settings, engine)
        end = _tick_to_the_end(settings, batch)
        ok = _wait(settings, engine, posted, [*workers, projector]) and ok
        _report_risk(engine, end)
        _wait_delivered(engine)
        handle_days = load_policy(settings.risk_policy or None).statutory_limits["handle"]
        _report_alerts(engine, webhook, mail, acked, end, handle_days)
        print("-- replaying the log into a fresh database (ews replay) ...", flush=True)
        replay_url = f"sqlite:///{VAR / (run + '-replay.db')}"
        replay_log = logs / f"{run}-replay.log"
        replay = processes.start(
            ["replay", "--quiet"], settings.replace(db_url=replay_url), replay_log
        )
        replayed = replay.wait(timeout=900) == 0
        print("   " + (replay_log.read_text(encoding="utf-8").strip().splitlines() or [""])[-1])
        same = replayed and snapshot(make_engine(replay_url)) == snapshot(engine)
        print(f"   replay gives identical read models: {'yes' if same else 'NO'}")
        code = code or (0 if same and ok else 1)
        if not keep_running and sys.stdin.isatty():
            print(f"\n== the console is up at {console} with the demo's data: Ctrl-C to stop")
            try:
                while web.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                print()
    finally:
        if keep_running:
            print(f"-- left running: broker {bootstrap}, workers {pids}, projector {projector.pid}")
            print(f"   console {console}; export EWS_BOOTSTRAP={bootstrap} EWS_TOPIC_PREFIX={run} ")
            print(f"   EWS_DB_URL={db_url} EWS_KAFKA_USER=ews-worker EWS_KAFKA_PASSWORD=... ")
            print(f"   (passwords in {broker.credentials_file})")
        else:
            for proc in [*workers, projector]:
                processes.stop(proc)
            webhook.stop()
            mail.stop()
            broker.stop()
            print("-- stopped workers, projector and broker")
    print(f"read models: {db_url}   (try: EWS_DB_URL={db_url} .venv/bin/ews counts)")
    return code


DEMO_ACCOUNTS = {  # name -> role, township or unit
    "zhouzhuang": ("township_clerk", "周庄镇"),
    "chengguan": ("township_clerk", "城关镇"),
    "hrss-duty": ("unit_officer", "hrss"),
    "police-duty": ("unit_officer", "police"),
    "county-desk": ("county_desk", ""),
    "analyst": ("analyst", ""),
    "admin": ("admin", ""),
}


def _demo_accounts(settings: Settings) -> dict[str, tuple[str, str, str]]:
    """One account per role, each with a fresh password (printed once)."""
    import secrets

    from web.accounts import AccountStore

    store = AccountStore(make_engine(settings.accounts_db))
    out = {}
    for name, (role, scope) in DEMO_ACCOUNTS.items():
        password = secrets.token_urlsafe(8)
        store.add(
            name,
            role,
            township=scope if role == "township_clerk" else None,
            unit=scope if role == "unit_officer" else None,
            password=password,
            by="demo",
        )
        out[name] = (role, scope, password)
    return out


TRAINING_CASES, TRAINING_SEED = 3000, 99  # another county than the demo's records (seed 7)


def _promote_a_model(settings: Settings) -> None:
    """Train a risk model on a separate synthetic county and put it in service, as an analyst
    would (`ews model train`, `ews model promote`), so the scorer has a model to use."""
    from ews.model_cli import in_service, publish
    from models.dataset import build_dataset
    from models.promotion import promoted_event
    from models.registry import Registry
    from models.train import TrainConfig
    from models.workbench import synthetic_events, train_version

    print(
        f"-- training a risk model on another synthetic county ({TRAINING_CASES} cases, "
        f"seed {TRAINING_SEED}) ...",
        flush=True,
    )
    policy = load_policy(settings.risk_policy or None)  # the risk worker's: its lexicon
    rows = build_dataset(synthetic_events(TRAINING_CASES, TRAINING_SEED), policy=policy)
    trained = train_version(
        rows,
        TrainConfig(),
        Registry(settings.model_dir),
        data_source=f"synthetic county of {TRAINING_CASES:,} cases (seed {TRAINING_SEED})",
        policy=policy,
    )
    cand = trained.report["scorers"]["candidate"]
    print(
        f"   {trained.version}: AP {cand['average_precision']:.3f} (rules alone "
        f"{trained.report['scorers']['rules']['average_precision']:.3f}) on its test window; "
        f"card {trained.card}"
    )
    sha = Registry(settings.model_dir).metadata(trained.version).get("sha256")
    publish(settings, promoted_event(trained.version, in_service(settings).version, sha, "demo"))
    print(f"   promoted {trained.version}: the risk worker scores with it")


def _tick_to_the_end(settings: Settings, batch: list) -> dt.datetime:
    """The records replay 18 months; move the clock to the morning after the last one, so
    every open case is assessed as of then (deadlines, quiet cases)."""
    from domain.risk.assess import ticks_between
    from streams.clock import publish_ticks

    last = max(p.posted_at_ms for p in batch) / 1000
    until = dt.datetime.fromtimestamp(last, tz=dt.UTC) + dt.timedelta(days=1)
    schedule = load_policy(settings.risk_policy or None).reassess
    ticks = ticks_between(None, until, schedule)
    publish_ticks(settings.kafka, settings.topics, ticks)
    print(f"\n-- clock ticked to {ticks[-1].isoformat()}: open cases re-assessed as of then")
    return ticks[-1]


def _acknowledge_one(settings: Settings, engine: sa.Engine) -> str | None:
    """A duty officer of the first open alert's unit acknowledges it and reports back, as
    `ews alert ack` and `ews alert feedback` would; the other open alerts are left alone."""
    import json

    from readside.alert_queries import queue
    from schemas.commands import AlertCommand, commands_to_bytes
    from streams.log import append

    open_alerts = queue(engine)
    if not open_alerts:
        return None
    first = open_alerts[0]
    unit = (json.loads(first["units"]) or ["county_desk"])[0]
    at = (dt.datetime.fromisoformat(first["raised_at"]) + dt.timedelta(minutes=12)).isoformat()
    commands = [
        AlertCommand(
            f"demo:ack:{first['alert_id']}", first["case_id"], "acknowledge", "值班员王敏", unit, at
        ),
        AlertCommand(
            f"demo:feedback:{first['alert_id']}",
            first["case_id"],
            "feedback",
            "值班员王敏",
            unit,
            at,
            text="已电话联系当事人，约定明日上午到现场协调。",
            measures="电话联系，约定现场协调",
        ),
    ]
    append(
        settings.kafka,
        settings.topics.alert_commands,
        first["case_id"].encode(),
        commands_to_bytes(commands),
    )
    print(
        f"\n-- 值班员王敏 ({unit}) acknowledged the alert of {first['township']} {first['ref_no']} and reported back"
    )
    return first["case_id"]


def _wait_delivered(engine: sa.Engine, timeout: float = 120.0) -> None:
    """Until the notifier has delivered (or given up on) every notification."""
    from readside.tables import deliveries

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            pending = conn.execute(
                sa.select(sa.func.count())
                .select_from(deliveries)
                .where(deliveries.c.status.in_(("requested", "retrying")))
            ).scalar_one()
        if pending == 0:
            return
        time.sleep(0.5)
    print(f"   ({pending} notifications still on their way)")


def _report_alerts(  # noqa: ANN001
    engine: sa.Engine, webhook, mail, acked: str | None, as_of: dt.datetime, handle_days: int
) -> None:
    from readside.alert_queries import alert_lines, delivery_counts, kpi_text
    from readside.tables import alerts

    with engine.connect() as conn:
        by_status = dict(
            conn.execute(
                sa.select(alerts.c.status, sa.func.count()).group_by(alerts.c.status)
            ).all()
        )
        escalated = conn.execute(
            sa.select(alerts.c.case_id)
            .where(alerts.c.escalation_step > 0, alerts.c.case_id != (acked or ""))
            .order_by(alerts.c.raised_at.desc())
            .limit(1)
        ).scalar()
    counts = delivery_counts(engine)
    delivered = sum(n for (_, status), n in counts.items() if status == "delivered")
    print("\n== alerts")
    print("   " + ", ".join(f"{status} {n}" for status, n in sorted(by_status.items())))
    keys = {r.key for r in webhook.items()}
    # the receivers count what has arrived; the read model what the notifier has reported
    # back so far, so the two may differ while notifications are on their way
    print(f"   notifications delivered, as the read model has them so far: {delivered}")
    print(
        f"   at the receivers: {len(webhook.items())} webhook posts ({len(keys)} distinct "
        f"idempotency keys), {len(mail.received)} e-mails to the duty desk"
    )
    with engine.connect() as conn:
        for title, case_id in (("acknowledged", acked), ("left to escalate", escalated)):
            if case_id:
                print(f"   -- an alert {title} ({case_id}):")
                for line in alert_lines(conn, case_id):
                    if "已送达" not in line:  # deliveries are counted above
                        print("   " + line)
    print(f"\n== KPIs as of {as_of:%Y-%m-%d %H:%M} (ews alerts --kpi)")
    for line in kpi_text(engine, as_of, handle_days).splitlines():
        print("   " + line)


def _report_risk(engine: sa.Engine, as_of: dt.datetime) -> None:
    from readside.queries import LEVEL_ZH, level_counts, risk_lines, risk_rows

    counts = level_counts(engine)
    total = max(sum(counts.values()), 1)
    print(f"\n== risk of the open cases as of {as_of:%Y-%m-%d %H:%M} (four-colour scale)")
    for level, zh in LEVEL_ZH.items():
        n = counts.get(level, 0)
        print(f"   {level:<7}{zh}  {n:>5}  {'#' * max(0, round(40 * n / total))}")
    riskiest = risk_rows(engine, levels=("red", "orange", "yellow", "blue"))[:3]
    if riskiest:
        print("\n== the three riskiest open cases")
    with engine.connect() as conn:
        for r in riskiest:
            print(f"   {r['township']} {r['ref_no']} ({r['case_id']})")
            for line in risk_lines(conn, r["case_id"]):
                print("  " + line)
    print("   (ews risk lists them all; ews case --ref TOWNSHIP REF_NO shows one)")


def _wait(settings: Settings, engine: sa.Engine, posted: int, procs: list) -> bool:
    bar = tqdm(total=posted, unit="rec", desc="processed")

    def show(received: int) -> None:
        bar.n = min(received, posted)
        bar.refresh()

    try:
        wait_settled(
            settings.kafka,
            settings.topics,
            engine,
            posted,
            procs,
            timeout=600,
            on_progress=show,
        )
        return True
    except NotSettled as exc:
        print(f"\n!! {exc}")
        return False
    finally:
        bar.close()


def _report(engine: sa.Engine, batch) -> int:  # type: ignore[no-untyped-def]
    print("\n== intake per township (received = accepted + dead-lettered)")
    print(intake_table(engine))
    expected = expected_counts(batch)
    got = {t: (r, a, d) for t, r, a, d in intake_rows(engine)}
    match = got == expected
    print(f"   matches what was posted, township by township: {'yes' if match else 'NO'}")
    with engine.connect() as conn:
        reasons = conn.execute(
            sa.select(dead_letters.c.reason_code, sa.func.count()).group_by(
                dead_letters.c.reason_code
            )
        ).all()
        n_cases = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
        status = Counter(
            dict(
                conn.execute(
                    sa.select(cases.c.status, sa.func.count()).group_by(cases.c.status)
                ).all()
            )
        )
        n_events = conn.execute(sa.select(sa.func.count()).select_from(case_timeline)).scalar_one()
        by_type = conn.execute(
            sa.select(case_timeline.c.event_type, sa.func.count()).group_by(
                case_timeline.c.event_type
            )
        ).all()
        busiest = conn.execute(
            sa.select(cases.c.case_id)
            .order_by(cases.c.record_count.desc(), cases.c.case_id)
            .limit(1)
        ).scalar()
    print("\n== dead letters by reason")
    for code, n in sorted(reasons):
        print(f"   {code:<18} {n}")
    dups = sum(1 for p in batch if p.duplicate)
    distinct = len({fingerprint(parse_record(p.data)) for p in batch if p.expect == "accepted"})
    appended = dict(by_type).get(RecordAppended.type_name(), 0)
    print(
        f"\n== cases: {n_cases} ({status.get('open', 0)} open, {status.get('closed', 0)} closed), {n_events} events"
    )
    for kind, n in sorted(by_type):
        print(f"   {kind:<16} {n}")
    print(
        f"   {dups} records were posted twice; {distinct} distinct valid records, "
        f"{appended} RecordAppended events: {'one event each' if distinct == appended else 'MISMATCH'}"
    )
    if busiest:
        print("\n== the case with most follow-ups")
        print(case_timeline_text(engine, busiest))
    return 0 if match and distinct == appended else 1
