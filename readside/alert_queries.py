"""What duty officers and the county read about alerts: a unit's queue, an alert's timeline,
deliveries, and the KPIs the county reports (签收时间, 按时反馈率, 按期办结率, 超期, 回访满意率)."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from typing import Any

import sqlalchemy as sa

from readside.tables import alert_timeline, alerts, cases, deliveries
from schemas.record import SATISFACTION, as_time, china_time

RANK = sa.case({"red": 0, "orange": 1, "yellow": 2, "blue": 3}, value=alerts.c.level)
LEVEL_ZH = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"}


def queue(engine: sa.Engine, unit: str | None = None, township: str | None = None) -> list[dict]:
    """Open alerts, most urgent first (level, then age); a unit sees those routed to it."""
    query = (
        sa.select(
            alerts,
            cases.c.ref_no,
            cases.c.is_petition,
            cases.c.petition_received_on,
            cases.c.follow_up_status,
        )
        .join(cases, cases.c.case_id == alerts.c.case_id, isouter=True)
        .where(alerts.c.status.in_(("open", "acknowledged")))
        .order_by(RANK, alerts.c.raised_at)
    )
    if township:
        query = query.where(alerts.c.township == township)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    if unit and unit != "county_desk":
        rows = [r for r in rows if unit in json.loads(r["units"])]
    return rows


def queue_text(engine: sa.Engine, unit: str | None = None, township: str | None = None) -> str:
    rows = queue(engine, unit, township)
    lines = [f"open alerts{' for ' + unit if unit else ''}: {len(rows)}"]
    for r in rows:  # times in China time, whatever offset an event carries
        reasons = json.loads(r["reasons"])
        due = china_time(r["acknowledge_by"]) if r["acknowledge_by"] else ""
        lines.append(
            f"{r['level']:<7}{LEVEL_ZH[r['level']]} {r['status']:<13}{r['township']} {r['ref_no'] or r['case_id']}"
            f"  raised {china_time(r['raised_at'])[:16]}, acknowledge by {due[:16]}"
            f"  units {','.join(json.loads(r['units']))}  {'; '.join(reasons[:1])}"
        )
    return "\n".join(lines)


def alert_lines(conn: sa.Connection, case_id: str) -> list[str]:
    """The case's alert events, for ``ews case``."""
    rows = conn.execute(
        sa.select(alert_timeline)
        .where(alert_timeline.c.case_id == case_id)
        .order_by(alert_timeline.c.seq)
    ).mappings()
    return [
        f"  alert #{r['seq']:<3} {china_time(r['occurred_at'])[:16]}  {r['summary']}" for r in rows
    ]


