"""Benchmark: batch vs single-row scoring, and training time on a large synthetic county.

    .venv/bin/python bench/bench_scoring.py                 # scoring + training on 100k cases
    .venv/bin/python bench/bench_scoring.py --cases 20000   # quicker
    .venv/bin/python bench/bench_scoring.py --skip-training

Scoring: one model, the same feature rows, scored once as one batch and once row by row
(``predict_proba([row])``), per case; then the same for the whole path the stream uses
(``models.scoring.score_cases`` on CaseState objects: features, rules, model, explanations).
Training: events of a synthetic county (generated once and cached in var/bench/) are replayed
into snapshots, and the model is fitted, calibrated and evaluated; each step is timed.
BLAS/OpenMP threads are limited to 2 (threadpoolctl; the figure asked for is "on 2 cores").
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

THREADS = 2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import parser as bench_parser  # noqa: E402
from domain.case import fold  # noqa: E402
from models.dataset import (  # noqa: E402
    build_dataset,
    group_by_case,
    read_events_jsonl,
    write_events_jsonl,
)
from models.registry import LoadedModel  # noqa: E402
from models.scoring import score_cases  # noqa: E402
from models.synthetic import event_log, generate_county  # noqa: E402
from models.train import TrainConfig, train_and_evaluate  # noqa: E402


def _events(cases: int, seed: int, cache_dir: Path) -> tuple[list, float, bool]:
    path = cache_dir / f"events-{cases}-{seed}.jsonl.gz"
    began = time.perf_counter()
    if path.exists():
        return list(read_events_jsonl(path)), time.perf_counter() - began, True
    events = list(event_log(generate_county(cases, seed=seed, progress=True)))
    seconds = time.perf_counter() - began
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_events_jsonl(events, path)
    return events, seconds, False


def bench_scoring(model: LoadedModel, rows: list[dict], states: list, single_n: int) -> None:
    X = rows
    model.model.predict_proba(X[:50])  # warm up
    t = time.perf_counter()
    model.model.predict_proba(X)
    batch = (time.perf_counter() - t) / len(X)
    t = time.perf_counter()
    for row in X[:single_n]:
        model.model.predict_proba([row])
    single = (time.perf_counter() - t) / single_n

    t = time.perf_counter()
    score_cases(model, states)
    batch_e2e = (time.perf_counter() - t) / len(states)
    t = time.perf_counter()
    for s in states[:single_n]:
        score_cases(model, [s])
    single_e2e = (time.perf_counter() - t) / single_n
    t = time.perf_counter()
    score_cases(model, states, explain=False)
    batch_noexp = (time.perf_counter() - t) / len(states)

    print("\n== scoring (per case) ==")
    print(f"{'':44}{'batch':>12}{'single-row':>14}{'ratio':>9}")
    print(
        f"{'model.predict_proba (feature rows)':44}{batch * 1e6:>10.1f}us{single * 1e6:>12.1f}us"
        f"{single / batch:>8.0f}x"
    )
    print(
        f"{'score_cases(CaseState): features+rules+model+explanations':44}"
        f"{batch_e2e * 1e6:>10.1f}us{single_e2e * 1e6:>12.1f}us{single_e2e / batch_e2e:>8.1f}x"
    )
    print(f"{'score_cases without explanations (batch)':44}{batch_noexp * 1e6:>10.1f}us")
    print(f"(batch of {len(X):,} rows / {len(states):,} case states; single-row over {single_n:,})")


def main(argv: list[str] | None = None) -> int:
    p = bench_parser(__doc__)
    p.add_argument("--cases", type=int, default=100_000, help="cases for the training benchmark")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument(
        "--score-cases", type=int, default=3000, help="county size for the scoring benchmark"
    )
    p.add_argument("--single", type=int, default=500, help="rows scored one at a time")
    p.add_argument("--skip-training", action="store_true")
    p.add_argument(
        "--cache", default=str(ROOT / "var" / "bench"), help="where generated events are cached"
    )
    args = p.parse_args(argv)

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus visible, "
        f"python {platform.python_version()}, threads limited to {THREADS}"
    )

    # ---- scoring ---------------------------------------------------------------------------
    events, _, _ = _events(args.score_cases, args.seed, Path(args.cache))
    snapshots = build_dataset(events)
    result = train_and_evaluate(snapshots, TrainConfig())
    model = LoadedModel("bench", result.model, result.metadata)
    rows = [s.features for s in snapshots[-10_000:]]
    cases = group_by_case(events)
    states = [fold(cid, evs) for cid, evs in cases.items()][:3000]
    bench_scoring(model, rows, states, args.single)

    if args.skip_training:
        return 0

    # ---- training --------------------------------------------------------------------------
    print(f"\n== training on {args.cases:,} cases ==")
    events, gen_s, cached = _events(args.cases, args.seed, Path(args.cache))
    print(
        f"events: {len(events):,} ({'read from cache' if cached else 'generated'} in {gen_s:.0f} s; "
        "not part of training)"
    )
    t0 = time.perf_counter()
    snapshots = build_dataset(events, progress=True)
    t1 = time.perf_counter()
    result = train_and_evaluate(snapshots, TrainConfig(), progress=True)
    t2 = time.perf_counter()
    m = result.report["scorers"]
    sizes = result.report["sizes"]
    print(
        f"snapshots: {len(snapshots):,} (train {sizes['train']['snapshots']:,}, "
        f"calibration {sizes['calibration']['snapshots']:,}, test {sizes['test']['snapshots']:,})"
    )
    print(f"replay -> snapshots: {t1 - t0:7.1f} s")
    print(f"fit + calibrate:     {result.metadata['fit_seconds']:7.1f} s")
    print(f"fit + evaluate:      {t2 - t1:7.1f} s")
    print(f"total training:      {t2 - t0:7.1f} s  ({(t2 - t0) / 60:.1f} min)")
    print(
        f"test window AP {m['candidate']['average_precision']:.3f} (rules {m['rules']['average_precision']:.3f}), "
        f"ROC-AUC {m['candidate']['roc_auc']:.3f} (rules {m['rules']['roc_auc']:.3f}), "
        f"Brier {m['candidate']['brier']:.4f} (rules {m['rules']['brier']:.4f}, "
        f"base rate {m['candidate']['base_rate']:.4f})"
    )
    cand, rules = m["candidate"], m["rules"]
    print(
        f"calibration: mean predicted {cand['mean_predicted']:.4f} vs observed {cand['base_rate']:.4f}; "
        "reliability deciles (predicted -> observed): "
        + ", ".join(
            f"{b['mean_predicted']:.3f}->{b['observed_rate']:.3f}" for b in cand["reliability"]
        )
    )
    print(
        f"top {cand['budget_per_week']}/week: precision {cand['precision_at_budget']:.3f} "
        f"(rules {rules['precision_at_budget']:.3f}), recall {cand['recall_at_budget']:.3f} "
        f"(rules {rules['recall_at_budget']:.3f})"
    )
    return 0


if __name__ == "__main__":
    with threadpool_limits(THREADS):
        sys.exit(main())
