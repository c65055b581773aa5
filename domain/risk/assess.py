"""Risk decisions: from a probability and the rules that fire to a level, and from a stream of
case events and clock ticks to the ``RiskAssessed`` events a duty officer should see.

Pure, in the style of a fold: the scorer keeps one ``Watch`` per case; ``observe`` applies a
case event to it, ``decide`` turns a fresh ``Assessment`` into the new watch and the event to
emit (None when nothing a duty officer would notice changed).  ``watch_events`` and
``watch_tick`` are the scorer's two steps (state and input in, state and output out),
``ticks_between`` says which re-assessment times of the policy's schedule fall in an interval,
and ``deadline_check_between`` when the alerts' deadlines are checked between them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from domain.case import CaseState, step
from domain.risk.features import is_open_as_of, timestamp
from domain.risk.policy import Reassess, RiskPolicy
from domain.risk.rules import RANK, RuleHit
from schemas.events import CaseClosed, Envelope, RecordAppended
from schemas.record import CHINA_TZ
from schemas.risk import RiskAssessed, assessment_id


@dataclass(frozen=True)
class Factor:
    """One reason the model gave: a feature's push on the log-odds, said in words."""

    code: str
    zh: str
    en: str
    weight: float

    def text(self) -> str:
        return f"{self.zh} / {self.en}"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "zh": self.zh, "en": self.en, "weight": round(self.weight, 4)}


@dataclass(frozen=True)
class Assessment:
    """What the scorer found for one case at one time."""

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
            "rules": [r.to_dict() for r in self.rules],
            "factors": [f.to_dict() for f in self.factors],
        }


# (states, as_of per state) -> one assessment per state; the stream gets one injected
Assessor = Callable[[Sequence[CaseState], Sequence[dt.datetime]], list[Assessment]]


def level_for(
    probability: float, cutoffs: dict[str, float | None], rules: Sequence[RuleHit]
) -> str:
    """The level of a probability under the cut-offs (a level whose cut-off is None is never
    given by the probability), raised (never lowered) by the rules that the policy lets raise
    one."""
    level = next(
        (
            name
            for name in ("red", "orange", "yellow")
            if cutoffs.get(name) is not None and probability >= cutoffs[name]
        ),
        "blue",
    )
    for hit in rules:
        if hit.level is not None and RANK[hit.level] < RANK[level]:
            level = hit.level
    return level


@dataclass(frozen=True)
class Watch:
    """What the scorer keeps of one case: its state and what was last said about it."""

    case: CaseState
    level: str | None = None
    probability: float | None = None
    rule_codes: tuple[str, ...] = ()
    assessed_as_of: str | None = None  # the latest as_of assessed (case change or tick)

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case.to_dict(),
            "level": self.level,
            "probability": self.probability,
            "rule_codes": list(self.rule_codes),
            "assessed_as_of": self.assessed_as_of,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Watch:
        return cls(
            case=CaseState.from_dict(d["case"]),
            level=d.get("level"),
            probability=d.get("probability"),
            rule_codes=tuple(d.get("rule_codes", ())),
            assessed_as_of=d.get("assessed_as_of"),
        )


def observe(watch: Watch, envelope: Envelope) -> Watch:
    """A case event seen by the scorer (a repeat changes nothing)."""
    return replace(watch, case=step(watch.case, envelope))


# a model factor says the same as these rules: shown once, as the rule
SAID_BY_RULES: dict[str, frozenset[str]] = {
    "prior_skip_level": frozenset({"prior_skip_level"}),
    "prior_visits": frozenset({"repeat_visits"}),
    "people_max": frozenset({"group_size", "large_group"}),
    "people_latest": frozenset({"group_size", "large_group"}),
    "petition_days": frozenset({"handling_approaching", "handling_overdue"}),
    "petition_overdue": frozenset({"handling_overdue"}),
    "petition_due_soon": frozenset({"handling_approaching"}),
}


