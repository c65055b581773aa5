"""How good a scorer is on a later time window: ranking, calibration and the alert budget.

Every scorer (the candidate model, the rules-only baseline, the model in service) is judged on
the same snapshots with the same functions:

* ROC-AUC and average precision (area under the precision-recall curve);
* Brier score (mean squared error of the probability) and a reliability curve;
* precision and recall at an alert budget: each week the duty desk can look at the top N
  cases; precision = share of those that escalate within the horizon, recall = share of all
  escalations in the window that were among them;
* the same per dispute category.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from domain.risk.features import as_datetime


def week_of(as_of: str) -> str:
    """ISO week (China time) of a snapshot time, e.g. 2026-W07."""
    year, week, _ = as_datetime(as_of).isocalendar()
    return f"{year}-W{week:02d}"


def at_budget(
    y: np.ndarray, score: np.ndarray, weeks: Sequence[str], budget: int
) -> dict[str, float]:
    """Precision and recall when each week only the ``budget`` highest scores are flagged."""
    y = np.asarray(y)
    score = np.asarray(score, dtype=float)
    by_week: dict[str, list[int]] = {}
    for i, w in enumerate(weeks):
        by_week.setdefault(w, []).append(i)
    flagged = hit = 0
    for idx in by_week.values():
        idx_arr = np.array(idx)
        # stable order: score descending; ties keep input order
        top = idx_arr[np.argsort(-score[idx_arr], kind="stable")[:budget]]
        flagged += len(top)
        hit += int(y[top].sum())
    positives = int(y.sum())
    return {
        "budget_per_week": budget,
        "weeks": len(by_week),
        "flagged": flagged,
        "precision_at_budget": hit / flagged if flagged else 0.0,
        "recall_at_budget": hit / positives if positives else 0.0,
    }


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Reliability curve on quantile bins: mean predicted vs observed rate per bin."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return []
    order = np.argsort(p, kind="stable")
    out = []
    for chunk in np.array_split(order, min(bins, len(p))):
        if len(chunk):
            out.append(
                {
                    "mean_predicted": float(p[chunk].mean()),
                    "observed_rate": float(y[chunk].mean()),
                    "count": int(len(chunk)),
                }
            )
    return out


def _safe(fn: Any, y: np.ndarray, p: np.ndarray) -> float | None:
    if len(np.unique(y)) < 2:
        return None
    return float(fn(y, p))


def scorer_metrics(
    y: np.ndarray,
    score: np.ndarray,
    weeks: Sequence[str],
    budget: int,
    probability: np.ndarray | None = None,
) -> dict[str, Any]:
    """All metrics of one scorer.  ``probability`` (if the score is not one) gives Brier."""
    y = np.asarray(y)
    score = np.asarray(score, dtype=float)
    prob = score if probability is None else np.asarray(probability, dtype=float)
    out: dict[str, Any] = {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()) if len(y) else 0.0,
        "roc_auc": _safe(roc_auc_score, y, score),
        "average_precision": _safe(average_precision_score, y, score),
        "brier": float(brier_score_loss(y, prob)) if len(y) else None,
        "mean_predicted": float(prob.mean()) if len(y) else None,
    }
    out.update(at_budget(y, score, weeks, budget))
    out["reliability"] = reliability(y, prob)
    return out


def per_category(
    y: np.ndarray, score: np.ndarray, categories: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Snapshots, escalations, ROC-AUC and average precision per category."""
    y = np.asarray(y)
    score = np.asarray(score, dtype=float)
    cats = np.asarray(categories)
    out = {}
    for c in sorted(set(categories)):
        m = cats == c
        out[c] = {
            "n": int(m.sum()),
            "positives": int(y[m].sum()),
            "roc_auc": _safe(roc_auc_score, y[m], score[m]),
            "average_precision": _safe(average_precision_score, y[m], score[m]),
        }
    return out


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
