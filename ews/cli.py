"""``ews``: the one command of dispute-ews.

Settings come from ``EWS_*`` variables (``schemas.settings``, read once here); ``--bootstrap``
and ``--db`` override them for one command.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ews.model_cli import positive_number as _positive
from ews.model_cli import register as register_model_commands
from ews.model_cli import whole_number as _whole
from ews.processes import project_path
from schemas.record import CHINA_TZ
from schemas.settings import Settings, settings_table

EPILOG = """\
typical use:
  ews demo                       the whole pipeline on demo data, broker started for you
  ews broker start               a local Kafka broker on 127.0.0.1:9092
  ews topics                     create the topics (partitions, retention), or bring them up to date
  ews worker                     the stream processor (intake, case writer, risk, alerts)
  ews project                    keep the SQL read models up to date
  ews post records.csv           post a township's records (.jsonl, .csv, .xlsx)
  ews counts                     received = accepted + dead-lettered, per township
  ews risk                       open cases by risk level, most urgent first
  ews clock run                  re-assess open cases as time passes (ticks)
  ews notify                     send the alerts' notifications (outbox, retries)
  ews alerts --unit hrss         a unit's open alerts; ews alerts --kpi for the county's figures
  ews alert ack CASE --by 张三 --unit hrss   acknowledge (also feedback, resolve, escalate)
  ews replay                     drop and rebuild every read model from the log
"""


def _log_with_times() -> None:
    """Log lines of the long-running commands: time, level, who, what (personal numbers are
    masked where a message may carry them)."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


def _settings(args: argparse.Namespace) -> Settings:
    """The settings of this command: the environment's, with its options on top."""
    return Settings.from_env().replace(
        bootstrap=getattr(args, "bootstrap", None), db_url=getattr(args, "db", None)
    )


