"""Levels set against what the duty desk can handle, and the decision as the desk lives it.

* ``choose_cutoffs``: on the calibration window, the probability cut-offs for red and orange
  such that, with the cases the rules already raise, red and red + orange stay within the
  policy's weekly budget (scaled from its ``open_cases`` to the county's open cases: snapshots
  are one per open case per week, so the budget is a share of snapshots);
* ``decision_view``: per level, the cases per week, precision and recall, whether each higher
  level has a higher observed escalation rate, and in how many weeks the budget held;
* ``red_evidence``: whether the model's red band earns its place above orange (out-of-fold
  scores, whole cases resampled); if not, the model sets no red cut-off and red comes only from
  the rules the policy lets raise it;
* ``rule_precision``: how often each rule's cases escalated, so the policy can say which rules
  earn the right to raise a level.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from domain.risk.policy import RiskPolicy
from domain.risk.rules import LEVELS, RANK
from models.dataset import Snapshot
from models.snapshot_table import case_codes, labels, rule_code_lists, rule_levels, weeks

Cutoffs = dict[str, float | None]  # red / orange / yellow; None: the model never gives it


def levels_of(
    probs: Sequence[float], rule_levels: Sequence[str | None], cutoffs: Cutoffs
) -> list[str]:
    """The level of each snapshot: its probability's level, raised by its rules."""
    out = []
    for p, floor in zip(probs, rule_levels, strict=True):
        level = next(
            (n for n in ("red", "orange", "yellow") if cutoffs[n] is not None and p >= cutoffs[n]),
            "blue",
        )
        if floor is not None and RANK[floor] < RANK[level]:
            level = floor
        out.append(level)
    return out


def _cut(probs: np.ndarray, forced: np.ndarray, weeks: np.ndarray, share: float) -> float:
    """The lowest cut-off at which, in every week, the rows at or above it together with the
    forced rows number at most ``share`` of that week's rows (rounded up)."""
    codes, week_idx = np.unique(weeks, return_inverse=True)
    sizes = np.bincount(week_idx, minlength=len(codes))
    room = np.ceil(share * sizes) - np.bincount(week_idx, weights=forced, minlength=len(codes))
    if (room < 0).any():
        return 1.0  # the rules alone fill the budget
    candidates = np.unique(probs[~forced])[::-1]  # high to low: lower cut-offs admit more

    def fits(cut: float) -> bool:
        over = (~forced) & (probs >= cut)
        return bool((np.bincount(week_idx, weights=over, minlength=len(codes)) <= room).all())

    lo, hi = 0, len(candidates) - 1  # find the last candidate that still fits
    if hi < 0 or not fits(candidates[0]):
        return 1.0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(candidates[mid]):
            lo = mid
        else:
            hi = mid - 1
    return float(candidates[lo])


def _week_bands(weeks: np.ndarray, scores: np.ndarray, shares: Sequence[float]) -> np.ndarray:
    """Per week, the band of each row when the week's rows are ranked by score and cut at the
    given cumulative shares (rounded up): 0 for the top share, 1 for the next, ...;
    ``len(shares)`` for the rest."""
    band = np.full(len(scores), len(shares))
    for week in np.unique(weeks):
        rows = np.flatnonzero(weeks == week)
        ranked = rows[np.argsort(-scores[rows], kind="stable")]
        ends = [int(np.ceil(share * len(rows))) for share in shares]
        for b, (start, end) in enumerate(zip([0, *ends], ends, strict=False)):
            band[ranked[start:end]] = b
    return band