def delivery_counts(engine: sa.Engine) -> dict[tuple[str, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(deliveries.c.receiver, deliveries.c.status, sa.func.count()).group_by(
                deliveries.c.receiver, deliveries.c.status
            )
        ).all()
    return {(r, s): n for r, s, n in rows}


def _minutes(start: str, end: str) -> float:
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds() / 60


def _feedback_due(r: dict, now: dt.datetime) -> bool:
    """Feedback was owed: given, or its deadline passed while the alert was still open."""
    if r["first_feedback_at"]:
        return True
    if not r["feedback_by"] or as_time(r["feedback_by"]) > now:
        return False
    return not (r["resolved_at"] and as_time(r["resolved_at"]) <= as_time(r["feedback_by"]))


def kpis(
    engine: sa.Engine, now: dt.datetime | None = None, handle_days: int = 60
) -> dict[str, Any]:
    """The figures the county is judged on, from the read models.  ``handle_days``: the
    statutory limit to handle a petition (the risk policy's ``statutory_limits.handle``)."""
    now = now or dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(alerts)).mappings()]
        petitions = conn.execute(
            sa.select(cases.c.status, cases.c.petition_received_on, cases.c.closed_at).where(
                cases.c.is_petition.is_(True),
                cases.c.petition_received_on.is_not(None),
            )
        ).all()
        visits = conn.execute(
            sa.select(cases.c.case_id, cases.c.satisfaction).where(
                cases.c.satisfaction.is_not(None)
            )
        ).all()
    # per level, each alert once: from when its acknowledgement at that level was asked (its
    # raise, upgrade or reassignment) to the acknowledgement that answered it
    ack: dict[str, list[float]] = {}
    for r in rows:
        asked = r["acknowledge_asked_at"] or r["raised_at"]  # none: projected before 0009
        if r["acknowledged_at"] and as_time(r["acknowledged_at"]) >= as_time(asked):
            ack.setdefault(r["level"], []).append(_minutes(asked, r["acknowledged_at"]))
    due = [r for r in rows if _feedback_due(r, now)]
    on_time = [
        r
        for r in due
        if r["first_feedback_at"] and as_time(r["first_feedback_at"]) <= as_time(r["feedback_by"])
    ]
    # 按期办结率: of the petitions whose outcome is known (closed, or still open past the
    # limit, which can no longer be handled in time), those closed within the limit
    today = dt.date.fromisoformat(china_time(now.isoformat())[:10])
    limit = dt.timedelta(days=handle_days)
    due_on = {id(c): dt.date.fromisoformat(c.petition_received_on[:10]) + limit for c in petitions}
    closed = [c for c in petitions if c.status == "closed" and c.closed_at]
    late_open = [c for c in petitions if c.status != "closed" and due_on[id(c)] < today]
    in_limit = [
        c for c in closed if dt.date.fromisoformat(china_time(c.closed_at)[:10]) <= due_on[id(c)]
    ]
    overdue: dict[str, int] = {}
    for r in rows:
        past = r["acknowledge_by"] and dt.datetime.fromisoformat(r["acknowledge_by"]) <= now
        late = r["status"] == "open" and (past or r["escalation_step"] > 0)
        if late:
            for unit in json.loads(r["units"]) or ["(none)"]:
                overdue[unit] = overdue.get(unit, 0) + 1
    # 回访满意率, one answer per case: what the officer recorded on resolving its alert, else
    # what the latest-found record gave (the same visit is often in both)
    answer: dict[str, str] = dict(visits)
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    for r in sorted(rows, key=lambda r: as_time(r["resolved_at"]) if r["resolved_at"] else never):
        if r["satisfaction"]:
            answer[r["case_id"]] = r["satisfaction"]
    said = [s for s in answer.values() if s in SATISFACTION]
    happy = [s for s in said if s != "unsatisfied"]
    return {
        "alerts": len(rows),
        "acknowledge_minutes_median": {lv: round(statistics.median(v), 1) for lv, v in ack.items()},
        "feedback_on_time": (len(on_time), len(due)),
        "resolved_within_limit": (len(in_limit), len(closed) + len(late_open)),
        "handle_days": handle_days,
        "overdue_per_unit": overdue,
        "satisfaction": (len(happy), len(said)),
    }


def kpi_text(engine: sa.Engine, now: dt.datetime | None = None, handle_days: int = 60) -> str:
    k = kpis(engine, now, handle_days)

    def share(pair: tuple[int, int]) -> str:
        a, b = pair
        return f"{a}/{b} = {a / b:.0%}" if b else "no cases yet"

    ack = (
        ", ".join(f"{lv} {m} min" for lv, m in sorted(k["acknowledge_minutes_median"].items()))
        or "none acknowledged yet"
    )
    overdue = ", ".join(f"{u} {n}" for u, n in sorted(k["overdue_per_unit"].items())) or "none"
    return "\n".join(
        [
            f"alerts raised: {k['alerts']}",
            f"acknowledgement time, median (签收用时): {ack}",
            f"feedback on time (按时反馈率): {share(k['feedback_on_time'])}",
            f"petitions resolved within the {k['handle_days']}-day limit, of those closed or "
            f"already past it (按期办结率, target 100%): {share(k['resolved_within_limit'])}",
            f"open alerts past their acknowledgement deadline or escalated, per unit (超期未签收): {overdue}",
            f"satisfied at the closing follow-up visit (回访满意率, target 95%): {share(k['satisfaction'])}",
        ]
    )
