"""The risk policy: levels, capacity, re-assessment, statutory limits, deadline and other
rules, and the lexicon, read from one versioned YAML file (``domain/risk/policy.yaml`` unless
the setting ``EWS_RISK_POLICY`` names another).

``load_policy(path)`` checks every key and value and raises ``PolicyError`` naming the file and
line of the first problem; what it returns is plain frozen data the rest of the domain reads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from domain.config import LEVELS, ConfigError, Node, compose, read
from domain.risk.lexicon import SIGNAL_GROUPS, Lexicon, PhraseGroup

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")

RULE_CODES = ("explicit_threat", "large_group", "group_size", "prior_skip_level", "repeat_visits")
DATE_FIELDS = ("petition_received_on", "found_at")
STATUSES = ("new", "mediating", "agreed", "escalated", "resolved", "withdrawn")


class PolicyError(ConfigError):
    """The policy file is not valid; the message names the file and line."""


@dataclass(frozen=True)
class Capacity:
    open_cases: int
    red_per_week: int
    red_orange_per_week: int
    headroom: float = 1.0  # share of the budget the cut-offs aim at


@dataclass(frozen=True)
class RedEvidence:
    """What the model must show before it may set a red cut-off (see policy.yaml)."""

    folds: int = 4
    resamples: int = 1000
    min_cases: int = 30
    confidence: float = 0.95


@dataclass(frozen=True)
class Reassess:
    every_hours: float
    at_hour: int
    unchanged_band: float


@dataclass(frozen=True)
class DeadlineRule:
    code: str
    zh: str
    en: str
    starts: str  # a record field holding the date the clock starts
    limit: str  # a key of statutory_limits
    limit_days: int
    while_status: tuple[str, ...]
    raises_approaching: str | None
    raises_overdue: str | None
    alone_approaching: str | None = None  # the levels when no model is in service
    alone_overdue: str | None = None


@dataclass(frozen=True)
class RuleSetting:
    raises: str | None  # the level it sets beside a model (None: a reason only)
    alone: str | None  # the level it sets when no model is in service (rules alone)
    params: dict[str, int]


@dataclass(frozen=True)
class RiskPolicy:
    version: str
    levels: dict[str, float]  # red / orange / yellow -> lowest probability of that level
    capacity: Capacity
    red_evidence: RedEvidence
    reassess: Reassess
    statutory_limits: dict[str, int]
    approaching_days: int
    deadlines: tuple[DeadlineRule, ...]
    rules: dict[str, RuleSetting]
    lexicon: Lexicon
    source: str = "policy.yaml"

    def rule(self, code: str) -> RuleSetting:
        return self.rules[code]


def parse_policy(text: str, source: str = "policy.yaml") -> RiskPolicy:
    top = compose(text, source, "policy", PolicyError).require(
        (
            "version",
            "levels",
            "capacity",
            "red_evidence",
            "reassess",
            "statutory_limits",
            "deadlines",
            "rules",
            "lexicon",
        )
    )
    limits_node = top["statutory_limits"]
    limits = {k: int(v.number(1, 3650, True)) for k, v in limits_node.mapping().items()}
    version = str(top["version"].scalar())
    if not 0 < len(version) <= 32:  # every assessment carries it (the read model keeps 32)
        raise top["version"].fail("expected a version of 1 to 32 characters")
    return RiskPolicy(
        version=version,
        levels=_levels(top["levels"]),
        capacity=_capacity(top["capacity"]),
        red_evidence=_red_evidence(top["red_evidence"]),
        reassess=_reassess(top["reassess"]),
        statutory_limits=limits,
        approaching_days=int(
            top["deadlines"]
            .mapping(("approaching_days", "rules"))["approaching_days"]
            .number(0, 365, True)
        ),
        deadlines=_deadlines(top["deadlines"], limits),
        rules=_rules(top["rules"]),
        lexicon=_lexicon(top["lexicon"]),
        source=source,
    )


def _levels(node: Node) -> dict[str, float]:
    m = node.require(LEVELS[:3])
    levels = {k: float(m[k].number(0.0, 1.0)) for k in LEVELS[:3]}
    if not levels["red"] > levels["orange"] > levels["yellow"]:
        raise node.fail("cut-offs must fall from red to orange to yellow")
    return levels


def _capacity(node: Node) -> Capacity:
    m = node.require(("open_cases", "red_per_week", "red_orange_per_week", "headroom"))
    cap = Capacity(
        *(
            int(m[k].number(1, 10**7, True))
            for k in ("open_cases", "red_per_week", "red_orange_per_week")
        ),
        headroom=float(m["headroom"].number(0.05, 1.0)),
    )
    if cap.red_orange_per_week < cap.red_per_week:
        raise node.fail("red_orange_per_week must be at least red_per_week")
    return cap


def _red_evidence(node: Node) -> RedEvidence:
    m = node.require(("folds", "resamples", "min_cases", "confidence"))
    return RedEvidence(
        folds=int(m["folds"].number(2, 20, True)),
        resamples=int(m["resamples"].number(100, 100_000, True)),
        min_cases=int(m["min_cases"].number(1, 10**6, True)),
        confidence=float(m["confidence"].number(0.5, 1.0)),
    )


def _reassess(node: Node) -> Reassess:
    m = node.require(("every_hours", "at_hour", "unchanged_band"))
    return Reassess(
        float(m["every_hours"].number(1, 24 * 30)),
        int(m["at_hour"].number(0, 23, True)),
        float(m["unchanged_band"].number(0.0, 1.0)),
    )


def _deadlines(node: Node, limits: dict[str, int]) -> tuple[DeadlineRule, ...]:
    out = []
    keys = ("code", "zh", "en", "starts", "limit", "while_status", "raises")
    for item in node.mapping()["rules"].items():
        m = item.require(keys, optional=("alone",))
        if m["starts"].text() not in DATE_FIELDS:
            raise m["starts"].fail(f"expected one of {', '.join(DATE_FIELDS)}")
        if m["limit"].text() not in limits:
            raise m["limit"].fail(f"not a statutory limit (have {', '.join(limits)})")
        statuses = m["while_status"].words()
        for i, s in enumerate(statuses):
            if s not in STATUSES:
                raise m["while_status"].items()[i].fail(f"unknown status {s!r}")
        raises = m["raises"].require(("approaching", "overdue"))
        alone = m["alone"].require(("approaching", "overdue")) if "alone" in m else raises
        out.append(
            DeadlineRule(
                code=m["code"].text(),
                zh=m["zh"].text(),
                en=m["en"].text(),
                starts=m["starts"].text(),
                limit=m["limit"].text(),
                limit_days=limits[m["limit"].text()],
                while_status=statuses,
                raises_approaching=raises["approaching"].level(),
                raises_overdue=raises["overdue"].level(),
                alone_approaching=alone["approaching"].level(),
                alone_overdue=alone["overdue"].level(),
            )
        )
    return tuple(out)


def _rules(node: Node) -> dict[str, RuleSetting]:
    m = node.require(RULE_CODES)
    out = {}
    for code, item in m.items():
        settings = item.mapping()
        if "raises" not in settings:
            raise item.fail("missing raises")
        params = {
            k: int(v.number(1, 100_000, True))
            for k, v in settings.items()
            if k not in ("raises", "alone")
        }
        raises = settings["raises"].level()
        alone = settings["alone"].level() if "alone" in settings else raises
        out[code] = RuleSetting(raises, alone, params)
    for code, needs in (
        ("large_group", "people"),
        ("group_size", "people"),
        ("repeat_visits", "visits"),
    ):
        if needs not in out[code].params:
            raise m[code].fail(f"missing {needs}")
    return out


# The lexicon's optional lists of words, each the ``Lexicon`` field of its name (none: empty),
# and its optional windows: (lowest, highest, the value when it is not given).
LEXICON_WORD_LISTS: tuple[str, ...] = (
    "not_negations",
    "close_negations",
    "negation_breaks",
    "failed_after",
    "not_phrases",
    "purposes_after",
    "trip_verbs",
    "scope_negations",
    "scope_nouns",
    "scope_breaks",
    "list_negations",
    "list_ends",
    "list_breaks",
    "guard_before",
    "guard_breaks",
    "past_before",
    "past_marks",
    "routine_words",
    "grievance_words",
    "group_acts",
    "ultimatum_markers",
    "ultimatum_turns",
    "ultimatum_said",
    "ultimatum_if",
    "ultimatum_acts",
    "ultimatum_not",
    "ultimatum_denied",
    "ultimatum_turn_leads",
    "ultimatum_taken_back",
    "ultimatum_defiant",
    "plan_markers",
    "plan_acts",
    "plan_petitions",
    "plan_appeals",
    "plan_together",
    "plan_lawful",
    "plan_given_up",
    "plan_authorities",
    "plan_adverbs",
    "display_things",
    "display_verbs",
    "display_grievances",
    "display_purposes",
    "display_taken_down",
    "display_complaints",
)
LEXICON_WINDOWS: dict[str, tuple[int, int, int]] = {
    "close_window": (0, 20, 1),
    "scope_window": (0, 30, 0),
    "ultimatum_window": (0, 30, 0),
    "plan_window": (1, 30, 0),
    "display_window": (1, 30, 0),
}


def _lexicon(node: Node) -> Lexicon:
    m = node.require(
        ("negation_window", "negations_before", "cancelled_after", "threats", "groups"),
        optional=(*LEXICON_WORD_LISTS, *LEXICON_WINDOWS),
    )

    def words(key: str) -> tuple[str, ...]:
        return m[key].words() if key in m else ()

    # without its partner, each of these would count more than it says: the past every phrase
    # after it, an ultimatum even where it is taken back (就不去县政府了)
    for key, partner, what in (
        ("past_before", "past_marks", "the words that say a thing was once (曾)"),
        ("ultimatum_markers", "ultimatum_taken_back", "the words that take an act back (不, 没)"),
        ("plan_markers", "plan_given_up", "the words that say a plan was given up (原, 本来)"),
        ("plan_markers", "plan_window", "how far after the word its act may stand"),
        ("display_things", "display_window", "how far before the thing its verb may stand"),
        ("display_things", "display_grievances", "the words that air a grievance (还我, 冤)"),
    ):
        if words(key) and (partner not in m if partner.endswith("window") else not words(partner)):
            raise m[key].fail(f"needs {partner} beside it: {what}")

    groups_node = m["groups"]
    groups = []
    found = groups_node.mapping()
    for code in SIGNAL_GROUPS:
        if code not in found:
            raise groups_node.fail(f"missing group {code} (the model's features need it)")
    for code, g in found.items():
        if code not in SIGNAL_GROUPS:
            raise g.fail(f"unknown group (the model knows: {', '.join(SIGNAL_GROUPS)})")
        gm = g.mapping(("zh", "en", "phrases", "raises_risk"))
        raises = gm["raises_risk"].scalar() if "raises_risk" in gm else True
        if not isinstance(raises, bool):
            raise gm["raises_risk"].fail("expected true or false")
        groups.append(
            PhraseGroup(code, gm["zh"].text(), gm["en"].text(), gm["phrases"].words(), raises)
        )
    groups.sort(key=lambda g: SIGNAL_GROUPS.index(g.code))
    windows = {
        key: int(m[key].number(low, high, True)) if key in m else default
        for key, (low, high, default) in LEXICON_WINDOWS.items()
    }
    return Lexicon(
        threats=m["threats"].words(),
        groups=tuple(groups),
        negations_before=m["negations_before"].words(),
        cancelled_after=m["cancelled_after"].words(),
        negation_window=int(m["negation_window"].number(0, 20, True)),
        **{key: words(key) for key in LEXICON_WORD_LISTS},
        **windows,
    )


def load_policy(path: str | Path | None = None) -> RiskPolicy:
    """The policy in ``path`` (the packaged default if None), checked."""
    return parse_policy(*read(path, DEFAULT_POLICY, PolicyError))


@functools.cache
def default_policy() -> RiskPolicy:
    """The packaged policy, read once on first use."""
    return load_policy(DEFAULT_POLICY)
