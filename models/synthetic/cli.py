"""The command line of the synthetic county: ``python -m models.synthetic``.

Writes the records in posting order as JSON lines (and, with ``--events``, the case events)
and prints a summary: cases, records, duplicates, corrections, escalation rates.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator

from models.synthetic.cases import SyntheticCase
from models.synthetic.county import case_events, generate_county, iter_posting_order
from schemas.categories import CODES


def _summary(stats: dict[str, Counter], records: int, seconds: float) -> str:
    cases, escalated = stats["cases"], stats["escalated"]
    total = sum(cases.values())
    lines = [
        f"cases: {total:,}   records: {records:,}   "
        f"({stats['mess']['duplicates']:,} duplicates, {stats['mess']['corrections']:,} corrections)",
        f"escalated: {sum(escalated.values()):,} ({sum(escalated.values()) / max(total, 1):.1%})   "
        + "   ".join(f"{k} {v:,}" for k, v in sorted(stats["kinds"].items())),
        f"{'category':<22}{'cases':>9}{'escalated':>11}{'rate':>8}",
    ]
    for code in CODES:
        n = cases[code]
        lines.append(f"{code:<22}{n:>9,}{escalated[code]:>11,}{escalated[code] / max(n, 1):>8.1%}")
    lines.append(f"generated in {seconds:.1f} s ({total / max(seconds, 1e-9):,.0f} cases/s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Generate a county as the arguments say; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m models.synthetic", description="Generate the synthetic county."
    )
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--start", default="2025-01-01")
    parser.add_argument("--days", type=int, default=540)
    parser.add_argument("--out", required=True, help="records as JSON lines, in posting order")
    parser.add_argument("--events", help="case events as JSON lines (Envelope), case by case")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    stats: dict[str, Counter] = {k: Counter() for k in ("cases", "escalated", "kinds", "mess")}

    def counted(cases: Iterable[SyntheticCase]) -> Iterator[SyntheticCase]:
        for case in cases:
            stats["cases"][case.category] += 1
            if case.escalated_at:
                stats["escalated"][case.category] += 1
                stats["kinds"][case.escalation_kind] += 1
            previous = None
            for r in case.records:
                stats["mess"]["duplicates"] += r == previous  # duplicates are posted back to back
                stats["mess"]["corrections"] += r.get("record_kind") == "correction"
                previous = r
            if events_out is not None:
                for e in case_events(case):
                    events_out.write(e.to_bytes().decode("utf-8") + "\n")
            yield case

    began = time.perf_counter()
    n_records = 0
    events_out = open(args.events, "w", encoding="utf-8") if args.events else None
    try:
        with open(args.out, "w", encoding="utf-8") as out:
            cases = generate_county(
                args.cases, args.seed, args.start, args.days, progress=not args.no_progress
            )
            for record in iter_posting_order(counted(cases)):
                out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                n_records += 1
    finally:
        if events_out is not None:
            events_out.close()
    print(_summary(stats, n_records, time.perf_counter() - began))
    return 0
