"""Rolling-origin evaluation: several consecutive test windows, intervals by resampling cases.

One test window says little when escalations are rare: a few dozen of them decide the figure.
Here the later part of the data is cut into ``windows`` consecutive test windows.  For each,
every scorer gets only what lay before it:

* a *refitted* scorer (the training procedure) is fitted on the snapshots whose label horizon
  ends before the window's calibration slice, and calibrated on that slice;
* a *fixed* scorer (a saved model version) is scored as it is;
* the rules' score is made a probability on the calibration slice (isotonic), as in training.

The windows' test snapshots are pooled, and every figure gets a 95% interval from resampling
whole cases (a case's weekly snapshots are not independent, so resampling rows would make the
intervals too narrow).  Differences between scorers are resampled paired: the same cases for
both, so "the model beats the rules by more than the noise" means the difference's interval
lies above zero.

Figures per scorer: average precision (AP), ROC-AUC, Brier score, the Brier skill score against
the training base rate (BSS) and against per-category base rates (BSS by category), log-loss,
and the mean predicted minus the observed rate (calibration in the large; its interval says
whether "right on average" holds within the noise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from models.dataset import DAY, Snapshot
from models.snapshot_table import (
    case_codes,
    categories,
    chain,
    labels,
    rule_levels,
    take,
    times,
)

# (train rows, calibration rows, test rows) -> a probability per test row, the level cut-offs
# the scorer would use (None: the fixed cut-offs given to ``rolling_evaluation``), and the score
# it ranks by when that is not the probability (the rules rank by their own score; None: the
# probability)
Scored = tuple[np.ndarray, dict[str, float | None] | None, np.ndarray | None]
Scorer = Callable[[Sequence[Snapshot], Sequence[Snapshot], Sequence[Snapshot]], Scored]
METRICS = (
    "average_precision",
    "roc_auc",
    "brier",
    "bss",
    "bss_category",
    "log_loss",
    "calibration_gap",  # mean predicted minus observed rate (0: right on average)
)
EPS = 1e-6


@dataclass(frozen=True)
class Window:
    """Indices of one origin's train, calibration and test snapshots."""

    train: np.ndarray
    calibration: np.ndarray
    test: np.ndarray
    test_from: float
    test_to: float


def rolling_windows(
    rows: Sequence[Snapshot],
    windows: int = 4,
    horizon_days: float = 30.0,
    tested_fraction: float = 0.5,
    calibration_fraction: float = 0.15,
    not_before: float | None = None,
) -> list[Window]:
    """``windows`` consecutive test windows over the last ``tested_fraction`` of the time
    range (starting no earlier than ``not_before``: a saved model is not tested on what it was
    fitted or calibrated on); each with the calibration slice just before it (less one
    horizon) and every earlier snapshot whose horizon ends before that slice as its train
    window."""
    if not len(rows):
        raise ValueError("no snapshots to evaluate")
    if windows < 1:
        raise ValueError("at least one window is needed")
    ts = times(rows)
    lo, hi = float(ts.min()), float(ts.max())
    span = hi - lo
    horizon = horizon_days * DAY
    if calibration_fraction * span <= horizon:
        raise ValueError(
            f"the data spans {span / DAY:.0f} days; rolling windows need a calibration slice "
            f"longer than the {horizon_days:g}-day horizon, so at least "
            f"{horizon / calibration_fraction / DAY:.0f} days of data"
        )
    first = hi - tested_fraction * span
    if not_before is not None:
        first = max(first, not_before)
    if first >= hi:
        raise ValueError("no data after the model's own test window starts")
    edges = np.linspace(first, hi, windows + 1)
    out = []
    for k in range(windows):
        start, stop = float(edges[k]), float(edges[k + 1])
        cal_from = start - calibration_fraction * span
        in_test = (ts >= start) & ((ts < stop) if k < windows - 1 else (ts <= stop))
        out.append(
            Window(
                train=np.flatnonzero(ts + horizon <= cal_from),
                calibration=np.flatnonzero((ts >= cal_from) & (ts + horizon <= start)),
                test=np.flatnonzero(in_test),
                test_from=start,
                test_to=stop,
            )
        )
    return out


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)