def cmd_broker(args: argparse.Namespace) -> int:
    from deploy.kafka_local import DEFAULT_HOME, LocalBroker, grant

    home = Path(args.home or DEFAULT_HOME)
    broker = LocalBroker(
        home=home,
        port=args.port,
        controller_port=args.port + 1,
        jars=project_path(_settings(args).kafka_jars),
        secure=args.secure or (home / "credentials.json").exists(),
    )
    if args.action == "start":
        print(f"starting Kafka (KRaft, single node) in {broker.home} ...", flush=True)
        broker.start()
        print(
            f"broker up at {broker.bootstrap} (pid {broker.running_pid()}); log: {broker.log_file}"
        )
        if broker.secure:
            prefix = _settings(args).topic_prefix
            n = grant(broker, prefix)
            print(
                f"SASL/SCRAM: {n} ACLs for topics and groups of prefix {prefix!r} "
                f"(deploy/kafka/acls.yaml); users and passwords in {broker.credentials_file}; "
                "give each process its own with EWS_KAFKA_USER and EWS_KAFKA_PASSWORD"
            )
    elif args.action == "stop":
        pid = broker.running_pid()
        broker.stop()
        print(f"broker stopped (pid {pid})" if pid else f"no broker was running in {broker.home}")
    else:
        pid = broker.running_pid()
        print(f"running, pid {pid}, {broker.bootstrap}" if pid else "not running")
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from streams.admin import align_configs, ensure_topics
    from streams.log import check_reachable

    settings = _settings(args)
    check_reachable(settings.kafka)
    specs = settings.topics.all()
    created = ensure_topics(settings.kafka, specs)
    for spec in specs:
        mark = "created" if spec.name in created else "exists "
        print(f"{mark}  {spec.name:32s} {spec.partitions} partitions  {spec.doc}")
    for change in align_configs(settings.kafka, specs):
        print(f"configured  {change}")
    if args.grant:
        from deploy.kafka_local import grant

        n = grant(settings.kafka, settings.topic_prefix)
        print(f"granted {n} ACLs of deploy/kafka/acls.yaml for prefix {settings.topic_prefix!r}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.admin import PartitionMismatch, partition_count
    from streams.app import ROLES, create_app, store_base
    from streams.log import wait_reachable

    settings = _settings(args)
    wait_reachable(settings.kafka, settings.broker_timeout)  # EWS_BROKER_TIMEOUT
    try:  # a case's partition follows the topics as they are, not the setting
        partitions = partition_count(settings.kafka, settings.topics)
    except PartitionMismatch as exc:
        print(f"ews worker: {exc}", file=sys.stderr)
        return 2
    if partitions is not None and partitions != settings.partitions:
        print(
            f"ews worker: the topics have {partitions} partitions; EWS_PARTITIONS="
            f"{settings.partitions} applies only to topics not created yet",
            file=sys.stderr,
        )
        settings = settings.replace(partitions=partitions)
    if args.role == "all":
        from ews.processes import run_stages

        return run_stages(settings, args.loglevel)
    assessor = policy = None
    if "risk" in ROLES[args.role]:
        from domain.risk.policy import load_policy
        from models.registry import Registry
        from models.service import ModelInService

        policy = load_policy(settings.risk_policy or None)
        topic = settings.topics.model_events
        service = ModelInService(Registry(settings.model_dir), settings.kafka, topic, policy)
        assessor = service.start(wait=30).assessor(policy)
    routing = None
    if "alerts" in ROLES[args.role]:
        from domain.alerts.routing import load_routing

        routing = load_routing(settings.routing or None)
    from streams.state import claim_store_dir, drop_stale_stores

    base = store_base(settings, args.role)
    store_dir = claim_store_dir(  # held until the process ends
        base,
        wait=0.0 if args.role == "intake" else 10.0,  # the intake's table rebuilds at once
        say=lambda s: print(f"ews worker: {s}", file=sys.stderr, flush=True),
    )
    if store_dir.path != base:
        print(
            f"ews worker: another {args.role} worker on this machine holds {base}; "
            f"this one keeps its state stores in {store_dir.path}",
            file=sys.stderr,
        )
    app = create_app(settings, args.role, assessor, policy, routing, store_dir.path)

    for dropped in drop_stale_stores(app, settings.kafka):
        print(
            f"ews worker: dropped a state store of an older changelog: {dropped}", file=sys.stderr
        )
    sys.argv = ["ews-worker", "worker", "-l", args.loglevel, "--without-web"]
    app.main()
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    from ews.ops import serve_projector_metrics
    from readside.db import make_engine, migrate
    from readside.lock import ReadModelsBusy
    from readside.projector import Projector, ProjectorError
    from streams.log import wait_reachable
    from streams.metrics import port_of

    _log_with_times()
    settings = _settings(args)
    wait_reachable(settings.kafka, settings.broker_timeout)  # EWS_BROKER_TIMEOUT
    engine = make_engine(settings.db_url)
    migrate(engine)
    projector = Projector(
        engine, settings.kafka, settings.topics, broker_timeout=settings.broker_timeout
    )
    serve_projector_metrics(projector, port_of("projector", settings.metrics_port))
    try:
        n = projector.run(until_caught_up=args.until_caught_up)
    except KeyboardInterrupt:
        n = projector.applied
    except (ProjectorError, ReadModelsBusy) as exc:
        print(f"ews project: {exc}", file=sys.stderr)
        return 1
    print(f"applied {n} messages to {engine.url.render_as_string()}")
    return 0


def cmd_post(args: argparse.Namespace) -> int:
    import time

    from streams.post import post_messages
    from web.sheets import FileRefused, check_rows, headers, read_rows

    settings = _settings(args)
    total, refused, with_problems = 0, 0, 0
    for path in args.files:
        try:
            rows = read_rows(Path(path))
        except FileNotFoundError:
            print(f"{path}: 没有这个文件 (no such file)", file=sys.stderr)
            refused += 1
            continue
        except FileRefused as exc:
            print(f"{exc}", file=sys.stderr)
            refused += 1
            continue
        except OSError as exc:
            print(f"{path}: {exc.strerror or exc}", file=sys.stderr)
            refused += 1
            continue
        if not rows:
            print(f"{path}: 文件中没有记录 (no rows to post)", file=sys.stderr)
            refused += 1
            continue
        problems = check_rows(rows, int(time.time() * 1000))
        for p in problems:
            print(p.line())
        bad = len({p.row.number for p in problems})
        n = post_messages(
            settings.kafka,
            settings.topics.records,
            (r.data for r in rows),
            progress=not args.quiet,
            headers=(headers(r) for r in rows),
        )
        print(
            f"{path}: posted {n} rows; {n - bad} pass the checks"
            + (f", {bad} have the problems above and will be dead letters" if bad else "")
        )
        total += n
        with_problems += bad
    if total:
        print(f"posted {total} rows in all; see `ews counts` for what became of them")
    if refused:
        print(f"{refused} file(s) not posted: see above", file=sys.stderr)
        return 1
    return 3 if with_problems else 0


@contextlib.contextmanager
def _batch_progress(shown: bool, desc: str) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar fed with (done, to do) after every batch (drawn if ``shown``)."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: a replay forks its processes
    with tqdm(unit="msg", desc=desc, disable=not shown) as bar:

        def show(done: int, to_do: int | None) -> None:
            if to_do is not None and bar.total is None:
                bar.total = to_do
            bar.update(min(done, to_do or done) - bar.n)

        yield show


def cmd_replay(args: argparse.Namespace) -> int:
    import time

    from readside.db import drop_all, make_engine, migrate
    from readside.lock import ReadModelsBusy, read_model_writer
    from readside.projector import ProjectorError
    from readside.replay import replay
    from streams.log import require_topics

    settings = _settings(args)

    def log_there() -> bool:  # before a read model is dropped: a wrong address costs nothing
        try:
            require_topics(settings.kafka, [settings.topics.case_events])
            return True
        except (ConnectionError, LookupError) as exc:
            print(f"ews replay: {exc}; the read models are left as they were", file=sys.stderr)
            return False

    if _no_database_file(settings.db_url) and not log_there():  # nor is a database made
        return 2
    engine = make_engine(settings.db_url)
    migrate(engine)
    try:
        with read_model_writer(engine, "ews replay"):
            if not log_there():
                return 2
            drop_all(engine)
            migrate(engine)
            began = time.monotonic()
            with _batch_progress(not args.quiet, "replaying") as show:
                n = replay(engine, settings.kafka, settings.topics, args.workers, show)
            seconds = time.monotonic() - began
    except ReadModelsBusy as exc:
        print(f"ews replay: {exc}", file=sys.stderr)
        return 2
    except ProjectorError as exc:
        print(f"ews replay: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "ews replay: interrupted; the read models are incomplete: run it again", file=sys.stderr
        )
        return 130
    print(f"rebuilt the read models from {n} log messages in {seconds:.1f}s")
    return 0


def cmd_counts(args: argparse.Namespace) -> int:
    from readside.queries import intake_table, projection_failure_rows

    engine = _read_models(_settings(args))
    print(intake_table(engine))
    failures = projection_failure_rows(engine)
    if failures:
        print(f"\n{len(failures)} log message(s) the read models could not apply:")
        for f in failures[:20]:
            print(f"  {f['topic']}:{f['partition']}:{f['offset']}  {f['reason']}")
        if len(failures) > 20:
            print(f"  ... and {len(failures) - 20} more (table projection_failures)")
    else:
        print("\nevery log message read so far is applied to the read models")
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from readside.tables import dead_letters as dl
    from schemas.privacy import mask_personal
    from schemas.reasons import reason_zh

    query = sa.select(dl).order_by(dl.c.received_at, dl.c.dead_letter_id)
    if args.township:
        query = query.where(dl.c.township == args.township)
    engine = _read_models(_settings(args))
    _say_if_unknown_township(engine, args.township)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(args.limit)).mappings().all()
    for r in rows:
        where = (
            f"{r['source_file']} 第{r['source_row']}行"
            if r["source_file"] and r["source_row"]
            else r["dead_letter_id"]
        )
        print(f"{where}  {reason_zh(r['reason_code'])} [{r['reason_code']}]")
        print(f"    {r['reason']}")
        original = base64.b64decode(r["original_b64"])
        text = original[:300].decode("utf-8", errors="replace")
        more = f" ... ({len(original):,} bytes)" if len(original) > 300 else ""
        print(
            f"    乡镇 {r['township'] or '?'}, 收到 {r['received_at'][:19]}: {mask_personal(text)}{more}"
        )
    if not rows:
        print("no dead letters" + (f" for {args.township}" if args.township else ""))
    return 0


