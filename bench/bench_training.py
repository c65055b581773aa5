"""Benchmark: from the case-event log to an evaluated model, time and peak memory.

    .venv/bin/python bench/bench_training.py --cases 100000
    .venv/bin/python bench/bench_training.py --cases 20000 --runs baseline,jobs2

The log is a synthetic county's case events, generated once and cached in var/bench/ (the
same file ``bench_scoring.py`` uses).  Each run is a fresh process that reads the log, replays
it into point-in-time snapshots and fits, calibrates and evaluates the model on the temporal
split (``train_and_evaluate``: what ``ews model train --no-evidence`` does after reading the
log), so its peak memory (its own and its workers') is that of the run alone.  Runs:

* ``baseline``: the log read into memory as envelopes, then replayed in one process
  (``build_dataset``: what ``ews model train --events`` did before the bulk path);
* ``bulk``: the log split by case into shard files and replayed by two worker processes,
  each shard into columns (``build_dataset_from_log(jobs=2)``: what ``ews model train --events``
  does now); the only run that fits in memory at a million cases.

BLAS/OpenMP threads are limited to 2.  Prints each step's time, the peak memory, and the
ratio of each run to the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import parser as bench_parser  # noqa: E402

RUNS = ("baseline", "bulk")


def _log(cases: int, seed: int) -> Path:
    """The cached event log of a synthetic county (generated on first use)."""
    path = ROOT / "var" / "bench" / f"events-{cases}-{seed}.jsonl.gz"
    if not path.exists():
        from models.dataset import write_events_jsonl
        from models.synthetic import event_log, generate_county

        began = time.perf_counter()
        path.parent.mkdir(parents=True, exist_ok=True)
        n = write_events_jsonl(event_log(generate_county(cases, seed=seed, progress=True)), path)
        print(f"generated {n:,} events in {time.perf_counter() - began:.0f} s -> {path}")
    return path


def one_run(log: str, run: str) -> dict:
    """Read, replay, fit and evaluate; the times and this process's peak memory."""
    from threadpoolctl import threadpool_limits

    from models.dataset import build_dataset, build_dataset_from_log, read_events_jsonl
    from models.train import TrainConfig, train_and_evaluate

    with threadpool_limits(limits=2):
        t0 = time.perf_counter()
        if run == "baseline":
            events = list(read_events_jsonl(log))
            t1 = time.perf_counter()
            rows = build_dataset(events)
            del events
        else:  # reading is part of the bulk replay
            t1 = t0
            rows = build_dataset_from_log(log, jobs=2)
        t2 = time.perf_counter()
        result = train_and_evaluate(rows, TrainConfig())
        t3 = time.perf_counter()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ap = result.report["scorers"]["candidate"]["average_precision"]
    return {
        "read_s": round(t1 - t0, 1),
        "snapshots_s": round(t2 - t1, 1),
        "train_evaluate_s": round(t3 - t2, 1),
        "total_s": round(t3 - t0, 1),
        "snapshots": len(rows),
        "peak_mb": round(own / 1024),
        "peak_worker_mb": round(workers / 1024),
        "ap": round(ap, 4),
    }


def main(argv: list[str] | None = None) -> int:
    p = bench_parser(__doc__)
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--runs", default=",".join(RUNS), help="which runs (default: baseline,bulk)")
    p.add_argument("--one", nargs=2, metavar=("LOG", "RUN"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:  # inside the child process
        print(json.dumps(one_run(args.one[0], args.one[1])))
        return 0
    log = _log(args.cases, args.seed)
    print(
        f"{args.cases:,} cases, log {log.name}; {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    found = {}
    for name in args.runs.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(log), name],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        found[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name}: {found[name]}", flush=True)
    base = found.get("baseline")
    print(
        f"\n{'run':<10}{'read':>8}{'snapshots':>11}{'fit+eval':>10}{'total':>9}"
        f"{'peak MB':>9}{'workers MB':>12}{'AP':>8}{'vs baseline':>13}"
    )
    for name, r in found.items():
        ratio = f"{base['total_s'] / r['total_s']:.2f}x" if base else "-"
        print(
            f"{name:<10}{r['read_s']:>8}{r['snapshots_s']:>11}{r['train_evaluate_s']:>10}"
            f"{r['total_s']:>9}{r['peak_mb']:>9}{r['peak_worker_mb']:>12}{r['ap']:>8}{ratio:>13}"
        )
    r = found[list(found)[-1]]
    per_snapshot_kb = r["peak_mb"] * 1024 / max(r["snapshots"], 1)
    print(
        f"\n{r['snapshots']:,} snapshots; peak memory about {per_snapshot_kb:.1f} KB per snapshot "
        f"in the parent process"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
