"""Read-side queries that print for people: intake counts and case timelines."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from readside.alert_queries import alert_lines
from readside.tables import case_risk, case_timeline, cases, intake_counts
from schemas.categories import BY_CODE


def intake_rows(engine: sa.Engine) -> list[tuple[str, int, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(intake_counts).order_by(intake_counts.c.township)).all()
    return [(r.township, r.received, r.accepted, r.dead_lettered) for r in rows]


def intake_table(engine: sa.Engine) -> str:
    rows = intake_rows(engine)
    lines = [f"{'township':<12}{'received':>10}{'accepted':>10}{'dead-lettered':>15}  check"]
    tot = [0, 0, 0]
    for township, rec, acc, dead in rows:
        ok = "ok" if rec == acc + dead else "MISMATCH"
        lines.append(f"{township:<12}{rec:>10}{acc:>10}{dead:>15}  {ok}")
        tot = [tot[0] + rec, tot[1] + acc, tot[2] + dead]
    ok = "ok" if tot[0] == tot[1] + tot[2] else "MISMATCH"
    lines.append(f"{'total':<12}{tot[0]:>10}{tot[1]:>10}{tot[2]:>15}  {ok}")
    return "\n".join(lines)


def case_timeline_text(engine: sa.Engine, case_id: str) -> str:
    with engine.connect() as conn:
        case = conn.execute(sa.select(cases).where(cases.c.case_id == case_id)).mappings().first()
        if case is None:
            return f"no case {case_id}"
        events = conn.execute(
            sa.select(case_timeline)
            .where(case_timeline.c.case_id == case_id)
            .order_by(case_timeline.c.seq)
        ).mappings()
        cat = BY_CODE.get(case["category"])
        head = (
            f"case {case_id}  {case['township']} {case['village'] or ''} {case['ref_no']}\n"
            f"  {cat.label if cat else case['category']} / {cat.english if cat else ''}, "
            f"status {case['status']}, {case['record_count']} records, "
            f"people {case['people_involved'] or '?'}, amount {case['amount_involved_yuan'] or '?'} yuan"
        )
        lines = [head, *risk_lines(conn, case_id), *alert_lines(conn, case_id)]
        for e in events:
            lines.append(
                f"  #{e['seq']:<3} {e['occurred_at'][:16]}  {e['event_type']:<15} {e['summary']}"
            )
    return "\n".join(lines)


LEVEL_ZH = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"}


def risk_lines(conn: sa.Connection, case_id: str) -> list[str]:
    """The case's current risk: level, probability, reasons (deadlines first), versions."""
    r = conn.execute(sa.select(case_risk).where(case_risk.c.case_id == case_id)).mappings().first()
    if r is None:
        return ["  risk: not assessed yet"]
    if r["trigger"] == "case_closed":
        return [f"  risk: none, the case was closed ({r['as_of'][:16]})"]
    lines = [
        f"  risk: {r['level']} {LEVEL_ZH[r['level']]}  p={r['probability']:.3f} as of "
        f"{r['as_of'][:16]}  (model {r['model_version'] or 'none: rules only'}, policy "
        f"{r['policy_version']})"
    ]
    for rule in json.loads(r["rules"]):
        d = rule.get("deadline")
        if d:
            lines.append(
                f"    deadline {d['rule']}: {d['limit_days']} days from {d['starts_on']}, due "
                f"{d['due_on']}, {d['days_left']} days left"
            )
    lines.extend(f"    - {reason}" for reason in json.loads(r["reasons"]))
    return lines


def risk_rows(
    engine: sa.Engine,
    township: str | None = None,
    levels: tuple[str, ...] = ("red", "orange", "yellow"),
) -> list[dict]:
    """Open cases at the given levels, most urgent first (level, then probability)."""
    order = sa.case({"red": 0, "orange": 1, "yellow": 2, "blue": 3}, value=case_risk.c.level)
    query = (
        sa.select(case_risk, cases.c.ref_no, cases.c.status)
        .join(cases, cases.c.case_id == case_risk.c.case_id)
        .where(cases.c.status == "open", case_risk.c.level.in_(levels))
        .order_by(order, case_risk.c.probability.desc(), case_risk.c.case_id)
    )
    if township:
        query = query.where(case_risk.c.township == township)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def level_counts(engine: sa.Engine, township: str | None = None) -> dict[str, int]:
    """Open cases per current level."""
    query = (
        sa.select(case_risk.c.level, sa.func.count())
        .join(cases, cases.c.case_id == case_risk.c.case_id)
        .where(cases.c.status == "open")
        .group_by(case_risk.c.level)
    )
    if township:
        query = query.where(case_risk.c.township == township)
    with engine.connect() as conn:
        return {level: n for level, n in conn.execute(query).all()}


def risk_table(engine: sa.Engine, township: str | None = None, limit: int = 30) -> str:
    """What `ews risk` prints: the levels of the open cases, then the most urgent ones."""
    counts = level_counts(engine, township)
    where = township or "county"
    lines = [
        f"open cases by level ({where}): "
        + "  ".join(f"{lv} {LEVEL_ZH[lv]} {counts.get(lv, 0)}" for lv in LEVEL_ZH)
    ]
    for r in risk_rows(engine, township)[:limit]:
        cat = BY_CODE.get(r["category"])
        reasons = json.loads(r["reasons"])
        lines.append(
            f"{r['level']:<7}{r['probability']:>6.3f}  {r['township']} {r['ref_no']}  "
            f"[{cat.label if cat else r['category']}]  {'; '.join(reasons[:2])}"
        )
    return "\n".join(lines)


def projection_failure_rows(engine: sa.Engine, limit: int | None = None) -> list[dict[str, Any]]:
    """Log messages the read models could not apply, with the reason, in log order."""
    from readside.tables import projection_failures as pf

    query = sa.select(pf.c.topic, pf.c.partition, pf.c.offset, pf.c.reason).order_by(
        pf.c.topic, pf.c.partition, pf.c.offset
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query.limit(limit)).mappings()]
