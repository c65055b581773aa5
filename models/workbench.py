"""The analyst's work as functions a notebook can call: make data, train, evaluate.

``ews model ...`` (``ews.model_cli``) is argument handling around these; it also does the Kafka
parts (reading the case-events log, asking which model is in service, publishing promotions),
so that everything here runs on plain lists of events and snapshots::

    from models import workbench
    events = workbench.synthetic_events(3000, seed=2026)
    rows = build_dataset(events)
    trained = workbench.train_version(rows, TrainConfig(), Registry("var/models"))
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from domain.risk.policy import RiskPolicy, default_policy
from models.card import write_card
from models.dataset import Snapshot, write_events_jsonl
from models.evidence import (
    DEFAULT_EVIDENCE,
    EvidenceConfig,
    evidence_summary,
    gather_evidence,
    out_of_template_data,
)
from models.levels import decision_view, rule_precision
from models.registry import LoadedModel, Registry
from models.snapshot_table import features, labels, n_cases, rule_scores, take
from models.synthetic import event_log, generate_county, posting_order
from models.train import (
    TooLittleData,
    TrainConfig,
    evaluate_scorers,
    latest_test_start,
    other_horizon,
    rules_probability,
    temporal_split,
    test_window_start,
    train_and_evaluate,
)
from schemas.events import Envelope


def synthetic_events(
    cases: int, seed: int, progress: bool = False, story: str = "main"
) -> list[Envelope]:
    """The case events of a synthetic county of ``cases`` cases (``story``: main or other)."""
    return list(event_log(generate_county(cases, seed=seed, progress=progress, story=story)))


@dataclass(frozen=True)
class SyntheticWritten:
    cases: int
    escalated: int
    events: int


def write_synthetic(
    cases: int,
    seed: int,
    events_out: str | Path,
    records_out: str | Path | None = None,
    start: str = "2025-01-01",
    days: int = 540,
    progress: bool = False,
) -> SyntheticWritten:
    """Generate a county; write its case events (and, if asked, its records in posting order)."""
    county = list(generate_county(cases, seed=seed, start=start, days=days, progress=progress))
    if records_out:
        Path(records_out).parent.mkdir(parents=True, exist_ok=True)
        with open(records_out, "w", encoding="utf-8") as fh:
            for r in posting_order(county):
                fh.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
    Path(events_out).parent.mkdir(parents=True, exist_ok=True)
    n = write_events_jsonl(event_log(county), events_out)
    escalated = sum(c.escalated_at is not None for c in county)
    return SyntheticWritten(len(county), escalated, n)


@dataclass(frozen=True)
class TrainedVersion:
    version: str
    folder: Path
    card: Path
    report: dict[str, Any]


def train_version(
    rows: list[Snapshot],
    config: TrainConfig,
    registry: Registry,
    in_service: LoadedModel | None = None,
    progress: bool = False,
    evidence: EvidenceConfig | None = DEFAULT_EVIDENCE,
    data_source: str = "",
    policy: RiskPolicy | None = None,
) -> TrainedVersion:
    """Fit, calibrate and evaluate on a temporal split; save as a new version with its card.
    ``evidence`` (None: skip it) adds rolling windows, out-of-template data and the text
    ablation (``models.evidence``).  ``policy``: the one ``rows`` were read under (the packaged
    one unless given)."""
    began = time.perf_counter()
    policy = policy or default_policy()
    result = train_and_evaluate(rows, config, in_service, progress, policy)
    if in_service is not None and other_horizon(in_service, config.horizon_days):
        in_service = None  # left out of the comparison: of the evidence too
    result.report["data_source"] = result.metadata["data_source"] = data_source
    if evidence is not None:
        other, hand = out_of_template_data(evidence, config.horizon_days, progress, policy)
        found = gather_evidence(
            rows,
            result.model,
            result.metadata["level_cutoffs"],
            config,
            result.split,
            in_service=in_service,
            other_rows=other,
            handwritten=hand,
            evidence=evidence,
            progress=progress,
            policy=policy,
        )
        result.report["evidence"] = found
        result.metadata["evidence"] = evidence_summary(found)
    result.metadata["train_seconds"] = round(time.perf_counter() - began, 1)
    version = registry.save(result.model, result.metadata)
    folder = registry.path(version)
    saved = registry.metadata(version)  # with what saving adds: the code version, the sha256
    card = write_card(folder, version, saved, result.report, result.test_rows, result.test_scores)
    (folder / "report.json").write_text(
        json.dumps(result.report, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return TrainedVersion(version, folder, card, result.report)


@dataclass(frozen=True)
class Evaluation:
    candidate: str
    in_service: str | None
    report: dict[str, Any]
    card: Path
    test_window: tuple[str, str]
    test_snapshots: int


def evaluate_version(
    rows: list[Snapshot],
    candidate: LoadedModel,
    config: TrainConfig,
    out: Path,
    in_service: LoadedModel | None = None,
    evidence: EvidenceConfig | None = DEFAULT_EVIDENCE,
    progress: bool = False,
    data_source: str = "",
    policy: RiskPolicy | None = None,
) -> Evaluation:
    """Compare a candidate with the model in service and the rules on the later window, and
    (unless ``evidence`` is None) on rolling windows and out-of-template data.

    The test window starts no earlier than either version's own test window: on the log they
    were trained on, what comes before was fitted or calibrated on.  ``policy``: the one
    ``rows`` were read under (the packaged one unless given)."""
    policy = policy or default_policy()
    left_out = other_horizon(in_service, config.horizon_days) if in_service else None
    if left_out:
        in_service = None
    compared = [m.metadata for m in (candidate, in_service) if m is not None]
    split = temporal_split(
        rows,
        config.horizon_days,
        config.test_fraction,
        config.calibration_fraction,
        test_from=latest_test_start(*compared),
    )
    if not len(split.calibration) or not len(split.test):
        raise TooLittleData(
            f"this data gives {len(split.calibration)} calibration and {len(split.test)} test "
            f"snapshots for {candidate.version} (test window from "
            f"{split.windows['test'][0][:10] if len(split.test) else 'nowhere'}): evaluate on a "
            "log that runs well past the version's own test window"
        )
    test_rows = take(rows, split.test)
    cal_rows = take(rows, split.calibration)
    X = features(test_rows)
    scores: dict[str, np.ndarray] = {"candidate": candidate.model.predict_proba(X)[:, 1]}
    probs = dict(scores)
    scores["rules"] = rule_scores(test_rows)
    probs["rules"] = rules_probability(cal_rows, test_rows)
    if in_service is not None:
        scores["in_service"] = probs["in_service"] = in_service.model.predict_proba(X)[:, 1]
    report = evaluate_scorers(test_rows, scores, probs, config.budget)
    report["windows"] = split.windows
    report["sizes"] = {
        "train": _size(take(rows, split.train)),
        "calibration": _size(cal_rows),
        "test": _size(test_rows),
        "cases": n_cases(rows),
    }
    report["in_service_version"] = in_service.version if in_service is not None else None
    if left_out:
        report["in_service_left_out"] = left_out
    cutoffs = candidate.metadata.get("level_cutoffs") or policy.levels
    report["decision"] = decision_view(test_rows, scores["candidate"], cutoffs, policy)
    if candidate.metadata.get("red_evidence"):
        report["decision"]["red_evidence"] = candidate.metadata["red_evidence"]
    report["rules"] = rule_precision(test_rows)
    report["data_source"] = data_source
    if evidence is not None:
        other, hand = out_of_template_data(evidence, config.horizon_days, progress, policy)
        report["evidence"] = gather_evidence(
            rows,
            candidate.model,
            cutoffs,
            config,
            in_service=in_service,
            other_rows=other,
            handwritten=hand,
            evidence=evidence,
            refit=False,
            test_from=test_window_start(candidate.metadata),
            progress=progress,
            policy=policy,
        )
    meta = dict(candidate.metadata)
    meta["label"] = meta.get("label", "escalates within the horizon")
    card = write_card(out, candidate.version, meta, report, test_rows, scores)
    window = split.windows["test"]
    return Evaluation(
        candidate.version,
        in_service.version if in_service is not None else None,
        report,
        card,
        (window[0], window[1]),
        len(test_rows),
    )


def _size(rows: Sequence[Snapshot]) -> dict[str, int]:
    return {"snapshots": len(rows), "escalations": int(labels(rows).sum())}