def figures(
    y: np.ndarray,
    p: np.ndarray,
    base: np.ndarray,
    category_base: np.ndarray,
    weight: np.ndarray | None = None,
    rank: np.ndarray | None = None,
) -> dict[str, float | None]:
    """Every figure of one scorer; ``base`` and ``category_base`` are the reference forecasts
    (the escalation rate before the window, overall and per category) for the skill scores;
    AP and ROC-AUC are of ``rank`` when given (else of ``p``)."""
    r = p if rank is None else rank
    w = np.ones(len(y)) if weight is None else weight
    total = w.sum()
    if total == 0 or len(np.unique(y[w > 0])) < 2:
        return dict.fromkeys(METRICS)
    brier = float(np.sum(w * (p - y) ** 2) / total)
    ref = float(np.sum(w * (base - y) ** 2) / total)
    ref_cat = float(np.sum(w * (category_base - y) ** 2) / total)
    return {
        "average_precision": float(average_precision_score(y, r, sample_weight=w)),
        "roc_auc": float(roc_auc_score(y, r, sample_weight=w)),
        "brier": brier,
        "bss": 1.0 - brier / ref if ref > 0 else None,
        "bss_category": 1.0 - brier / ref_cat if ref_cat > 0 else None,
        "log_loss": float(log_loss(y, _clip(p), sample_weight=w, labels=[0, 1])),
        "calibration_gap": float(np.sum(w * (p - y)) / total),
    }