def red_evidence(
    rows: Sequence[Snapshot], scores: np.ndarray, policy: RiskPolicy
) -> dict[str, Any]:
    """Does a red band earn its place above orange?

    ``scores`` rank the snapshots (cross-fitted: from models that did not see their case).  Each
    week, the top share of the red budget is the red band and the rest of the red + orange
    budget the orange band.  Whole cases are resampled (a case's weekly snapshots are not
    independent) to find how often the red band escalated more often than the orange one.
    """
    cap, rule = policy.capacity, policy.red_evidence
    share = cap.headroom / cap.open_cases
    band = _week_bands(
        weeks(rows), np.asarray(scores), (cap.red_per_week * share, cap.red_orange_per_week * share)
    )
    y = labels(rows).astype(float)
    _, case = np.unique(case_codes(rows), return_inverse=True)
    n_cases = int(case.max()) + 1 if len(rows) else 0
    escalated = np.zeros((n_cases, 2))
    seen = np.zeros((n_cases, 2))
    for b in (0, 1):
        in_band = band == b
        escalated[:, b] = np.bincount(case[in_band], weights=y[in_band], minlength=n_cases)
        seen[:, b] = np.bincount(case[in_band], minlength=n_cases)
    rate = escalated.sum(0) / np.maximum(seen.sum(0), 1)
    # each resample draws n_cases cases with replacement: a weight per case.  Only the cases
    # seen in a band count, so the draws are counted for them and for "any other case" as one
    # (the same distribution of weights, without a resamples x all-cases matrix)
    banded = np.flatnonzero(seen.sum(1) > 0)
    rng = np.random.default_rng(0)
    p = np.full(len(banded) + 1, 1 / max(n_cases, 1))
    p[-1] = max(0.0, 1.0 - p[:-1].sum())
    at_once = max(1, 20_000_000 // len(p))
    drawn = []
    for start in range(0, rule.resamples, at_once):
        weights = rng.multinomial(n_cases, p, size=min(at_once, rule.resamples - start))[:, :-1]
        drawn.append((weights @ escalated[banded]) / np.maximum(weights @ seen[banded], 1))
    drawn_rate = np.concatenate(drawn) if drawn else np.zeros((0, 2))
    confidence = float((drawn_rate[:, 0] > drawn_rate[:, 1]).mean()) if n_cases else 0.0
    red_cases = int((seen[:, 0] > 0).sum())
    return {
        "red_rate": round(float(rate[0]), 4),
        "orange_rate": round(float(rate[1]), 4),
        "red_snapshots": int(seen[:, 0].sum()),
        "red_cases": red_cases,
        "confidence": round(confidence, 3),
        "needed": {"confidence": rule.confidence, "min_cases": rule.min_cases},
        "earned": bool(confidence >= rule.confidence and red_cases >= rule.min_cases),
    }


def choose_cutoffs(
    rows: Sequence[Snapshot], probs: np.ndarray, policy: RiskPolicy, red_earned: bool = True
) -> Cutoffs:
    """Cut-offs within the weekly budget; without ``red_earned`` the model sets no red."""
    cap = policy.capacity
    floors = rule_levels(rows)
    week = weeks(rows)
    share = cap.headroom / cap.open_cases
    red = _cut(probs, floors == "red", week, cap.red_per_week * share)
    orange = _cut(
        probs, (floors == "red") | (floors == "orange"), week, cap.red_orange_per_week * share
    )
    orange = min(orange, red)
    yellow = min(policy.levels["yellow"], orange / 2)
    return {
        "red": round(red, 6) if red_earned else None,
        "orange": round(orange, 6),
        "yellow": round(yellow, 6),
    }


def decision_view(
    rows: Sequence[Snapshot], probs: np.ndarray, cutoffs: Cutoffs, policy: RiskPolicy
) -> dict[str, Any]:
    """The levels as the desk would have lived them on these snapshots."""
    levels = levels_of(probs.tolist(), rule_levels(rows).tolist(), cutoffs)
    return {"cutoffs": cutoffs, **level_view(rows, levels, policy)}


def level_view(
    rows: Sequence[Snapshot], levels: Sequence[str], policy: RiskPolicy
) -> dict[str, Any]:
    """Per level: cases per week, precision and recall; whether higher levels escalate more
    often; in how many weeks the desk's budget held."""
    y = labels(rows)
    per_week: dict[Any, Counter] = defaultdict(Counter)
    by_rules: Counter = Counter()  # per week, the cases the rules alone raise to an alert
    floors = rule_levels(rows).tolist()
    for w, level, floor in zip(weeks(rows).tolist(), levels, floors, strict=True):
        per_week[w][level] += 1
        by_rules[w] += floor in ("red", "orange")
    n_weeks = max(len(per_week), 1)
    positives = max(int(y.sum()), 1)
    out: dict[str, Any] = {"weeks": len(per_week), "levels": {}}
    level_array = np.array(levels, dtype=object)
    for level in LEVELS:
        mask = level_array == level if len(levels) else np.zeros(0, dtype=bool)
        counts = [per_week[w][level] for w in per_week]
        out["levels"][level] = {
            "per_week": round(float(mask.sum()) / n_weeks, 1),
            "max_per_week": int(max(counts, default=0)),
            "precision": round(float(y[mask].mean()), 4) if mask.any() else None,
            "recall": round(float(y[mask].sum()) / positives, 4),
        }
    rates = [
        out["levels"][lv]["precision"]
        for lv in LEVELS
        if out["levels"][lv]["precision"] is not None
    ]
    out["monotone"] = all(a > b for a, b in zip(rates, rates[1:], strict=False))
    cap = policy.capacity
    kept = rules_over = 0
    for w, counts in per_week.items():
        open_cases = sum(counts.values())
        red_budget = cap.red_per_week * open_cases / cap.open_cases
        ro_budget = cap.red_orange_per_week * open_cases / cap.open_cases
        kept += counts["red"] <= np.ceil(red_budget) and counts["red"] + counts[
            "orange"
        ] <= np.ceil(ro_budget)
        rules_over += by_rules[w] > np.ceil(ro_budget)
    out["budget"] = {
        "red_per_week": cap.red_per_week,
        "red_orange_per_week": cap.red_orange_per_week,
        "for_open_cases": cap.open_cases,
        "open_cases_per_week": round(len(rows) / n_weeks, 1),
        "weeks_kept": int(kept),
        # weeks in which the rules alone raised more cases to orange or red than it allows
        "weeks_over_by_rules": int(rules_over),
        "by_rules_per_week": round(sum(by_rules.values()) / n_weeks, 1),
    }
    return out


def rule_precision(rows: Sequence[Snapshot]) -> dict[str, dict[str, Any]]:
    """Per rule: how many snapshots it fired on, and how many of them escalated."""
    y = labels(rows)
    together: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])  # fired, escalated
    for codes, label in zip(rule_code_lists(rows), y.tolist(), strict=True):
        seen = together[codes]
        seen[0] += 1
        seen[1] += label
    fired: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for codes, (n, escalated) in together.items():
        for code in set(codes):
            fired[code][0] += n
            fired[code][1] += escalated
    base = float(y.mean()) if len(y) else 0.0
    return {
        code: {
            "fired": n,
            "precision": round(escalated / n, 4),
            "lift": round(escalated / n / base, 2) if base else None,
        }
        for code, (n, escalated) in sorted(fired.items())
    }
