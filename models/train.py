"""Fit, calibrate and evaluate a model on a temporal split of the snapshots (never random).

The snapshots' time range is cut into three consecutive windows::

    |------------- train -------------|-- calibration --|------ test ------|
                                  gap^              gap^

* the model is fitted on the train window;
* its probabilities are calibrated (Platt scaling by default, or isotonic) on the later
  calibration window, with the fitted model frozen;
* everything is measured on the test window, which lies after both.
A snapshot whose label horizon reaches into the next window is left out of its window (the
gap), so no label of a fitted window depends on what happens in a later one.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression

from domain.risk.features import FEATURE_NAMES, timestamp
from domain.risk.policy import RiskPolicy, default_policy
from models.dataset import DAY, Snapshot
from models.estimator import EscalationRiskModel
from models.evaluate import per_category, scorer_metrics
from models.levels import choose_cutoffs, decision_view, red_evidence, rule_precision
from models.snapshot_table import (
    FeatureColumns,
    case_hashes,
    categories,
    features,
    labels,
    n_cases,
    rule_scores,
    take,
    times,
    weeks,
)
from schemas.record import CHINA_TZ


class TooLittleData(ValueError):
    """The data cannot train or evaluate a model (no snapshots, one class in a window)."""


@dataclass(frozen=True)
class TrainConfig:
    horizon_days: float = 30.0
    test_fraction: float = 0.25
    calibration_fraction: float = 0.15
    budget: int = 20  # alerts the duty desk can look at per week
    C: float = 0.1
    text_weight: float = 0.0  # the text block: off, an ablation showed no gain (models/README)
    calibration: str = "sigmoid"  # or "isotonic"


@dataclass
class Split:
    train: np.ndarray
    calibration: np.ndarray
    test: np.ndarray
    windows: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class TrainResult:
    model: Any
    metadata: dict[str, Any]
    report: dict[str, Any]
    test_rows: list[Snapshot]
    test_scores: dict[str, np.ndarray]
    split: Split | None = None


def temporal_split(
    rows: Sequence[Snapshot],
    horizon_days: float = 30.0,
    test_fraction: float = 0.25,
    calibration_fraction: float = 0.15,
    test_from: str | None = None,
) -> Split:
    """Indices of the train, calibration and test windows (consecutive in time, with gaps).

    ``test_from`` (ISO): the test window starts no earlier, so a saved version evaluated on
    the log it was trained on is never tested on the snapshots it was fitted or calibrated on.
    """
    if not len(rows):
        raise TooLittleData("no snapshots to split: the log has no cases with records in it")
    ts = times(rows)
    lo, hi = float(ts.min()), float(ts.max())
    span = hi - lo
    t_test = hi - test_fraction * span
    if test_from is not None and timestamp(test_from) > t_test:
        if timestamp(test_from) > hi:
            raise TooLittleData(
                f"the data ends ({_iso(hi)}) before {test_from}, where the own test window of "
                "a version compared starts: everything earlier may have been fitted or "
                "calibrated on; evaluate on a log that runs past that day"
            )
        t_test = timestamp(test_from)
    t_cal = t_test - calibration_fraction * span
    horizon = horizon_days * DAY
    train = np.flatnonzero(ts + horizon <= t_cal)
    cal = np.flatnonzero((ts >= t_cal) & (ts + horizon <= t_test))
    test = np.flatnonzero(ts >= t_test)

    def window(idx: np.ndarray) -> list[str]:
        return [_iso(float(ts[idx].min())), _iso(float(ts[idx].max()))] if len(idx) else []

    return Split(
        train,
        cal,
        test,
        {"train": window(train), "calibration": window(cal), "test": window(test)},
    )


def other_horizon(model: Any, horizon_days: float) -> str | None:
    """Why ``model`` (a LoadedModel) cannot be judged on labels of ``horizon_days``: it
    predicts escalation within another number of days; None if it can."""
    theirs = model.metadata.get("horizon_days")
    if theirs is None or float(theirs) == float(horizon_days):
        return None
    return (
        f"{model.version} predicts escalation within {float(theirs):g} days, and these labels "
        f"look {float(horizon_days):g} days ahead"
    )


def _span_days(rows: Sequence[Snapshot]) -> float:
    ts = times(rows)
    return float(ts.max() - ts.min()) / DAY if len(ts) else 0.0


def _days_needed(config: TrainConfig) -> float:
    """Days of log below which the train or the calibration window is empty: each must be
    longer than the horizon, for a snapshot's label to be known before the next window."""
    train = 1 - config.test_fraction - config.calibration_fraction
    return config.horizon_days / min(train, config.calibration_fraction)


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, tz=CHINA_TZ).isoformat(timespec="seconds")


