"""``ews model ...``: build training data, train, evaluate, list, promote and roll back models.

Argument handling and the Kafka edge only (reading the case-events log, asking the model-events
topic which version is in service, publishing promotions); the work itself is in
``models.workbench`` and the modules it calls.  ``register(subparsers)`` adds the ``model``
command group to the ``ews`` command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from schemas.settings import Settings

DEFAULT_SYNTH_CASES = 3000


class _Default(float):
    """A number of days not given on the command line: the one a training set was built with,
    or a model was trained with, takes its place (``_same_days``)."""


class UsageError(ValueError):
    """Options that cannot go together."""


def _days(text: str) -> float:
    """A positive number of days (``--horizon``, ``--every``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 0 < value < 10_000:
        raise argparse.ArgumentTypeError(f"must be more than 0 days, got {text}")
    return value


def whole_number(text: str) -> int:
    """A whole number above zero (cases, days, processes, alerts per week), or a usage error."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number above zero: {text!r}")
    return int(text)


def positive_number(text: str) -> float:
    """A finite number above zero (seconds, days, C), or a usage error."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number above zero: {text!r}")
    return value


def _day(text: str) -> str:
    """An ISO 8601 day (2025-01-01)."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day like 2025-01-01: {text!r}") from None


def _same_days(args: argparse.Namespace, said: dict[str, Any] | None, whose: str) -> None:
    """Take the label horizon and snapshot spacing ``said`` by a training set or a model
    where the command line gave none; refuse a different one: a 90-day label read as a
    30-day one leaks the test window into training and mislabels the model."""
    taken = vars(args).setdefault("days_taken_from", {})
    for name, key in (("horizon", "horizon_days"), ("every", "every_days")):
        theirs, given = (said or {}).get(key), getattr(args, name, None)
        if theirs is None or given is None:
            continue
        theirs, was = float(theirs), float(given)
        if isinstance(given, _Default):
            setattr(args, name, theirs)
            taken[name] = whose
        elif was != theirs and name in taken:  # both say, and neither is the command line
            raise UsageError(
                f"{whose} has --{name} {theirs:g} (days), and {taken[name]} {was:g}: "
                f"build the set again with --{name} {was:g}"
            )
        elif was != theirs:
            raise UsageError(
                f"{whose} has --{name} {theirs:g} (days), not {was:g}: "
                f"run with --{name} {theirs:g}, or rebuild it with --{name} {was:g}"
            )


def _same_horizon(model: Any, args: argparse.Namespace) -> Any:
    """``model`` (a LoadedModel, or None) if it predicts as far ahead as this run's labels
    look; else None, said: judged on other labels it would look better or worse than it is."""
    from models.train import other_horizon

    why = other_horizon(model, args.horizon) if model is not None else None
    if why:
        _say(f"({why}: it is left out of the comparison)")
        return None
    return model


EPILOG = """\
from nothing to a model in service:
  ews model train                  # no data given: generates a synthetic county, trains,
                                   # evaluates on a later window, writes the card, saves v0001
  ews model show v0001             # the figures; the card is var/models/versions/v0001/card.md
  ews model promote v0001          # publishes ModelPromoted; running scorers switch to it
  ews model rollback               # back to the version in service before

with real data from the log:
  ews model train --from-kafka     # replays the case-events topic from the first offset
  ews model train --events events.jsonl
