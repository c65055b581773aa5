"""The pure logic alone: microseconds per record for ``domain.intake.admit`` followed by
``domain.case.handle_command`` (what every side of ``bench_peers.py`` calls), no Kafka.

    .venv/bin/python bench/bench_logic.py --records 10000 --rounds 5
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import parser as bench_parser  # noqa: E402
from bench.peers.logic import admitted, step  # noqa: E402
from domain.intake import Posted  # noqa: E402
from ews.demo_batch import demo_batch  # noqa: E402


def main() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=5, help="best of this many rounds")
    args = p.parse_args()
    data = demo_batch(args.records, bad_fraction=0.05, duplicates=0)
    posts = [
        Posted("p.records", 0, i, 1_790_000_000_000 + i, d.data, ()) for i, d in enumerate(data)
    ]
    best = float("inf")
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        states: dict = {}
        for posted in posts:
            case_id, out = admitted(posted)
            if case_id is not None:
                states[case_id], _ = step(states.get(case_id), out)
        best = min(best, time.perf_counter() - t0)
    print(
        f"{len(posts):,} records: {best * 1e6 / len(posts):.1f} us per record (best of {args.rounds})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
