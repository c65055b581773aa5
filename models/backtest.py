"""What a model would have done on the history: the alerts it would have raised, and how early.

``backtest(events, model, ...)`` replays a case-event log through the same pure steps the
stream runs, with the model (and policy) under test:

1. every case event is folded into its case's watch, and every record that leaves the case open
   is assessed as of its own moment (``domain.risk.assess.watch_events``); once a day, at the
   policy's re-assessment hour, every open case is assessed again (``watch_tick``);
2. every assessment a duty officer would notice goes through the alert fold with the routing
   configuration (``domain.alerts.alert.handle``), which raises and upgrades alerts exactly as
   the alert writer would; nobody acknowledges or resolves anything, so an alert stays open until
   its case closes.

From the alerts raised and the escalations the log records it reports, per ISO week: alerts
raised (and by level), the share of alerts whose case escalated within the horizon after the
alert (precision), and for every escalation whether an alert was raised or upgraded in the
horizon before it and how many days before (lead time).  Alerts raised on a case that had already escalated are counted apart: they
react, they do not warn.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from domain.alerts.alert import AlertState, handle
from domain.alerts.routing import Routing
from domain.case import CaseState
from domain.risk.assess import Watch, watch_events, watch_tick
from domain.risk.features import timestamp
from domain.risk.policy import RiskPolicy
from models.dataset import DAY, escalation_time, group_by_case
from models.evaluate import week_of
from models.registry import LoadedModel
from schemas.events import AlertRaised, AlertUpgraded, Envelope
from schemas.record import CHINA_TZ


@dataclass(frozen=True)
class RaisedAlert:
    case_id: str
    at: float  # epoch seconds
    level: str
    upgrade: bool


def _assessor(model: LoadedModel | None, policy: RiskPolicy):  # noqa: ANN202 - an Assessor
    from models.scoring import score_cases

    def assess(states: Sequence[CaseState], times: Sequence[dt.datetime]) -> list:
        return score_cases(model, states, times, policy, explain=False)

    return assess


def replay_alerts(
    events: Sequence[Envelope],
    model: LoadedModel | None,
    policy: RiskPolicy,
    routing: Routing,
    progress: bool = False,
) -> list[RaisedAlert]:
    """The alerts (raised and upgraded) the log's history would have produced under ``model``
    (None: the rules alone)."""
    from tqdm import tqdm

    log = sorted(events, key=lambda e: (timestamp(e.recorded_at), e.case_id, e.seq))
    if not log:
        return []
    assess = _assessor(model, policy)
    schedule = policy.reassess
    first = dt.datetime.fromtimestamp(timestamp(log[0].recorded_at), tz=CHINA_TZ)
    tick = first.replace(hour=schedule.at_hour, minute=0, second=0, microsecond=0)
    if tick <= first:
        tick += dt.timedelta(hours=schedule.every_hours)
    last = timestamp(log[-1].recorded_at)
    watches: dict[str, Watch] = {}
    alerts: dict[str, AlertState] = {}
    out: list[RaisedAlert] = []
    i = 0
    days = int((last - tick.timestamp()) // (schedule.every_hours * 3600)) + 2
    bar = tqdm(total=days, desc="backtest", unit="day", disable=not progress)
    while tick.timestamp() <= last + DAY:
        batch = []
        while i < len(log) and timestamp(log[i].recorded_at) < tick.timestamp():
            batch.append(log[i])
            i += 1
        changed, said = watch_events(watches, batch, assess, policy)
        watches.update(changed)
        ticked, said_at_tick = watch_tick(watches, tick, assess, policy)
        watches.update(ticked)
        for assessed in [*said, *said_at_tick]:
            state = alerts.get(assessed.case_id) or AlertState(assessed.case_id)
            state, produced = handle(
                state, assessed, routing, assessed.assessment_id, assessed.known_at
            )
            alerts[assessed.case_id] = state
            for envelope in produced:
                if isinstance(envelope.event, (AlertRaised, AlertUpgraded)):
                    out.append(
                        RaisedAlert(
                            assessed.case_id,
                            timestamp(assessed.known_at),  # when the alert is raised
                            envelope.event.level,
                            isinstance(envelope.event, AlertUpgraded),
                        )
                    )
        tick += dt.timedelta(hours=schedule.every_hours)
        bar.update(1)
    bar.close()
    return out


def _week(ts: float) -> str:
    return week_of(dt.datetime.fromtimestamp(ts, tz=CHINA_TZ).isoformat())


def summarise(
    alerts: Sequence[RaisedAlert],
    escalations: dict[str, float],
    since: float,
    until: float,
    horizon_days: float = 30.0,
) -> dict[str, Any]:
    """Alerts per week, precision and lead time.

    Alerts count when raised in [since, until - horizon] (so every alert's horizon lies inside
    the history); escalations in [since, until].  An escalation was *warned of* when an alert
    was raised or upgraded in the horizon before it (the same 30 days as the label), and its
    lead time runs from the first such alert.  Weeks after ``until - horizon`` are marked as
    not counted for alerts.
    """
    horizon = horizon_days * DAY
    last_counted = until - horizon
    raised = [a for a in alerts if not a.upgrade and since <= a.at <= last_counted]
    ahead = [a for a in raised if escalations.get(a.case_id, np.inf) > a.at]
    hits = [a for a in ahead if escalations.get(a.case_id, np.inf) <= a.at + horizon]
    in_window = {c: t for c, t in escalations.items() if since <= t <= until}
    first_warning: dict[str, float] = {}
    for a in alerts:  # raised or upgraded, in the horizon before the case's escalation
        t = in_window.get(a.case_id)
        if t is not None and t - horizon <= a.at < t:
            first_warning[a.case_id] = min(first_warning.get(a.case_id, np.inf), a.at)
    leads = [(in_window[c] - at) / DAY for c, at in first_warning.items()]
    per_week: dict[str, Counter] = defaultdict(Counter)
    for a in raised:
        per_week[_week(a.at)]["alerts"] += 1
        per_week[_week(a.at)][a.level] += 1
    for a in hits:
        per_week[_week(a.at)]["followed_by_escalation"] += 1
    for c, t in in_window.items():
        per_week[_week(t)]["escalations"] += 1
        if c in first_warning:
            per_week[_week(t)]["warned_before"] += 1
    not_counted = {_week(t) for t in np.arange(last_counted + DAY, until + DAY, DAY)}
    not_counted -= {_week(last_counted)} if last_counted >= since else set()
    weeks_counted = max((last_counted - since) / (7 * DAY), 1.0)
    return {
        "alerts": len(raised),
        "first_raised_by_level": dict(Counter(a.level for a in raised)),
        "alerts_after_escalation": len(raised) - len(ahead),
        "alerts_per_week": round(len(raised) / weeks_counted, 1),
        "precision": round(len(hits) / len(ahead), 4) if ahead else None,
        "escalations": len(in_window),
        "warned_before": len(leads),
        "share_warned": round(len(leads) / len(in_window), 4) if in_window else None,
        "lead_days": {
            "median": round(float(np.median(leads)), 1) if leads else None,
            "p25": round(float(np.percentile(leads, 25)), 1) if leads else None,
            "p75": round(float(np.percentile(leads, 75)), 1) if leads else None,
        },
        "weeks": {w: dict(per_week[w]) for w in sorted(per_week)},
        "weeks_not_counted": sorted(not_counted),
        "warned_cases": sorted(first_warning),
    }


def backtest(
    events: Sequence[Envelope],
    candidate: LoadedModel | None,
    against: LoadedModel | None,
    policy: RiskPolicy,
    routing: Routing,
    since: str | None = None,
    horizon_days: float = 30.0,
    progress: bool = False,
) -> dict[str, Any]:
    """The candidate's and the other's (the model in service, or None for the rules alone)
    alerts on the same history, summarised from ``since`` (ISO date; default: the start)."""
    events = list(events)
    if not events:
        raise LookupError("the history is empty: no case events to replay")
    cases = group_by_case(events)
    escalations = {cid: t for cid, evs in cases.items() if (t := escalation_time(evs)) is not None}
    times = [timestamp(e.recorded_at) for e in events]
    start = timestamp(since) if since else min(times)
    end = max(times)
    out: dict[str, Any] = {
        "since": dt.datetime.fromtimestamp(start, tz=CHINA_TZ).date().isoformat(),
        "until": dt.datetime.fromtimestamp(end, tz=CHINA_TZ).date().isoformat(),
        "horizon_days": horizon_days,
        "policy_version": policy.version,
        "routing_version": routing.version,
        "cases": len(cases),
        "scorers": {},
    }
    names = {
        "candidate": candidate,
        "against": against,
    }
    for key, model in names.items():
        found = replay_alerts(events, model, policy, routing, progress)
        summary = summarise(found, escalations, start, end, horizon_days)
        summary["version"] = model.version if model is not None else "rules"
        out["scorers"][key] = summary
    a = set(out["scorers"]["candidate"].pop("warned_cases"))
    b = set(out["scorers"]["against"].pop("warned_cases"))
    out["difference"] = {  # warned cases are escalations of the window already
        "escalations_warned_only_by_candidate": len(a - b),
        "escalations_warned_only_by_other": len(b - a),
        "escalations_warned_by_both": len(a & b),
    }
    return out
