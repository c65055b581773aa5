"""The web console's case list at a county's scale: one page (50 cases, the latest found first)
of N cases, for the whole county and for one township, the first page and the next.

The read models are built by the migrations into a new database and filled with N case rows
(ten townships, found-at times spread over a year); then each page is read as the console
reads it (``readside.case_queries.case_rows``):

* now: with the case-list indexes of migration 0010;
* baseline: the same database with those two indexes dropped (every case sorted per page).

    .venv/bin/python bench/bench_case_list.py --cases 300000
    .venv/bin/python bench/bench_case_list.py --cases 300000 --pg-url postgresql://HOST/DB
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.common import new_databases  # noqa: E402
from bench.common import parser as bench_parser  # noqa: E402
from readside.bulk import insert_rows  # noqa: E402
from readside.case_queries import case_rows  # noqa: E402
from readside.db import make_engine, migrate  # noqa: E402
from readside.tables import cases  # noqa: E402

TOWNSHIPS = (
    "城关镇",
    "周庄镇",
    "闹店镇",
    "石桥镇",
    "商酒务镇",
    "杨庄镇",
    "赵庄镇",
    "李庄乡",
    "张八桥镇",
    "肖旗乡",
)
INDEXES = ("ix_cases_found_order", "ix_cases_township_found_order")


def fill(engine: sa.Engine, n: int) -> None:
    rnd = random.Random(2026)
    rows = []
    for i in range(n):
        found = (
            f"2026-{rnd.randint(1, 11):02d}-{rnd.randint(1, 28):02d}T"
            f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:00+08:00"
        )
        rows.append(
            {
                "case_id": "C" + uuid.UUID(int=rnd.getrandbits(128)).hex[:20],
                "township": rnd.choice(TOWNSHIPS),
                "village": None,
                "ref_no": f"R{i}",
                "category": "unpaid_wages",
                "status": "open",
                "opened_at": found,
                "closed_at": None,
                "last_found_at": found,
                "record_count": 1,
                "people_involved": None,
                "amount_involved_yuan": None,
                "is_petition": None,
                "petition_received_on": None,
                "follow_up_status": "new",
                "escalation_kind": None,
                "last_seq": 1,
                "updated_at": found,
                "category_corrected_at": None,
                "status_found_at": None,
                "satisfaction": None,
            }
        )
    with engine.begin() as conn:
        for i in range(0, n, 50_000):
            insert_rows(conn, cases, rows[i : i + 50_000])
        conn.exec_driver_sql("ANALYZE")


def best_ms(read: Callable[[], object], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        read()
        times.append(time.perf_counter() - t0)
    return min(times) * 1000


def pages(engine: sa.Engine) -> dict[str, float]:
    """Best of five, in ms: the first and the next page, county-wide and for one township."""
    out = {}
    for name, township in (("county", None), ("township", "周庄镇")):
        first = case_rows(engine, township=township, limit=50)
        after = (first[-1]["last_found_at"], first[-1]["case_id"])
        out[f"{name}, first page"] = best_ms(lambda t=township: case_rows(engine, t, limit=50))
        out[f"{name}, next page"] = best_ms(
            lambda t=township, a=after: case_rows(engine, t, limit=50, after=a)
        )
    return out


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--cases", type=int, default=300_000, help="case rows (300,000)")
    p.add_argument("--pg-url", help="also on a PostgreSQL server (a database is created on it)")
    args = p.parse_args()
    print(f"{'database':<12}{'page':<22}{'now ms':>9}{'baseline ms':>13}{'ratio':>8}")
    for name, new_database in new_databases(args.pg_url):
        engine = make_engine(new_database())
        migrate(engine)
        t0 = time.perf_counter()
        fill(engine, args.cases)
        print(
            f"{name}: {args.cases:,} cases written in {time.perf_counter() - t0:.1f} s", flush=True
        )
        now = pages(engine)
        with engine.begin() as conn:
            for index in INDEXES:
                conn.exec_driver_sql(f"DROP INDEX {index}")
        baseline = pages(engine)
        for page, ms in now.items():
            ratio = baseline[page] / ms
            print(f"{name:<12}{page:<22}{ms:>9.1f}{baseline[page]:>13.1f}{ratio:>7.0f}x")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
