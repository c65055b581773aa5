"""What the web service reads about cases: lists by scope, one case with its whole timeline,
the alerts routed to a unit, open petitions for the time-limit map, and the audit trail of
people's actions (posts and alert actions)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from readside.tables import (
    FOUND_ORDER,
    alert_timeline,
    alerts,
    case_risk,
    case_timeline,
    cases,
)
from schemas.events import (
    AlertAcknowledged,
    AlertEscalated,
    AlertReassigned,
    AlertResolved,
    CommandRejected,
    FeedbackReported,
    RecordAppended,
)
from schemas.record import as_time, china_time

ACTIONS = tuple(  # alert events a person causes (the audit view's alert part)
    e.type_name()
    for e in (
        AlertAcknowledged,
        FeedbackReported,
        AlertEscalated,
        AlertReassigned,
        AlertResolved,
        CommandRejected,
    )
)


def case_rows(
    engine: sa.Engine,
    township: str | None = None,
    unit: str | None = None,
    limit: int = 500,
    after: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Cases, the most recently found first, with their current level: ``limit`` of them,
    those that come after ``after`` (the ``last_found_at`` and ``case_id`` of the last case of
    the page before).  A page starts where the one before ended, not at a count, so a case
    found meanwhile neither repeats a case on the next page nor pushes one off it; a case not
    yet shown that is found again meanwhile moves above the pages read (on top when the list
    is read again)."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(case_list(township, unit, limit, after)).mappings()]


def case_list(
    township: str | None = None,
    unit: str | None = None,
    limit: int = 500,
    after: tuple[str, str] | None = None,
) -> sa.Select:
    """The query of ``case_rows``."""
    found_at = FOUND_ORDER
    query = (
        sa.select(
            cases,
            case_risk.c.level,
            case_risk.c.probability,
            case_risk.c.as_of.label("assessed_at"),
        )
        .join(case_risk, case_risk.c.case_id == cases.c.case_id, isouter=True)
        .order_by(found_at.desc(), cases.c.case_id)
        .limit(limit)
    )
    if after is not None:
        found, case_id = after
        query = query.where(
            sa.or_(found_at < found, sa.and_(found_at == found, cases.c.case_id > case_id))
        )
    if township is not None:
        query = query.where(cases.c.township == township)
    if unit is not None:  # cases with an alert routed or reassigned to the unit
        quoted = json.dumps(unit, ensure_ascii=False)  # as the projection writes the units
        routed = alerts.c.units.contains(quoted, autoescape=True)
        query = query.where(cases.c.case_id.in_(sa.select(alerts.c.case_id).where(routed)))
    return query


def case_detail(engine: sa.Engine, case_id: str) -> dict[str, Any] | None:
    """A case, its current risk, its alerts and one timeline of case and alert events."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(cases).where(cases.c.case_id == case_id)).mappings().first()
        if row is None:
            return None
        risk = (
            conn.execute(sa.select(case_risk).where(case_risk.c.case_id == case_id))
            .mappings()
            .first()
        )
        its_alerts = conn.execute(
            sa.select(alerts).where(alerts.c.case_id == case_id).order_by(alerts.c.raised_at)
        ).mappings()
        case_events = conn.execute(
            sa.select(
                case_timeline.c.seq,
                case_timeline.c.event_type,
                case_timeline.c.occurred_at,
                case_timeline.c.summary,
            ).where(case_timeline.c.case_id == case_id)
        ).mappings()
        alert_events = conn.execute(
            sa.select(
                alert_timeline.c.seq,
                alert_timeline.c.event_type,
                alert_timeline.c.occurred_at,
                alert_timeline.c.summary,
            ).where(alert_timeline.c.case_id == case_id)
        ).mappings()
        timeline = [{**dict(r), "stream": "case"} for r in case_events] + [
            {**dict(r), "stream": "alert"} for r in alert_events
        ]
    for r in timeline:  # one clock for people: China time, whatever offset an event carries
        r["at"] = china_time(r["occurred_at"])
    timeline.sort(key=lambda r: (r["at"], r["stream"], r["seq"]))
    return {
        "case": dict(row),
        "risk": _risk(dict(risk)) if risk else None,
        "alerts": [_alert(dict(a)) for a in its_alerts],
        "timeline": timeline,
    }


