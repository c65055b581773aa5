"""Training on a temporal split: the model beats the rules on a later window and is calibrated."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from domain.risk.features import timestamp
from models.card import write_card
from models.estimator import EscalationRiskModel
from models.evaluate import at_budget
from models.train import temporal_split
from tests.test_model_support import county_snapshots, trained


def test_split_is_temporal_with_a_gap_of_one_horizon() -> None:
    rows = list(county_snapshots())
    split = temporal_split(rows, horizon_days=30)
    ts = np.array([timestamp(r.as_of) for r in rows])
    horizon = 30 * 86400
    assert len(split.train) and len(split.calibration) and len(split.test)
    # every train label window closes before the calibration window opens, and so on
    assert (ts[split.train] + horizon).max() <= ts[split.calibration].min()
    assert (ts[split.calibration] + horizon).max() <= ts[split.test].min()
    assert not set(split.train) & set(split.test)


def test_model_beats_rules_on_the_later_window_and_is_calibrated() -> None:
    result = trained()
    m = result.report["scorers"]
    cand, rules = m["candidate"], m["rules"]
    assert cand["average_precision"] > rules["average_precision"]
    assert cand["roc_auc"] > 0.65
    base = cand["base_rate"]
    # better than always predicting the base rate, and the mean prediction is near the truth
    assert cand["brier"] < base * (1 - base)
    assert abs(cand["mean_predicted"] - base) < 0.5 * base
    # the reliability bins climb: the top decile is far riskier than the bottom half
    rel = cand["reliability"]
    assert rel[-1]["observed_rate"] > 2 * np.mean([b["observed_rate"] for b in rel[:5]])
    assert cand["precision_at_budget"] >= rules["precision_at_budget"]
    assert set(result.report["per_category"]["candidate"]) <= {r.category for r in result.test_rows}


def test_card_has_figures_and_plots(tmp_path) -> None:
    result = trained()
    card = write_card(
        tmp_path, "v0099", result.metadata, result.report, result.test_rows, result.test_scores
    )
    text = card.read_text(encoding="utf-8")
    ap = result.report["scorers"]["candidate"]["average_precision"]
    assert f"{ap:.3f}" in text and "rules only" in text and "Brier" in text
    assert "拖欠农民工工资" in text  # per-category table
    for png in ("reliability.png", "pr_curve.png", "per_category.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
        assert f"({png})" in text


def test_estimator_follows_the_sklearn_api() -> None:
    rows = list(county_snapshots())[:3000]
    X = [r.features for r in rows]
    y = np.array([r.label for r in rows])
    model = EscalationRiskModel(C=0.5)
    assert model.fit(X, y) is model
    learned = [k for k in vars(model) if k.endswith("_")]
    assert {"classifier_", "scaler_", "onehot_", "tfidf_", "classes_"} <= set(learned)
    proba = model.predict_proba(X[:100])
    assert proba.shape == (100, 2) and np.allclose(proba.sum(axis=1), 1)
    assert model.predict(X[:7]).shape == (7,)
    fresh = clone(model)
    assert fresh.get_params()["C"] == 0.5 and not hasattr(fresh, "classifier_")
    # unknown categories and missing fields do not break scoring
    odd = dict(X[0], township="外县", category="unknown")
    del odd["people_max"]
    assert 0 <= model.predict_proba([odd])[0, 1] <= 1


def test_alert_budget_counts_top_n_per_week() -> None:
    y = np.array([1, 0, 0, 1, 0, 1])
    score = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.6])
    weeks = ["w1", "w1", "w1", "w2", "w2", "w2"]
    got = at_budget(y, score, weeks, budget=1)
    assert got["flagged"] == 2
    assert got["precision_at_budget"] == pytest.approx(0.5)  # w1 top is a hit, w2 top is not
    assert got["recall_at_budget"] == pytest.approx(1 / 3)


def test_the_model_scores_columns_as_it_scores_feature_rows() -> None:
    """A table's columns (the fast path of training) and the rows' feature dicts (what the
    stream scores) give the same probabilities from the same model."""
    from models.snapshot_table import features
    from tests.test_model_support import county_table

    table = county_table()[:3000]
    model = trained().model
    from_columns = model.predict_proba(features(table))[:, 1]
    from_rows = model.predict_proba([row.features for row in table])[:, 1]
    assert np.allclose(from_columns, from_rows, rtol=1e-9, atol=1e-12)
    assert from_columns.std() > 0.01  # not a constant


def test_the_card_says_whether_text_is_used_and_why_red_is_not_the_model_s(tmp_path) -> None:
    from models.card import red_evidence_words

    result = trained()
    for weight, said in ((0.0, "switched off"), (1.0, "Chinese character n-grams")):
        meta = {**result.metadata, "params": {**result.metadata["params"], "text_weight": weight}}
        card = write_card(
            tmp_path, "v0099", meta, result.report, result.test_rows, result.test_scores
        )
        assert said in card.read_text(encoding="utf-8")
    evidence = {
        "earned": False,
        "needed": {"confidence": 0.95, "min_cases": 30},
        "red_snapshots": 40,
        "red_cases": 18,
        "red_rate": 0.136,
        "orange_rate": 0.0,
        "confidence": 0.99,
    }
    assert "Too few cases" in red_evidence_words(evidence)
    assert "cannot tell" in red_evidence_words({**evidence, "red_cases": 40, "confidence": 0.6})
