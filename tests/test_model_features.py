"""Features are a pure function of the case state at a point in time, and the stream's folded
state (round-tripped through the case table) gives exactly the training set's rows."""

from __future__ import annotations

import datetime as dt
import json

from domain.case import CaseState, decide, fold, step
from domain.risk.features import case_features
from domain.risk.rules import evaluate_rules, rule_hits
from models.dataset import build_dataset, case_snapshots, group_by_case, log_end
from models.scoring import features_for
from schemas.commands import SubmitRecord
from schemas.events import case_id_for
from schemas.record import fingerprint, validate
from tests.test_model_support import county_events, county_snapshots

CN = dt.timezone(dt.timedelta(hours=8))


def _case(records: list[dict]) -> tuple[str, list]:
    """The events the case agent appends for some raw records (received 10 minutes after found)."""
    case_id = case_id_for(records[0]["township"], records[0]["ref_no"])
    state, events = CaseState(case_id=case_id), []
    for i, raw in enumerate(records):
        record = validate(raw)
        received = dt.datetime.fromisoformat(record["found_at"]) + dt.timedelta(minutes=10)
        cmd = SubmitRecord(
            f"t:{i}", case_id, record, fingerprint(record), received.astimezone(dt.UTC).isoformat()
        )
        for ev in decide(state, cmd):
            state = step(state, ev)
            events.append(ev)
    return case_id, events


def _record(found: str, description: str, **fields) -> dict:
    base = {
        "township": "周庄镇",
        "ref_no": "ZZ-2025-0042",
        "category": "拖欠农民工工资",
        "found_at": found,
        "description": description,
    }
    base.update(fields)
    return base


WAGES = [
    _record(
        "2025-03-01T09:00:00+08:00",
        "马庄村8名农民工讨薪，包工头拖欠劳务费约6万元。",
        people_involved=8,
    ),
    _record(
        "2025-03-10T10:00:00+08:00",
        "当事人情绪激动，扬言要堵路，人数增加。",
        record_kind="follow_up",
        people_involved=32,
        follow_up_status="new",
    ),
    _record(
        "2025-03-20T10:00:00+08:00",
        "32人到县政府门口聚集，拉横幅。",
        record_kind="follow_up",
        people_involved=32,
        follow_up_status="escalated",
        escalation_kind="group_event",
    ),
]


def test_features_ignore_everything_after_as_of() -> None:
    case_id, events = _case(WAGES)
    full = fold(case_id, events)
    before_threat = dt.datetime(2025, 3, 5, 12, tzinfo=CN)
    f_full = case_features(full, before_threat)
    f_then = case_features(fold(case_id, events[:2]), before_threat)  # only the first record
    assert f_full == f_then
    assert f_full["people_max"] == 8 and f_full["signal_blocking"] == 0
    assert f_full["status"] == "new" and f_full["n_records"] == 1
    after_threat = dt.datetime(2025, 3, 12, tzinfo=CN)
    f_later = case_features(full, after_threat)
    assert f_later["people_max"] == 32 and f_later["signal_blocking"] == 1
    assert f_later["people_growth"] == 24
    # a record found before as_of but received after it is not known yet
    just_after_found = dt.datetime(2025, 3, 10, 10, 5, tzinfo=CN)
    assert case_features(full, just_after_found)["n_records"] == 1


def test_a_corrected_head_count_replaces_the_wrong_one_in_the_group_rules() -> None:
    wrong = _record("2025-03-01T09:00:00+08:00", "马庄村农民工讨薪。", people_involved=60)
    fixed = _record(
        "2025-03-05T09:00:00+08:00",
        "更正：涉及人数应为6人，前报有误。",
        record_kind="correction",
        people_involved=6,
    )
    more = _record(
        "2025-03-08T09:00:00+08:00", "又来3人。", record_kind="follow_up", people_involved=9
    )
    case_id, events = _case([wrong, fixed, more])
    state = fold(case_id, events)
    before = {h.code: h for h in rule_hits(state, dt.datetime(2025, 3, 2, tzinfo=CN))}
    assert before["large_group"].zh == "涉及人数60人"  # nothing said otherwise yet
    hits = {h.code: h for h in rule_hits(state, dt.datetime(2025, 3, 10, tzinfo=CN))}
    assert "large_group" not in hits and "涉及人数达9人" in hits["group_size"].zh


def test_a_head_count_the_text_gives_for_a_settled_matter_raises_no_alert() -> None:
    """六十余户已全部领取补偿款 is no group of 60; the same count of people who came to the
    township is a large group, as is a count in the record's field, whatever its text says."""
    at = dt.datetime(2025, 3, 2, tzinfo=CN)
    paid = "六十余户村民在村委会门口排队领取补偿款，已全部发放。"
    came = "六十余户村民来到村委会门口，要求当天发放补偿款。"
    levels = {}
    for name, text, fields in (("paid", paid, {}), ("came", came, {}), ("field", paid, {})):
        if name == "field":
            fields = {"people_involved": 60}
        case_id, events = _case([_record("2025-03-01T09:00:00+08:00", text, **fields)])
        levels[name] = {h.code: h.level for h in rule_hits(fold(case_id, events), at)}
    assert "large_group" not in levels["paid"] and "group_size" not in levels["paid"]
    assert levels["came"]["large_group"] == "orange"
    assert levels["field"]["large_group"] == "orange"