def test_window_start(metadata: dict[str, Any]) -> str | None:
    """Where a version's test window starts (ISO), from its metadata; None if it does not say."""
    return (metadata.get("data_window", {}).get("test") or [None])[0]


def latest_test_start(*metadata: dict[str, Any]) -> str | None:
    """Where saved versions may all be tested: the latest start of their own test windows
    (before it, one of them may have been fitted or calibrated); None if none says."""
    starts = [s for m in metadata if (s := test_window_start(m))]
    return max(starts, key=timestamp, default=None)


def _labels(rows: Sequence[Snapshot], idx: np.ndarray) -> np.ndarray:
    return labels(rows)[idx]


def _features(rows: Sequence[Snapshot], idx: np.ndarray) -> Any:
    found = features(rows)
    return found[idx] if isinstance(found, FeatureColumns) else [found[i] for i in idx]


def fit_calibrated(
    X_train: Any,
    y_train: np.ndarray,
    X_cal: Any,
    y_cal: np.ndarray,
    config: TrainConfig,
) -> CalibratedClassifierCV:
    """Fit the model on the train window, then calibrate it (frozen) on the later window."""
    for name, y in (("train", y_train), ("calibration", y_cal)):
        if len(np.unique(y)) < 2:
            raise TooLittleData(
                f"the {name} window has {len(y)} snapshots and only one class; "
                "use more cases or a longer period"
            )
    base = EscalationRiskModel(C=config.C, text_weight=config.text_weight).fit(X_train, y_train)
    calibrated = CalibratedClassifierCV(FrozenEstimator(base), method=config.calibration)
    return calibrated.fit(X_cal, y_cal)


def cross_fitted_scores(
    rows: Sequence[Snapshot], idx: np.ndarray, config: TrainConfig, folds: int
) -> np.ndarray:
    """A score for each snapshot in ``idx`` from a model fitted without its case: the cases are
    split into ``folds`` groups and each group is scored by a model fitted on the others."""
    group = case_hashes(rows)[idx] % folds
    scores = np.zeros(len(idx))
    for k in range(folds):
        fit_on, score = idx[group != k], group == k
        model = EscalationRiskModel(C=config.C, text_weight=config.text_weight)
        model.fit(_features(rows, fit_on), _labels(rows, fit_on))
        scores[score] = model.decision_function(_features(rows, idx[score]))
    return scores


def evaluate_scorers(
    rows: Sequence[Snapshot],
    scores: dict[str, np.ndarray],
    probabilities: dict[str, np.ndarray],
    budget: int,
) -> dict[str, Any]:
    """The same metrics for every scorer on the same snapshots."""
    y = labels(rows)
    week = weeks(rows)
    cats = categories(rows)
    out: dict[str, Any] = {"scorers": {}, "per_category": {}}
    for name, score in scores.items():
        out["scorers"][name] = scorer_metrics(y, score, week, budget, probabilities.get(name))
        out["per_category"][name] = per_category(y, score, cats)
    return out


def rules_probability(cal_rows: Sequence[Snapshot], rows: Sequence[Snapshot]) -> np.ndarray:
    """The rules' score turned into a probability: the escalation rate per score seen in the
    calibration window (isotonic), so the rules get a fair Brier score too."""
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(rule_scores(cal_rows), labels(cal_rows))
    return iso.predict(rule_scores(rows))


