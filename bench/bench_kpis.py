"""The county's KPIs (``ews alerts --kpi``, the console's 考核指标 page) at a county's scale:
N cases, each with six timeline entries (its opening and five records), one case in ten with
an alert, one in twenty with an answer at its follow-up visit (回访满意度).

* now: ``readside.alert_queries.kpis`` as it is, the satisfaction answers read from the case
  rows (migration 0011);
* baseline: the satisfaction answers read as before 0011, by searching every timeline entry's
  text (``LIKE '%"satisfaction"%'``) and parsing the ones found.

Each is timed best of five on the same database.

    .venv/bin/python bench/bench_kpis.py --cases 100000
    .venv/bin/python bench/bench_kpis.py --cases 100000 --pg-url postgresql://HOST/DB
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.bench_case_list import best_ms  # noqa: E402
from bench.bench_case_list import fill as fill_cases  # noqa: E402
from bench.common import new_databases  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from readside.alert_queries import kpis  # noqa: E402
from readside.bulk import insert_rows  # noqa: E402
from readside.db import make_engine, migrate  # noqa: E402
from readside.tables import alerts, case_timeline, cases  # noqa: E402
from schemas.record import SATISFACTION  # noqa: E402

DESCRIPTION = "工地拖欠农民工工资，约三十名工人到镇政府反映，已联系施工方协调，" * 4


def fill(engine: sa.Engine, n: int) -> None:
    """N case rows (``bench_case_list.fill``), their timelines, alerts and visit answers."""
    fill_cases(engine, n)
    rnd = random.Random(11)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.select(cases.c.case_id).order_by(cases.c.case_id))]
    answered = {c: rnd.choice(sorted(SATISFACTION)) for c in ids if rnd.random() < 0.05}
    with engine.begin() as conn:
        for case_id, answer in answered.items():
            conn.execute(
                sa.update(cases).where(cases.c.case_id == case_id).values(satisfaction=answer)
            )
    timeline, alert_rows = [], []
    for case_id in ids:
        for seq in range(1, 7):
            record = {"description": DESCRIPTION, "found_at": "2026-05-01T09:00:00+08:00"}
            if seq == 6 and case_id in answered:
                record["satisfaction"] = answered[case_id]
            timeline.append(_entry(case_id, seq, record))
        if rnd.random() < 0.1:
            alert_rows.append(_alert(case_id, rnd))
        if len(timeline) >= 60_000:
            _write(engine, timeline, alert_rows)
            timeline, alert_rows = [], []
    _write(engine, timeline, alert_rows)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def _entry(case_id: str, seq: int, record: dict) -> dict:
    kind = "CaseOpened" if seq == 1 else "RecordAppended"
    return {
        "event_id": f"{case_id}-{seq}",
        "case_id": case_id,
        "seq": seq,
        "event_type": kind,
        "occurred_at": record["found_at"],
        "recorded_at": record["found_at"],
        "summary": "续报",
        "payload": json.dumps({"record": record, "fingerprint": "f" * 32}, ensure_ascii=False),
    }


def _alert(case_id: str, rnd: random.Random) -> dict:
    row = {c.name: None for c in alerts.columns}
    raised = f"2026-05-{rnd.randint(1, 28):02d}T09:00:00+08:00"
    return row | {
        "alert_id": "A" + case_id,
        "case_id": case_id,
        "status": rnd.choice(["open", "acknowledged", "resolved"]),
        "level": rnd.choice(["orange", "red"]),
        "township": "周庄镇",
        "category": "unpaid_wages",
        "units": json.dumps(["hrss"]),
        "reasons": "[]",
        "raised_at": raised,
        "acknowledge_by": raised,
        "acknowledged_at": raised,
        "escalation_step": 0,
        "last_seq": 1,
    }


def _write(engine: sa.Engine, timeline: list[dict], alert_rows: list[dict]) -> None:
    with engine.begin() as conn:
        insert_rows(conn, case_timeline, timeline)
        insert_rows(conn, alerts, alert_rows)


def answers_before(engine: sa.Engine) -> dict[str, str]:
    """The visit answers as ``kpis`` read them before migration 0011."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(case_timeline.c.case_id, case_timeline.c.payload)
            .where(
                case_timeline.c.event_type == "RecordAppended",
                case_timeline.c.payload.like('%"satisfaction"%'),
            )
            .order_by(case_timeline.c.case_id, case_timeline.c.seq)
        ).all()
    answer: dict[str, str] = {}
    for case_id, payload in found:
        answer[case_id] = json.loads(payload)["record"].get("satisfaction") or answer.get(case_id)
    return answer


def answers_now(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        query = sa.select(cases.c.case_id, cases.c.satisfaction)
        return dict(conn.execute(query.where(cases.c.satisfaction.is_not(None))).all())


def timings(engine: sa.Engine) -> tuple[float, float, float]:
    """Best of five, in ms: the answers now, the answers before, every KPI now."""
    now = best_ms(lambda: answers_now(engine))
    return now, best_ms(lambda: answers_before(engine)), best_ms(lambda: kpis(engine))


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--cases", type=int, default=100_000, help="cases (100,000)")
    p.add_argument("--pg-url", help="also on a PostgreSQL server (a database is created on it)")
    args = p.parse_args()
    print(f"{'database':<12}{'what':<26}{'now ms':>9}{'baseline ms':>13}{'ratio':>8}")
    for name, new_database in new_databases(args.pg_url):
        engine = make_engine(new_database())
        migrate(engine)
        t0 = time.perf_counter()
        fill(engine, args.cases)
        took = time.perf_counter() - t0
        print(f"{name}: {args.cases:,} cases, {6 * args.cases:,} timeline entries in {took:.0f} s")
        if answers_now(engine) != answers_before(engine):
            print("the two reads give different answers", file=sys.stderr)
            return 1
        now, before, whole = timings(engine)
        ratio = before / now
        print(f"{name:<12}{'satisfaction answers':<26}{now:>9.1f}{before:>13.1f}{ratio:>7.0f}x")
        print(f"{name:<12}{'every KPI':<26}{whole:>9.1f}{whole - now + before:>13.1f}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