def reasons(found: Assessment) -> tuple[tuple[RuleHit, ...], tuple[Factor, ...]]:
    """The rules (deadlines first, as the rules give them) and the model factors that say
    something the rules do not."""
    fired = {h.code for h in found.rules}
    factors = tuple(f for f in found.factors if not SAID_BY_RULES.get(f.code, frozenset()) & fired)
    return found.rules, factors


def decide(
    watch: Watch, found: Assessment, trigger: str, policy: RiskPolicy, force: bool = False
) -> tuple[Watch, RiskAssessed | None]:
    """The watch after an assessment, and the event to emit if a duty officer would notice:
    a new level, a probability moved by more than the policy's band, or other rules firing."""
    codes = tuple(sorted(h.code for h in found.rules))
    seen = replace(watch, assessed_as_of=max(filter(None, (watch.assessed_as_of, found.as_of))))
    unchanged = (
        not force
        and watch.level == found.level
        and watch.probability is not None
        and abs(watch.probability - found.probability) <= policy.reassess.unchanged_band
        and watch.rule_codes == codes
    )
    if unchanged:
        return seen, None
    case = watch.case
    event = RiskAssessed(
        assessment_id=assessment_id(case.case_id, case.seq, found.as_of),
        case_id=case.case_id,
        case_seq=case.seq,
        as_of=found.as_of,
        trigger=trigger,
        probability=round(found.probability, 6),
        level=found.level,
        township=case.township,
        category=case.category,
        model_version=found.model_version,
        policy_version=policy.version,
        rules=tuple(h.to_dict() for h in reasons(found)[0]),
        factors=tuple(f.to_dict() for f in reasons(found)[1]),
        noticed_at=found.as_of if trigger == "time_passed" else case_received(case),
    )
    return replace(seen, level=found.level, probability=found.probability, rule_codes=codes), event


def case_moment(state: CaseState) -> dt.datetime:
    """The moment a case state describes: its latest record's receipt or finding, whichever is
    later (deterministic, so reprocessing assesses the same moment)."""
    if not state.records:
        return dt.datetime.fromtimestamp(0, tz=CHINA_TZ)
    latest = max(max(timestamp(r.recorded_at), timestamp(r.found_at)) for r in state.records)
    return dt.datetime.fromtimestamp(latest, tz=CHINA_TZ)


def case_received(state: CaseState) -> str:
    """When the case's latest record came in, China time (a record may say it was found later:
    ``case_moment``)."""
    if not state.records:
        return dt.datetime.fromtimestamp(0, tz=CHINA_TZ).isoformat()
    latest = max(timestamp(r.recorded_at) for r in state.records)
    return dt.datetime.fromtimestamp(latest, tz=CHINA_TZ).isoformat()


def closing(state: CaseState) -> Assessment:
    """The last assessment of a closed case: no risk left (an open alert is resolved by it)."""
    return Assessment(state.case_id, case_moment(state).isoformat(), 0.0, "blue", None)


