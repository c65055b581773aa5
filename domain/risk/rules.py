"""Rules that never wait for a model: statutory deadlines, group size, explicit threats.

Pure functions of a case state as of a point in time (the same records ``domain.risk.features``
uses).  ``rule_hits`` says which rules fire and at what level of the four-colour scale;
``rule_score`` orders cases by them and is the rules-only baseline the model is compared with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from domain.case import CaseState
from domain.risk.features import (
    PETITION_LIMIT_DAYS,
    PETITION_WARN_DAYS,
    case_features,
    full_text,
    known_records,
)
from domain.risk.lexicon import EXPLICIT_THREATS, hits

GROUP_SIZE = 5  # 群体性事件: five or more people
LARGE_GROUP_SIZE = 50
LEVEL_WEIGHT = {"red": 8.0, "orange": 4.0, "yellow": 2.0, "blue": 1.0}
LEVELS = ("red", "orange", "yellow", "blue")


@dataclass(frozen=True)
class RuleHit:
    code: str
    level: str  # red | orange | yellow | blue
    zh: str
    en: str

    def text(self) -> str:
        return f"{self.zh} / {self.en}"


def hits_from_features(f: dict[str, Any], full_text: str | None = None) -> list[RuleHit]:
    """The rules that fire for a feature dict made by ``domain.risk.features.case_features``.

    ``full_text`` is every known record's text (the feature ``text`` keeps only the latest
    characters); without it the feature text is searched for threats.
    """
    out: list[RuleHit] = []
    threats = hits(f.get("text", "") if full_text is None else full_text, EXPLICIT_THREATS)
    if threats:
        words = "、".join(threats[:3])
        out.append(
            RuleHit("explicit_threat", "red", f"明确扬言（{words}）", f"explicit threat ({words})")
        )
    people = int(f.get("people_max", 0))
    if people >= LARGE_GROUP_SIZE:
        out.append(
            RuleHit("large_group", "red", f"涉及人数{people}人", f"{people} people involved")
        )
    elif people >= GROUP_SIZE:
        out.append(
            RuleHit(
                "group_size",
                "orange",
                f"涉及人数达{people}人（≥5人）",
                f"{people} people involved (5 or more)",
            )
        )
    if f.get("petition_overdue"):
        days = int(f["petition_days"])
        out.append(
            RuleHit(
                "petition_overdue",
                "red",
                f"信访事项已受理{days}天，超过{PETITION_LIMIT_DAYS}天办理时限",
                f"petition open {days} days, past the {PETITION_LIMIT_DAYS}-day limit",
            )
        )
    elif f.get("petition_due_soon"):
        left = int(PETITION_LIMIT_DAYS - f["petition_days"])
        out.append(
            RuleHit(
                "petition_due_soon",
                "yellow",
                f"信访办理时限仅剩{left}天（≤{PETITION_WARN_DAYS}天）",
                f"{left} days left of the petition time limit",
            )
        )
    skip = int(f.get("prior_skip_level", 0))
    if skip > 0:
        out.append(
            RuleHit(
                "prior_skip_level",
                "orange",
                f"曾越级上访{skip}次",
                f"{skip} earlier skip-level petition(s)",
            )
        )
    visits = int(f.get("prior_visits", 0))
    if visits >= 3:
        out.append(
            RuleHit("repeat_visits", "yellow", f"此前上访{visits}次", f"{visits} earlier visits")
        )
    return out


def rule_hits(state: CaseState, as_of: dt.datetime | str) -> list[RuleHit]:
    """The rules that fire for a case as of ``as_of``."""
    records = known_records(state, as_of)
    return hits_from_features(case_features(state, as_of), full_text(records))


def score_hits(found: list[RuleHit]) -> float:
    """An ordering score: the sum of the level weights of the rules that fire."""
    return float(sum(LEVEL_WEIGHT[h.level] for h in found))


def level_of(found: list[RuleHit]) -> str | None:
    """The highest level among the rules that fire (None when none fires)."""
    for level in LEVELS:
        if any(h.level == level for h in found):
            return level
    return None


def rule_score(state: CaseState, as_of: dt.datetime | str) -> float:
    """The rules-only baseline score of a case as of ``as_of``."""
    return score_hits(rule_hits(state, as_of))
