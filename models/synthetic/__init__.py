"""The synthetic county: screening records of 宝丰县 generated from a documented story.

No real petition data is public, so training and demo data come from here.  The story (what
raises the weekly hazard of escalation and by how much) is told in ``models/STORY.md``.

* ``story.py``: the story's coefficients and calendar;
* ``phrases.yaml`` (read by ``tables.py``): the words, names and places the records use;
* ``cases.py``, ``builder.py``: one case, simulated week by week;
* ``county.py``: ``generate_county``, ``posting_order``, ``iter_posting_order``,
  ``event_log``, ``case_events``;
* ``cli.py``: ``python -m models.synthetic --cases 10000 --seed 2026 --out records.jsonl``.

The phrase tables can also be imported under their upper-case names (``VILLAGES``,
``TYPOS`` ...); they are read from ``phrases.yaml`` when first asked for.
"""

from __future__ import annotations

from typing import Any

from models.synthetic.cases import SyntheticCase
from models.synthetic.cli import main
from models.synthetic.county import (
    case_events,
    event_log,
    found_at_key,
    generate_county,
    iter_posting_order,
    posting_order,
)
from models.synthetic.story import (
    AGREE_WEEKLY,
    BASE_LOGIT,
    BEFORE_FESTIVAL_DAYS,
    BREAK_WEEKLY,
    CATEGORY_SHARE,
    CHINA,
    EFFECTS,
    FULFIL_WEEKLY,
    MONEY_CATEGORIES,
    P_CORRECTION,
    P_DUPLICATE,
    P_NULL_INSTEAD_OF_MISSING,
    P_TYPO,
    PETITION_LIMIT_DAYS,
    PROGRESS_WEEKLY,
    SEASON_INCIDENCE,
    SPRING_FESTIVAL,
    TEMPER_SD,
    THREAT_KINDS,
    THREAT_WEIGHTS,
    TOWNSHIP_CODE,
    TOWNSHIP_EFFECT,
    TOWNSHIP_SHARE,
    UNIT_SPEED,
    WITHDRAW_WEEKLY,
    before_spring_festival,
)
from models.synthetic.tables import Phrases, phrases

# Upper-case names of the phrase tables -> fields of Phrases.
_PHRASE_TABLES = {
    "VILLAGES": "villages",
    "SURNAMES": "surnames",
    "GIVEN": "given_names",
    "UNITS": "units",
    "LEADER_TITLES": "leader_titles",
    "SITES": "sites",
    "PROJECTS": "projects",
    "ROADS": "roads",
    "OPENINGS": "openings",
    "THREATS": "threats",
    "ORGANISING": "organising",
    "MEDIA": "media",
    "CALM": "calm",
    "TEMPER": "temper",
    "MEASURES": "measures",
    "AGREED": "agreed",
    "RESOLVED": "resolved",
    "TYPOS": "typos",
    "CN_DIGITS": "cn_digits",
}


def __getattr__(name: str) -> Any:
    """A phrase table by its upper-case name, read from phrases.yaml on first use."""
    field = _PHRASE_TABLES.get(name)
    if field is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(phrases(), field)


__all__ = [
    "AGREE_WEEKLY",
    "BASE_LOGIT",
    "BEFORE_FESTIVAL_DAYS",
    "BREAK_WEEKLY",
    "CATEGORY_SHARE",
    "CHINA",
    "EFFECTS",
    "FULFIL_WEEKLY",
    "MONEY_CATEGORIES",
    "PETITION_LIMIT_DAYS",
    "PROGRESS_WEEKLY",
    "P_CORRECTION",
    "P_DUPLICATE",
    "P_NULL_INSTEAD_OF_MISSING",
    "P_TYPO",
    "SEASON_INCIDENCE",
    "SPRING_FESTIVAL",
    "TEMPER_SD",
    "THREAT_KINDS",
    "THREAT_WEIGHTS",
    "TOWNSHIP_CODE",
    "TOWNSHIP_EFFECT",
    "TOWNSHIP_SHARE",
    "UNIT_SPEED",
    "WITHDRAW_WEEKLY",
    "Phrases",
    "SyntheticCase",
    "before_spring_festival",
    "case_events",
    "event_log",
    "found_at_key",
    "generate_county",
    "iter_posting_order",
    "main",
    "phrases",
    "posting_order",
]