def ticks_between(
    after: dt.datetime | None, until: dt.datetime, schedule: Reassess
) -> list[dt.datetime]:
    """The re-assessment times of the schedule in (after, until], China time.  With no
    ``after``, only the latest tick at or before ``until``."""
    until = until.astimezone(CHINA_TZ)
    step_ = dt.timedelta(hours=schedule.every_hours)
    base = dt.datetime(2000, 1, 1, schedule.at_hour, tzinfo=CHINA_TZ)  # the grid's origin
    anchor = base + step_ * ((until - base) // step_)
    if after is None:
        return [anchor]
    out = []
    t = anchor
    while t > after.astimezone(CHINA_TZ):
        out.append(t)
        t -= step_
    return sorted(out)


def deadline_check_between(
    after: dt.datetime | None,
    until: dt.datetime,
    every: dt.timedelta,
    reassessments: Sequence[dt.datetime] = (),
) -> dt.datetime | None:
    """The time of the one deadline check due in (after, until]: the latest time on the grid
    of ``every``, which starts again each midnight (China time), or None when there is none in
    the interval or a re-assessment tick of the same interval comes at or after it (every tick
    checks the alerts' deadlines).  One check stands for all the missed ones: a deadline passed
    at the first passed at the last."""
    until = until.astimezone(CHINA_TZ)
    midnight = until.replace(hour=0, minute=0, second=0, microsecond=0)
    latest = midnight + every * ((until - midnight) // every)
    if after is not None and latest <= after:
        return None
    if reassessments and max(reassessments) >= latest:
        return None
    return latest


def _open(state: CaseState) -> bool:
    """Open after its latest record (a closing record is followed by CaseClosed)."""
    return state.status == "open" and is_open_as_of(list(state.records))


def watch_events(
    watches: Mapping[str, Watch],
    envelopes: Iterable[Envelope],
    assess: Assessor,
    policy: RiskPolicy,
) -> tuple[dict[str, Watch], list[RiskAssessed]]:
    """A batch of case events: each folded into its case's watch; every record that leaves its
    case open is assessed as of its own moment (all in one call to ``assess``).  Returns the
    watches that changed and the events to emit, in log order.  Batching does not change the
    result: the same events give the same assessments however they are split."""
    changed: dict[str, Watch] = {}
    due: list[CaseState] = []
    for envelope in envelopes:
        cid = envelope.case_id
        before = changed.get(cid) or watches.get(cid) or Watch(CaseState(cid))
        after = observe(before, envelope)
        changed[cid] = after
        fresh = after.case.seq > before.case.seq
        if fresh and isinstance(envelope.event, RecordAppended) and _open(after.case):
            due.append(after.case)
        elif fresh and isinstance(envelope.event, CaseClosed):
            due.append(after.case)  # said in log order with the others: see closing()
    open_ones = [state for state in due if state.status != "closed"]
    assessed = iter(assess(open_ones, [case_moment(state) for state in open_ones]))
    found = [closing(state) if state.status == "closed" else next(assessed) for state in due]
    said = {cid: replace(w, case=CaseState(cid)) for cid, w in changed.items()}
    emitted = []
    for state, assessment in zip(due, found, strict=True):
        trigger = "case_closed" if state.status == "closed" else "case_changed"
        if trigger == "case_closed" and said[state.case_id].level in (None, "closed"):
            continue  # never assessed (or already closed): nothing to take back
        watch = replace(said[state.case_id], case=state)
        closed = trigger == "case_closed"  # always said: an open alert must hear of it
        judged, event = decide(watch, assessment, trigger, policy, force=closed)
        if trigger == "case_closed":
            judged = replace(judged, level="closed")  # reopened later: said afresh
        said[state.case_id] = judged
        if event is not None:
            emitted.append(event)
    return {cid: replace(said[cid], case=w.case) for cid, w in changed.items()}, emitted


def watch_tick(
    watches: Mapping[str, Watch], at: dt.datetime, assess: Assessor, policy: RiskPolicy
) -> tuple[dict[str, Watch], list[RiskAssessed]]:
    """A clock tick: every open case not yet assessed at ``at`` (and known by then) is assessed
    as of ``at``.  A tick already applied to a case changes nothing, so a tick read twice (after
    a restart) is applied once."""
    cutoff = at.timestamp()
    due = sorted(
        (cid, w)
        for cid, w in watches.items()
        if _open(w.case)
        and (w.assessed_as_of is None or timestamp(w.assessed_as_of) < cutoff)
        and case_moment(w.case).timestamp() <= cutoff
    )
    found = assess([w.case for _, w in due], [at] * len(due))
    changed: dict[str, Watch] = {}
    emitted = []
    for (cid, w), assessment in zip(due, found, strict=True):
        changed[cid], event = decide(w, assessment, "time_passed", policy)
        if event is not None:
            emitted.append(event)
    return changed, emitted