def test_an_ultimatum_in_words_of_its_own_raises_an_alert_beside_the_model() -> None:
    text = "承包商讨要工程款未果，躺在镇政府院内，说今天不给钱就死在这儿。"
    case_id, events = _case([_record("2025-03-01T09:00:00+08:00", text)])
    hits = {h.code: h for h in rule_hits(fold(case_id, events), dt.datetime(2025, 3, 2, tzinfo=CN))}
    assert hits["explicit_threat"].level == "orange"
    assert hits["explicit_threat"].zh == "明确扬言（就死在）"


def test_rules_fire_on_group_size_threats_and_deadlines() -> None:
    case_id, events = _case(WAGES)
    state = fold(case_id, events)
    early = {h.code for h in rule_hits(state, dt.datetime(2025, 3, 2, tzinfo=CN))}
    assert early == {"group_size"}
    later = {h.code: h for h in rule_hits(state, dt.datetime(2025, 3, 12, tzinfo=CN))}
    # a threat raises orange beside a model and alone: it never waits for a model
    assert "explicit_threat" in later and later["explicit_threat"].level == "orange"
    assert "堵路" in later["explicit_threat"].zh
    alone = evaluate_rules(state, dt.datetime(2025, 3, 12, tzinfo=CN), alone=True)
    assert {h.code: h.level for h in alone}["explicit_threat"] == "orange"


def test_deadline_rules_say_the_limit_the_start_and_the_days_left() -> None:
    petition = [
        _record(
            "2025-01-05T09:00:00+08:00",
            "邻里因排水口角。",
            category="邻里纠纷",
            people_involved=2,
            is_petition=True,
            petition_received_on="2025-01-05",
        )
    ]
    cid, evs = _case(petition)
    st = fold(cid, evs)

    def hits(day: str) -> dict:
        at = dt.datetime.fromisoformat(day + "T09:00:00+08:00")
        return {h.code: h for h in rule_hits(st, at)}

    assert hits("2025-01-10") == {}
    soon = hits("2025-01-18")["accept_decision_approaching"]  # 15 days to decide acceptance
    assert soon.deadline == {
        "rule": "accept_decision",
        "limit_days": 15,
        "starts_on": "2025-01-05",
        "due_on": "2025-01-20",
        "days_left": 2,
    }
    assert "2025-01-05" in soon.zh and "还剩2天" in soon.zh
    assert set(hits("2025-03-04")) == {"accept_decision_overdue", "handling_approaching"}
    late = hits("2025-03-15")
    assert set(late) == {"accept_decision_overdue", "handling_overdue"}
    assert late["handling_overdue"].deadline["days_left"] == -9  # due 6 March
    assert "超期9天" in late["handling_overdue"].zh
    # a resolved case owes nothing
    done = _record(
        "2025-03-01T10:00:00+08:00",
        "已调解，双方签字。",
        category="邻里纠纷",
        record_kind="follow_up",
        follow_up_status="resolved",
    )
    cid2, evs2 = _case([*petition, done])
    at = dt.datetime(2025, 3, 15, 9, tzinfo=CN)
    assert [h for h in rule_hits(fold(cid2, evs2), at) if h.deadline] == []


def test_snapshots_label_the_horizon_and_stop_at_escalation() -> None:
    case_id, events = _case(WAGES)
    end = dt.datetime(2025, 12, 31, tzinfo=CN).timestamp()
    rows = case_snapshots(case_id, events, end, horizon_days=14, every_days=7)
    # snapshots at day 0, 7 and 14 after 1 March; the escalation on 20 March ends them
    assert [r.as_of[:10] for r in rows] == ["2025-03-01", "2025-03-08", "2025-03-15"]
    assert [r.label for r in rows] == [0, 1, 1]  # escalates within 14 days of 8 and 15 March
    assert rows[0].features["people_max"] == 8 and rows[2].features["people_max"] == 32
    assert rows[2].rule_level == "orange"  # beside a model a threat raises an alert
    assert "explicit_threat" in rows[2].rule_codes


