"""Model evidence: rolling windows, case-resampled intervals, out-of-template data, masking,
the text ablation and what the card says about them."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from domain.risk.features import timestamp
from domain.risk.masking import mask_text
from domain.risk.policy import default_policy
from models.dataset import DAY, Snapshot
from models.heldout import load_handwritten, score_handwritten
from models.rolling import case_bootstrap, rolling_windows
from models.synthetic import generate_county
from models.synthetic.cases import CaseStory, weekly_logit
from models.synthetic.story import MAIN, OTHER
from schemas.categories import CODES
from tests.test_model_support import county_snapshots, trained

CHINA = dt.timezone(dt.timedelta(hours=8))


def _row(case: str, day: int, label: int, category: str = "neighbour") -> Snapshot:
    at = dt.datetime(2025, 1, 1, tzinfo=CHINA) + dt.timedelta(days=day)
    return Snapshot(case, at.isoformat(), label, {"category": category})


# ---- rolling windows ------------------------------------------------------------------------


def test_rolling_windows_are_consecutive_and_never_train_on_what_they_test() -> None:
    rows = county_snapshots()
    windows = rolling_windows(rows, windows=4, horizon_days=30)
    assert len(windows) == 4
    ts = np.array([timestamp(r.as_of) for r in rows])
    tested = np.concatenate([w.test for w in windows])
    assert len(tested) == len(set(tested.tolist())), "a snapshot is tested twice"
    for earlier, later in zip(windows, windows[1:], strict=False):
        assert earlier.test_to == later.test_from
        assert len(later.train) > len(earlier.train), "later origins see more history"
    for w in windows:
        start = ts[w.test].min()
        # every label used for fitting or calibrating is known before the window starts
        assert (ts[w.train] + 30 * DAY <= ts[w.calibration].min()).all()
        assert (ts[w.calibration] + 30 * DAY <= start).all()


def test_case_resampling_widens_intervals_when_a_case_is_seen_many_weeks() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 40)
    p = np.clip(y * 0.3 + rng.random(40) * 0.7, 0, 1)
    # 40 cases, each looked at in 10 weekly snapshots that say the same thing
    y10, p10 = np.repeat(y, 10), np.repeat(p, 10)
    base = np.full(400, y.mean())
    by_case = case_bootstrap([f"c{i // 10}" for i in range(400)], y10, {"m": p10}, base, base)
    by_row = case_bootstrap([f"r{i}" for i in range(400)], y10, {"m": p10}, base, base)

    def width(found: dict) -> float:
        lo, hi = found["scorers"]["m"]["average_precision"]["ci95"]
        return hi - lo

    assert by_case["cases"] == 40
    # treating the 400 snapshots as independent would claim about three times the certainty
    assert width(by_case) > 2 * width(by_row)


def test_a_paired_difference_of_a_scorer_with_itself_is_zero_and_noise_is_not_a_win() -> None:
    rng = np.random.default_rng(2)
    y = (rng.random(600) < 0.2).astype(int)
    good = np.clip(0.5 * y + 0.5 * rng.random(600), 0, 1)
    noise = rng.random(600)
    base = np.full(600, y.mean())
    found = case_bootstrap(
        [f"c{i % 150}" for i in range(600)],
        y,
        {"good": good, "same": good.copy(), "noise": noise},
        base,
        base,
        resamples=200,
        pairs=[("good", "same"), ("good", "noise")],
    )
    assert found["differences"]["good-same"]["average_precision"]["ci95"] == [0.0, 0.0]
    assert found["differences"]["good-noise"]["average_precision"]["ci95"][0] > 0


# ---- the other story ------------------------------------------------------------------------


def test_the_other_story_has_its_own_words_numbers_and_interactions() -> None:
    main = [r["description"] for c in generate_county(300, seed=5) for r in c.records]
    other = [
        r["description"] for c in generate_county(300, seed=5, story="other") for r in c.records
    ]
    openings_main = {d[:8] for d in main}
    openings_other = {d[:8] for d in other}
    assert len(openings_main & openings_other) < 0.05 * len(openings_other)
    case = CaseStory(
        category="unpaid_wages",
        township="周庄镇",
        village="x",
        people=12,
        amount=None,
        temper=0.0,
        threat="block",
        organising=True,
        media=False,
        visits=0,
        skip_level=0,
        petition_on=None,
        speed=0.3,
    )
    day = dt.date(2025, 6, 1)
    # a threat nobody has answered yet weighs more in the other story than once answered
    assert weekly_logit(case, day, False, False, False, OTHER) - weekly_logit(
        case, day, True, False, False, OTHER
    ) > weekly_logit(case, day, False, False, False, MAIN) - weekly_logit(
        case, day, True, False, False, MAIN
    )


# ---- masking and explanations ---------------------------------------------------------------


def test_masking_removes_names_numbers_and_places_and_keeps_the_risk_words() -> None:
    text = "周庄镇韩庄村李秀兰与邻居刘大海因宅基地边界争执，刘大海扬言要拿刀，涉及3.5万元。"
    masked = mask_text(text)
    for gone in ("周庄镇", "韩庄村", "李秀兰", "刘大海", "3.5"):
        assert gone not in masked
    assert "宅基地" in masked and "扬言要拿刀" in masked


def test_masking_keeps_every_phrase_of_the_lexicon() -> None:
    lexicon = default_policy().lexicon
    phrases = set(lexicon.threats) | {p for g in lexicon.groups for p in g.phrases}
    lost = [
        p
        for p in sorted(phrases)
        if not any(c.isdigit() for c in p)  # numbers are masked on purpose (12345)
        and p not in mask_text(f"据反映，{p}，") + mask_text(f"{p}。")
    ]
    assert not lost
    # and the mistakes a careless masker makes: a place swallowing the verb before it
    assert mask_text("多名村民围堵镇政府大门") == "多名村民围堵镇政府大门"
    assert mask_text("对方表示，于明天到") == "对方表示，于明天到"
    assert mask_text("人数为50，20人受伤") == "人数为#，#人受伤"


def test_explanations_with_the_text_block_name_no_party() -> None:
    from models.explain import explain_rows
    from models.train import TrainConfig, fit_calibrated, temporal_split

    rows = list(county_snapshots())
    split = temporal_split(rows)
    model = fit_calibrated(
        [rows[i].features for i in split.train],
        np.array([rows[i].label for i in split.train]),
        [rows[i].features for i in split.calibration],
        np.array([rows[i].label for i in split.calibration]),
        TrainConfig(text_weight=3.0),  # text strong enough to be a reason
    )
    names = {
        p
        for c in generate_county(1500, seed=2026)
        for r in c.records
        for p in (r.get("parties") or [])
    }
    test = [rows[i].features for i in split.test[:1500]]
    said = [f for fs in explain_rows(model, test, top=3) for f in fs]
    texts = [f.zh + f.en for f in said if f.code == "text"]
    assert texts, "the text block gave no reason at all: the test proves nothing"
    leaked = {n for n in names if len(n) >= 2 and any(n in t for t in texts)}
    assert not leaked
    assert not any(re.search(r"\d", t) for t in texts)


# ---- hand-written cases ---------------------------------------------------------------------


def test_the_hand_written_set_covers_every_category_and_goes_through_intake() -> None:
    cases = load_handwritten()
    assert len(cases) >= 60
    assert {c.category for c in cases} == set(CODES)
    assert 0.2 < np.mean([c.escalates for c in cases]) < 0.6
    found = score_handwritten(cases[:12], None, resamples=20)
    assert found["cases"] == 12 and len(found["rows"]) == 12
    assert all(r["rules_level"] in ("red", "orange", "yellow", "blue") for r in found["rows"])


def test_hand_written_scores_rank_and_level_against_the_officer() -> None:
    from models.registry import LoadedModel

    result = trained()
    cases = load_handwritten()
    model = LoadedModel("t", result.model, {"level_cutoffs": result.metadata["level_cutoffs"]})
    found = score_handwritten(cases, model, resamples=100)
    for scorer in ("model", "rules"):
        ap = found["ranking"][scorer]["average_precision"]
        lo, hi = ap["ci95"]
        assert lo <= ap["value"] <= hi
        agreement = found["levels"][scorer]
        assert 0 <= agreement["same_level"] <= agreement["within_one_level"] <= 1
    escalating = {c.id for c in cases if c.escalates}
    assert set(found["levels"]["model"]["escalating_left_blue"]) <= escalating


# ---- the card, end to end -------------------------------------------------------------------


@pytest.mark.slow
def test_the_card_states_what_the_evidence_supports(tmp_path, capsys) -> None:
    """Train as an analyst would (3,000 cases, the defaults) and hold the card to its figures:
    calibration within its interval on the training data, the out-of-template verdicts the same
    as the intervals say, the text block kept off unless it helps, no names in explanations."""
    import json

    from ews.cli import main as ews_main
    from models.registry import Registry

    models = tmp_path / "models"
    assert ews_main(["model", "train", "--no-kafka", "--quiet", "--model-dir", str(models)]) == 0
    out = capsys.readouterr().out
    folder = Registry(models).path("v0001")
    card = (folder / "card.md").read_text(encoding="utf-8")
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    ev = report["evidence"]
    assert "The evidence on this card is synthetic" in "\n".join(card.splitlines()[:6])
    assert "from code unknown" not in card  # the card names the commit it was trained from
    # calibration: right on average on later windows, within the case-resampled interval
    gap = ev["rolling"]["pooled"]["scorers"]["candidate"]["calibration_gap"]
    assert gap["ci95"][0] <= 0 <= gap["ci95"][1], gap
    assert "right on average within the noise" in card
    # out of template: the card's verdict is the one the interval gives
    other = ev["out_of_template"]["other_county"]["pooled"]["differences"]["candidate-rules"]
    lo, hi = other["average_precision"]["ci95"]
    section = card[card.index("## Out of template: the other county") :]
    said = section[: section.index("## Out of template: hand-written")]
    if lo > 0:
        assert "**candidate beats rules only** by more than the noise" in said
    else:
        assert "**candidate does not beat rules only by more than the noise**" in said
    hand = ev["out_of_template"]["handwritten"]
    assert hand["cases"] >= 60 and "## Out of template: hand-written cases" in card
    helps = ev["text_ablation"]["helps"]
    assert ("stays off" in card) is (not helps)
    assert "## Text ablation" in out and "## Rolling windows" in out
    # explanations of the hand-written cases: no party named in them
    lexicon = default_policy().lexicon
    words = {*lexicon.threats, *(p for g in lexicon.groups for p in g.phrases)}
    parties = {  # one case lists its owners' chat group (业主群, a phrase of the lexicon) as a party
        p
        for c in load_handwritten()
        for r in c.records
        for p in (r.get("parties") or [])
        if len(p) >= 2 and p not in words
    }
    reasons = [f for row in hand["rows"] for f in row.get("factors", [])]
    assert reasons and not [n for n in parties if any(n in f for f in reasons)]


def test_the_model_in_service_is_compared_only_where_it_was_not_fitted() -> None:
    """Retraining beside the version in service: its rolling windows start at its own test
    window, not on the data it was trained and calibrated on."""
    from models.evidence import EvidenceConfig, gather_evidence
    from models.registry import LoadedModel
    from models.train import TrainConfig

    result = trained()
    served = LoadedModel("v0001", result.model, result.metadata)
    served_from = result.metadata["data_window"]["test"][0]
    found = gather_evidence(
        county_snapshots(),
        result.model,
        result.metadata["level_cutoffs"],
        TrainConfig(C=0.1),
        in_service=served,
        evidence=EvidenceConfig(windows=2, resamples=20, other_cases=0, handwritten=False),
        refit=False,
    )
    rolling = found["rolling"]
    assert rolling["not_before"] == served_from
    starts = [w["test"][0] for w in rolling["windows"]]
    assert starts and all(s >= served_from[:10] for s in starts), (starts, served_from)
    assert "in_service" in rolling["pooled"]["scorers"]


def test_evaluating_a_version_on_its_own_log_tests_only_after_its_own_test_window(
    tmp_path,
) -> None:
    """`ews model evaluate --test-fraction 0.5` on the log the version was trained on: the
    test window is the version's own, not half the log it was fitted and calibrated on."""
    from models.registry import LoadedModel
    from models.train import TooLittleData, TrainConfig
    from models.workbench import evaluate_version

    result = trained()
    version = LoadedModel("v0001", result.model, result.metadata)
    own_start = result.metadata["data_window"]["test"][0]
    wide = TrainConfig(C=0.1, test_fraction=0.5)
    found = evaluate_version(county_snapshots(), version, wide, tmp_path, evidence=None)
    assert found.test_window[0] >= own_start
    assert found.test_snapshots == len(result.test_rows)
    earlier = [r for r in county_snapshots() if r.as_of < own_start]
    with pytest.raises(TooLittleData, match="before .* where the own test window"):
        evaluate_version(earlier, version, wide, tmp_path, evidence=None)