def train_and_evaluate(
    rows: Sequence[Snapshot],
    config: TrainConfig = TrainConfig(),
    in_service: Any = None,
    progress: bool = False,
    policy: RiskPolicy | None = None,
) -> TrainResult:
    """Split, fit, calibrate and evaluate; ``in_service`` (a LoadedModel) is compared too.
    ``policy``: the one the snapshots were read under (the packaged one unless given); its
    budget sets the cut-offs, and its lexicon is recorded, for a model is scored only under
    the lexicon that made its features."""
    from tqdm import tqdm

    steps = tqdm(total=4, desc="train", unit="step", disable=not progress)
    split = temporal_split(
        rows, config.horizon_days, config.test_fraction, config.calibration_fraction
    )
    if min(len(split.train), len(split.calibration), len(split.test)) == 0:
        raise TooLittleData(
            f"not enough history for a temporal split: {len(split.train)} train, "
            f"{len(split.calibration)} calibration, {len(split.test)} test snapshots over "
            f"{_span_days(rows):.0f} days.  A snapshot trains only once its "
            f"{config.horizon_days:g}-day label is known before the next window starts: give "
            f"a log of well over {_days_needed(config):.0f} days, or a shorter --horizon"
        )
    y_train, y_cal = _labels(rows, split.train), _labels(rows, split.calibration)
    steps.set_postfix_str("fit")
    began = time.perf_counter()
    model = fit_calibrated(
        _features(rows, split.train), y_train, _features(rows, split.calibration), y_cal, config
    )
    fit_seconds = time.perf_counter() - began
    steps.update(2)
    steps.set_postfix_str("evaluate")
    test_rows = take(rows, split.test)
    cal_rows = take(rows, split.calibration)
    X_test = features(test_rows)
    p_model = model.predict_proba(X_test)[:, 1]
    rules = rule_scores(test_rows)
    scores = {"candidate": p_model, "rules": rules}
    probabilities = {"candidate": p_model, "rules": rules_probability(cal_rows, test_rows)}
    # the model in service only on a window it was not fitted or calibrated on
    served_from = test_window_start(in_service.metadata) if in_service is not None else None
    left_out = None
    if in_service is not None:
        left_out = other_horizon(in_service, config.horizon_days)
    if left_out is None and served_from is not None:
        if timestamp(served_from) > timestamp(split.windows["test"][0]):
            left_out = (
                f"{in_service.version}'s own test window starts {str(served_from)[:10]}, after "
                f"this one's ({split.windows['test'][0][:10]}): it may have been fitted on "
                "these cases"
            )
    if in_service is not None and left_out is None:
        p_live = in_service.model.predict_proba(X_test)[:, 1]
        scores["in_service"] = probabilities["in_service"] = p_live
    report = evaluate_scorers(test_rows, scores, probabilities, config.budget)
    policy = policy or default_policy()
    # every week before the test window, so a busy season seen once is budgeted for
    before = np.concatenate([split.train, split.calibration])
    rows_before = take(rows, before)
    p_before = model.predict_proba(_features(rows, before))[:, 1]
    steps.set_postfix_str("red evidence")
    folds = policy.red_evidence.folds
    crossed = cross_fitted_scores(rows, before, config, folds)
    evidence = red_evidence(rows_before, crossed, policy)
    cutoffs = choose_cutoffs(rows_before, p_before, policy, red_earned=evidence["earned"])
    report["decision"] = decision_view(test_rows, p_model, cutoffs, policy)
    report["decision"]["red_evidence"] = evidence
    report["rules"] = rule_precision(test_rows)
    steps.update(1)
    y_test = labels(test_rows)
    report["windows"] = split.windows
    report["sizes"] = {
        "train": {"snapshots": len(split.train), "escalations": int(y_train.sum())},
        "calibration": {"snapshots": len(split.calibration), "escalations": int(y_cal.sum())},
        "test": {"snapshots": len(test_rows), "escalations": int(y_test.sum())},
        "cases": n_cases(rows),
    }
    report["in_service_version"] = in_service.version if in_service is not None else None
    if left_out:
        report["in_service_left_out"] = left_out
    report["config"] = asdict(config)
    metadata = {
        "created_at": _now(),
        "label": (
            f"escalates (group event, skip-level petition or extreme act) within "
            f"{config.horizon_days:g} days after the snapshot"
        ),
        "horizon_days": config.horizon_days,
        "data_window": split.windows,
        "sizes": report["sizes"],
        "features": list(FEATURE_NAMES),
        "params": asdict(config),
        "fit_seconds": round(fit_seconds, 2),
        "level_cutoffs": cutoffs,
        "red_evidence": evidence,
        "policy_version": policy.version,
        "lexicon": policy.lexicon.fingerprint,
        "metrics": {
            name: {k: v for k, v in m.items() if k != "reliability"}
            for name, m in report["scorers"].items()
        },
    }
    steps.update(1)
    steps.close()
    return TrainResult(model, metadata, report, test_rows, scores, split)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