def _interval(values: list[float | None]) -> list[float] | None:
    kept = [v for v in values if v is not None]
    if len(kept) < 10:
        return None
    lo, hi = np.percentile(kept, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def case_bootstrap(
    case_ids: Sequence[str],
    y: np.ndarray,
    probabilities: dict[str, np.ndarray],
    base: np.ndarray,
    category_base: np.ndarray,
    resamples: int = 200,
    seed: int = 0,
    pairs: Sequence[tuple[str, str]] = (),
    ranks: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Point figures and 95% intervals per scorer, resampling whole cases; ``pairs`` (a, b) also
    get the interval of a's figure minus b's on the same resamples; ``ranks``: the score a
    scorer ranks by, where that is not its probability."""
    ids, group = np.unique(np.asarray(case_ids), return_inverse=True)
    rng = np.random.default_rng(seed)
    ranks = ranks or {}

    def all_figures(w: np.ndarray | None) -> dict[str, dict[str, float | None]]:
        return {
            n: figures(y, p, base, category_base, w, ranks.get(n)) for n, p in probabilities.items()
        }

    point = all_figures(None)
    drawn: dict[str, dict[str, list]] = {n: {m: [] for m in METRICS} for n in probabilities}
    diffs: dict[str, dict[str, list]] = {f"{a}-{b}": {m: [] for m in METRICS} for a, b in pairs}
    for _ in range(resamples):
        counts = rng.multinomial(len(ids), np.full(len(ids), 1.0 / len(ids)))
        w = counts[group].astype(float)
        once = all_figures(w)
        for n, f in once.items():
            for m in METRICS:
                drawn[n][m].append(f[m])
        for a, b in pairs:
            for m in METRICS:
                fa, fb = once[a][m], once[b][m]
                diffs[f"{a}-{b}"][m].append(None if fa is None or fb is None else fa - fb)
    out: dict[str, Any] = {"scorers": {}, "differences": {}}
    for n in probabilities:
        out["scorers"][n] = {
            m: {
                "value": None if point[n][m] is None else round(point[n][m], 4),
                "ci95": _interval(drawn[n][m]),
            }
            for m in METRICS
        }
        out["scorers"][n]["mean_predicted"] = round(float(np.mean(probabilities[n])), 4)
    for a, b in pairs:
        out["differences"][f"{a}-{b}"] = {
            m: {
                "value": None
                if point[a][m] is None or point[b][m] is None
                else round(point[a][m] - point[b][m], 4),
                "ci95": _interval(diffs[f"{a}-{b}"][m]),
            }
            for m in METRICS
        }
    out["cases"] = len(ids)
    out["snapshots"] = len(y)
    out["escalations"] = int(np.sum(y))
    out["observed_rate"] = round(float(np.mean(y)), 4) if len(y) else None
    out["resamples"] = resamples
    return out


def base_rates(
    train: Sequence[Snapshot], test: Sequence[Snapshot]
) -> tuple[np.ndarray, np.ndarray]:
    """The reference forecasts for ``test``: the escalation rate of ``train`` (pass every
    snapshot whose label was known before the window), overall and per category (a category
    not seen before gets the overall rate)."""
    y = labels(train).astype(float)
    overall = float(y.mean()) if len(y) else 0.0
    seen = categories(train)
    rate = {c: float(y[seen == c].mean()) for c in set(seen.tolist())}
    return (
        np.full(len(test), overall),
        np.array([rate.get(c, overall) for c in categories(test).tolist()], dtype=float),
    )


def rolling_evaluation(
    rows: Sequence[Snapshot],
    scorers: dict[str, Scorer],
    windows: int = 4,
    horizon_days: float = 30.0,
    resamples: int = 200,
    pairs: Sequence[tuple[str, str]] = (),
    cutoffs: dict[str, float | None] | None = None,
    not_before: float | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Every scorer on every window; figures per window and pooled, with case-resampled
    intervals.  Also returns the pooled test rows, probabilities and levels (each scorer's own
    cut-offs per window, else ``cutoffs``) for the decision view."""
    import datetime as dt

    from tqdm import tqdm

    from models.levels import levels_of
    from schemas.record import CHINA_TZ

    def day(t: float) -> str:
        return dt.datetime.fromtimestamp(t, tz=CHINA_TZ).date().isoformat()

    per_window: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    pooled_idx: list[np.ndarray] = []
    pooled_p: dict[str, list[np.ndarray]] = {n: [] for n in scorers}
    pooled_levels: dict[str, list[str]] = {n: [] for n in scorers}
    pooled_rank: dict[str, list[np.ndarray]] = {n: [] for n in scorers}
    pooled_base: list[np.ndarray] = []
    pooled_cat: list[np.ndarray] = []
    bar = tqdm(total=windows * len(scorers), desc="rolling", unit="fit", disable=not progress)
    for k, win in enumerate(rolling_windows(rows, windows, horizon_days, not_before=not_before)):
        train, cal, test = (take(rows, i) for i in (win.train, win.calibration, win.test))
        last_day = win.test_to if k == windows - 1 else win.test_to - DAY
        span = [day(win.test_from), day(max(win.test_from, last_day))]
        y_tr, y_cal = set(labels(train).tolist()), set(labels(cal).tolist())
        if len(test) == 0 or len(y_tr) < 2 or len(y_cal) < 2:
            why = "no test snapshots" if not len(test) else "one class only before the window"
            skipped.append({"window": k + 1, "test": span, "why": why})
            bar.update(len(scorers))
            continue
        y = labels(test)
        base, cat = base_rates(chain(train, cal), test)
        entry: dict[str, Any] = {
            "window": k + 1,
            "test": span,
            "train_snapshots": len(train),
            "snapshots": len(test),
            "escalations": int(y.sum()),
            "scorers": {},
        }
        for name, scorer in scorers.items():
            p, own, rank = scorer(train, cal, test)
            p = np.asarray(p, dtype=float)
            pooled_p[name].append(p)
            pooled_rank[name].append(p if rank is None else np.asarray(rank, dtype=float))
            entry["scorers"][name] = {
                m: (None if v is None else round(v, 4))
                for m, v in figures(y, p, base, cat, rank=rank).items()
            }
            cut = own or cutoffs
            if cut is not None:
                pooled_levels[name] += levels_of(p.tolist(), rule_levels(test).tolist(), cut)
                entry["scorers"][name]["cutoffs"] = cut
            bar.update(1)
        per_window.append(entry)
        pooled_idx.append(np.asarray(win.test))
        pooled_base.append(base)
        pooled_cat.append(cat)
    bar.close()
    if not pooled_idx:
        raise ValueError("no window had both classes in its train and calibration slices")
    pooled_rows = take(rows, np.concatenate(pooled_idx))
    y = labels(pooled_rows)
    probabilities = {n: np.concatenate(v) for n, v in pooled_p.items()}
    ranks = {n: np.concatenate(v) for n, v in pooled_rank.items()}
    pooled = case_bootstrap(
        case_codes(pooled_rows),
        y,
        probabilities,
        np.concatenate(pooled_base),
        np.concatenate(pooled_cat),
        resamples=resamples,
        pairs=pairs,
        ranks=ranks,
    )
    return {
        "windows": per_window,
        "skipped": skipped,
        "asked": windows,
        "pooled": pooled,
        "rows": pooled_rows,
        "probabilities": probabilities,
        "levels": {n: v for n, v in pooled_levels.items() if len(v) == len(pooled_rows)},
    }
