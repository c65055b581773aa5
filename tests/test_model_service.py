"""Promotion is an event: a running ModelInService switches models without a restart."""

from __future__ import annotations

import datetime as dt

import pytest
from kafka import KafkaProducer

from domain.case import CaseState, decide, step
from domain.risk.policy import DEFAULT_POLICY, default_policy, load_policy
from ews.cli import main as ews_main
from models.dataset import read_dataset
from models.promotion import InService, apply, promoted_event, rolled_back_event
from models.registry import Registry
from models.service import ModelInService
from models.train import TrainConfig, train_and_evaluate
from schemas.commands import SubmitRecord
from schemas.events import case_id_for
from schemas.record import fingerprint, validate
from streams.admin import ensure_topics
from tests.test_model_support import county_events, county_snapshots, trained


def model_cli(argv: list[str]) -> int:
    return ews_main(["model", *argv])


def _state() -> CaseState:
    raw = {
        "township": "闹店镇",
        "ref_no": "ND-2026-0077",
        "category": "投资受损",
        "found_at": "2026-02-01T10:00:00+08:00",
        "description": "40名群众反映投了理财，暴雷兑付不了，建了微信群，说要去市里上访。",
        "people_involved": 40,
        "amount_involved_yuan": 3_000_000,
    }
    record = validate(raw)
    case_id = case_id_for(raw["township"], raw["ref_no"])
    state = CaseState(case_id=case_id)
    received = dt.datetime.fromisoformat(record["found_at"]) + dt.timedelta(minutes=3)
    for ev in decide(
        state, SubmitRecord("s:0", case_id, record, fingerprint(record), received.isoformat())
    ):
        state = step(state, ev)
    return state


def test_the_in_service_fold_promotes_and_rolls_back() -> None:
    s = InService()
    for v in ("v0001", "v0002", "v0003"):
        s = apply(s, promoted_event(v, s.version, None))
    assert s.version == "v0003" and s.previous == "v0002"
    s = apply(s, rolled_back_event("v0002", "v0003"))
    assert s.version == "v0002" and s.previous == "v0001"
    s = apply(s, rolled_back_event("v0001", "v0002"))
    assert s.version == "v0001" and s.previous is None
    assert apply(s, {"event_type": "SomethingElse", "version": "v9"}) == s


def test_a_refused_version_leaves_the_current_model_in_service(tmp_path) -> None:
    registry = Registry(tmp_path)
    good = registry.save(trained().model, trained().metadata)
    bad = registry.save(trained().model, trained().metadata)
    artifact = registry.path(bad) / "model.skops"
    artifact.write_bytes(artifact.read_bytes()[:-10])
    service = ModelInService(registry, topic="unused")
    assert service.apply(promoted_event(good, None, None))
    assert not service.apply(promoted_event(bad, good, None))
    assert service.version == good and "sha256" in (service.last_error or "")
    assert service.score([_state()])[0].model_version == good


def test_a_promotion_names_its_file_and_another_under_that_version_is_refused(tmp_path) -> None:
    here = Registry(tmp_path)
    first = here.save(trained().model, trained().metadata)
    promised = "f" * 64  # the promoted file: another registry's v0001, not this one's
    service = ModelInService(here, topic="unused")
    assert not service.apply(promoted_event(first, None, promised))
    assert service.version is None and "not the one promoted" in (service.last_error or "")
    right = here.metadata(first)["sha256"]
    assert ModelInService(here, topic="unused").apply(promoted_event(first, None, right))


def _policy_with(path, old: str, new: str):  # noqa: ANN202 - RiskPolicy
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_policy(path)


def test_a_model_trained_under_another_lexicon_is_not_put_in_service(tmp_path) -> None:
    """A worker whose policy reads records otherwise than the policy the model was trained
    under refuses the model, not the budget or the version of the policy."""
    registry = Registry(tmp_path / "models")
    version = registry.save(trained().model, trained().metadata)
    wider = _policy_with(tmp_path / "wider.yaml", "close_window: 1", "close_window: 2")
    refusing = ModelInService(registry, topic="unused", policy=wider)
    assert not refusing.apply(promoted_event(version, None, None))
    assert refusing.version is None and "another lexicon" in (refusing.last_error or "")
    assert refusing.score([_state()])[0].model_version is None  # the rules alone, said why
    budget = _policy_with(tmp_path / "budget.yaml", "red_per_week: 5", "red_per_week: 7")
    for policy in (default_policy(), budget):
        served = ModelInService(registry, topic="unused", policy=policy)
        assert served.apply(promoted_event(version, None, None)) and served.version == version


@pytest.mark.kafka
def test_promote_switch_and_roll_back_without_restart(kafka_bootstrap, settings, tmp_path) -> None:
    topics = settings.topics
    ensure_topics(kafka_bootstrap, topics.all())
    registry = Registry(tmp_path / "models")
    opts = ["--model-dir", str(registry.root), "--bootstrap", kafka_bootstrap]
    a = registry.save(trained().model, trained().metadata)
    case = _state()
    with ModelInService(registry, kafka_bootstrap, topics.model_events).start() as service:
        assert service.score([case])[0].model_version is None  # rules only until a promotion
        assert model_cli(["promote", a, *opts]) == 0
        assert service.wait_for(a, timeout=30)
        score_a = service.score([case])[0]
        assert score_a.model_version == a

        result_b = train_and_evaluate(list(county_snapshots()), TrainConfig(C=1.0, text_weight=0.0))
        b = registry.save(result_b.model, result_b.metadata)
        assert model_cli(["promote", b, *opts]) == 0
        assert service.wait_for(b, timeout=30)
        score_b = service.score([case])[0]
        assert score_b.model_version == b and score_b.probability != score_a.probability

        assert model_cli(["rollback", *opts]) == 0
        assert service.wait_for(a, timeout=30)
        assert service.score([case])[0].probability == pytest.approx(score_a.probability)
        assert model_cli(["rollback", *opts]) == 1  # nothing before A

    # a service started now replays the topic from the first offset and agrees
    with ModelInService(registry, kafka_bootstrap, topics.model_events).start() as late:
        assert late.wait_for(a, timeout=30)


@pytest.mark.kafka
def test_training_set_from_the_case_events_topic(kafka_bootstrap, settings, tmp_path) -> None:
    topics = settings.topics
    ensure_topics(kafka_bootstrap, topics.all())
    events = county_events()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=20)
    for ev in events:
        producer.send(topics.case_events, key=ev.case_id.encode(), value=ev.to_bytes())
    producer.flush()
    producer.close()
    out = tmp_path / "snapshots.jsonl.gz"
    code = model_cli(
        ["dataset", "--from-kafka", "--bootstrap", kafka_bootstrap, "--out", str(out), "--quiet"]
    )
    assert code == 0
    from_kafka = read_dataset(out)
    expected = county_snapshots()
    assert len(from_kafka) == len(expected)
    assert [(r.case_id, r.as_of, r.label, r.features) for r in from_kafka] == [
        (r.case_id, r.as_of, r.label, r.features) for r in expected
    ]
