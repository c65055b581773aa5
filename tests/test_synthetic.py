"""The synthetic county: valid, messy, deterministic records that tell the documented story."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from domain.case import fold
from models.synthetic import (
    SPRING_FESTIVAL,
    THREAT_KINDS,
    TOWNSHIP_SHARE,
    TYPOS,
    VILLAGES,
    SyntheticCase,
    before_spring_festival,
    event_log,
    found_at_key,
    generate_county,
    iter_posting_order,
    main,
    phrases,
    posting_order,
)
from models.synthetic.tables import PHRASES_FILE, load_phrases
from schemas.categories import CODES
from schemas.record import CLOSING_STATUSES, ESCALATION_KINDS, fingerprint, validate

N_CASES = 12_000
THREAT_WORDS = ("扬言", "进京", "喝药", "跳楼", "轻生", "堵", "拼命", "越级")
HORIZON_END = dt.datetime(2026, 6, 25, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture(scope="module")
def county() -> list[SyntheticCase]:
    return list(generate_county(N_CASES, seed=2026))


def _rate(cases: list[SyntheticCase]) -> float:
    return sum(c.escalated_at is not None for c in cases) / len(cases)


def _dump(records: list[dict]) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False, sort_keys=True) for r in records)


# ---- determinism --------------------------------------------------------------------------


def test_same_seed_same_county_other_seed_other_county() -> None:
    first = _dump(posting_order(generate_county(400, seed=11)))
    again = _dump(posting_order(generate_county(400, seed=11)))
    other = _dump(posting_order(generate_county(400, seed=12)))
    assert first == again
    assert first != other


def test_command_line_writes_identical_files_for_the_same_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for run in ("a", "b"):
        out, events = tmp_path / f"{run}.jsonl", tmp_path / f"{run}-events.jsonl"
        args = ["--cases", "300", "--seed", "5", "--out", str(out), "--events", str(events)]
        assert main([*args, "--no-progress"]) == 0
        outputs.append((out.read_bytes(), events.read_bytes()))
    assert outputs[0] == outputs[1]
    summary = capsys.readouterr().out
    assert "cases: 300" in summary and "escalated:" in summary and "unpaid_wages" in summary
    records = [json.loads(line) for line in outputs[0][0].decode("utf-8").splitlines()]
    assert records == posting_order(generate_county(300, seed=5))
    events = outputs[0][1].decode("utf-8").splitlines()
    assert len(events) == len(list(event_log(generate_county(300, seed=5))))


# ---- the phrase tables ---------------------------------------------------------------------


def test_phrase_tables_load_from_the_yaml_and_cover_the_story() -> None:
    """What an edit of phrases.yaml must keep: words for every category, township, threat
    and escalation kind, and only the placeholders the generator fills in."""
    words = load_phrases(PHRASES_FILE)
    assert PHRASES_FILE.name == "phrases.yaml"
    assert words == phrases()
    assert VILLAGES == words.villages and TYPOS == words.typos
    for table in (words.openings, words.measures, words.units):
        assert set(table) == set(CODES) and all(table.values())
    assert list(words.villages) == list(TOWNSHIP_SHARE) and all(words.villages.values())
    assert tuple(words.threats) == THREAT_KINDS and all(words.threats.values())
    assert set(words.escalation) == set(ESCALATION_KINDS) and all(words.escalation.values())
    assert set(words.resolved) == {"money", "other"} and all(words.resolved.values())
    assert all(len(pair) == 2 and pair[0] != pair[1] for pair in words.typos)
    assert len(words.cn_digits) == 10 and len(words.surnames) > 50 and words.given_names
    fill = {
        "who": "甲",
        "other": "乙",
        "boss": "丙",
        "v": "村",
        "n": "3名",
        "amt": "1万元",
        "site": "工地",
        "project": "小区",
        "visits": 3,
        "road": "路",
    }
    templates = [
        t for table in (words.openings, words.escalation) for ts in table.values() for t in ts
    ]
    for template in [*templates, *words.repeat_visits]:
        assert "{" not in template.format(**fill), template  # KeyError on an unknown placeholder


# ---- the records are valid, and messy -----------------------------------------------------


def test_every_record_validates_and_belongs_to_its_case(county: list[SyntheticCase]) -> None:
    townships = set(VILLAGES)
    ref_nos = set()
    for case in county:
        assert case.township in townships
        assert case.category in CODES
        assert re.fullmatch(r"[A-Z]{2,3}-20\d\d-\d{4,}", case.ref_no)
        assert (case.township, case.ref_no) not in ref_nos
        ref_nos.add((case.township, case.ref_no))
        times = []
        for raw in case.records:
            record = validate(raw)
            assert (record["township"], record["ref_no"]) == (case.township, case.ref_no)
            times.append(found_at_key(raw))
        assert times == sorted(times)
        assert validate(case.records[0])["record_kind"] == "initial"
        assert 0 < case.hazard < 1


def test_records_are_messy_like_real_ones(county: list[SyntheticCase]) -> None:
    cases = county[:4000]
    initials = [c.records[0] for c in cases]
    n = len(initials)
    # optional fields left out or sent as null
    assert 0.1 < sum("people_involved" not in r for r in initials) / n < 0.3
    assert any(r.get("people_involved", 0) is None for r in initials)
    assert any("village" not in r for r in initials)
    # exact duplicates, posted back to back
    duplicates = sum(a == b for c in cases for a, b in zip(c.records, c.records[1:], strict=False))
    assert 0.01 < duplicates / sum(len(c.records) for c in cases) < 0.06
    # wrong characters
    texts = [r["description"] for c in cases for r in c.records]
    assert sum(any(wrong in t for _, wrong in TYPOS) for t in texts) > 0.02 * len(texts)
    # dates written in different ways
    shapes = Counter(len(r["found_at"]) for r in initials)
    assert {10, 16, 25} <= set(shapes)
    # category written as label, alias or code
    assert {"拖欠农民工工资", "unpaid_wages"} <= {r["category"] for r in initials}
    # numbers missing from the text: a wage case that names no head count
    wage_texts = [r["description"] for r in initials if validate(r)["category"] == "unpaid_wages"]
    assert any(not re.search(r"\d+名|[一二三四五六七八九十几]+个|一些", t) for t in wage_texts)


def test_late_corrections_fix_category_or_head_count(county: list[SyntheticCase]) -> None:
    fixed_category = fixed_people = 0
    for case in county:
        corrections = [r for r in case.records if r.get("record_kind") == "correction"]
        if not corrections:
            continue
        correction = validate(corrections[0])
        initial = validate(case.records[0])
        assert correction["category"] == case.category
        assert found_at_key(corrections[0]) > found_at_key(case.records[0])
        if initial["category"] != case.category:
            fixed_category += 1
        elif initial.get("people_involved") not in (None, correction["people_involved"]):
            fixed_people += 1
    assert fixed_category > 100 and fixed_people > 50


def test_escalations_are_recorded_once_with_their_kind(county: list[SyntheticCase]) -> None:
    for case in county:
        escalations = {
            fingerprint(validate(r)): r
            for r in case.records
            if r.get("follow_up_status") == "escalated"
        }
        if case.escalated_at is None:
            assert not escalations and case.escalation_kind is None
            continue
        assert len(escalations) == 1
        (record,) = escalations.values()
        assert record["escalation_kind"] == case.escalation_kind in ESCALATION_KINDS
        assert validate(record)["found_at"] == case.escalated_at
        if case.escalation_kind == "group_event":
            assert record["people_involved"] >= 5
    assert set(Counter(c.escalation_kind for c in county)) == {None, *ESCALATION_KINDS}


# ---- the story holds in the data ----------------------------------------------------------


def test_escalation_rate_is_realistic_and_follows_category(county: list[SyntheticCase]) -> None:
    assert 0.05 <= _rate(county) <= 0.15
    by_category = defaultdict(list)
    for case in county:
        by_category[case.category].append(case)
    rates = {code: _rate(cases) for code, cases in by_category.items()}
    assert all(rate > 0 for rate in rates.values())
    assert rates["investment_loss"] > 3 * rates["neighbour"]
    assert rates["unpaid_wages"] > rates["family"]


def test_threats_and_prior_skip_level_petitions_raise_escalation(
    county: list[SyntheticCase],
) -> None:
    def threat(case: SyntheticCase) -> bool:
        return any(w in case.records[0]["description"] for w in THREAT_WORDS)

    threatened = [c for c in county if threat(c)]
    calm = [c for c in county if not threat(c)]
    assert _rate(threatened) > 1.5 * _rate(calm)

    skipped = [c for c in county if (c.records[0].get("prior_skip_level") or 0) > 0]
    never = [c for c in county if c.records[0].get("prior_skip_level") == 0]
    assert _rate(skipped) > 2 * _rate(never)


def test_signals_are_learnable_but_not_a_giveaway(county: list[SyntheticCase]) -> None:
    """Text words help, but many escalations come without them and most threats fizzle."""
    escalated = [c for c in county if c.escalated_at]

    def warned(case: SyntheticCase) -> bool:
        before = [r for r in case.records if r.get("follow_up_status") != "escalated"]
        return any(w in r["description"] for r in before for w in THREAT_WORDS)

    assert 0.2 < sum(not warned(c) for c in escalated) / len(escalated) < 0.9
    threatened = [c for c in county if warned(c)]
    assert _rate(threatened) < 0.5


def test_the_baseline_hazard_ranks_cases(county: list[SyntheticCase]) -> None:
    ranked = sorted(county, key=lambda c: c.hazard)
    quarter = len(ranked) // 4
    assert _rate(ranked[-quarter:]) > 3 * _rate(ranked[:quarter])


def test_wage_cases_escalate_more_in_the_weeks_before_spring_festival(
    county: list[SyntheticCase],
) -> None:
    """Escalations per case-day at risk, before the festival and at other times."""
    days_at_risk = Counter()
    escalations = Counter()
    for case in county:
        if case.category != "unpaid_wages":
            continue
        start = found_at_key(case.records[0]).date()
        if case.escalated_at:
            end = dt.datetime.fromisoformat(case.escalated_at).date()
            escalations[before_spring_festival(end)] += 1
        else:
            closing = [r for r in case.records if r.get("follow_up_status") in CLOSING_STATUSES]
            end = (found_at_key(closing[0]) if closing else HORIZON_END).date()
        for i in range((end - start).days + 1):
            days_at_risk[before_spring_festival(start + dt.timedelta(days=i))] += 1
    before = escalations[True] / days_at_risk[True]
    other = escalations[False] / days_at_risk[False]
    assert before > 1.5 * other


def test_wage_disputes_are_found_more_often_before_the_festival(
    county: list[SyntheticCase],
) -> None:
    found = [found_at_key(c.records[0]).date() for c in county if c.category == "unpaid_wages"]
    share_before = sum(map(before_spring_festival, found)) / len(found)
    days_before = 2 * 28  # two festivals (2025, 2026) inside the default 540 days
    assert SPRING_FESTIVAL[0].year == 2025
    assert share_before > 2 * days_before / 540


# ---- posting order and the event log ------------------------------------------------------


def test_posting_order_holds_every_record_in_time_order(county: list[SyntheticCase]) -> None:
    cases = county[:3000]
    posted = posting_order(cases)
    assert len(posted) == sum(len(c.records) for c in cases)
    times = [found_at_key(r) for r in posted]
    assert times == sorted(times)
    assert list(iter_posting_order(cases)) == posted
    with pytest.raises(ValueError):
        list(iter_posting_order(reversed(cases)))


def test_event_log_folds_into_the_cases(county: list[SyntheticCase]) -> None:
    cases = county[:1500]
    events = defaultdict(list)
    for event in event_log(cases):
        events[event.case_id].append(event)
    assert set(events) == {c.case_id for c in cases}
    statuses = Counter()
    for case in cases:
        log = events[case.case_id]
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        assert log[0].event_type == "CaseOpened"
        assert all(e.causation_id.startswith(f"synthetic:{case.case_id}:") for e in log)
        received = [e.recorded_at for e in log]
        assert received == sorted(received) and all(r.endswith("+00:00") for r in received)
        state = fold(case.case_id, log)
        distinct = {fingerprint(validate(r)) for r in case.records}
        assert len(state.records) == len(distinct)
        assert sum(e.event_type == "RecordAppended" for e in log) == len(distinct)
        closed = any(r.get("follow_up_status") in CLOSING_STATUSES for r in case.records)
        assert state.status == ("closed" if closed else "open")
        assert state.category == case.category
        assert (state.township, state.ref_no) == (case.township, case.ref_no)
        statuses[state.status] += 1
    assert statuses["open"] > 0 and statuses["closed"] > 0
    ids = [e.event_id for log in events.values() for e in log]
    assert len(ids) == len(set(ids))
