"""Levels set against the duty desk's capacity, on a synthetic county of the size the policy's
budget is written for (about 2,000 open cases a week)."""

from __future__ import annotations

import numpy as np
import pytest

from domain.risk.policy import default_policy
from models.dataset import Snapshot
from models.levels import choose_cutoffs, decision_view


def _rows(weeks: int, per_week: int, forced_red: int = 0) -> list[Snapshot]:
    rows = []
    for w in range(weeks):
        day = f"2026-03-{2 + w * 7:02d}T09:00:00+08:00"
        for i in range(per_week):
            level = "red" if i < forced_red else None
            rows.append(Snapshot(f"C{w}-{i}", day, int(i % 10 == 0), {}, rule_level=level))
    return rows


def test_cutoffs_keep_every_week_within_the_budget_with_headroom() -> None:
    policy = default_policy()  # red 5, red + orange 20 per 2,000 open cases; headroom 0.6
    rows = _rows(weeks=4, per_week=2000)
    probs = np.random.default_rng(1).random(len(rows))
    cut = choose_cutoffs(rows, probs, policy)
    view = decision_view(rows, probs, cut, policy)
    assert view["levels"]["red"]["max_per_week"] <= 3  # 0.6 x 5
    assert view["levels"]["red"]["max_per_week"] + view["levels"]["orange"]["max_per_week"] <= 24
    assert view["budget"]["weeks_kept"] == 4
    assert cut["red"] > cut["orange"] > cut["yellow"]


def test_cases_the_rules_raise_use_up_the_budget_first() -> None:
    policy = default_policy()
    rows = _rows(weeks=2, per_week=2000, forced_red=3)
    probs = np.random.default_rng(2).random(len(rows))
    assert choose_cutoffs(rows, probs, policy)["red"] == 1.0  # no room left for the model


@pytest.mark.slow
def test_on_a_county_sized_synthetic_county_the_budget_holds_and_levels_rank() -> None:
    from models.dataset import build_dataset
    from models.train import TrainConfig, train_and_evaluate
    from models.workbench import synthetic_events

    rows = build_dataset(synthetic_events(15_000, seed=2026))
    report = train_and_evaluate(rows, TrainConfig()).report
    d = report["decision"]
    assert d["budget"]["weeks_kept"] == d["weeks"] >= 15
    levels = d["levels"]
    alerted = levels["red"]["recall"] + levels["orange"]["recall"]
    n_alerted = levels["red"]["per_week"] + levels["orange"]["per_week"]
    assert n_alerted > 0 and alerted > 0
    # escalation rate: red and orange above yellow, yellow above blue
    assert (
        min(levels["red"]["precision"], levels["orange"]["precision"])
        > levels["yellow"]["precision"]
    )
    assert levels["yellow"]["precision"] > levels["blue"]["precision"]
    assert set(report["rules"]) >= {"explicit_threat", "group_size"}
