"""What a synthetic case is: the result, and the hidden truth while it is simulated.

:class:`SyntheticCase` is what ``generate_county`` yields.  :class:`CaseStory` is what only
the simulation knows (the true size, temper, threats ...); :func:`weekly_logit` is the model
of ``models/STORY.md``: the weekly escalation log-odds from the coefficients in ``story.py``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

from models.synthetic.draws import Draws
from models.synthetic.story import (
    BASE_LOGIT,
    MAIN,
    PETITION_LIMIT_DAYS,
    TOWNSHIP_EFFECT,
    Story,
    before_spring_festival,
)
from schemas.events import case_id_for


@dataclass(frozen=True)
class SyntheticCase:
    """One simulated case: its records as posted, and the truth about it."""

    township: str
    ref_no: str
    category: str  # true category code (a correction may fix a wrong one on earlier records)
    records: tuple[dict, ...]  # as posted, ordered by found_at; duplicates included
    escalated_at: str | None  # ISO 8601 (+08:00) of the first escalation
    escalation_kind: str | None
    hazard: float  # baseline weekly hazard: the story's features at the first record

    @property
    def case_id(self) -> str:
        return case_id_for(self.township, self.ref_no)


@dataclass
class CaseStory:
    """The hidden truth of one case while it is simulated."""

    category: str
    township: str
    village: str
    people: int
    amount: float | None
    temper: float
    threat: str | None  # kind of threat made (None: no threat yet)
    organising: bool
    media: bool
    visits: int
    skip_level: int
    petition_on: dt.date | None
    speed: float  # weekly chance the unit takes its first measures


def weekly_logit(
    s: CaseStory,
    day: dt.date,
    acted: bool,
    agreed: bool,
    broken: bool,
    story: Story = MAIN,
) -> float:
    """The story's weekly escalation log-odds (without the hidden temper)."""
    e = story.effects
    x = BASE_LOGIT[s.category] + story.base_shift + TOWNSHIP_EFFECT[s.township]
    x += _interactions(s, day, acted, agreed, story.interactions)
    if s.people >= 30:
        x += e["people_30_plus"]
    elif s.people >= 10:
        x += e["people_10_29"]
    elif s.people >= 5:
        x += e["people_5_9"]
    if s.amount is not None:
        if s.amount >= 1_000_000:
            x += e["amount_1m_plus"]
        elif s.amount >= 100_000:
            x += e["amount_100k_plus"]
    if before_spring_festival(day):
        if s.category == "unpaid_wages":
            x += e["wages_before_spring_festival"]
        elif s.category == "unpaid_construction":
            x += e["construction_before_spring_festival"]
    if s.visits >= 3:
        x += e["visits_3_plus"]
    elif s.visits >= 1:
        x += e["visits_1_2"]
    if s.skip_level:
        x += e["prior_skip_level"]
    if s.threat:
        x += e["threat"]
    if s.organising:
        x += e["organising"]
    if s.media:
        x += e["media"]
    if s.petition_on is not None and not agreed:
        open_days = (day - s.petition_on).days
        if open_days > PETITION_LIMIT_DAYS:
            x += e["petition_overdue"]
        elif open_days > PETITION_LIMIT_DAYS - 15:
            x += e["petition_near_limit"]
    if agreed:
        x += e["agreement_reached"]
    elif acted:
        x += e["unit_acted"]
    if broken:
        x += e["agreement_broken"]
    return x


def _interactions(
    s: CaseStory, day: dt.date, acted: bool, agreed: bool, terms: Mapping[str, float]
) -> float:
    """The story's interaction terms that apply to the case this week."""
    if not terms:
        return 0.0
    overdue = s.petition_on is not None and (day - s.petition_on).days > PETITION_LIMIT_DAYS
    applies = {
        "threat_unanswered": bool(s.threat) and not acted,
        "organising_many": s.organising and s.people >= 10,
        "media_big_money": s.media and (s.amount or 0) >= 100_000,
        "overdue_repeat_visits": overdue and not agreed and s.visits >= 2,
    }
    unknown = set(terms) - set(applies)
    if unknown:
        raise ValueError(f"unknown interaction terms: {sorted(unknown)}")
    return sum(w for name, w in terms.items() if applies[name])


def draw_size(d: Draws, category: str) -> tuple[int, float | None]:
    """Head count and money of a new case (money None when the case names none)."""
    median, sigma, minimum = {
        "unpaid_wages": (10, 0.9, 1),
        "unpaid_construction": (5, 0.9, 1),
        "real_estate": (25, 1.0, 3),
        "land_expropriation": (12, 1.0, 1),
        "land_management": (3, 0.8, 2),
        "homestead": (2, 0.4, 2),
        "investment_loss": (20, 1.1, 1),
        "neighbour": (2, 0.3, 2),
        "family": (2, 0.3, 2),
        "key_person": (1, 0.3, 1),
    }[category]
    people = max(minimum, min(5000, round(median * math.exp(sigma * d.normal()))))
    amount_median, amount_sigma, has_amount = {
        "unpaid_wages": (22_000 * people, 0.6, 0.9),
        "unpaid_construction": (500_000, 1.0, 0.9),
        "real_estate": (150_000 * min(people, 20), 0.8, 0.5),
        "land_expropriation": (250_000, 1.0, 0.8),
        "land_management": (40_000, 1.0, 0.4),
        "homestead": (20_000, 0.8, 0.15),
        "investment_loss": (60_000 * people, 1.0, 0.9),
        "neighbour": (3_000, 0.8, 0.1),
        "family": (80_000, 0.6, 0.4),
        "key_person": (15_000, 0.8, 0.2),
    }[category]
    amount = None
    if d.chance(has_amount):
        amount = float(round(min(1e9, amount_median * math.exp(amount_sigma * d.normal())), -2))
    return people, amount
