"""Every score carries its top factors in plain Chinese and English."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.case import CaseState, decide, step
from domain.risk.policy import default_policy
from models.explain import explain_rows
from models.registry import LoadedModel
from models.scoring import features_for, score_case, score_cases
from models.text import CharNgramHasher, char_ngrams, ngram_slots
from schemas.commands import SubmitRecord
from schemas.events import case_id_for
from schemas.record import fingerprint, validate
from tests.test_model_support import trained

CN = dt.timezone(dt.timedelta(hours=8))


def _state(*records: dict) -> CaseState:
    case_id = case_id_for(records[0]["township"], records[0]["ref_no"])
    state = CaseState(case_id=case_id)
    for i, raw in enumerate(records):
        record = validate(raw)
        received = dt.datetime.fromisoformat(record["found_at"]) + dt.timedelta(minutes=5)
        cmd = SubmitRecord(f"x:{i}", case_id, record, fingerprint(record), received.isoformat())
        for ev in decide(state, cmd):
            state = step(state, ev)
    return state


def _loaded() -> LoadedModel:
    result = trained()
    return LoadedModel("test", result.model, result.metadata)


BIG = _state(
    {
        "township": "大营镇",
        "ref_no": "DY-2026-0100",
        "category": "土地征收",
        "found_at": "2026-01-10T09:00:00+08:00",
        "description": "清凉寺村32名村民对征地补偿款有意见，建了微信群串联，扬言要赴京上访，情绪激动。",
        "people_involved": 32,
        "amount_involved_yuan": 2_500_000,
        "prior_visits": 4,
        "prior_skip_level": 1,
    }
)
SMALL = _state(
    {
        "township": "前营乡",
        "ref_no": "QY-2026-0003",
        "category": "邻里纠纷",
        "found_at": "2026-01-10T09:00:00+08:00",
        "description": "段庄村两家因排水问题发生口角，当事人情绪稳定。",
        "people_involved": 2,
    }
)


def test_a_big_threatening_case_scores_high_with_reasons_in_both_languages() -> None:
    big, small = score_cases(_loaded(), [BIG, SMALL])
    assert big.probability > 5 * small.probability
    # a higher level than the small case, as the model's own cut-offs place them
    order = ["red", "orange", "yellow", "blue"]
    assert order.index(big.level) < order.index(small.level) and small.level == "blue"
    cut = _loaded().metadata["level_cutoffs"]
    given = [n for n in order[:3] if cut[n] is not None]  # red only if the model earned it
    assert big.level == next((n for n in given if big.probability >= cut[n]), "blue")
    assert big.model_version == "test"
    assert len(big.factors) == 3
    for f in big.factors:
        assert f.weight > 0 and f.zh and f.en and f.zh != f.en
    said = " ".join(f.text() for f in big.factors)
    assert any(s in said for s in ("32人", "赴京", "越级", "微信群", "250.0万元", "上访4次"))
    assert {h.code for h in big.rules} >= {"explicit_threat", "group_size", "prior_skip_level"}
    assert big.to_dict()["factors"][0]["zh"] == big.factors[0].zh


def test_factors_are_written_from_the_cases_own_values() -> None:
    base = {
        "township": "城关镇",
        "ref_no": "CG-2026-0500",
        "category": "拖欠农民工工资",
        "found_at": "2026-01-20T09:00:00+08:00",
        "description": "火车站社区农民工讨薪，包工头拖欠劳务费。",
    }
    few = _state(dict(base, people_involved=3))
    many = _state(dict(base, ref_no="CG-2026-0501", people_involved=60))
    rows = [features_for(s) for s in (few, many)]
    few_f, many_f = explain_rows(trained().model, rows, top=10)
    assert any("60人" in f.zh and "(60)" in f.en for f in many_f if f.code == "people_max")
    assert not any(f.code == "people_max" for f in few_f)


def test_rules_alone_when_no_model_is_in_service() -> None:
    score = score_case(None, BIG)
    assert score.model_version is None and score.factors == ()
    # the explicit threat never waits for a model: alone, the rules set the level
    assert score.level == "orange"
    assert "explicit_threat" in {r.code for r in score.rules}


def test_ngram_slots_match_the_hashed_columns() -> None:
    text = "扬言要堵路，情绪激动"
    hasher = CharNgramHasher(ngram_range=(1, 2), n_features=2**12)
    cols = set(hasher.transform([text]).indices.tolist())
    grams = char_ngrams(text, (1, 2))
    assert set(ngram_slots(grams, 2**12)) == cols


def test_explanations_name_no_person_and_explain_handling_as_one_factor() -> None:
    from tests.test_model_support import county_snapshots

    rows = [s.features for s in county_snapshots()[:600]]
    explained = explain_rows(trained().model, rows, top=6, min_weight=0.0)
    codes = [f.code for factors in explained for f in factors]
    assert not {"status", "has_measures", "n_measures"} & set(codes)  # grouped as "progress"
    assert "progress" in codes
    assert "text" not in codes  # the text block is off by default (no gain in the ablation)
    named = _state(
        {
            "township": "城关镇",
            "ref_no": "CG-2026-0777",
            "category": "邻里纠纷",
            "found_at": "2026-01-20T09:00:00+08:00",
            "description": "王建国与李秀英因院墙口角，王建国情绪激动。",
            "parties": ["王建国", "李秀英"],
        }
    )
    factors = score_case(_loaded(), named).factors
    assert factors and not any("王建国" in f.zh or "李秀英" in f.zh for f in factors)


def test_deadline_and_rule_reasons_come_before_the_model_factors() -> None:
    from domain.risk.assess import Watch, decide

    overdue = _state(
        {
            "township": "城关镇",
            "ref_no": "CG-2026-0888",
            "category": "拖欠农民工工资",
            "found_at": "2026-01-02T09:00:00+08:00",
            "description": "三十多名农民工讨薪，扬言要去北京。",
            "people_involved": 35,
            "is_petition": True,
            "petition_received_on": "2026-01-02",
        }
    )
    found = score_case(_loaded(), overdue, "2026-03-20T08:00:00+08:00")
    _, event = decide(Watch(overdue), found, "time_passed", default_policy())
    reasons = event.reasons_zh()
    # still at "new": the decision on acceptance and the handling are both overdue, first
    assert reasons[0].startswith("受理告知时限") and "超期62天" in reasons[0]
    assert reasons[1].startswith("信访事项办理时限") and "超期" in reasons[1]
    assert len(reasons) > len(event.rules)  # the model's factors follow the rules


def test_a_batch_scored_with_its_design_matrix_gets_the_same_scores_and_factors() -> None:
    # score_cases builds the design matrix once and hands it to both the model and the
    # explanations; they must say what they say when each builds its own from the rows
    from models.estimator import base_model

    model = trained().model
    rows = [features_for(s) for s in (BIG, SMALL)]
    design = base_model(model).design_matrix(rows)
    assert model.predict_proba(design).tolist() == model.predict_proba(rows).tolist()
    assert explain_rows(model, rows, design=design) == explain_rows(model, rows)
    with pytest.raises(ValueError, match="columns"):
        model.predict_proba(design[:, :-1])


def test_a_factor_quotes_the_words_of_the_policy_in_force() -> None:
    # an operator adds a phrase to a group of the lexicon (configuration): the signal counts it
    # and the explanation quotes it, instead of the packaged lexicon's words (none here)
    from domain.risk.policy import DEFAULT_POLICY, parse_policy

    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert "媒体, 微博" in text and "上了热榜" not in text
    policy = parse_policy(text.replace("媒体, 微博", "媒体, 上了热榜, 微博", 1))
    case = _state(
        {
            "township": "城关镇",
            "ref_no": "CG-2026-0600",
            "category": "拖欠农民工工资",
            "found_at": "2026-01-20T09:00:00+08:00",
            "description": "十几名农民工讨薪，说这事已经上了热榜。",
            "people_involved": 14,
        }
    )
    found = score_cases(_loaded(), [case], policy=policy, top=20)[0].factors
    media = [f for f in found if f.code == "signal_media"]
    assert media and "上了热榜" in media[0].zh, found
    default = score_cases(_loaded(), [case], top=20)[0].factors
    assert not [f for f in default if f.code == "signal_media"]  # not a media signal by default
