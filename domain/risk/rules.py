"""Rules that never wait for a model: statutory deadlines, group size, explicit threats.

Pure functions of a case state as of a point in time (the same records ``features`` uses),
driven by the risk policy: its lexicon (with negations), its thresholds, its deadline rules and
which level each rule may raise a case to (``RuleHit.level``; None: the rule is a reason shown
to the duty officer and a feature of the model, but sets no level).  ``rule_score`` orders
cases by the rules alone: the baseline the model is compared with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from domain.case import CaseState, RecordSeen
from domain.risk.features import (
    Known,
    as_datetime,
    latest_value,
    people_for_rules,
    read_records,
    standing_max,
    status_as_of,
)
from domain.risk.policy import DeadlineRule, RiskPolicy, default_policy
from schemas.record import CHINA_TZ

LEVELS = ("red", "orange", "yellow", "blue")
RANK = {level: i for i, level in enumerate(LEVELS)}


@dataclass(frozen=True)
class RuleHit:
    code: str
    level: str | None  # the level this hit raises the case to (policy); None: a reason only
    zh: str
    en: str
    weight: float = 1.0  # ordering weight in the rules-only baseline
    deadline: dict[str, Any] | None = None  # rule, limit_days, starts_on, due_on, days_left

    def text(self) -> str:
        return f"{self.zh} / {self.en}"

    def to_dict(self) -> dict[str, Any]:
        d = {"code": self.code, "level": self.level, "zh": self.zh, "en": self.en}
        if self.deadline is not None:
            d["deadline"] = self.deadline
        return d


def evaluate_rules(
    state: CaseState,
    as_of: dt.datetime | str,
    policy: RiskPolicy | None = None,
    alone: bool = False,
    known: Known | None = None,
) -> list[RuleHit]:
    """The rules that fire for a case as of ``as_of``: deadlines first, then the others.
    ``alone``: no model is in service, so the levels are the policy's ``alone`` ones.
    ``known``: the records ``read_records`` read for this time (read here if not given).
    """
    policy = policy or default_policy()
    pick = (lambda r: r.alone) if alone else (lambda r: r.raises)
    now = as_datetime(as_of)
    known = known if known is not None else read_records(state, now, policy)
    records = list(known.records)
    clocks = known.memo.get(("clocks", id(policy)))
    if clocks is None:
        clocks = known.memo[("clocks", id(policy))] = running_clocks(records, policy)
    out = deadline_hits(records, now.astimezone(CHINA_TZ).date(), policy, alone, clocks)
    recent_days = policy.rule("explicit_threat").params.get("within_days", 36500)
    threats = known.threats_after(now.timestamp() - recent_days * 86400, policy.lexicon)
    out.extend(_threat_hits(threats, policy, pick))
    key = ("other rules", id(policy), alone)  # they read the records only
    if key not in known.memo:
        # 30余人 in a record with no field; not 六十余户已全部领取补偿款
        people, in_words = people_for_rules(records, policy.lexicon)
        skip, visits = (standing_max(records, n) for n in ("prior_skip_level", "prior_visits"))
        known.memo[key] = _other_hits(people, in_words, skip, visits, policy, pick)
    out.extend(known.memo[key])
    return out


Pick = Any  # RuleSetting -> the level it sets in this mode


def _threat_hits(threats: list[str], policy: RiskPolicy, pick: Pick) -> list[RuleHit]:
    if not threats:
        return []
    words = "、".join(threats[:3])
    raises = pick(policy.rule("explicit_threat"))
    return [
        RuleHit("explicit_threat", raises, f"明确扬言（{words}）", f"explicit threat ({words})", 8)
    ]


def _other_hits(
    people: int, in_words: bool, skip: int, visits: int, policy: RiskPolicy, pick: Pick
) -> list[RuleHit]:
    """``in_words``: the head count is a record's text's (记录称), not its field's.  The
    counts are those no correction has replaced (the model's inputs take every record's: a
    model input changes only with a retrained model and its evidence, see the model card)."""
    out = []
    large, group = policy.rule("large_group"), policy.rule("group_size")
    zh = f"记录称约{people}人" if in_words else f"涉及人数{people}人"
    en = f"about {people} people, as the record says" if in_words else f"{people} people involved"
    if people >= large.params["people"]:
        out.append(RuleHit("large_group", pick(large), zh, en, 8))
    elif people >= group.params["people"]:
        n = group.params["people"]
        zh = zh if in_words else f"涉及人数达{people}人"
        out.append(RuleHit("group_size", pick(group), f"{zh}（≥{n}人）", f"{en} ({n} or more)", 4))
    if skip > 0:
        out.append(
            RuleHit(
                "prior_skip_level",
                pick(policy.rule("prior_skip_level")),
                f"曾越级上访{skip}次",
                f"{skip} earlier skip-level petition(s)",
                4,
            )
        )
    repeat = policy.rule("repeat_visits")
    if visits >= repeat.params["visits"]:
        out.append(
            RuleHit(
                "repeat_visits", pick(repeat), f"此前上访{visits}次", f"{visits} earlier visits", 2
            )
        )
    return out


def running_clocks(
    records: list[RecordSeen], policy: RiskPolicy
) -> list[tuple[DeadlineRule, dt.date]]:
    """The statutory clocks the records start (a petition's), with the day each started."""
    if not records or not latest_value(records, "is_petition"):
        return []
    status = status_as_of(records)
    out = []
    for rule in policy.deadlines:
        start = _start_date(records, rule) if status in rule.while_status else None
        if start is not None:
            out.append((rule, start))
    return out


def deadline_hits(
    records: list[RecordSeen],
    today: dt.date,
    policy: RiskPolicy,
    alone: bool = False,
    clocks: list[tuple[DeadlineRule, dt.date]] | None = None,
) -> list[RuleHit]:
    """Statutory clocks that are close to their limit or past it on ``today`` (China time).
    ``clocks``: what ``running_clocks`` gave for these records."""
    out = []
    for rule, start in clocks if clocks is not None else running_clocks(records, policy):
        due = start + dt.timedelta(days=rule.limit_days)
        left = (due - today).days
        if left < 0:
            level = rule.alone_overdue if alone else rule.raises_overdue
            out.append(_deadline_hit(rule, start, due, left, "overdue", level))
        elif left <= policy.approaching_days:
            level = rule.alone_approaching if alone else rule.raises_approaching
            out.append(_deadline_hit(rule, start, due, left, "approaching", level))
    return out


@dataclass(frozen=True)
class Clock:
    """One statutory clock of an open matter, for the time-limit map (时限图)."""

    code: str
    zh: str
    due_on: dt.date
    days_left: int  # negative: overdue


def statutory_clocks(
    starts: dict[str, str | None], status: str | None, today: dt.date, policy: RiskPolicy
) -> list[Clock]:
    """The statutory clocks running for a matter on ``today``: ``starts`` maps a record field
    (``petition_received_on``) to its date; a clock runs while the status is one it runs in."""
    out = []
    for rule in policy.deadlines:
        value = starts.get(rule.starts)
        if not value or (status or "new") not in rule.while_status:
            continue
        try:
            due = dt.date.fromisoformat(str(value)[:10]) + dt.timedelta(days=rule.limit_days)
        except ValueError:
            continue
        out.append(Clock(rule.code, rule.zh, due, (due - today).days))
    return out


def _deadline_hit(
    rule: DeadlineRule, start: dt.date, due: dt.date, left: int, kind: str, level: str | None
) -> RuleHit:
    facts = {
        "rule": rule.code,
        "limit_days": rule.limit_days,
        "starts_on": start.isoformat(),
        "due_on": due.isoformat(),
        "days_left": left,
    }
    head = f"{rule.zh}（{rule.limit_days}天，自{start.isoformat()}起）"
    if kind == "overdue":
        zh = f"{head}已于{due.isoformat()}到期，超期{-left}天"
        en = f"{rule.en} ({rule.limit_days} days from {start}) was due {due}: {-left} days overdue"
        return RuleHit(f"{rule.code}_overdue", level, zh, en, 8, facts)
    zh = f"{head}将于{due.isoformat()}到期，还剩{left}天"
    en = f"{rule.en} ({rule.limit_days} days from {start}) is due {due}: {left} days left"
    return RuleHit(f"{rule.code}_approaching", level, zh, en, 2, facts)


def _start_date(records: list[RecordSeen], rule: DeadlineRule) -> dt.date | None:
    value = latest_value(records, rule.starts)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def rule_hits(state: CaseState, as_of: dt.datetime | str) -> list[RuleHit]:
    """The rules that fire for a case as of ``as_of`` under the packaged policy."""
    return evaluate_rules(state, as_of)


def score_hits(found: list[RuleHit]) -> float:
    """An ordering score: the sum of the weights of the rules that fire."""
    return float(sum(h.weight for h in found))


def level_of(found: list[RuleHit]) -> str | None:
    """The highest level the firing rules raise a case to (None when none raises one)."""
    levels = [h.level for h in found if h.level is not None]
    return min(levels, key=RANK.__getitem__) if levels else None


def rule_score(state: CaseState, as_of: dt.datetime | str) -> float:
    """The rules-only baseline score of a case as of ``as_of``."""
    return score_hits(rule_hits(state, as_of))
