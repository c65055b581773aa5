"""``ews model ...``: build training data, train, evaluate, list, promote and roll back models.

``register(subparsers)`` adds the ``model`` command group to the ``ews`` command;
``python -m models.cli COMMAND ...`` runs the same commands standalone.

Environment: ``EWS_MODEL_DIR`` (model registry, default ``var/models``), ``EWS_BOOTSTRAP``
(Kafka, default ``127.0.0.1:9092``), ``EWS_TOPIC_PREFIX`` (topic names, default ``ews``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_SYNTH_CASES = 3000
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


def _bootstrap(args: argparse.Namespace) -> str:
    return getattr(args, "bootstrap", None) or os.environ.get("EWS_BOOTSTRAP", "127.0.0.1:9092")


def _registry(args: argparse.Namespace):  # noqa: ANN202 - models.registry.Registry
    from models.registry import Registry

    return Registry(getattr(args, "model_dir", None))


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- data --------------------------------------------------------------------------------


def _synthetic_events(cases: int, seed: int, progress: bool) -> list:
    from models.synthetic import event_log, generate_county

    return list(event_log(generate_county(cases, seed=seed, progress=progress)))


def _load_snapshots(args: argparse.Namespace, purpose: str) -> list:
    """Snapshots from --dataset, --events, --from-kafka, or a synthetic county."""
    from models.dataset import build_dataset, read_dataset, read_events_jsonl, read_events_kafka

    progress = not args.quiet
    if getattr(args, "dataset", None):
        _say(f"reading training set {args.dataset}")
        return read_dataset(args.dataset)
    if getattr(args, "events", None):
        _say(f"replaying events from {args.events}")
        events = list(read_events_jsonl(args.events))
    elif getattr(args, "from_kafka", False):
        from streams.topology import case_events_topic

        _say(f"replaying {case_events_topic()} on {_bootstrap(args)} from the first offset")
        events = list(read_events_kafka(_bootstrap(args)))
    else:
        _say(
            f"no data given (--events, --dataset or --from-kafka): generating a synthetic county "
            f"of {args.cases} cases (seed {args.seed}) to {purpose} on"
        )
        events = _synthetic_events(args.cases, args.seed, progress)
    _say(f"{len(events):,} events; building point-in-time snapshots")
    return build_dataset(
        events, horizon_days=args.horizon, every_days=args.every, progress=progress
    )


def _in_service_version(args: argparse.Namespace) -> str | None:
    if getattr(args, "in_service", None):
        return args.in_service
    if getattr(args, "no_kafka", False):
        return None
    from models.promotion import in_service

    try:
        return in_service(_bootstrap(args)).version
    except Exception as exc:  # broker down or topic missing: say so, carry on without it
        _say(
            f"(could not read the model-events topic on {_bootstrap(args)}: {exc}; "
            "comparing without the model in service)"
        )
        return None


# ---- commands ----------------------------------------------------------------------------


def cmd_synth(args: argparse.Namespace) -> int:
    from models.dataset import write_events_jsonl
    from models.synthetic import generate_county

    cases = list(
        generate_county(
            args.cases, seed=args.seed, start=args.start, days=args.days, progress=not args.quiet
        )
    )
    if args.records:
        from models.synthetic import posting_order

        Path(args.records).parent.mkdir(parents=True, exist_ok=True)
        with open(args.records, "w", encoding="utf-8") as fh:
            for r in posting_order(cases):
                fh.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
        _say(f"records: {args.records}")
    from models.synthetic import event_log

    Path(args.events_out).parent.mkdir(parents=True, exist_ok=True)
    n = write_events_jsonl(event_log(cases), args.events_out)
    escalated = sum(c.escalated_at is not None for c in cases)
    print(
        f"{len(cases):,} cases ({escalated:,} escalate), {n:,} events written to {args.events_out}"
    )
    return 0


def cmd_dataset(args: argparse.Namespace) -> int:
    from models.dataset import write_dataset

    rows = _load_snapshots(args, "build a training set")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    n = write_dataset(rows, args.out)
    pos = sum(r.label for r in rows)
    print(
        f"{n:,} snapshots of {len({r.case_id for r in rows}):,} cases, {pos:,} escalate within "
        f"{args.horizon:g} days ({pos / max(n, 1):.1%}); written to {args.out}"
    )
    return 0


def _print_metrics(report: dict[str, Any]) -> None:
    names = {"candidate": "candidate", "rules": "rules only", "in_service": "in service"}
    budget = report["scorers"]["candidate"]["budget_per_week"]
    print(
        f"{'':<12}{'AP':>8}{'ROC-AUC':>9}{'Brier':>9}{f'P@{budget}/wk':>10}{f'R@{budget}/wk':>10}"
    )
    for name, m in report["scorers"].items():
        ap = m["average_precision"] or 0.0
        auc = m["roc_auc"] or 0.0
        print(
            f"{names.get(name, name):<12}{ap:>8.3f}{auc:>9.3f}{m['brier']:>9.4f}"
            f"{m['precision_at_budget']:>10.3f}{m['recall_at_budget']:>10.3f}"
        )


def cmd_train(args: argparse.Namespace) -> int:
    from models.card import write_card
    from models.registry import ModelRefused
    from models.train import TrainConfig, train_and_evaluate

    began = time.perf_counter()
    rows = _load_snapshots(args, "train")
    registry = _registry(args)
    live_version = _in_service_version(args)
    live = None
    if live_version:
        try:
            live = registry.load(live_version)
        except ModelRefused as exc:
            _say(f"(model in service {live_version} cannot be compared: {exc})")
    config = TrainConfig(
        horizon_days=args.horizon,
        test_fraction=args.test_fraction,
        calibration_fraction=args.calibration_fraction,
        budget=args.budget,
        C=args.C,
        calibration=args.calibration,
    )
    _say(f"{len(rows):,} snapshots; fitting on the earlier window, testing on the later one")
    result = train_and_evaluate(rows, config, in_service=live, progress=not args.quiet)
    result.metadata["train_seconds"] = round(time.perf_counter() - began, 1)
    version = registry.save(result.model, result.metadata)
    folder = registry.path(version)
    card = write_card(
        folder, version, result.metadata, result.report, result.test_rows, result.test_scores
    )
    (folder / "report.json").write_text(
        json.dumps(result.report, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    print(f"saved model {version} in {folder}")
    _print_metrics(result.report)
    print(f"model card: {card}")
    print(f"to put it in service: ews model promote {version}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from models.card import write_card
    from models.train import evaluate_scorers, rules_probability, temporal_split

    registry = _registry(args)
    versions = registry.versions()
    if not versions:
        _say("no model in the registry yet: run `ews model train` first")
        return 2
    candidate = registry.load(args.version or versions[-1])
    live_version = _in_service_version(args)
    live = (
        registry.load(live_version) if live_version and live_version != candidate.version else None
    )
    rows = _load_snapshots(args, "evaluate")
    split = temporal_split(rows, args.horizon, args.test_fraction, args.calibration_fraction)
    test_rows = [rows[i] for i in split.test]
    cal_rows = [rows[i] for i in split.calibration]
    X = [r.features for r in test_rows]
    scores: dict[str, np.ndarray] = {"candidate": candidate.model.predict_proba(X)[:, 1]}
    probs = dict(scores)
    scores["rules"] = np.array([r.rule_score for r in test_rows])
    probs["rules"] = rules_probability(cal_rows, test_rows)
    if live is not None:
        scores["in_service"] = probs["in_service"] = live.model.predict_proba(X)[:, 1]
    report = evaluate_scorers(test_rows, scores, probs, args.budget)
    report["windows"] = split.windows
    report["sizes"] = {
        "train": {
            "snapshots": len(split.train),
            "escalations": int(sum(rows[i].label for i in split.train)),
        },
        "calibration": {
            "snapshots": len(cal_rows),
            "escalations": int(sum(r.label for r in cal_rows)),
        },
        "test": {"snapshots": len(test_rows), "escalations": int(sum(r.label for r in test_rows))},
        "cases": len({r.case_id for r in rows}),
    }
    report["in_service_version"] = live.version if live is not None else None
    out = (
        Path(args.out)
        if args.out
        else registry.root
        / "reports"
        / (f"{candidate.version}-vs-{live.version if live else 'rules'}")
    )
    meta = dict(candidate.metadata)
    meta["label"] = meta.get("label", "escalates within the horizon")
    card = write_card(out, candidate.version, meta, report, test_rows, scores)
    print(
        f"candidate {candidate.version} vs {'in service ' + live.version if live else 'no model in service'} vs rules, "
        f"on {len(test_rows):,} snapshots from {split.windows['test'][0]} to {split.windows['test'][1]}"
    )
    _print_metrics(report)
    print(f"report: {card}  (the in-sample windows of this data were not used)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    registry = _registry(args)
    versions = registry.versions()
    live = None if args.no_kafka else _in_service_version(args)
    if not versions:
        print(f"no models in {registry.root} yet: run `ews model train`")
        return 0
    print(
        f"{'':2}{'version':<9}{'created':<27}{'AP':>7}{'rules AP':>10}{'Brier':>9}  data (test window)"
    )
    for v in versions:
        meta = registry.metadata(v)
        m = meta.get("metrics", {})
        cand, rules = m.get("candidate", {}), m.get("rules", {})
        test = meta.get("data_window", {}).get("test") or ["", ""]
        mark = "*" if v == live else " "
        print(
            f"{mark:2}{v:<9}{meta.get('created_at', ''):<27}{cand.get('average_precision') or 0:>7.3f}"
            f"{rules.get('average_precision') or 0:>10.3f}{cand.get('brier') or 0:>9.4f}  "
            f"{test[0][:10]} .. {test[1][:10]}"
        )
    print("* = in service" if live else "(no model in service, or the broker was not reachable)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    registry = _registry(args)
    meta = registry.metadata(args.version)
    keep = {
        k: meta[k]
        for k in (
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
        )
        if k in meta
    }
    keep["metrics"] = meta.get("metrics")
    print(json.dumps(keep, ensure_ascii=False, indent=2))
    print(f"model card: {registry.path(args.version) / 'card.md'}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from models.promotion import in_service, promoted_event, publish
    from models.registry import ModelRefused

    registry = _registry(args)
    try:
        loaded = registry.load(args.version)  # refuse tampered or foreign artifacts up front
    except ModelRefused as exc:
        _say(f"refused: {exc}")
        return 1
    current = in_service(_bootstrap(args)).version
    if current == args.version:
        print(f"{args.version} is already in service")
        return 0
    publish(
        _bootstrap(args),
        promoted_event(args.version, current, loaded.metadata.get("sha256"), args.reason),
    )
    print(
        f"promoted {args.version} (was {current or 'none'}); running scorers switch without a restart"
    )
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from models.promotion import in_service, publish, rolled_back_event
    from models.registry import ModelRefused

    state = in_service(_bootstrap(args))
    if state.previous is None:
        _say(f"nothing to roll back to (in service: {state.version or 'none'})")
        return 1
    try:
        _registry(args).load(state.previous)
    except ModelRefused as exc:
        _say(f"refused: {exc}")
        return 1
    publish(_bootstrap(args), rolled_back_event(state.previous, state.version, args.reason))
    print(f"rolled back from {state.version} to {state.previous}")
    return 0


# ---- parser --------------------------------------------------------------------------------


def _data_options(sp: argparse.ArgumentParser, dataset: bool = True) -> None:
    g = sp.add_argument_group("data (default: a generated synthetic county)")
    g.add_argument("--events", help="case events as JSONL envelopes (.gz ok)")
    if dataset:
        g.add_argument("--dataset", help="a training set written by `ews model dataset`")
    g.add_argument(
        "--from-kafka",
        action="store_true",
        help="replay the case-events topic from the first offset",
    )
    g.add_argument(
        "--cases",
        type=int,
        default=DEFAULT_SYNTH_CASES,
        help=f"synthetic cases when no data is given (default {DEFAULT_SYNTH_CASES})",
    )
    g.add_argument("--seed", type=int, default=2026, help="synthetic county seed (default 2026)")
    g.add_argument(
        "--horizon",
        type=float,
        default=30.0,
        help="label: escalates within this many days after the snapshot (default 30)",
    )
    g.add_argument(
        "--every",
        type=float,
        default=7.0,
        help="days between snapshots of an open case (default 7)",
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
        type=int,
        default=20,
        help="alerts the duty desk can look at per week (default 20)",
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

        try:
            return int(func(args) or 0)
        except ModelRefused as exc:
            _say(f"refused: {exc}")
            return 1
        except (ConnectionError, LookupError, TimeoutError) as exc:
            _say(f"error: {exc}")
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
        type=int,
        default=DEFAULT_SYNTH_CASES,
        help=f"number of cases (default {DEFAULT_SYNTH_CASES})",
    )
    sp.add_argument("--seed", type=int, default=2026)
    sp.add_argument("--start", default="2025-01-01", help="first day (default 2025-01-01)")
    sp.add_argument("--days", type=int, default=540, help="days covered (default 540)")
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
    g = sp.add_argument_group("model")
    g.add_argument(
        "--C", type=float, default=0.1, help="inverse regularisation strength (default 0.1)"
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
    sp.add_argument(
        "--in-service", help="compare with this version instead of the one the topic names"
    )
    sp.add_argument(
        "--no-kafka", action="store_true", help="do not ask the broker which model is in service"
    )
    sp.add_argument("--out", help="report folder (default var/models/reports/CANDIDATE-vs-LIVE)")
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m models.cli",
        description="Escalation-risk model commands (the same as `ews model ...`).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="model_command", required=True, metavar="COMMAND")
    add_model_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
