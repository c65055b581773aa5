"""Levels set against the duty desk's capacity, on a synthetic county of the size the policy's
budget is written for (about 2,000 open cases a week)."""

from __future__ import annotations

import numpy as np
import pytest

from domain.risk.policy import default_policy
from models.card import decision_lines
from models.dataset import Snapshot
from models.levels import choose_cutoffs, decision_view, levels_of, red_evidence


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


def test_the_card_says_when_the_rules_alone_go_over_the_budget() -> None:
    policy = default_policy()  # red + orange: 20 a week per 2,000 open cases
    probs = np.zeros(2 * 2000)
    cut = {"red": None, "orange": 1.0, "yellow": 1.0}
    within = decision_view(_rows(weeks=2, per_week=2000, forced_red=20), probs, cut, policy)
    assert within["budget"]["weeks_over_by_rules"] == 0
    assert not any("by themselves" in line for line in decision_lines({"decision": within}))
    over = decision_view(_rows(weeks=2, per_week=2000, forced_red=25), probs, cut, policy)
    assert over["budget"]["weeks_over_by_rules"] == 2 and over["budget"]["weeks_kept"] == 0
    card = "\n".join(decision_lines({"decision": over}))
    assert "raised 25.0 cases a week to an alert by themselves" in card
    assert "went over the budget in 2 of these weeks" in card


def _weekly_cases(weeks: int, cases: int, top_rate: float, next_rate: float) -> tuple:
    """``cases`` open cases seen every week; the 12 highest-scored (the red and orange bands)
    change each week and escalate, over the weeks, at exactly ``top_rate`` (the first 3) and
    ``next_rate`` (the other 9)."""
    rows, scores = [], []
    for w in range(weeks):
        day = f"2026-{1 + w // 4:02d}-{1 + (w % 4) * 7:02d}T09:00:00+08:00"
        for i in range(cases):
            rate = top_rate if i < 3 else next_rate if i < 12 else 0.0
            case = f"C{w}-{i}" if i < 12 else f"C{i}"
            escalated = (w * 12 + i) % 10 < rate * 10  # every tenth case-week, in turn
            rows.append(Snapshot(case, day, int(escalated), {}))
            scores.append(-i)
    return rows, np.array(scores, dtype=float)


def test_red_is_set_by_the_model_only_where_its_cases_escalate_more_than_orange() -> None:
    policy = default_policy()  # red band: 3 of 2,000 a week; red + orange: 12
    earned = red_evidence(*_weekly_cases(40, 2000, top_rate=0.8, next_rate=0.2), policy)
    assert earned["earned"] and earned["confidence"] >= 0.95 and earned["red_cases"] == 120
    assert earned["red_rate"] > earned["orange_rate"]
    flat = red_evidence(*_weekly_cases(40, 2000, top_rate=0.3, next_rate=0.3), policy)
    assert not flat["earned"] and flat["confidence"] < 0.95
    few = red_evidence(*_weekly_cases(8, 2000, top_rate=0.8, next_rate=0.2), policy)
    assert few["red_cases"] == 24 and not few["earned"]  # too few cases to tell, however clear


def test_without_red_evidence_the_model_gives_no_red_and_its_top_cases_are_orange() -> None:
    policy = default_policy()
    rows = _rows(weeks=4, per_week=2000)
    probs = np.random.default_rng(1).random(len(rows))
    cut = choose_cutoffs(rows, probs, policy, red_earned=False)
    assert cut["red"] is None
    view = decision_view(rows, probs, cut, policy)
    assert view["levels"]["red"]["per_week"] == 0
    assert view["levels"]["orange"]["max_per_week"] <= 12  # 0.6 x 20
    assert levels_of([0.999], [None], cut) == ["orange"]
    assert levels_of([0.999], ["red"], cut) == ["red"]  # a rule the policy lets raise it


@pytest.mark.slow
def test_on_a_county_sized_synthetic_county_the_budget_holds_and_levels_rank(tmp_path) -> None:
    """The model's cut-offs keep the desk's budget where the rules leave room for it: here a
    policy whose threats and large groups raise yellow, not the packaged orange (which fills
    the budget on the synthetic county by itself; the card says so, below)."""
    from domain.risk.policy import DEFAULT_POLICY, load_policy
    from models.dataset import build_dataset
    from models.train import TrainConfig, train_and_evaluate
    from models.workbench import synthetic_events

    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    for rule in ("explicit_threat", "large_group"):
        assert text.count(f"  {rule}: {{raises: orange,") == 1
        text = text.replace(f"  {rule}: {{raises: orange,", f"  {rule}: {{raises: yellow,")
    (tmp_path / "policy.yaml").write_text(text, encoding="utf-8")
    quiet = load_policy(tmp_path / "policy.yaml")
    rows = build_dataset(synthetic_events(15_000, seed=2026), policy=quiet)
    report = train_and_evaluate(rows, TrainConfig(), policy=quiet).report
    d = report["decision"]
    assert d["budget"]["weeks_kept"] == d["weeks"] >= 15
    levels = d["levels"]
    alerted = levels["red"]["recall"] + levels["orange"]["recall"]
    n_alerted = levels["red"]["per_week"] + levels["orange"]["per_week"]
    assert n_alerted > 0 and alerted > 0
    # each level in use escalates more often than the one below it
    rates = [m["precision"] for m in levels.values() if m["precision"] is not None]
    assert len(rates) >= 3 and rates == sorted(rates, reverse=True) and d["monotone"]
    # red from the model only with its evidence, which the card states either way
    evidence = d["red_evidence"]
    assert (d["cutoffs"]["red"] is not None) == evidence["earned"]
    assert set(report["rules"]) >= {"explicit_threat", "group_size"}
    card = "\n".join(decision_lines(report))
    assert ("Red is set by the model" in card) == evidence["earned"]
    assert f"{evidence['confidence']:.0%} of case resamples" in card
