"""Scoring case states: what the stream calls every time a case changes.

The stream folds ``CaseState`` objects in its faust table (stored as ``to_dict()``); it calls::

    from models.scoring import score_cases
    scores = score_cases(loaded_model, [CaseState.from_dict(d) for d in changed])

in batches (one call per batch of changed cases is far cheaper than one call per case).  Each
``CaseScore`` carries the calibrated probability of escalation within the horizon, the
four-colour level, the rules that fired, the model version and the top factors in Chinese and
English.  ``features_for`` is the same feature function the training set uses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.case import CaseState
from domain.risk.features import as_datetime, case_features, full_text, known_records, timestamp
from domain.risk.rules import RuleHit, hits_from_features, level_of
from models.explain import Factor, explain_rows
from models.registry import LoadedModel
from schemas.record import CHINA_TZ

# Probability of escalation within the horizon (30 days by default) -> level.
# The rules can raise a level, never lower it.
LEVEL_THRESHOLDS: tuple[tuple[str, float], ...] = (
    ("red", 0.30),
    ("orange", 0.15),
    ("yellow", 0.06),
    ("blue", 0.0),
)
LEVEL_ORDER = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}


@dataclass(frozen=True)
class CaseScore:
    case_id: str
    as_of: str
    probability: float
    level: str  # red | orange | yellow | blue
    model_version: str | None
    rules: tuple[RuleHit, ...] = ()
    factors: tuple[Factor, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "as_of": self.as_of,
            "probability": round(self.probability, 6),
            "level": self.level,
            "model_version": self.model_version,
            "rules": [
                {"code": r.code, "level": r.level, "zh": r.zh, "en": r.en} for r in self.rules
            ],
            "factors": [f.to_dict() for f in self.factors],
        }


def default_as_of(state: CaseState) -> dt.datetime:
    """The moment the state describes: its latest record's receipt or finding, whichever is later
    (deterministic, so a replay scores the same)."""
    if not state.records:
        return dt.datetime.fromtimestamp(0, tz=CHINA_TZ)
    latest = max(max(timestamp(r.recorded_at), timestamp(r.found_at)) for r in state.records)
    return dt.datetime.fromtimestamp(latest, tz=CHINA_TZ)


def features_for(state: CaseState, as_of: dt.datetime | str | None = None) -> dict[str, Any]:
    """The model features of a case state (``as_of`` defaults to ``default_as_of(state)``)."""
    return case_features(state, default_as_of(state) if as_of is None else as_of)


def level_for(probability: float, rule_level: str | None = None) -> str:
    level = next(name for name, cut in LEVEL_THRESHOLDS if probability >= cut)
    if rule_level is not None and LEVEL_ORDER[rule_level] < LEVEL_ORDER[level]:
        return rule_level
    return level


def score_cases(
    model: LoadedModel | None,
    states: Sequence[CaseState],
    as_of: dt.datetime | str | Sequence[dt.datetime | str] | None = None,
    explain: bool = True,
    top: int = 3,
) -> list[CaseScore]:
    """Score a batch of case states.  ``model`` None means rules only (no model in service).

    ``as_of``: one time for all, one per state, or None for each state's own latest time.
    """
    if as_of is None or isinstance(as_of, (str, dt.datetime)):
        times = [default_as_of(s) if as_of is None else as_datetime(as_of) for s in states]
    else:
        times = [as_datetime(t) for t in as_of]
    rows = [case_features(s, t) for s, t in zip(states, times, strict=True)]
    rule_hits = [
        hits_from_features(f, full_text(known_records(s, t)))
        for f, s, t in zip(rows, states, times, strict=True)
    ]
    if model is not None and rows:
        probs = model.model.predict_proba(rows)[:, 1].tolist()
        factors = explain_rows(model.model, rows, top=top) if explain else [[] for _ in rows]
    else:
        probs = [0.0] * len(rows)
        factors = [[] for _ in rows]
    out = []
    for s, t, p, hits, fs in zip(states, times, probs, rule_hits, factors, strict=True):
        out.append(
            CaseScore(
                case_id=s.case_id,
                as_of=t.isoformat(),
                probability=float(p),
                level=level_for(float(p), level_of(hits)),
                model_version=model.version if model is not None else None,
                rules=tuple(hits),
                factors=tuple(fs),
            )
        )
    return out


def score_case(
    model: LoadedModel | None, state: CaseState, as_of: dt.datetime | str | None = None
) -> CaseScore:
    """Score one case (prefer ``score_cases`` on batches)."""
    return score_cases(model, [state], as_of)[0]