def alert_units(engine: sa.Engine, case_id: str) -> list[str]:
    """Every unit any alert of the case was routed to."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(alerts.c.units).where(alerts.c.case_id == case_id))
        return sorted({u for (units,) in rows for u in json.loads(units)})


def current_alert(engine: sa.Engine, case_id: str) -> dict[str, Any] | None:
    """The case's latest alert."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(alerts)
                .where(alerts.c.case_id == case_id)
                .order_by(alerts.c.raised_at.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return _alert(dict(row)) if row else None


def open_petitions(engine: sa.Engine) -> list[dict[str, Any]]:
    """Open petition cases with the date their statutory clocks start (the time-limit map)."""
    query = sa.select(
        cases.c.case_id,
        cases.c.township,
        cases.c.ref_no,
        cases.c.category,
        cases.c.follow_up_status,
        cases.c.is_petition,
        cases.c.petition_received_on,
    ).where(
        cases.c.status == "open",
        cases.c.is_petition.is_(True),
        cases.c.petition_received_on.is_not(None),
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def audit_rows(engine: sa.Engine, limit: int = 500) -> list[dict[str, Any]]:
    """People's actions from the read models, newest first: records posted through the web
    service (who posted) and alert actions (who acknowledged, reported, resolved...)."""
    with engine.connect() as conn:
        posted = conn.execute(
            sa.select(
                case_timeline.c.case_id,
                case_timeline.c.occurred_at,
                case_timeline.c.recorded_at,
                case_timeline.c.summary,
                case_timeline.c.payload,
            )
            .where(
                case_timeline.c.event_type == RecordAppended.type_name(),
                case_timeline.c.payload.like('%"posted_by"%'),
            )
            .order_by(case_timeline.c.recorded_at.desc())
            .limit(limit)
        ).mappings()
        out = [
            {
                "at": r["recorded_at"],
                "who": json.loads(r["payload"]).get("posted_by"),
                "action": "post",
                "case_id": r["case_id"],
                "summary": r["summary"],
            }
            for r in posted
        ]
        acted = conn.execute(
            sa.select(
                alert_timeline.c.case_id,
                alert_timeline.c.occurred_at,
                alert_timeline.c.event_type,
                alert_timeline.c.summary,
                alert_timeline.c.actor,
            )
            .where(alert_timeline.c.event_type.in_(ACTIONS))
            .order_by(_instant(alert_timeline.c.occurred_at, engine.dialect.name).desc())
            .limit(limit)
        ).mappings()
        out += [
            {
                "at": r["occurred_at"],
                "who": r["actor"],
                "action": r["event_type"],
                "case_id": r["case_id"],
                "summary": r["summary"],
            }
            for r in acted
        ]
    out.sort(key=lambda r: as_time(r["at"]), reverse=True)  # stamped in UTC or China time
    return out[:limit]


def _instant(column: Any, dialect: str) -> Any:
    """An ISO time column as an instant the database orders by (its text does not: the
    commands are stamped in UTC, the clock's and the case's events in China time)."""
    if dialect == "sqlite":
        return sa.func.julianday(column)
    return sa.cast(column, sa.TIMESTAMP(timezone=True))


def _risk(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("reasons", "rules", "factors"):
        row[key] = json.loads(row[key]) if row.get(key) else []
    return row


def _alert(row: dict[str, Any]) -> dict[str, Any]:
    row["units"] = json.loads(row["units"])
    row["reasons"] = json.loads(row["reasons"])
    return row