def test_two_versions_are_compared_only_after_both_own_test_windows() -> None:
    from models.train import latest_test_start

    earlier = {"data_window": {"test": ["2026-01-18T10:48:28+08:00", "2026-06-01T00:00:00+08:00"]}}
    later = {"data_window": {"test": ["2026-03-02T09:00:00+08:00", "2026-08-01T00:00:00+08:00"]}}
    assert latest_test_start(earlier, later) == latest_test_start(later, earlier)
    assert latest_test_start(earlier, later) == "2026-03-02T09:00:00+08:00"
    assert latest_test_start(earlier, {}) == "2026-01-18T10:48:28+08:00"
    assert latest_test_start({}) is None


def test_training_compares_the_model_in_service_only_where_it_was_not_fitted(tmp_path) -> None:
    from models.card import card_markdown
    from models.registry import LoadedModel
    from models.train import TrainConfig, train_and_evaluate

    served = trained()
    later = {**served.metadata, "data_window": {"test": ["2099-01-01T00:00:00+08:00"] * 2}}
    result = train_and_evaluate(
        county_snapshots(), TrainConfig(C=0.1), LoadedModel("v0009", served.model, later)
    )
    assert "in_service" not in result.report["scorers"]
    assert "v0009's own test window starts 2099-01-01" in result.report["in_service_left_out"]
    card = card_markdown("v0010", result.metadata, result.report)
    assert "Not compared with the model in service on this window" in card
    same = LoadedModel("v0001", served.model, served.metadata)  # tested from the same day
    compared = train_and_evaluate(county_snapshots(), TrainConfig(C=0.1), same)
    assert "in_service" in compared.report["scorers"]
    assert "in_service_left_out" not in compared.report
