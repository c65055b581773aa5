"""The story of the synthetic county: its named coefficients and its calendar.

What raises the weekly hazard of escalation and by how much, how cases are spread over
categories and townships, how fast units act and mediation works, and how messy the records
are; ``models/STORY.md`` tells the story and says where its other numbers are.  The words the
records are written with are in ``phrases.yaml`` (see ``tables.py``); the simulation that
uses both is in ``builder.py``.  If you change a number here, change it in
``models/STORY.md`` too.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

CHINA = dt.timezone(dt.timedelta(hours=8))

# Weekly escalation hazard, log-odds baseline per category (before any effect).
BASE_LOGIT: dict[str, float] = {
    "unpaid_wages": -5.8,
    "unpaid_construction": -6.0,
    "real_estate": -6.2,
    "land_expropriation": -5.9,
    "land_management": -6.0,
    "homestead": -6.1,
    "investment_loss": -6.1,
    "neighbour": -6.5,
    "family": -6.3,
    "key_person": -5.7,
}

# Share of new cases per category (in the weeks before the Spring Festival wage and
# construction-payment cases are found more often, see SEASON_INCIDENCE).
CATEGORY_SHARE: dict[str, float] = {
    "neighbour": 0.22,
    "family": 0.13,
    "homestead": 0.12,
    "unpaid_wages": 0.12,
    "land_management": 0.08,
    "unpaid_construction": 0.08,
    "land_expropriation": 0.07,
    "real_estate": 0.06,
    "key_person": 0.07,
    "investment_loss": 0.05,
}
SEASON_INCIDENCE = {"unpaid_wages": 3.0, "unpaid_construction": 1.5}

# Additive effects on the weekly log-odds.
EFFECTS: dict[str, float] = {
    "people_5_9": 0.4,
    "people_10_29": 0.8,
    "people_30_plus": 1.2,
    "amount_100k_plus": 0.3,
    "amount_1m_plus": 0.6,  # replaces amount_100k_plus
    "wages_before_spring_festival": 1.0,
    "construction_before_spring_festival": 0.5,
    "visits_1_2": 0.3,
    "visits_3_plus": 0.6,
    "prior_skip_level": 1.0,
    "threat": 1.3,
    "organising": 0.6,
    "media": 0.4,
    "petition_near_limit": 0.3,  # accepted petition, 45-60 days since received
    "petition_overdue": 0.7,  # accepted petition, more than 60 days since received
    "unit_acted": -0.5,  # the responsible unit has taken measures (mediating)
    "agreement_reached": -1.5,  # replaces unit_acted
    "agreement_broken": 0.5,  # the other side went back on an agreement
}
TEMPER_SD = 0.7  # hidden per-case temper: N(0, 0.7) on the log-odds, never recorded

TOWNSHIP_EFFECT: dict[str, float] = {
    "城关镇": 0.20,
    "周庄镇": 0.00,
    "闹店镇": 0.10,
    "石桥镇": -0.10,
    "商酒务镇": 0.15,
    "大营镇": 0.25,
    "张八桥镇": -0.20,
    "杨庄镇": 0.00,
    "赵庄镇": -0.10,
    "前营乡": -0.25,
    "李庄乡": 0.05,
    "肖旗乡": -0.15,
}
TOWNSHIP_CODE: dict[str, str] = {
    "城关镇": "CG",
    "周庄镇": "ZZ",
    "闹店镇": "ND",
    "石桥镇": "SQ",
    "商酒务镇": "SJW",
    "大营镇": "DY",
    "张八桥镇": "ZBQ",
    "杨庄镇": "YZ",
    "赵庄镇": "ZHZ",
    "前营乡": "QY",
    "李庄乡": "LZ",
    "肖旗乡": "XQ",
}
TOWNSHIP_SHARE: dict[str, float] = {
    "城关镇": 0.16,
    "周庄镇": 0.09,
    "闹店镇": 0.08,
    "石桥镇": 0.08,
    "商酒务镇": 0.08,
    "大营镇": 0.10,
    "张八桥镇": 0.08,
    "杨庄镇": 0.08,
    "赵庄镇": 0.07,
    "前营乡": 0.06,
    "李庄乡": 0.06,
    "肖旗乡": 0.06,
}

# Spring Festival (春节) dates; "before the festival" is the 28 days up to it.
SPRING_FESTIVAL = (
    dt.date(2025, 1, 29),
    dt.date(2026, 2, 17),
    dt.date(2027, 2, 6),
    dt.date(2028, 1, 26),
)
BEFORE_FESTIVAL_DAYS = 28
PETITION_LIMIT_DAYS = 60  # 信访工作条例: an accepted matter is handled within 60 days

# How fast the responsible unit acts: (share of cases, weekly chance of first measures).
UNIT_SPEED = {"fast": (0.3, 0.6), "normal": (0.5, 0.35), "slow": (0.2, 0.12)}

# Weekly chance that mediation reaches an agreement, per category (scaled by exp(-0.5 * temper)).
AGREE_WEEKLY = {
    "unpaid_wages": 0.20,
    "unpaid_construction": 0.12,
    "real_estate": 0.08,
    "land_expropriation": 0.08,
    "land_management": 0.14,
    "homestead": 0.16,
    "investment_loss": 0.05,
    "neighbour": 0.30,
    "family": 0.22,
    "key_person": 0.08,
}
FULFIL_WEEKLY = 0.4  # agreement carried out (paid, signed) -> resolved
BREAK_WEEKLY = 0.05  # agreement broken -> back to mediating
WITHDRAW_WEEKLY = 0.01
PROGRESS_WEEKLY = 0.15  # a routine "still mediating" follow-up

# The mess.
P_DUPLICATE = 0.03  # a record posted twice
P_CORRECTION = 0.05  # a case gets a late correction record
P_TYPO = 0.08  # a record's text has a wrong character
P_NULL_INSTEAD_OF_MISSING = 0.3  # a missing field is sent as null rather than left out

# Categories whose disputes are about money (more media attention, "paid" when resolved).
MONEY_CATEGORIES = frozenset(
    {"unpaid_wages", "unpaid_construction", "real_estate", "land_expropriation", "investment_loss"}
)

# Kinds of threat, in the order the weights below are drawn in; their wording is the
# ``threats`` table of phrases.yaml.  Relative weight of each kind per category:
THREAT_KINDS = ("beijing", "self_harm", "block", "violence")
THREAT_WEIGHTS: dict[str, dict[str, float]] = {
    "unpaid_wages": {"beijing": 2, "self_harm": 3, "block": 3, "violence": 1},
    "unpaid_construction": {"beijing": 2, "self_harm": 2, "block": 3, "violence": 1},
    "real_estate": {"beijing": 3, "self_harm": 1, "block": 3, "violence": 0.3},
    "land_expropriation": {"beijing": 3, "self_harm": 2, "block": 3, "violence": 1},
    "land_management": {"beijing": 2, "self_harm": 1, "block": 2, "violence": 2},
    "homestead": {"beijing": 1, "self_harm": 1, "block": 1, "violence": 3},
    "investment_loss": {"beijing": 4, "self_harm": 2, "block": 3, "violence": 0.3},
    "neighbour": {"beijing": 0.5, "self_harm": 1, "block": 0.5, "violence": 3},
    "family": {"beijing": 0.5, "self_harm": 3, "block": 0.2, "violence": 3},
    "key_person": {"beijing": 4, "self_harm": 2, "block": 1, "violence": 2},
}


@functools.lru_cache(maxsize=4096)
def before_spring_festival(day: dt.date) -> bool:
    """Whether a day falls in the 28 days before a Spring Festival (2025-2028)."""
    for festival in SPRING_FESTIVAL:
        if 0 < (festival - day).days <= BEFORE_FESTIVAL_DAYS:
            return True
    return False


# ---- the two stories --------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """What a county is generated from: its coefficients, its interactions, its noise and the
    phrasebook its records are written with.

    ``main`` is the story above (training and demo data).  ``other`` is written apart from it
    and from the rules' lexicon, to evaluate on data neither was shaped on (``models/STORY.md``,
    "The other county").
    """

    name: str
    phrases_file: str  # beside this file
    effects: Mapping[str, float]
    base_shift: float = 0.0  # added to every category's BASE_LOGIT
    interactions: Mapping[str, float] = field(default_factory=dict)
    temper_sd: float = TEMPER_SD
    p_typo: float = P_TYPO
    drop_scale: float = 1.0  # multiplies the chance that an optional field is left out


MAIN = Story("main", "phrases.yaml", EFFECTS)
OTHER = Story(
    "other",
    "phrases_other.yaml",
    effects={
        **EFFECTS,
        "people_5_9": 0.2,
        "people_10_29": 0.5,
        "people_30_plus": 0.9,
        "amount_100k_plus": 0.5,
        "amount_1m_plus": 0.9,
        "wages_before_spring_festival": 1.4,
        "construction_before_spring_festival": 0.9,
        "visits_1_2": 0.2,
        "visits_3_plus": 0.8,
        "prior_skip_level": 0.7,
        "threat": 0.9,
        "organising": 0.9,
        "media": 0.6,
        "petition_near_limit": 0.5,
        "petition_overdue": 1.0,
        "unit_acted": -0.3,
        "agreement_reached": -1.2,
        "agreement_broken": 0.9,
    },
    base_shift=-0.1,
    interactions={
        "threat_unanswered": 0.7,  # a threat while the unit has done nothing yet
        "organising_many": 0.5,  # organising among ten or more people
        "media_big_money": 0.4,  # media with 100,000 yuan or more at stake
        "overdue_repeat_visits": 0.5,  # an overdue petition that has seen two or more visits
    },
    temper_sd=1.0,
    p_typo=0.15,
    drop_scale=1.5,
)
STORIES: dict[str, Story] = {s.name: s for s in (MAIN, OTHER)}