def cmd_lag(args: argparse.Namespace) -> int:
    import datetime as dt

    from ews.lag import lag, open_transactions
    from streams.log import check_reachable

    settings = _settings(args)
    check_reachable(settings.kafka)
    behind = lag(settings.kafka, settings.topics, _read_models(settings))
    for stage, n in behind.items():
        print(f"{stage:<14}{n:>10,} messages behind")
    now = dt.datetime.now(dt.UTC)
    for held in open_transactions(settings.kafka, settings.topics.records):
        print(held.line(now))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from ews.ops import PARTS, health

    checks = health(_settings(args), args.part or PARTS)
    for check in checks:
        print(check.line())
    return 0 if all(c.ok for c in checks) else 1


def cmd_case(args: argparse.Namespace) -> int:
    from readside.queries import case_timeline_text
    from schemas.events import case_id_for

    case_id = args.case_id if not args.ref else case_id_for(args.ref[0], args.ref[1])
    text = case_timeline_text(_read_models(_settings(args)), case_id)
    if args.ref and text.startswith("no case"):
        text = f"no case {args.ref[0]} {args.ref[1]} ({case_id})"
    print(text)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from schemas.export import write_json_schemas

    for path in write_json_schemas(Path(args.dir) if args.dir else None):
        print(f"wrote {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ews.demo import run_demo

    return run_demo(
        Settings.from_env(),
        records=args.records,
        bad_fraction=args.bad_fraction,
        duplicates=args.duplicates,
        keep_running=args.keep_running,
        port=args.port,
        web_port=args.web_port,
    )


def cmd_clock(args: argparse.Namespace) -> int:
    import datetime as dt
    import time

    from domain.alerts.routing import load_routing
    from domain.risk.assess import deadline_check_between, ticks_between
    from domain.risk.policy import load_policy
    from streams.clock import last_tick, publish_ticks

    settings = _settings(args)
    schedule = load_policy(settings.risk_policy or None).reassess
    check_every = load_routing(settings.routing or None).check_every
    topics = settings.topics
    if args.action == "run":
        print(
            f"re-assessing open cases every {schedule.every_hours:g} h from "
            f"{schedule.at_hour:02d}:00 China time; alert deadlines checked every "
            f"{check_every.total_seconds():g} s",
            flush=True,
        )
    while True:
        now = dt.datetime.fromisoformat(args.now) if args.now else dt.datetime.now(dt.UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=CHINA_TZ)
        last = last_tick(settings.kafka, topics)
        if last is not None and last > now:
            # this host's clock went back, or a tick was posted while it ran ahead: going by
            # that tick would post nothing until the clock reaches it, and no alert escalate
            print(
                f"the last tick on {topics.clock} is at {last.isoformat()}, later than this "
                f"host's clock ({now.isoformat(timespec='seconds')}): going on from now; check "
                "the host's time (NTP)",
                file=sys.stderr,
                flush=True,
            )
            last = now - check_every
        due = ticks_between(last, now, schedule)
        check = deadline_check_between(last, now, check_every, due)
        publish_ticks(settings.kafka, topics, due)
        for t in due:
            print(f"tick {t.isoformat()}: open cases re-assessed, deadlines checked", flush=True)
        if check is not None:
            publish_ticks(settings.kafka, topics, [check], reassess=False)
            if args.action == "tick":  # `run` would print one a minute
                print(f"tick {check.isoformat()}: deadlines checked", flush=True)
        if args.action == "tick":
            if not due and check is None:
                print(f"no tick due up to {now.isoformat()} (the last one is on the topic)")
            return 0
        # wake just after the next deadline check is due, so it is posted on its minute
        next_check = deadline_check_between(None, now, check_every) + check_every
        time.sleep(min(args.interval, max(0.5, (next_check - now).total_seconds() + 0.5)))


def cmd_risk(args: argparse.Namespace) -> int:
    from readside.queries import risk_table

    engine = _read_models(_settings(args))
    _say_if_unknown_township(engine, args.township)
    print(risk_table(engine, args.township, args.limit))
    return 0


def cmd_routes(args: argparse.Namespace) -> int:
    import datetime as dt

    from domain.alerts.routing import load_routing
    from schemas.categories import CODES, category_code

    routing = load_routing(args.file or _settings(args).routing or None)
    category = category_code(args.category)
    if category is None:
        print(
            f"ews routes: no category {args.category!r}; one of {', '.join(CODES)} (or its "
            "Chinese name)",
            file=sys.stderr,
        )
        return 2
    at = dt.datetime.fromisoformat(args.at) if args.at else dt.datetime.now(CHINA_TZ)
    if at.tzinfo is None:
        at = at.replace(tzinfo=CHINA_TZ)
    rule = routing.levels[args.level]
    units = routing.units_for(category, args.township, args.level)
    print(
        f"routing {routing.version}: {category} / {args.township} / {args.level} at "
        f"{at.isoformat(timespec='seconds')}"
    )
    if not rule.alert:
        print(f"level {args.level} raises no alert: nobody is notified")
        return 0
    print(f"units: {', '.join(units) or '(no route matches)'}")
    for r in routing.recipients(category, args.township, args.level, at):
        print(f"  {r.role:<12} {r.receiver:<22} {r.zh}  {r.url}")
    print(
        f"acknowledge within {_span(rule.acknowledge_within)}, feedback within "
        f"{_span(rule.feedback_within)}, sent again every {_span(rule.repeat_after)} until "
        "acknowledged; escalated when not acknowledged in time:"
    )
    for step in range(1, len(routing.escalation) + 1):
        names = ", ".join(
            r.receiver for r in routing.escalation_recipients(step, units, args.township)
        )
        print(f"  escalation {step}: {names}")
    return 0


def _span(d: object) -> str:
    """A duration as the routing file writes it: 30m, 24h, 3d."""
    import datetime as dt

    if not isinstance(d, dt.timedelta):
        return "never"
    seconds = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def cmd_notify(args: argparse.Namespace) -> int:
    from alerts.channels import prepare
    from alerts.notifier import Notifier
    from domain.alerts.routing import load_routing
    from ews.ops import serve_outbox_metrics
    from readside.db import make_engine
    from streams.log import check_reachable
    from streams.metrics import port_of

    _log_with_times()
    settings = _settings(args)
    check_reachable(settings.kafka)  # one line, before kafka's own retries fill the screen
    engine = make_engine(settings.outbox_db)
    routing = load_routing(settings.routing or None)
    prepare(url for _, url in routing.receivers.values())
    notifier = Notifier(engine, settings.kafka, settings.topics, routing)
    serve_outbox_metrics(engine, port_of("notify", settings.metrics_port))
    try:
        notifier.run()
    except KeyboardInterrupt:
        pass
    return 0


def _unknown_unit(settings: Settings, unit: str) -> str | None:
    """What to say when ``unit`` is not a unit of the routing in force; None when it is."""
    from domain.alerts.routing import load_routing

    units = load_routing(settings.routing or None).units
    if unit in units:
        return None
    return f"no unit {unit!r} in the routing; one of {', '.join(sorted(units))}"


def cmd_alerts(args: argparse.Namespace) -> int:
    from domain.risk.policy import load_policy
    from readside.alert_queries import kpi_text, queue_text

    settings = _settings(args)
    if not args.kpi:
        unknown = args.unit and args.unit != "county_desk" and _unknown_unit(settings, args.unit)
        if unknown:
            print(f"ews alerts: {unknown} (or county_desk)", file=sys.stderr)
            return 2
    engine = _read_models(settings)
    if not args.kpi:
        _say_if_unknown_township(engine, args.township)
        print(queue_text(engine, args.unit, args.township))
        return 0
    handle_days = load_policy(settings.risk_policy or None).statutory_limits["handle"]
    print(kpi_text(engine, handle_days=handle_days))
    return 0


def cmd_alert(args: argparse.Namespace) -> int:
    import datetime as dt
    import json
    import uuid

    from domain.alerts.alert import DESK
    from domain.alerts.routing import load_routing
    from readside.alert_projections import summarize
    from schemas.commands import AlertCommand
    from schemas.events import CommandRejected, Envelope, case_id_for
    from streams.log import answer_to, check_reachable
    from web.kafka import KafkaGateway

    settings = _settings(args)
    routing = load_routing(settings.routing or None)
    units = ", ".join(routing.units)
    refused = None
    if args.unit != DESK and args.unit not in routing.units:
        refused = f"--unit: no unit {args.unit!r} in the routing (one of {units}, or {DESK})"
    elif args.action == "reassign" and args.to_unit not in routing.units:
        refused = f"reassign needs --to-unit, a unit of the routing (one of {units})"
    elif args.action == "feedback" and not (args.text or "").strip():
        refused = "feedback needs --text: what was done (处置反馈需要内容)"
    if refused:
        print(f"ews alert: {refused}", file=sys.stderr)
        return 2
    check_reachable(settings.kafka)  # one line at once, not kafka's 30 s of bootstrapping
    case_id = args.case_id if not args.ref else case_id_for(args.ref[0], args.ref[1])
    command = AlertCommand(
        command_id=f"cli:{uuid.uuid4().hex}",
        case_id=case_id,
        action=args.action,
        by=args.by,
        unit=args.unit,
        at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        text=args.text,
        measures=args.measures,
        to_unit=args.to_unit,
        satisfaction=args.satisfaction,
    )
    gateway = KafkaGateway(settings, "ews-alert")

    def ours(value: bytes) -> bool:
        return json.loads(value).get("causation_id") == command.command_id

    try:
        answer = answer_to(
            settings.kafka,
            settings.topics.alert_events,
            lambda: gateway.send_alert_command(command),
            ours,
            args.wait,
        )
    except LookupError as exc:  # the topics were never made: nothing was sent
        print(f"ews alert: {exc}", file=sys.stderr)
        return 2
    events = [Envelope.from_bytes(v).event for v in answer]
    refused = [e for e in events if isinstance(e, CommandRejected)]
    for e in events:
        print(summarize(e))
    if not events:
        print(
            f"{args.action} sent for case {case_id} ({command.command_id}); no answer from the "
            f"alert writer within {args.wait:g} s (is `ews worker --role alerts` running?): "
            f"see `ews case {case_id}` later"
        )
        return 1
    return 1 if refused else 0


def web_app(settings: Settings):  # type: ignore[no-untyped-def] # noqa: ANN201 - FastAPI
    """The web service over this deployment's stores and broker."""
    from domain.alerts.routing import load_routing
    from domain.risk.policy import load_policy
    from readside.db import make_engine, migrate
    from web.accounts import AccountStore
    from web.app import create_app
    from web.kafka import KafkaGateway

    engine = make_engine(settings.db_url)
    migrate(engine)
    return create_app(
        settings,
        AccountStore(make_engine(settings.accounts_db)),
        engine,
        KafkaGateway(settings),
        load_routing(settings.routing or None),
        load_policy(settings.risk_policy or None),
    )


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    if args.port is not None and not 0 < args.port < 65536:
        print(f"ews web: --port {args.port} is not a port (1-65535)", file=sys.stderr)
        return 2
    settings = _settings(args).replace(web_port=args.port, web_host=args.host)
    app = web_app(settings)
    print(
        f"web service on http://{settings.web_host}:{settings.web_port}/ "
        f"(API docs /docs); accounts in {settings.accounts_db}"
    )
    uvicorn.run(app, host=settings.web_host, port=settings.web_port, log_level=args.loglevel)
    return 0


def _read_password(name: str) -> str:
    """A password typed twice, unechoed, at a terminal; else the first line of stdin."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"password of {name}: ")
    if getpass.getpass("again: ") != first:
        from web.accounts import AccountError

        raise AccountError("the two passwords differ; nothing changed")
    return first


def cmd_account(args: argparse.Namespace) -> int:
    import getpass

    from domain.access import AccountInvalid
    from readside.db import make_engine
    from web.accounts import AccountError, AccountStore

    settings = _settings(args)
    store = AccountStore(make_engine(settings.accounts_db))
    by = getpass.getuser() if hasattr(getpass, "getuser") else "admin"
    try:
        unknown = args.action == "add" and args.unit and _unknown_unit(settings, args.unit)
        if unknown:
            raise AccountError(unknown)
        if args.action == "add":
            password = _read_password(args.name) if args.password_stdin else None
            a = store.add(
                args.name,
                args.role,
                township=args.township,
                unit=args.unit,
                password=password,
                by=by,
            )
            print(f"account {a.name} ({a.role}) added" + ("" if password else "; no password yet"))
        elif args.action == "password":
            store.set_password(args.name, _read_password(args.name), by=by)
            print(f"password of {args.name} set")
        elif args.action == "token":
            token = store.issue_token(args.name, args.days, by=by)
            print(token)
            print(
                f"(API token of {args.name}, valid {args.days:g} days; shown once)", file=sys.stderr
            )
        elif args.action == "revoke":
            n = store.revoke(args.name, by=by)
            print(f"account {args.name} revoked with its {n} live credential(s)")
        else:
            accounts = store.list()
            for a in accounts:
                scope = a.township or a.unit or ""
                print(f"{a.name:<24}{a.role:<16}{scope:<24}{'revoked' if a.revoked else ''}")
            if not accounts:
                print(f"no accounts in {settings.accounts_db} yet: add one with `ews account add`")
    except (AccountError, AccountInvalid) as exc:
        print(f"ews account: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    if args.table:
        print(settings_table())
        return 0
    for name, value in _settings(args).as_env().items():
        shown = "********" if name == "EWS_KAFKA_PASSWORD" and value else value  # never on screen
        print(f"{name}={shown}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ews",
        description="dispute-ews: early warning of social-dispute escalation (矛盾纠纷风险预警).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help: str) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        return sp

    def with_kafka(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--bootstrap", help="Kafka bootstrap servers (default $EWS_BOOTSTRAP or 127.0.0.1:9092)"
        )

    def with_db(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--db", help="read-side database URL (default $EWS_DB_URL or sqlite:///var/ews.db)"
        )

    sp = add(
        "demo",
        cmd_demo,
        "run the whole pipeline on a generated demo batch and report what happened",
    )
    sp.add_argument("--records", type=int, default=10_000, help="records to post (default 10000)")
    sp.add_argument(
        "--bad-fraction", type=float, default=0.05, help="share of malformed records (default 0.05)"
    )
    sp.add_argument("--duplicates", type=int, default=50, help="records posted twice (default 50)")
    sp.add_argument(
        "--port", type=int, default=19092, help="port of the demo broker (default 19092)"
    )
    sp.add_argument(
        "--web-port", type=int, default=8080, help="port of the demo's console (default 8080)"
    )
    sp.add_argument(
        "--keep-running", action="store_true", help="leave broker and workers running at the end"
    )

    sp = add(
        "broker",
        cmd_broker,
        "start, stop or check the local Kafka broker (assembled from Maven Central)",
    )
    sp.add_argument(
        "action",
        choices=["start", "stop", "status"],
        help="start: in the background (its log under --home); stop; status: running or not",
    )
    sp.add_argument(
        "--port",
        type=int,
        default=9092,
        help="client port (default 9092); the next port is its controller's",
    )
    sp.add_argument(
        "--home", help="broker directory (default .cache/broker in the project's folder)"
    )
    sp.add_argument(
        "--secure",
        action="store_true",
        help="SASL/SCRAM users and ACLs (deploy/kafka/acls.yaml), chosen when the broker's "
        "storage is first formatted; a home formatted secured stays secured",
    )

    sp = add(
        "topics",
        cmd_topics,
        "create the system's topics with their partitions and retention; topics that exist get "
        "this version's retention and limits where theirs differ",
    )
    sp.add_argument(
        "--grant",
        action="store_true",
        help="also grant each user its rights (deploy/kafka/acls.yaml) on a secured broker; "
        "run as its admin (EWS_KAFKA_USER=admin)",
    )
    with_kafka(sp)

    sp = add(
        "worker",
        cmd_worker,
        "run the stream processor: every stage (intake, cases, risk, alerts), a process each, "
        "or one stage with --role",
    )
    sp.add_argument(
        "--loglevel",
        default="warn",
        choices=["debug", "info", "warn", "error"],
        help="log level of the stages (default warn)",
    )
    sp.add_argument(
        "--role",
        default="all",
        choices=["all", "intake", "cases", "risk", "alerts"],
        help="run every stage (all, the default: one process per stage, each in its stage's "
        "consumer group) or one: intake (stateless), cases (case table) "
        "risk (scores cases as they change and as time passes, with the model in service) or "
        "alerts (raises, routes and escalates alerts; applies duty officers' commands)",
    )
    with_kafka(sp)

    sp = add("project", cmd_project, "keep the SQL read models up to date with the log")
    sp.add_argument("--until-caught-up", action="store_true", help="stop at the end of the log")
    with_kafka(sp)
    with_db(sp)

    sp = add("post", cmd_post, "post screening records from .jsonl, .csv or .xlsx files")
    sp.description = (
        "Post screening records.  Every row is checked first as intake will check it, and "
        "each problem is shown by file, row and column, in Chinese; every row is posted all the "
        "same, so the counts reconcile (rows with problems become dead letters).  Posting a "
        "file again counts no row twice.  Exit status: 0 every row passed, 3 some rows have "
        "problems, 1 a file could not be read (its columns or encoding; nothing of it posted)."
    )
    sp.add_argument(
        "files",
        nargs="+",
        help="files of records (.jsonl, .csv in UTF-8 / UTF-16 / GB18030, .xlsx); CSV and Excel "
        "headers may be field names or Chinese titles (docs/domain.md)",
    )
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    with_kafka(sp)

    sp = add(
        "replay",
        cmd_replay,
        "drop every read model and rebuild it from the first offset of the log",
    )
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.add_argument(
        "--workers",
        type=_whole,
        default=len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else (os.cpu_count() or 1),
        help="processes that rebuild at once, each its share of the case-events partitions "
        "(at most one per partition; default: one per CPU, %(default)s here)",
    )
    with_kafka(sp)
    with_db(sp)

    sp = add(
        "counts", cmd_counts, "intake counts per township: received = accepted + dead-lettered"
    )
    with_db(sp)

    sp = add(
        "dead-letters",
        cmd_dead_letters,
        "list refused records: where they came from (file and row), why (in Chinese and "
        "English), and what they said",
    )
    sp.add_argument("--limit", type=_whole, default=20, help="records listed (default 20)")
    sp.add_argument("--township", help="only this township's")
    with_db(sp)

    sp = add("web", cmd_web, "run the web service: HTTP API (/docs) and the browser console")
    sp.add_argument("--host", help="address to listen on (default $EWS_WEB_HOST or 127.0.0.1)")
    sp.add_argument("--port", type=int, help="port (default $EWS_WEB_PORT or 8080)")
    sp.add_argument(
        "--loglevel",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level of the web server (default info)",
    )
    with_kafka(sp)
    with_db(sp)

    sp = add("account", cmd_account, "add, list or revoke web accounts and issue API tokens")
    sp.description = (
        "Accounts of the web service, one per person or system.  Roles: township_clerk "
        "(--township), unit_officer (--unit, a unit code of the routing), county_desk, analyst, "
        "admin.  Passwords (8 characters or more) are asked for twice at a terminal, or read "
        "from the first line of standard input, never from the command line: `add "
        "--password-stdin` and `password`.  `token` prints a new API token once (only its hash is kept)."
    )
    sp.add_argument("action", choices=["add", "list", "token", "revoke", "password"])
    sp.add_argument("name", nargs="?", default="", help="account name")
    sp.add_argument(
        "--role", choices=["township_clerk", "unit_officer", "county_desk", "analyst", "admin"]
    )
    sp.add_argument("--township", help="a township clerk's township, e.g. 周庄镇")
    sp.add_argument("--unit", help="a unit officer's unit, e.g. hrss")
    sp.add_argument(
        "--password-stdin",
        action="store_true",
        help="add: give the account a password (asked at a terminal, else read from stdin)",
    )
    sp.add_argument(
        "--days", type=_positive, default=90, help="token validity in days (default 90)"
    )

    sp = add(
        "lag",
        cmd_lag,
        "how many messages each stage and the projector are behind, and the records a "
        "township transaction left open holds back",
    )
    with_kafka(sp)
    with_db(sp)

    sp = add(
        "health",
        cmd_health,
        "is the pipeline there and working? exit 0 if every check passes, 1 otherwise (for a "
        "supervisor or a docker healthcheck)",
    )
    sp.add_argument(
        "--part",
        action="append",
        choices=["intake", "cases", "risk", "alerts", "projector"],
        help="check only this part (and the broker); repeatable; default: every part",
    )
    with_kafka(sp)
    with_db(sp)

    sp = add("case", cmd_case, "show a case and its timeline")
    sp.add_argument("case_id", nargs="?", help="case id (C...)")
    sp.add_argument(
        "--ref",
        nargs=2,
        metavar=("TOWNSHIP", "REF_NO"),
        help="find by township and reference number",
    )
    with_db(sp)

    sp = add(
        "clock",
        cmd_clock,
        "post clock ticks: open cases are re-assessed as time passes (deadlines, quiet cases) "
        "and the alerts' deadlines are checked (escalation)",
    )
    sp.add_argument(
        "action",
        choices=["tick", "run"],
        help="tick: post the ticks due up to now and stop; run: keep doing it",
    )
    sp.add_argument(
        "--now",
        type=_iso_time,
        help="the time to tick up to (ISO 8601, China time if no offset); default: the clock",
    )
    sp.add_argument(
        "--interval",
        type=_positive,
        default=60.0,
        help="run: the longest wait between looks at the clock, in seconds (60); it wakes "
        "when the next deadline check (the routing file's deadlines_checked_every) is due",
    )
    with_kafka(sp)

    sp = add("risk", cmd_risk, "open cases by risk level, most urgent first")
    sp.add_argument("--township", help="one township (default: the county)")
    sp.add_argument("--limit", type=_whole, default=30, help="cases listed (default 30)")
    with_db(sp)

    sp = add(
        "notify",
        cmd_notify,
        "send the alerts' notifications (apprise: webhook, e-mail, group bots) from an outbox",
    )
    with_kafka(sp)

    sp = add("alerts", cmd_alerts, "open alerts, most urgent first (a unit's queue), or the KPIs")
    sp.add_argument("--unit", help="one unit's queue (a code from the routing file)")
    sp.add_argument("--township", help="one township")
    sp.add_argument("--kpi", action="store_true", help="the county's figures instead of the queue")
    with_db(sp)

    sp = add("alert", cmd_alert, "a duty officer's command on a case's alert")
    sp.add_argument(
        "action",
        choices=["ack", "acknowledge", "feedback", "resolve", "escalate", "reassign"],
        help="ack(nowledge): 签收; feedback: 反馈 what was done (--text); resolve: 办结; "
        "escalate: to the unit's head, then the leader; reassign: to --to-unit",
    )
    sp.add_argument("case_id", nargs="?", help="case id (C...), or give --ref instead")
    sp.add_argument("--ref", nargs=2, metavar=("TOWNSHIP", "REF_NO"), help="find by reference")
    sp.add_argument("--by", required=True, type=_at_most(64), help="who acts (name or account)")
    sp.add_argument(
        "--unit",
        required=True,
        type=_at_most(64),
        help="the unit acted for (county_desk: the duty desk)",
    )
    sp.add_argument("--text", type=_at_most(2000), help="feedback: what was done")
    sp.add_argument("--measures", type=_at_most(2000), help="feedback: the measures taken")
    sp.add_argument("--to-unit", type=_at_most(64), help="reassign: the unit it goes to")
    sp.add_argument(
        "--satisfaction",
        choices=["satisfied", "basically_satisfied", "unsatisfied"],
        help="resolve: how satisfied the parties are (回访满意度)",
    )
    sp.add_argument(
        "--wait",
        type=_positive,
        default=15.0,
        help="seconds to wait for the alert writer's answer (default 15)",
    )
    with_kafka(sp)

    sp = add("routes", cmd_routes, "show who an alert would reach (like amtool config routes test)")
    sp.add_argument("action", choices=["test"], help="test: print who would be notified")
    sp.add_argument("--category", required=True, help="category code or Chinese name")
    sp.add_argument("--township", required=True, help="the case's township, e.g. 周庄镇")
    sp.add_argument("--level", required=True, choices=["red", "orange", "yellow", "blue"])
    sp.add_argument(
        "--at", type=_iso_time, help="when (ISO 8601, China time if no offset; default now)"
    )
    sp.add_argument("--file", help="routing file (default $EWS_ROUTING or the packaged one)")

    sp = add("settings", cmd_settings, "print the settings in force (EWS_* variables)")
    sp.add_argument("--table", action="store_true", help="every setting, as the README's table")

    sp = add("schema", cmd_schema, "write the record contract as JSON Schema files")
    sp.add_argument(
        "--dir", help="output folder (default: schemas/json of the installed package, rewritten)"
    )

    register_model_commands(sub)
    return p


def _no_database_file(url: str) -> bool:
    """A SQLite URL whose file is not there (yet)."""
    from readside.db import sqlite_file

    path = sqlite_file(url)
    return path is not None and not path.exists()


def _read_models(settings: Settings):  # type: ignore[no-untyped-def] # noqa: ANN202 - Engine
    """The read models, for a command that only reads them: a SQLite file that is not there
    is said, not made (in whatever folder the command was started from)."""
    import errno

    from readside.db import make_engine, sqlite_file

    url = settings.db_url
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise FileNotFoundError(
            errno.ENOENT,
            "no read models here yet: run `ews project` (or `ews replay`) first, or check "
            "--db / EWS_DB_URL",
            str(path.resolve()),
        )
    return make_engine(url)


def _say_if_unknown_township(engine, township: str | None) -> None:  # type: ignore[no-untyped-def] # noqa: ANN001
    """A township that no record has come from is most likely misspelt: say so on stderr
    (the empty list that follows is then no all-clear)."""
    import sqlalchemy as sa

    from readside.tables import intake_counts

    if not township:
        return
    with engine.connect() as conn:
        known = list(conn.scalars(sa.select(intake_counts.c.township).order_by("township")))
    if township not in known:
        print(
            f"(no record has come from {township!r}; townships with records: "
            f"{', '.join(known) or 'none yet'})",
            file=sys.stderr,
        )


def _at_most(limit: int) -> Callable[[str], str]:
    """An argparse type: a text of 1 to ``limit`` characters, as the web takes it (the read
    models keep a name or unit in 64)."""

    def text(value: str) -> str:
        if not value.strip() or len(value) > limit:
            raise argparse.ArgumentTypeError(f"give 1 to {limit} characters ({len(value)} given)")
        return value

    return text


def _iso_time(text: str) -> str:
    """An ``--at`` or ``--now`` value, refused by argparse with a usage line when it is no time."""
    import datetime as dt

    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2026-03-02T08:00 or 2026-03-02T08:00+08:00)"
        ) from None
    return text


def _operator_error(exc: Exception) -> str | None:
    """What to tell an operator about an error that is theirs to fix (a setting, a file, the
    broker's address, a database not set up), in one line; None for any other error, which
    keeps its traceback."""
    from domain.config import ConfigError
    from schemas.settings import SettingsError

    if isinstance(exc, (ConfigError, SettingsError, ConnectionError)):
        return str(exc)  # a worker's BrokerUnreachable too: main exits 69 for its supervisor
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return f"{exc.strerror}: {exc.filename}" if exc.filename and exc.strerror else str(exc)
    kind = f"{type(exc).__module__}.{type(exc).__name__}"
    if kind in ("kafka.errors.KafkaTimeoutError", "kafka.errors.KafkaConnectionError"):
        return f"the Kafka broker did not answer ({exc}); is it running, and is --bootstrap right?"
    if kind.startswith("sqlalchemy.exc.") and (
        "no such table" in str(exc) or "UndefinedTable" in str(exc)
    ):
        return (
            "the read models are not in this database yet: run `ews project` (or `ews replay`) "
            "against it first, or check --db / EWS_DB_URL"
        )
    if kind == "sqlalchemy.exc.ArgumentError":  # --db foo
        return f"not a database URL ({exc}): give one like sqlite:///var/ews.db or postgresql://..."
    if kind == "sqlalchemy.exc.OperationalError":  # the server is down, or refuses us
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return f"the database did not answer: {first}; is it running, and is --db right?"
    return None


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of ``command``, whose usage line a usage error of it should show."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("case", "alert") and not (args.case_id or args.ref):
        _subparser(parser, args.command).error("give a case id or --ref TOWNSHIP REF_NO")
    if args.command == "account" and args.action != "list" and not args.name:
        _subparser(parser, "account").error(f"account {args.action}: give the account name")
    if args.command == "account" and args.action == "add" and not args.role:
        _subparser(parser, "account").error("account add: give --role")
    if args.command == "alert" and args.action == "ack":
        args.action = "acknowledge"
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `ews counts | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        told = _operator_error(exc)
        if told is None:
            raise
        print(f"ews {args.command}: {told}", file=sys.stderr)
        from streams.log import BrokerUnreachable
        from streams.metrics import EXIT_BROKER_GONE

        return EXIT_BROKER_GONE if isinstance(exc, BrokerUnreachable) else 2


if __name__ == "__main__":
    sys.exit(main())
