"""Alert routing: who receives a case's alert, how fast it must be handled, who is told when
nobody does.  Configuration, read from one YAML file (``domain/alerts/routing.yaml`` unless the
setting ``EWS_ROUTING`` names another) and checked with the line of any error, in the spirit
of Alertmanager's routing tree: the first route whose match fits gives the responsible units;
each unit's duty roster says who is on duty at the time; the township always receives its own
alerts and the county duty desk the levels it asks for.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import string
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from domain.config import LEVELS, ConfigError, Node, compose, read
from schemas.categories import CODES
from schemas.record import CHINA_TZ

DEFAULT_ROUTING = Path(__file__).with_name("routing.yaml")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ESCALATION_STEPS = ("unit_head", "leader_in_charge")
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
CHECK_EVERY = dt.timedelta(minutes=1)  # deadlines_checked_every, when the file does not say


class RoutingError(ConfigError):
    """The routing file is not valid; the message names the file and line."""


@dataclass(frozen=True)
class LevelRule:
    alert: bool
    acknowledge_within: dt.timedelta | None = None
    feedback_within: dt.timedelta | None = None
    repeat_after: dt.timedelta | None = None


@dataclass(frozen=True)
class Shift:
    days: frozenset[int]  # 0 = Monday
    start: int  # minutes after midnight
    end: int
    receiver: str

    def covers(self, at: dt.datetime) -> bool:
        local = at.astimezone(CHINA_TZ)
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start <= minute < self.end


@dataclass(frozen=True)
class Unit:
    code: str
    zh: str
    head: str
    roster: tuple[Shift, ...]

    def on_duty(self, at: dt.datetime) -> str | None:
        return next((s.receiver for s in self.roster if s.covers(at)), None)


@dataclass(frozen=True)
class Route:
    categories: frozenset[str] | None
    townships: frozenset[str] | None
    levels: frozenset[str] | None
    units: tuple[str, ...]

    def matches(self, category: str, township: str, level: str) -> bool:
        return all(
            allowed is None or value in allowed
            for allowed, value in (
                (self.categories, category),
                (self.townships, township),
                (self.levels, level),
            )
        )


@dataclass(frozen=True)
class Delivery:
    retry_first: dt.timedelta
    retry_max: dt.timedelta
    attempts: int

    def next_wait(self, attempts: int) -> dt.timedelta | None:
        """How long to wait after ``attempts`` failed tries; None: give up."""
        if attempts >= self.attempts:
            return None
        return min(self.retry_first * 2 ** (attempts - 1), self.retry_max)


@dataclass(frozen=True)
class Recipient:
    """One person or group bot an alert goes to, and why."""

    receiver: str
    zh: str
    url: str
    role: str  # unit_duty | township | county_desk | unit_head | leader_in_charge
    unit: str | None = None


@dataclass(frozen=True)
class Routing:
    version: str
    levels: dict[str, LevelRule]
    escalation: tuple[str, ...]
    units: dict[str, Unit]
    routes: tuple[Route, ...]
    township_receiver: str
    township_url: str
    desk_levels: frozenset[str]
    desk_receiver: str
    leaders: dict[str, str]  # township or "default" -> receiver
    receivers: dict[str, tuple[str, str]]  # name -> (zh, url)
    delivery: Delivery
    case_link: str = ""  # {case_id} is filled in
    check_every: dt.timedelta = CHECK_EVERY  # how often the deadlines are checked

    def units_for(self, category: str, township: str, level: str) -> tuple[str, ...]:
        route = next((r for r in self.routes if r.matches(category, township, level)), None)
        return route.units if route else ()

    def _recipient(self, name: str, role: str, unit: str | None = None) -> Recipient:
        zh, url = self.receivers[name]
        return Recipient(name, zh, url, role, unit)

    def recipients(
        self, category: str, township: str, level: str, at: dt.datetime
    ) -> list[Recipient]:
        """Who an alert of this level goes to at ``at``: each routed unit's officer on duty,
        the township, and the county duty desk for its levels (each receiver once)."""
        return self.audience(self.units_for(category, township, level), township, level, at)

    def audience(
        self, units: tuple[str, ...], township: str, level: str, at: dt.datetime
    ) -> list[Recipient]:
        """``recipients`` for the units an alert is with now (routed, or reassigned)."""
        out = [self.unit_recipient(code, at) for code in units]
        name = self.township_receiver.format(township=township)
        url = self.township_url.format(township=quote(township, safe=""))
        out.append(Recipient(name, township, url, "township"))
        if level in self.desk_levels:
            out.append(self._recipient(self.desk_receiver, "county_desk"))
        return _once(out)

    def unit_recipient(self, code: str, at: dt.datetime) -> Recipient:
        """Who of a unit is told at ``at``: its officer on duty; in a gap of its roster, its
        head (role ``unit_head``).  A unit this file no longer names (taken out while alerts
        were with it) has nobody: the county duty desk is told in its place, to reassign."""
        unit = self.units.get(code)
        if unit is None:
            return self._recipient(self.desk_receiver, "county_desk", code)
        on_duty = unit.on_duty(at)
        if on_duty is None:
            return self._recipient(unit.head, "unit_head", code)
        return self._recipient(on_duty, "unit_duty", code)

    def escalation_recipients(
        self, step: int, units: tuple[str, ...], township: str
    ) -> list[Recipient]:
        """Who is told at escalation step ``step`` (1: the units' heads, 2: the leader).  A unit
        this file no longer names has no head to tell."""
        if not 1 <= step <= len(self.escalation):
            return []
        kind = self.escalation[step - 1]
        if kind == "unit_head":
            heads = [(self.units[u].head, u) for u in units if u in self.units]
            return _once([self._recipient(head, kind, u) for head, u in heads])
        leader = self.leaders.get(township, self.leaders["default"])
        return [self._recipient(leader, kind)]


def _once(recipients: list[Recipient]) -> list[Recipient]:
    seen: set[str] = set()
    return [r for r in recipients if not (r.receiver in seen or seen.add(r.receiver))]


# ---- reading the file -------------------------------------------------------------------------


def duration(node: Node) -> dt.timedelta:
    m = DURATION.match(str(node.scalar()))
    if not m:
        raise node.fail("expected a duration such as 10s, 30m, 4h or 3d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
    return dt.timedelta(**{unit: float(m.group(1))})


def _clock(node: Node) -> int:
    text = str(node.scalar())
    m = re.match(r"^(\d{1,2}):(\d{2})$", text)
    minutes = int(m.group(1)) * 60 + int(m.group(2)) if m else -1
    if not m or int(m.group(2)) > 59 or not 0 <= minutes <= 24 * 60:
        raise node.fail("expected a time such as 08:00 (24:00 for the end of the day)")
    return minutes


def _positive(node: Node) -> dt.timedelta:
    given = duration(node)
    if given <= dt.timedelta(0):
        raise node.fail("expected a duration above 0 (0s would send again at every check)")
    return given


TIMINGS = ("acknowledge_within", "feedback_within", "repeat_after")


def _with_timings(levels: dict[str, LevelRule], node: Node) -> dict[str, LevelRule]:
    """Every level with its deadlines: a level that gives none (one that raises no alert,
    or no longer does while its alerts are still open) takes the nearest level's that gives
    them, the more severe one of two as near.  An open alert escalates or is reassigned by
    its level's deadlines, whatever the level now raises."""
    timed = [lv for lv in LEVELS if all(getattr(levels[lv], k) for k in TIMINGS)]
    if not timed:
        raise node.fail("a level needs acknowledge_within, feedback_within and repeat_after")
    out = {}
    for lv, rule in levels.items():
        nearest = min(
            timed, key=lambda t: (abs(LEVELS.index(t) - LEVELS.index(lv)), LEVELS.index(t))
        )
        given = {k: getattr(rule, k) or getattr(levels[nearest], k) for k in TIMINGS}
        out[lv] = replace(rule, **given)
    return out


def _template(node: Node, names: set[str], needed: bool = False) -> None:
    """``node`` is a text whose only ``{...}`` fields are ``names`` (with each of them, if
    ``needed``): a field it does not know would fail only when the first alert is sent."""
    text = node.text()
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise node.fail(f"{exc} (write {{{{ and }}}} for a brace itself)") from None
    unknown = sorted(fields - names)
    if unknown:
        known = ", ".join(f"{{{n}}}" for n in sorted(names))
        raise node.fail(f"unknown field {{{unknown[0]}}}: only {known} is filled in")
    if needed and not names <= fields:
        missing = ", ".join(f"{{{n}}}" for n in sorted(names - fields))
        raise node.fail(f"needs {missing}: each township has its own")


def _check_every(node: Node) -> dt.timedelta:
    every = duration(node)
    if not dt.timedelta(seconds=10) <= every <= dt.timedelta(hours=1):
        raise node.fail("expected a duration from 10s to 1h")
    return every


def parse_routing(text: str, source: str = "routing.yaml") -> Routing:
    top = compose(text, source, "routing", RoutingError).require(
        optional=("case_link", "deadlines_checked_every"),
        keys=(
            "version",
            "levels",
            "escalation",
            "delivery",
            "units",
            "routes",
            "township",
            "county_desk",
            "leaders",
            "receivers",
        ),
    )
    receivers = {}
    for name, r in top["receivers"].mapping().items():
        if len(name) > 64:  # each notification names its receiver (the read model keeps 64)
            raise r.fail(f"receiver name {name[:20]!r}... is longer than 64 characters")
        m = r.require(("zh", "url"))
        receivers[name] = (m["zh"].text(), m["url"].text())

    def receiver(node: Node) -> str:
        name = node.text()
        if name not in receivers:
            raise node.fail(f"no receiver {name!r} under receivers")
        return name

    levels = {}
    for name, node in top["levels"].require(LEVELS).items():
        m = node.mapping(("alert", "acknowledge_within", "feedback_within", "repeat_after"))
        alert = m["alert"].scalar() if "alert" in m else False
        if not isinstance(alert, bool):
            raise m["alert"].fail("expected true or false")
        times = {k: _positive(m[k]) for k in TIMINGS if k in m}
        if alert and len(times) < 3:
            raise node.fail(
                "an alerting level needs acknowledge_within, feedback_within and repeat_after"
            )
        levels[name] = LevelRule(alert, **times)
    levels = _with_timings(levels, top["levels"])
    steps = top["escalation"].words()
    for i, s in enumerate(steps):
        if s not in ESCALATION_STEPS:
            raise (
                top["escalation"].items()[i].fail(f"expected one of {', '.join(ESCALATION_STEPS)}")
            )
    units = {}
    for code, node in top["units"].mapping().items():
        if len(code) > 32:  # each notification names its unit (the read model keeps 32)
            raise node.fail(f"unit code {code[:20]!r}... is longer than 32 characters")
        m = node.require(("zh", "head", "roster"))
        shifts = []
        for shift in m["roster"].items():
            sm = shift.require(("days", "from", "to", "receiver"))
            if sm["days"].is_scalar:
                if sm["days"].scalar() != "all":
                    raise sm["days"].fail(f"expected a list of days ({', '.join(DAYS)}) or all")
                days = frozenset(range(7))
            else:
                words = sm["days"].words()
                bad = [d for d in words if d not in DAYS]
                if bad:
                    raise sm["days"].fail(f"unknown day {bad[0]!r} (use {', '.join(DAYS)} or all)")
                days = frozenset(DAYS.index(d) for d in words)
            start, end = _clock(sm["from"]), _clock(sm["to"])
            if start >= end:
                raise sm["to"].fail("a shift must end after it starts")
            shifts.append(Shift(days, start, end, receiver(sm["receiver"])))
        units[code] = Unit(code, m["zh"].text(), receiver(m["head"]), tuple(shifts))
    routes = []
    for item in top["routes"].items():
        m = item.require(("match", "units"))
        match = m["match"].mapping(("category", "township", "level"))
        if "category" in match:
            for i, c in enumerate(match["category"].words()):
                if c not in CODES:
                    raise match["category"].items()[i].fail(f"unknown category {c!r}")
        if "level" in match:
            for i, lv in enumerate(match["level"].words()):
                if lv not in LEVELS:
                    raise match["level"].items()[i].fail(f"unknown level {lv!r}")
        for i, u in enumerate(m["units"].words()):
            if u not in units:
                raise m["units"].items()[i].fail(f"no unit {u!r} under units")
        routes.append(
            Route(
                *(
                    frozenset(match[k].words()) if k in match else None
                    for k in ("category", "township", "level")
                ),
                units=m["units"].words(),
            )
        )
    delivery = top["delivery"].require(("retry_first", "retry_max", "attempts"))
    town = top["township"].require(("receiver", "url"))
    desk = top["county_desk"].require(("levels", "receiver"))
    for i, lv in enumerate(desk["levels"].words()):
        if lv not in LEVELS:
            raise desk["levels"].items()[i].fail(f"unknown level {lv!r}")
    alerting = [lv for lv, rule in levels.items() if rule.alert]
    for c in CODES:  # every alert can reach a unit, whose head it can escalate to
        for lv in alerting:
            if not any(
                r.units and r.matches(c, town, lv) for r in routes for town in (r.townships or {""})
            ):
                raise top["routes"].fail(
                    f"no route sends {c} alerts of level {lv} to a unit: add one, or a last "
                    "route without match for everything left"
                )
    leaders = {k: receiver(v) for k, v in top["leaders"].mapping().items()}
    if "default" not in leaders:
        raise top["leaders"].fail("missing default")
    _template(town["receiver"], {"township"}, needed=True)
    _template(town["url"], {"township"})
    if "case_link" in top:
        _template(top["case_link"], {"case_id"})
    return Routing(
        version=str(top["version"].scalar()),
        levels=levels,
        escalation=steps,
        units=units,
        routes=tuple(routes),
        township_receiver=town["receiver"].text(),
        township_url=town["url"].text(),
        desk_levels=frozenset(desk["levels"].words()),
        desk_receiver=receiver(desk["receiver"]),
        leaders=leaders,
        receivers=receivers,
        case_link=top["case_link"].text() if "case_link" in top else "",
        check_every=_check_every(top["deadlines_checked_every"])
        if "deadlines_checked_every" in top
        else CHECK_EVERY,
        delivery=Delivery(
            duration(delivery["retry_first"]),
            duration(delivery["retry_max"]),
            int(delivery["attempts"].number(1, 1000, True)),
        ),
    )


def load_routing(path: str | Path | None = None) -> Routing:
    """The routing in ``path`` (the packaged default if None), checked."""
    return parse_routing(*read(path, DEFAULT_ROUTING, RoutingError))


@functools.cache
def default_routing() -> Routing:
    return load_routing(DEFAULT_ROUTING)
