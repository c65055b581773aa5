"""Read-side queries that print for people: intake counts and case timelines."""

from __future__ import annotations

import sqlalchemy as sa

from readside.tables import case_timeline, cases, intake_counts
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
        lines = [head]
        for e in events:
            lines.append(
                f"  #{e['seq']:<3} {e['occurred_at'][:16]}  {e['event_type']:<15} {e['summary']}"
            )
    return "\n".join(lines)
