"""Hand-written cases: realistic records with the outcome an experienced officer would expect.

``models/heldout/handwritten.yaml`` holds cases written by hand, in every category, without
looking at the synthetic county's phrasebook or the rules' lexicon.  Each case has one to four
records, the moment it is judged (``assess_at``), whether an experienced officer expects it to
escalate within 30 days, and the level the officer would set.  The records go through the same
path as posted ones (contract check, case fold), and the case is scored as of ``assess_at`` by
the model and by the rules alone.

They are few (tens, not thousands), so the figures have wide intervals; their use is to show
what the model and the rules do with wording they were not shaped on, case by case.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from domain.case import CaseState
from domain.risk.features import as_datetime
from domain.risk.policy import RiskPolicy, default_policy
from domain.risk.rules import RANK, score_hits
from models.registry import LoadedModel
from models.rolling import case_bootstrap

RANKING = ("average_precision", "roc_auc")  # the rule score is not a probability
HANDWRITTEN = Path(__file__).with_name("heldout") / "handwritten.yaml"


@dataclass(frozen=True)
class HandCase:
    id: str
    category: str
    assess_at: str
    escalates: bool
    expected_level: str
    why: str
    records: tuple[dict[str, Any], ...]


def load_handwritten(path: str | Path = HANDWRITTEN) -> list[HandCase]:
    """The hand-written cases; a case without its fields is an error naming it."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out = []
    for i, item in enumerate(data or []):
        try:
            out.append(
                HandCase(
                    id=str(item["id"]),
                    category=str(item["category"]),
                    assess_at=str(item["assess_at"]),
                    escalates=bool(item["escalates"]),
                    expected_level=str(item["expected_level"]),
                    why=str(item.get("why", "")),
                    records=tuple(dict(r) for r in item["records"]),
                )
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: case {i + 1} lacks {exc}") from exc
        if out[-1].expected_level not in RANK:
            raise ValueError(
                f"{path}: case {out[-1].id}: expected_level {out[-1].expected_level!r} is not "
                f"one of {', '.join(RANK)}"
            )
    return out


def case_state(case: HandCase) -> CaseState:
    """The case as the case writer would hold it after its records were posted."""
    from domain.case import fold
    from models.synthetic.cases import SyntheticCase
    from models.synthetic.county import case_events

    first = case.records[0]
    posted = SyntheticCase(
        township=str(first["township"]),
        ref_no=str(first["ref_no"]),
        category=case.category,
        records=tuple(_as_posted(r, case.category) for r in case.records),
        escalated_at=None,
        escalation_kind=None,
        hazard=0.0,
    )
    return fold(posted.case_id, case_events(posted))


def _as_posted(record: dict[str, Any], category: str) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if v is not None}
    out.setdefault("category", category)
    for key in ("found_at", "petition_received_on"):
        if isinstance(out.get(key), (dt.date, dt.datetime)):
            out[key] = out[key].isoformat()
    return out


def score_handwritten(
    cases: list[HandCase],
    model: LoadedModel | None,
    policy: RiskPolicy | None = None,
    resamples: int = 200,
) -> dict[str, Any]:
    """The model's and the rules' view of every hand-written case, and how they rank and level
    the cases against the officer's expectations."""
    from models.scoring import score_cases

    policy = policy or default_policy()
    states = [case_state(c) for c in cases]
    times = [as_datetime(c.assess_at) for c in cases]
    by_model = score_cases(model, states, times, policy) if model is not None else None
    by_rules = score_cases(None, states, times, policy)
    y = np.array([int(c.escalates) for c in cases])
    rule_score = np.array([score_hits(a.rules) for a in by_rules])
    scores = {"rules": rule_score}
    if by_model is not None:
        scores["model"] = np.array([a.probability for a in by_model])
    # ranking figures need no calibration: the rule score is used as it is
    ref = np.full(len(y), y.mean() if len(y) else 0.0)
    ranked = case_bootstrap(
        [c.id for c in cases],
        y,
        scores,
        ref,
        ref,
        resamples=resamples,
        pairs=[("model", "rules")] if by_model is not None else [],
    )
    rows = []
    for i, c in enumerate(cases):
        row = {
            "id": c.id,
            "category": c.category,
            "escalates": c.escalates,
            "expected_level": c.expected_level,
            "rules_level": by_rules[i].level,
            "rules": [h.code for h in by_rules[i].rules],
        }
        if by_model is not None:
            row.update(
                model_level=by_model[i].level,
                probability=round(by_model[i].probability, 4),
                factors=[f.zh for f in by_model[i].factors],
            )
        rows.append(row)
    out: dict[str, Any] = {
        "cases": len(cases),
        "escalate": int(y.sum()),
        "categories": dict(Counter(c.category for c in cases)),
        "ranking": {n: {m: ranked["scorers"][n][m] for m in RANKING} for n in scores},
        "difference": {m: ranked["differences"]["model-rules"][m] for m in RANKING}
        if by_model is not None
        else None,
        "levels": {"rules": _agreement(cases, [a.level for a in by_rules])},
        "rows": rows,
    }
    if by_model is not None:
        out["levels"]["model"] = _agreement(cases, [a.level for a in by_model])
    return out


def _agreement(cases: list[HandCase], given: list[str]) -> dict[str, Any]:
    """How the levels given compare with the officer's: the same, within one step, and the
    escalating cases left at blue (missed)."""
    same = sum(g == c.expected_level for c, g in zip(cases, given, strict=True))
    near = sum(
        abs(RANK[g] - RANK[c.expected_level]) <= 1 for c, g in zip(cases, given, strict=True)
    )
    missed = [c.id for c, g in zip(cases, given, strict=True) if c.escalates and g == "blue"]
    alarmed = [
        c.id
        for c, g in zip(cases, given, strict=True)
        if not c.escalates and g in ("red", "orange")
    ]
    n = max(len(cases), 1)
    return {
        "same_level": round(same / n, 3),
        "within_one_level": round(near / n, 3),
        "escalating_left_blue": missed,
        "calm_raised_orange_or_red": alarmed,
    }
