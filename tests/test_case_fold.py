"""The case as a fold of its events: decide and step, without Kafka."""

from schemas.events import SubmitRecord, case_id_for
from schemas.record import fingerprint, validate
from streams.app import handle_command
from streams.case import CaseState, fold

CASE = case_id_for("周庄镇", "ZZ-1")


def submit(n: int, **fields) -> SubmitRecord:
    record = validate(
        {
            "township": "周庄镇",
            "ref_no": "ZZ-1",
            "found_at": f"2026-01-{10 + n:02d}",
            "category": "拖欠农民工工资",
            "description": f"第{n}次排查",
            **fields,
        }
    )
    return SubmitRecord(
        f"records:0:{n}", CASE, record, fingerprint(record), f"2026-01-{10 + n:02d}T01:00:00+00:00"
    )


def run(commands):
    state, log = CaseState(CASE), []
    for c in commands:
        state, events = handle_command(state, c)
        log.extend(events)
    return state, log


def test_first_record_opens_the_case_and_follow_ups_append():
    state, log = run(
        [
            submit(0, people_involved=12),
            submit(1, record_kind="follow_up", follow_up_status="mediating"),
        ]
    )
    assert [e.event_type for e in log] == ["CaseOpened", "RecordAppended", "RecordAppended"]
    assert [e.seq for e in log] == [1, 2, 3]
    assert state.status == "open" and len(state.records) == 2
    assert state.latest("people_involved") == 12


def test_the_same_record_twice_yields_one_event():
    state, log = run([submit(0), submit(0)])
    assert [e.event_type for e in log] == ["CaseOpened", "RecordAppended"]


def test_resolving_closes_and_a_new_problem_reopens():
    _, log = run(
        [submit(0), submit(1, follow_up_status="resolved"), submit(2, follow_up_status="mediating")]
    )
    assert [e.event_type for e in log] == [
        "CaseOpened",
        "RecordAppended",
        "RecordAppended",
        "CaseClosed",
        "CaseReopened",
        "RecordAppended",
    ]


def test_fold_of_the_log_equals_the_live_state_and_ignores_replayed_events():
    state, log = run([submit(0), submit(1), submit(2, follow_up_status="resolved")])
    assert fold(CASE, log) == state
    assert fold(CASE, log + log[:2]) == state  # re-emitted events change nothing


def test_event_ids_are_deterministic():
    _, a = run([submit(0), submit(1)])
    _, b = run([submit(0), submit(1)])
    assert [e.event_id for e in a] == [e.event_id for e in b]
    assert len({e.event_id for e in a}) == len(a)


def test_state_survives_the_table_round_trip():
    state, _ = run(
        [
            submit(0, people_involved=5),
            submit(1, follow_up_status="escalated", escalation_kind="group_event"),
        ]
    )
    assert CaseState.from_dict(state.to_dict()) == state


def test_a_correction_changes_the_category():
    state, _ = run([submit(0), submit(1, record_kind="correction", category="拖欠工程款")])
    assert state.category == "unpaid_construction"