"""


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env().replace(
        bootstrap=getattr(args, "bootstrap", None), model_dir=getattr(args, "model_dir", None)
    )


def _registry(args: argparse.Namespace):  # noqa: ANN202 - models.registry.Registry
    from models.registry import Registry

    return Registry(_settings(args).model_dir)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- the Kafka edge ------------------------------------------------------------------------


def read_case_events(settings: Settings) -> list:
    """Every envelope on the case-events topic, from the first offset to the current end."""
    from schemas.events import Envelope
    from streams.log import check_reachable, read_from_start

    check_reachable(settings.kafka)
    topic = settings.topics.case_events
    return [
        Envelope.from_bytes(m.value)
        for m in read_from_start(settings.kafka, topic, client_id="ews-model-dataset")
    ]


def in_service(settings: Settings):  # noqa: ANN201 - models.promotion.InService
    """Which model is in service, as the model-events topic says now."""
    from streams.log import check_reachable
    from web.kafka import KafkaGateway

    check_reachable(settings.kafka)
    return KafkaGateway(settings, "ews-model-cli").in_service()


def publish(settings: Settings, event: dict[str, Any]) -> None:
    from web.kafka import KafkaGateway

    KafkaGateway(settings, "ews-model-cli").publish_model_event(event)


# ---- data --------------------------------------------------------------------------------


def _policy(args: argparse.Namespace):  # noqa: ANN202 - domain.risk.policy.RiskPolicy
    """The risk policy whose lexicon and rules read the records: --policy, else the one in force."""
    from domain.risk.policy import load_policy

    return load_policy(getattr(args, "policy", None) or _settings(args).risk_policy or None)


def _load_snapshots(args: argparse.Namespace, purpose: str, policy: Any) -> list:
    """Snapshots from --dataset, --events, --from-kafka, or a synthetic county, their records
    read under ``policy``."""
    from models.dataset import build_dataset, build_dataset_from_log, dataset_policy, read_dataset

    if getattr(args, "dataset", None):
        _say(f"reading training set {args.dataset}")
        args.data_source = f"training set {args.dataset}"
        built = dataset_policy(args.dataset)
        _same_days(args, built, f"training set {args.dataset}")
        if built is None:
            _say(f"({args.dataset} does not say which policy read it: taken as {policy.version})")
        elif built["lexicon"] != policy.lexicon.fingerprint:
            raise LookupError(
                f"{args.dataset} was read with the lexicon of policy {built['policy_version']}, "
                f"not that of {policy.version} ({policy.source}): rebuild it with "
                "`ews model dataset`, or give --policy with the file it was built under"
            )
        return read_dataset(args.dataset)
    if getattr(args, "events", None):  # a file: replayed in bulk, never held in memory whole
        args.data_source = f"event log {args.events}"
        _say(f"replaying events from {args.events}, {args.jobs} process(es)")
        return build_dataset_from_log(
            args.events,
            horizon_days=args.horizon,
            every_days=args.every,
            progress=not args.quiet,
            jobs=args.jobs,
            policy=policy,
        )
    events = _load_events(args, purpose)
    _say(f"{len(events):,} events; building point-in-time snapshots")
    return build_dataset(
        events,
        horizon_days=args.horizon,
        every_days=args.every,
        progress=not args.quiet,
        jobs=args.jobs,
        policy=policy,
    )


def _load_events(args: argparse.Namespace, purpose: str) -> list:
    """Case events from --events, --from-kafka, or a synthetic county."""
    from models.dataset import read_events_jsonl
    from models.workbench import synthetic_events

    progress = not args.quiet
    args.data_source = f"synthetic county of {args.cases:,} cases (seed {args.seed})"
    if getattr(args, "events", None):
        args.data_source = f"event log {args.events}"
        _say(f"replaying events from {args.events}")
        events = list(read_events_jsonl(args.events))
    elif getattr(args, "from_kafka", False):
        settings = _settings(args)
        topic = settings.topics.case_events
        args.data_source = f"case log {topic}"
        _say(f"replaying {topic} on {settings.kafka} from the first offset")
        events = read_case_events(settings)
    else:
        _say(
            f"no data given (--events, --dataset or --from-kafka): generating a synthetic county "
            f"of {args.cases} cases (seed {args.seed}) to {purpose} on"
        )
        events = synthetic_events(args.cases, args.seed, progress)
    return events


def _in_service_version(args: argparse.Namespace) -> str | None:
    if getattr(args, "in_service", None):
        return args.in_service
    if getattr(args, "no_kafka", False):
        return None
    settings = _settings(args)
    try:
        return in_service(settings).version
    except Exception as exc:  # broker down or topic missing: say so, carry on without it
        listing = getattr(args, "model_command", None) == "list"
        then = "the list marks none" if listing else "comparing without it"
        _say(
            f"(could not read the model-events topic on {settings.kafka}, so which model is "
            f"in service is not known: {exc}; {then})"
        )
        return None


def _train_config(args: argparse.Namespace):  # noqa: ANN202 - models.train.TrainConfig
    from models.train import TrainConfig

    test, cal = args.test_fraction, args.calibration_fraction
    if not (0 < test < 1 and 0 < cal < 1 and test + cal < 1):
        raise UsageError(
            f"--test-fraction {test:g} and --calibration-fraction {cal:g}: each must be "
            "between 0 and 1, and together below 1, to leave a window to train on"
        )
    return TrainConfig(
        horizon_days=args.horizon,
        test_fraction=args.test_fraction,
        calibration_fraction=args.calibration_fraction,
        budget=args.budget,
        **({"C": args.C, "calibration": args.calibration} if hasattr(args, "C") else {}),
    )


# ---- commands ----------------------------------------------------------------------------


def cmd_synth(args: argparse.Namespace) -> int:
    from models.workbench import write_synthetic

    written = write_synthetic(
        args.cases,
        args.seed,
        args.events_out,
        records_out=args.records,
        start=args.start,
        days=args.days,
        progress=not args.quiet,
    )
    if args.records:
        _say(f"records: {args.records}")
    print(
        f"{written.cases:,} cases ({written.escalated:,} escalate), {written.events:,} events "
        f"written to {args.events_out}"
    )
    return 0


def cmd_dataset(args: argparse.Namespace) -> int:
    from models.dataset import write_dataset
    from models.snapshot_table import labels, n_cases

    policy = _policy(args)
    rows = _load_snapshots(args, "build a training set", policy)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    n = write_dataset(rows, args.out, policy, horizon_days=args.horizon, every_days=args.every)
    pos = int(labels(rows).sum())
    print(
        f"{n:,} snapshots of {n_cases(rows):,} cases, {pos:,} escalate within "
        f"{args.horizon:g} days ({pos / max(n, 1):.1%}); written to {args.out}"
    )
    return 0


def _figure(value: float | None, width: int, places: int) -> str:
    """A metric right-aligned, or n/a where the window could not measure it (one class)."""
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.{places}f}"


def _print_metrics(report: dict[str, Any]) -> None:
    names = {"candidate": "candidate", "rules": "rules only", "in_service": "in service"}
    if report.get("in_service_left_out"):
        print(f"(the model in service is not compared here: {report['in_service_left_out']})")
    budget = report["scorers"]["candidate"]["budget_per_week"]
    print(
        f"{'':<12}{'AP':>8}{'ROC-AUC':>9}{'Brier':>9}{f'P@{budget}/wk':>10}{f'R@{budget}/wk':>10}"
    )
    for name, m in report["scorers"].items():
        ap, auc = _figure(m["average_precision"], 8, 3), _figure(m["roc_auc"], 9, 3)
        print(
            f"{names.get(name, name):<12}{ap}{auc}{m['brier']:>9.4f}"
            f"{m['precision_at_budget']:>10.3f}{m['recall_at_budget']:>10.3f}"
        )


def _print_decision(report: dict[str, Any]) -> None:
    from models.card import cutoff_words, red_evidence_words

    d = report.get("decision")
    if not d:
        return
    b = d["budget"]
    print(
        f"\nlevels on the test window ({d['weeks']} weeks, {b['open_cases_per_week']:g} open cases a week):"
    )
    print(f"{'level':<8}{'per week':>10}{'max/week':>10}{'precision':>11}{'recall':>9}")
    for level, m in d["levels"].items():
        precision = "-" if m["precision"] is None else f"{m['precision']:.3f}"
        print(
            f"{level:<8}{m['per_week']:>10}{m['max_per_week']:>10}{precision:>11}{m['recall']:>9.3f}"
        )
    print(
        f"budget (red <= {b['red_per_week']}, red+orange <= {b['red_orange_per_week']} per "
        f"{b['for_open_cases']} open cases a week) kept in {b['weeks_kept']}/{d['weeks']} weeks; "
        f"higher level, higher escalation rate: {'yes' if d['monotone'] else 'NO'}"
    )
    print(f"cut-offs: {cutoff_words(d['cutoffs'])}")
    if d.get("red_evidence"):
        print(red_evidence_words(d["red_evidence"]))
    rules = report.get("rules") or {}
    if rules:
        print(
            "rules: "
            + ", ".join(f"{c} p={m['precision']:.2f} (n={m['fired']})" for c, m in rules.items())
        )


def _print_evidence(report: dict[str, Any]) -> None:
    from models.card_evidence import evidence_lines

    if report.get("evidence"):
        print()
        print("\n".join(evidence_lines(report["evidence"])))


def cmd_train(args: argparse.Namespace) -> int:
    from models.workbench import train_version

    policy = _policy(args)
    rows = _load_snapshots(args, "train", policy)
    registry = _registry(args)
    live = _same_horizon(_comparable(registry, _in_service_version(args), policy), args)
    _say(f"{len(rows):,} snapshots; fitting on the earlier window, testing on the later one")
    trained = train_version(
        rows,
        _train_config(args),
        registry,
        live,
        progress=not args.quiet,
        evidence=_evidence_config(args),
        data_source=args.data_source,
        policy=policy,
    )
    print(f"saved model {trained.version} in {trained.folder}")
    _print_metrics(trained.report)
    _print_decision(trained.report)
    _print_evidence(trained.report)
    print(f"model card: {trained.card}")
    if not trained.report["sizes"]["test"]["escalations"]:
        _say(
            "warning: no case in the test window escalated, so these figures measure nothing "
            "(n/a): do not promote on them; train on a log that runs longer"
        )
        return 0
    print(f"to put it in service: ews model promote {trained.version}")
    return 0


def _candidate(registry: Any, args: argparse.Namespace, policy: Any):  # noqa: ANN202 - LoadedModel | None
    """The version named on the command line, else the newest, refused if it cannot be scored
    under ``policy``; None (said) if there is none."""
    from models.scoring import scored_under

    versions = registry.versions()
    if not versions:
        _say("no model in the registry yet: run `ews model train` first")
        return None
    return scored_under(registry.load(args.version or versions[-1]), policy)


def _comparable(registry: Any, version: str | None, policy: Any, besides: str | None = None):  # noqa: ANN202 - LoadedModel | None
    """The version to compare with (not ``besides``), if it can be scored under ``policy``;
    else None, said."""
    from models.registry import ModelRefused
    from models.scoring import scored_under

    if not version or version == besides:
        return None
    try:
        return scored_under(registry.load(version), policy)
    except ModelRefused as exc:
        _say(f"(model {version} cannot be compared: {exc})")
        return None


def cmd_evaluate(args: argparse.Namespace) -> int:
    from models.workbench import evaluate_version

    policy = _policy(args)
    registry = _registry(args)
    candidate = _candidate(registry, args, policy)
    if candidate is None:
        return 2
    _same_days(args, candidate.metadata, f"model {candidate.version}")
    live = _comparable(registry, _in_service_version(args), policy, besides=candidate.version)
    live = _same_horizon(live, args)
    rows = _load_snapshots(args, "evaluate", policy)
    against = live.version if live else "rules"
    out = (
        Path(args.out)
        if args.out
        else registry.root / "reports" / f"{candidate.version}-vs-{against}"
    )
    result = evaluate_version(
        rows,
        candidate,
        _train_config(args),
        out,
        live,
        evidence=_evidence_config(args),
        progress=not args.quiet,
        data_source=args.data_source,
        policy=policy,
    )
    versus = f"in service {result.in_service} vs " if result.in_service else ""
    print(
        f"candidate {candidate.version} vs {versus}rules, on {result.test_snapshots:,} "
        f"snapshots from {result.test_window[0]} to {result.test_window[1]}"
    )
    _print_metrics(result.report)
    _print_decision(result.report)
    _print_evidence(result.report)
    print(f"report: {result.card}  (the in-sample windows of this data were not used)")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from domain.alerts.routing import load_routing
    from models.backtest import backtest
    from models.backtest_report import backtest_lines, write_backtest
    from models.scoring import scored_under
    from models.train import latest_test_start, other_horizon

    policy = _policy(args)  # the files in force, unless others are given to compare
    registry = _registry(args)
    candidate = _candidate(registry, args, policy)
    if candidate is None:
        return 2
    _same_days(args, candidate.metadata, f"model {candidate.version}")
    if args.against and args.against not in ("rules", candidate.version):
        against = scored_under(registry.load(args.against), policy)
    elif args.against:
        against = None
    else:
        against = _comparable(
            registry, _in_service_version(args), policy, besides=candidate.version
        )
    if against is not None and (why := other_horizon(against, args.horizon)):
        _say(f"({why}; each is counted by the alerts it raises)")
    # counted only where neither version was fitted or calibrated
    since = args.since or latest_test_start(
        *(m.metadata for m in (candidate, against) if m is not None)
    )
    if since is None:
        _say(
            f"({candidate.version} does not say where its test window starts: counting the "
            "whole history, its training data included; give --since to count from a date)"
        )
    routing = load_routing(args.routing or _settings(args).routing or None)
    events = _load_events(args, "replay")
    other = against.version if against else "rules"
    _say(
        f"replaying {len(events):,} events under {candidate.version} and under {other} "
        f"(policy {policy.version}, routing {routing.version}); counting from "
        f"{str(since)[:10] if since else 'the start'}"
    )
    found = backtest(
        events,
        candidate,
        against,
        policy,
        routing,
        since=since,
        horizon_days=args.horizon,
        progress=not args.quiet,
    )
    found["data_source"] = args.data_source
    out = (
        Path(args.out)
        if args.out
        else registry.root / "reports" / f"backtest-{candidate.version}-vs-{other}"
    )
    report = write_backtest(found, out)
    print("\n".join(backtest_lines(found, weeks=not args.no_weeks)))
    print(f"\nreport: {report}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from models.registry import other_feature_set
    from models.scoring import other_lexicon

    policy = _policy(args)
    registry = _registry(args)
    versions = registry.versions()
    if not versions:
        if not registry.root.is_dir():
            print(
                f"{registry.root}: 没有这个文件夹 (no such folder; the model registry is set "
                "by --model-dir or EWS_MODEL_DIR)"
            )
            return 1
        print(f"no models in {registry.root} yet: run `ews model train`")
        return 0
    live = None if args.no_kafka else _in_service_version(args)
    print(
        f"{'':2}{'version':<9}{'created':<27}{'AP':>7}{'rules AP':>10}{'Brier':>9}"
        f"{'horizon':>9}  data (test window)"
    )
    for v in versions:
        meta = registry.metadata(v)
        m = meta.get("metrics", {})
        cand, rules = m.get("candidate", {}), m.get("rules", {})
        test = meta.get("data_window", {}).get("test") or ["", ""]
        mark = "*" if v == live else " "
        refused = other_feature_set(meta) or other_lexicon(meta, policy)
        print(
            f"{mark:2}{v:<9}{meta.get('created_at', ''):<27}"
            f"{_figure(cand.get('average_precision'), 7, 3)}"
            f"{_figure(rules.get('average_precision'), 10, 3)}{_figure(cand.get('brier'), 9, 4)}"
            f"{_figure(meta.get('horizon_days'), 9, 0)}  {test[0][:10]} .. {test[1][:10]}"
            + (f"  not usable here: {refused}" if refused else "")
        )
    print("* = in service" if live else "(no model in service, or the broker was not reachable)")
    return 0


SHOWN_METADATA = (
    "version",
    "created_at",
    "code_version",
    "sha256",
    "label",
    "data_window",
    "sizes",
    "params",
    "fit_seconds",
    "train_seconds",
    "policy_version",
    "lexicon",
    "feature_set_version",
)


def cmd_show(args: argparse.Namespace) -> int:
    registry = _registry(args)
    meta = registry.metadata(args.version)
    keep = {k: meta[k] for k in SHOWN_METADATA if k in meta}
    keep["metrics"] = meta.get("metrics")
    print(json.dumps(keep, ensure_ascii=False, indent=2))
    print(f"model card: {registry.path(args.version) / 'card.md'}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from models.promotion import promoted_event
    from models.scoring import scored_under

    settings = _settings(args)
    loaded = _registry(args).load(args.version)  # refuse tampered or foreign artifacts up front
    scored_under(loaded, _policy(args))  # and one the scorers would refuse: another lexicon
    current = in_service(settings).version
    if current == args.version:
        print(f"{args.version} is already in service")
        return 0
    publish(
        settings, promoted_event(args.version, current, loaded.metadata.get("sha256"), args.reason)
    )
    print(
        f"promoted {args.version} (was {current or 'none'}); running scorers switch without a restart"
    )
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from models.promotion import rolled_back_event
    from models.scoring import scored_under

    settings = _settings(args)
    state = in_service(settings)
    if state.previous is None:
        _say(f"nothing to roll back to (in service: {state.version or 'none'})")
        return 1
    scored_under(_registry(args).load(state.previous), _policy(args))
    publish(settings, rolled_back_event(state.previous, state.version, args.reason))
    print(f"rolled back from {state.version} to {state.previous}")
    return 0


# ---- parser --------------------------------------------------------------------------------


def _data_options(sp: argparse.ArgumentParser, dataset: bool = True) -> None:
    g = sp.add_argument_group("data (default: a generated synthetic county)")
    g.add_argument(
        "--events",
        help="case events as JSONL envelopes (.gz ok), any size: replayed in bulk by --jobs "
        "processes through shard files under $TMPDIR (about the log's uncompressed size)",
    )
    if dataset:
        g.add_argument("--dataset", help="a training set written by `ews model dataset`")
    g.add_argument(
        "--from-kafka",
        action="store_true",
        help="replay the case-events topic from the first offset",
    )
    g.add_argument(
        "--cases",
        type=whole_number,
        default=DEFAULT_SYNTH_CASES,
        help=f"synthetic cases when no data is given (default {DEFAULT_SYNTH_CASES})",
    )
    g.add_argument("--seed", type=int, default=2026, help="synthetic county seed (default 2026)")
    g.add_argument(
        "--horizon",
        type=_days,
        default=_Default(30.0),
        help="label: escalates within this many days after the snapshot (default: the "
        "training set's or the model's, else 30)",
    )
    g.add_argument(
        "--every",
        type=_days,
        default=_Default(7.0),
        help="days between snapshots of an open case (default: the training set's, else 7)",
    )
    g.add_argument(
        "--policy",
        help="risk policy whose lexicon and rules read the records (default: $EWS_RISK_POLICY, "
        "else the packaged policy.yaml); a model is scored only under a policy with the lexicon "
        "it was trained with",
    )
    g.add_argument(
        "--jobs",
        type=whole_number,
        default=min(os.cpu_count() or 1, 4),
        help="processes that build the snapshots (default: the CPUs, at most 4)",
    )


def _split_options(sp: argparse.ArgumentParser) -> None:
    g = sp.add_argument_group("evaluation")
    g.add_argument(
        "--test-fraction",
        type=float,
        default=0.25,
        help="latest share of the time range used for testing (default 0.25)",
    )
    g.add_argument(
        "--calibration-fraction",
        type=float,
        default=0.15,
        help="share before it used for calibration (default 0.15)",
    )
    g.add_argument(
        "--budget",
        type=whole_number,
        default=20,
        help="alerts the duty desk can look at per week (default 20)",
    )


def _evidence_options(sp: argparse.ArgumentParser) -> None:
    g = sp.add_argument_group("evidence (rolling windows, out-of-template data)")
    g.add_argument(
        "--windows", type=whole_number, default=4, help="consecutive test windows (default 4)"
    )
    g.add_argument(
        "--resamples",
        type=whole_number,
        default=200,
        help="case resamples for the 95%% intervals (default 200)",
    )
    g.add_argument(
        "--other-cases",
        type=whole_number,
        default=3000,
        help="cases of the out-of-template county, generated from the other story "
        "(default 3000; 0 for none)",
    )
    g.add_argument(
        "--other-seed", type=int, default=7, help="seed of the out-of-template county (default 7)"
    )
    g.add_argument("--no-handwritten", action="store_true", help="leave out the hand-written cases")
    g.add_argument(
        "--no-evidence",
        action="store_true",
        help="only the single test window (faster; the card then lacks the evidence sections)",
    )


def _evidence_config(args: argparse.Namespace):  # noqa: ANN202 - models.evidence.EvidenceConfig
    from models.evidence import EvidenceConfig

    if args.no_evidence:
        return None
    return EvidenceConfig(
        windows=args.windows,
        resamples=args.resamples,
        other_cases=args.other_cases,
        other_seed=args.other_seed,
        handwritten=not args.no_handwritten,
    )


def _common(sp: argparse.ArgumentParser, kafka: bool = True) -> None:
    sp.add_argument("--model-dir", help="model registry (default $EWS_MODEL_DIR or var/models)")
    sp.add_argument("--quiet", action="store_true", help="no progress bars")
    if kafka:
        sp.add_argument(
            "--bootstrap", help="Kafka bootstrap servers (default $EWS_BOOTSTRAP or 127.0.0.1:9092)"
        )


def _guarded(func: Any) -> Any:
    """A command whose refusals (tampered or foreign models) end with a message, not a trace."""

    def run(args: argparse.Namespace) -> int:
        from models.registry import ModelRefused
        from models.train import TooLittleData

        try:
            return int(func(args) or 0)
        except ModelRefused as exc:
            _say(f"refused: {exc}")
            return 1
        except (ConnectionError, LookupError, TimeoutError, TooLittleData) as exc:
            _say(f"error: {exc}")
            return 1
        except UsageError as exc:
            _say(f"error: {exc}")
            return 2
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            _say(f"error: a line of the input is not a JSON event ({exc})")
            return 1

    run.__name__ = getattr(func, "__name__", "command")
    return run


def add_model_commands(sub: argparse._SubParsersAction) -> None:
    """Add the model subcommands (synth, dataset, train, ...) to a subparsers object."""

    def add(name: str, func: Any, help: str, epilog: str | None = None) -> argparse.ArgumentParser:
        sp = sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.set_defaults(func=_guarded(func))
        return sp

    sp = add("synth", cmd_synth, "generate a synthetic county: case events (and records) as JSONL")
    sp.add_argument(
        "--cases",
        type=whole_number,
        default=DEFAULT_SYNTH_CASES,
        help=f"number of cases (default {DEFAULT_SYNTH_CASES})",
    )
    sp.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    sp.add_argument(
        "--start", type=_day, default="2025-01-01", help="first day (default 2025-01-01)"
    )
    sp.add_argument("--days", type=whole_number, default=540, help="days covered (default 540)")
    sp.add_argument(
        "--events-out",
        default="var/synthetic/events.jsonl",
        help="case events output (default var/synthetic/events.jsonl)",
    )
    sp.add_argument("--records", help="also write the screening records, in posting order, here")
    sp.add_argument("--quiet", action="store_true")

    sp = add("dataset", cmd_dataset, "replay case events into a point-in-time training set (JSONL)")
    _data_options(sp, dataset=False)
    sp.add_argument(
        "--out",
        default="var/datasets/snapshots.jsonl.gz",
        help="output (default var/datasets/snapshots.jsonl.gz)",
    )
    _common(sp)

    sp = add(
        "train",
        cmd_train,
        "fit, calibrate and evaluate a new model on a temporal split; write its card; save it as a new version",
        EPILOG,
    )
    _data_options(sp)
    _split_options(sp)
    _evidence_options(sp)
    g = sp.add_argument_group("model")
    g.add_argument(
        "--C",
        type=positive_number,
        default=0.1,
        help="inverse regularisation strength (default 0.1)",
    )
    g.add_argument(
        "--calibration",
        choices=("sigmoid", "isotonic"),
        default="sigmoid",
        help="calibration on the later window (default sigmoid)",
    )
    g.add_argument(
        "--in-service",
        help="compare with this version instead of the one the model-events topic names",
    )
    g.add_argument(
        "--no-kafka", action="store_true", help="do not ask the broker which model is in service"
    )
    _common(sp)

    sp = add(
        "evaluate",
        cmd_evaluate,
        "compare a candidate with the model in service and the rules on the later window of some data",
    )
    sp.add_argument("version", nargs="?", help="candidate version (default: the newest)")
    _data_options(sp)
    _split_options(sp)
    _evidence_options(sp)
    sp.add_argument(
        "--in-service", help="compare with this version instead of the one the topic names"
    )
    sp.add_argument(
        "--no-kafka", action="store_true", help="do not ask the broker which model is in service"
    )
    sp.add_argument("--out", help="report folder (default var/models/reports/CANDIDATE-vs-LIVE)")
    _common(sp)

    sp = add(
        "backtest",
        cmd_backtest,
        "replay the log's history under a candidate: the alerts it would have raised, their "
        "precision and how early they came, beside the model in service (or the rules)",
    )
    sp.add_argument("version", nargs="?", help="candidate version (default: the newest)")
    _data_options(sp, dataset=False)
    sp.add_argument(
        "--against",
        help="compare with this version, or 'rules' for the rules alone "
        "(default: the model in service, else the rules)",
    )
    sp.add_argument(
        "--since",
        help="count alerts and escalations from this date (default: the start of the later "
        "of the two versions' test windows, so neither one's training data is counted)",
    )
    sp.add_argument(
        "--routing",
        help="routing file to try (default: $EWS_ROUTING, else the packaged routing.yaml)",
    )
    sp.add_argument(
        "--no-kafka", action="store_true", help="do not ask the broker which model is in service"
    )
    sp.add_argument("--no-weeks", action="store_true", help="leave out the week-by-week table")
    sp.add_argument(
        "--out", help="report folder (default var/models/reports/backtest-CAND-vs-OTHER)"
    )
    _common(sp)

    sp = add("list", cmd_list, "list model versions; * marks the one in service")
    sp.add_argument(
        "--no-kafka", action="store_true", help="do not ask the broker which model is in service"
    )
    _common(sp)

    sp = add("show", cmd_show, "metadata and figures of one version, and where its card is")
    sp.add_argument("version")
    _common(sp, kafka=False)

    sp = add(
        "promote",
        cmd_promote,
        "put a version in service (publishes ModelPromoted; no restart needed)",
    )
    sp.add_argument("version")
    sp.add_argument("--reason", default="", help="why (kept in the event)")
    _common(sp)

    sp = add(
        "rollback",
        cmd_rollback,
        "return to the version in service before the current one (publishes ModelRolledBack)",
    )
    sp.add_argument("--reason", default="", help="why (kept in the event)")
    _common(sp)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``model`` command group to the main ``ews`` parser's subparsers."""
    p = subparsers.add_parser(
        "model",
        help="escalation-risk model: dataset, train, evaluate, list, promote, rollback",
        description="Escalation-risk model for analysts: rebuild training data from the event log, "
        "retrain, evaluate against the model in service and the rules, promote or roll back.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="model_command", required=True, metavar="MODEL_COMMAND")
    add_model_commands(sub)
    return p