def test_snapshots_need_a_complete_horizon_and_an_open_case() -> None:
    resolved = [
        _record("2025-05-01T09:00:00+08:00", "两家因院墙口角。", category="邻里纠纷", ref_no="N1"),
        _record(
            "2025-05-09T09:00:00+08:00",
            "已调解，双方签字。",
            category="邻里纠纷",
            ref_no="N1",
            record_kind="follow_up",
            follow_up_status="resolved",
        ),
    ]
    case_id, events = _case(resolved)
    end = dt.datetime(2025, 9, 1, tzinfo=CN).timestamp()
    rows = case_snapshots(case_id, events, end, horizon_days=30)
    assert [r.as_of[:10] for r in rows] == ["2025-05-01", "2025-05-08"]  # closed on 9 May
    short_log = dt.datetime(2025, 5, 20, tzinfo=CN).timestamp()
    assert case_snapshots(case_id, events, short_log, horizon_days=30) == []


def test_training_rows_equal_features_from_the_streams_folded_state() -> None:
    """Replay the log in time order through a case table that stores CaseState.to_dict() as
    JSON (as faust does) and score with models.scoring.features_for at each snapshot time."""
    events = county_events()
    rows = list(county_snapshots())
    assert len(rows) > 1000
    log = sorted(events, key=lambda e: (e.recorded_at, e.case_id, e.seq))
    table: dict[str, str] = {}
    i = 0
    checked = 0
    for row in rows:  # rows are in time order
        t = dt.datetime.fromisoformat(row.as_of)
        while i < len(log) and dt.datetime.fromisoformat(log[i].recorded_at) <= t:
            ev = log[i]
            stored = table.get(ev.case_id)
            state = (
                CaseState.from_dict(json.loads(stored)) if stored else CaseState(case_id=ev.case_id)
            )
            table[ev.case_id] = json.dumps(step(state, ev).to_dict(), ensure_ascii=False)
            i += 1
        state = CaseState.from_dict(json.loads(table[row.case_id]))
        assert features_for(state, row.as_of) == row.features, (row.case_id, row.as_of)
        checked += 1
    assert checked == len(rows)


def test_dataset_is_the_same_however_the_log_is_ordered() -> None:
    events = list(county_events())
    forward = build_dataset(events)
    shuffled = sorted(events, key=lambda e: e.event_id)
    again = build_dataset(shuffled + events[:50])  # and with some events delivered twice
    assert [(r.case_id, r.as_of, r.label, r.features) for r in forward] == [
        (r.case_id, r.as_of, r.label, r.features) for r in again
    ]
    cases = group_by_case(events)
    assert log_end(cases) >= max(dt.datetime.fromisoformat(r.as_of).timestamp() for r in forward)


def test_a_log_file_replayed_in_bulk_gives_the_same_snapshots(tmp_path) -> None:
    """The bulk path (log split by case into shards, replayed by two processes into columns)
    gives what replaying the events in memory gives, whatever the log's order, duplicates
    included; and a table's rows are the snapshots a list would hold."""
    import random

    from models.dataset import build_dataset_from_log, write_events_jsonl

    events = list(county_events())
    shuffled = events + events[:40]
    random.Random(7).shuffle(shuffled)
    path = tmp_path / "log.jsonl.gz"
    write_events_jsonl(shuffled, path)
    bulk = build_dataset_from_log(path, jobs=2, shards=5)
    in_memory = build_dataset(events)
    assert len(bulk) == len(in_memory) == len(county_snapshots())
    assert list(bulk) == list(in_memory) == list(county_snapshots())
    assert [r.to_json() for r in bulk[:200]] == [r.to_json() for r in in_memory[:200]]
    one = bulk[len(bulk) // 2]
    assert one.features == case_features(
        fold(one.case_id, group_by_case(events)[one.case_id]), one.as_of
    ), "a row equals the features of the case folded to the end of the log, at that time"
    # and with the same types: counts as ints, so a written training set reads as before
    direct = case_features(fold(one.case_id, group_by_case(events)[one.case_id]), one.as_of)
    assert {k: type(v) for k, v in one.features.items()} == {k: type(v) for k, v in direct.items()}


def test_a_later_correction_does_not_change_the_category_at_an_earlier_time():
    from domain.case import CaseState, handle_command
    from schemas.commands import SubmitRecord
    from schemas.events import case_id_for
    from schemas.record import fingerprint, validate

    case = case_id_for("周庄镇", "ZZ-9")
    state = CaseState(case)
    for i, extra in enumerate(({}, {"record_kind": "correction", "category": "拖欠工程款"})):
        record = validate(
            {
                "township": "周庄镇",
                "ref_no": "ZZ-9",
                "found_at": f"2026-03-{1 + 10 * i:02d}",
                "category": "拖欠农民工工资",
                "description": "讨薪",
                **extra,
            }
        )
        cmd = SubmitRecord(
            f"r:{i}", case, record, fingerprint(record), f"2026-03-{1 + 10 * i:02d}T02:00:00+00:00"
        )
        state, _ = handle_command(state, cmd)
    assert case_features(state, "2026-03-05T12:00:00+08:00")["category"] == "unpaid_wages"
    assert case_features(state, "2026-03-20T12:00:00+08:00")["category"] == "unpaid_construction"
