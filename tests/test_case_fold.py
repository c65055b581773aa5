"""The case as a fold of its events: decide and step, without Kafka."""

from domain.case import CaseState, fold, handle_command
from schemas.commands import SubmitRecord
from schemas.events import case_id_for
from schemas.record import fingerprint, validate

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


def test_case_state_stays_small_however_long_the_texts():
    from domain.case import MAX_RECORDS_KEPT, MAX_TEXT_KEPT

    long_text = "讨薪" * 1990
    commands = [
        submit(i % 20, description=f"{i}{long_text}", measures_taken=long_text) for i in range(150)
    ]
    commands = [
        SubmitRecord(f"records:0:{i}", c.case_id, c.record, f"fp{i}", c.received_at)
        for i, c in enumerate(commands)
    ]
    state, _ = run(commands)
    assert len(state.records) == MAX_RECORDS_KEPT
    assert all(len(r.description) <= MAX_TEXT_KEPT for r in state.records)
    import json

    assert len(json.dumps(state.to_dict(), ensure_ascii=False).encode()) < 1_000_000


def test_large_command_lists_are_split_below_the_message_limit():
    from schemas.commands import command_messages, commands_from_bytes

    cmds = [submit(i % 20, description="讨" * 3900) for i in range(60)]
    messages = command_messages(cmds)
    assert len(messages) > 1 and all(len(m) < 700_000 for m in messages)
    assert [c for m in messages for c in commands_from_bytes(m)] == cmds


def test_a_follow_up_that_arrives_late_does_not_overturn_a_newer_one():
    # resolved on the 12th, posted first; "mediating" found on the 11th, posted after it
    state, log = run(
        [
            submit(0),
            submit(2, record_kind="follow_up", follow_up_status="resolved"),
            submit(1, record_kind="follow_up", follow_up_status="mediating"),
        ]
    )
    assert [e.event_type for e in log] == [
        "CaseOpened",
        "RecordAppended",
        "RecordAppended",
        "CaseClosed",
        "RecordAppended",  # the late one joins the history; the case stays closed
    ]
    assert state.status == "closed" and len(state.records) == 3
    assert state.last_found_at == "2026-01-12T00:00:00+08:00"
    # a late "resolved" (found before the open follow-up seen already) does not close it
    state, log = run(
        [
            submit(0),
            submit(2, record_kind="follow_up", follow_up_status="mediating"),
            submit(1, record_kind="follow_up", follow_up_status="resolved"),
        ]
    )
    assert "CaseClosed" not in [e.event_type for e in log] and state.status == "open"
    # found the same day as the newest: posted later wins, as before
    _, log = run([submit(0), submit(0, description="同日结案", follow_up_status="resolved")])
    assert log[-1].event_type == "CaseClosed"


def _case_row(log):
    from readside.projections import apply_to_case

    row = None
    for envelope in log:
        row = apply_to_case(row, envelope)
    return row


def test_the_case_row_keeps_the_follow_up_visit_s_answer_the_latest_found_record_gave():
    """The county's satisfaction rate reads each case's answer from its row: a later visit's
    answer replaces an earlier one; a record of an earlier visit posted late fills the answer
    only while there is none."""
    satisfied = submit(1, record_kind="follow_up", satisfaction="satisfied")
    _, log = run([submit(0), satisfied])
    assert _case_row(log)["satisfaction"] == "satisfied"
    later = submit(3, record_kind="follow_up", satisfaction="unsatisfied")
    _, log = run([submit(0), satisfied, later])
    assert _case_row(log)["satisfaction"] == "unsatisfied"
    posted_late = submit(2, record_kind="follow_up", satisfaction="basically_satisfied")
    _, log = run([submit(0), satisfied, later, posted_late])
    assert _case_row(log)["satisfaction"] == "unsatisfied"
    _, log = run([submit(0), submit(3), posted_late])
    assert _case_row(log)["satisfaction"] == "basically_satisfied"


def test_of_corrections_posted_out_of_order_the_one_found_latest_stands():
    from domain.risk.features import category_as_of

    # corrected to land expropriation on the 15th, posted first; a correction found on the
    # 8th (to homestead) is posted after it, and a follow-up of the 20th says nothing of it
    state, log = run(
        [
            submit(0, found_at="2026-01-05", category="邻里纠纷"),
            submit(5, record_kind="correction", category="土地征收"),
            submit(10, found_at="2026-01-20", record_kind="follow_up"),
            submit(-2, record_kind="correction", category="宅基地纠纷"),
        ]
    )
    assert state.category == "land_expropriation"
    assert _case_row(log)["category"] == "land_expropriation"
    in_found_order = sorted(state.records, key=lambda r: r.found_at)
    assert category_as_of(state, in_found_order) == "land_expropriation"
    # the late correction alone, after a follow-up that does not correct: it stands
    state, log = run(
        [
            submit(0, found_at="2026-01-05", category="邻里纠纷"),
            submit(10, found_at="2026-01-20", record_kind="follow_up"),
            submit(-2, record_kind="correction", category="宅基地纠纷"),
        ]
    )
    assert state.category == _case_row(log)["category"] == "homestead"


def test_a_late_record_fills_gaps_and_overwrites_nothing_in_the_case_row():
    _, log = run(
        [
            submit(0, people_involved=12),
            submit(5, record_kind="follow_up", people_involved=30, follow_up_status="mediating"),
            submit(2, record_kind="follow_up", people_involved=3, village="马庄村"),
        ]
    )
    row = _case_row(log)
    assert (row["people_involved"], row["village"]) == (30, "马庄村")


def test_the_case_row_s_follow_up_status_is_the_latest_found_one_as_the_scorer_reads_it():
    """Mediating on the 15th; a sheet row found on the 13th saying new is posted later, then
    a correction of the 20th that states nothing: the status stays mediating, in the row (the
    time-limit map) as in the scorer."""
    import datetime as dt

    from domain.risk.features import read_records, status_as_of

    state, log = run(
        [
            submit(0, follow_up_status="new"),
            submit(5, record_kind="follow_up", follow_up_status="mediating"),
            submit(3, record_kind="follow_up", follow_up_status="new"),
            submit(10, record_kind="correction", category="拖欠工程款"),
        ]
    )
    known = read_records(state, dt.datetime(2026, 2, 1, tzinfo=dt.UTC)).records
    assert _case_row(log)["follow_up_status"] == status_as_of(list(known)) == "mediating"


def test_a_correction_without_a_status_leaves_a_closed_case_closed():
    from domain.risk.features import is_open_as_of, status_as_of

    state, log = run(
        [
            submit(0),
            submit(2, record_kind="follow_up", follow_up_status="resolved"),
            submit(2, record_kind="correction", people_involved=6),  # same day, no status
        ]
    )
    assert "CaseReopened" not in [e.event_type for e in log]
    assert state.status == "closed"
    assert _case_row(log)["status"] == "closed"
    assert _case_row(log)["follow_up_status"] == "resolved"
    assert status_as_of(list(state.records)) == "resolved"
    assert not is_open_as_of(list(state.records))
    # a correction that says the case is open again (a wrong 办结) does reopen it
    _, log = run(
        [
            submit(0),
            submit(2, record_kind="follow_up", follow_up_status="resolved"),
            submit(3, record_kind="correction", follow_up_status="mediating"),
        ]
    )
    assert "CaseReopened" in [e.event_type for e in log]


def test_the_same_record_with_its_reference_number_spelt_another_way_is_one_record():
    first = submit(0, ref_no="ZZ-1")
    again = submit(0, ref_no="zz-1")  # the same case (schemas.identity), the same report
    assert again.fingerprint != first.fingerprint
    state, log = run([first, again])
    assert [e.event_type for e in log] == ["CaseOpened", "RecordAppended"]
    assert len(state.records) == 1
    _, log = run([first, submit(1, ref_no="zz-1")])  # a new report spelt so is appended
    assert [e.event_type for e in log][-1] == "RecordAppended" and len(log) == 3


def test_a_record_first_spelt_one_way_is_known_again_spelt_as_the_case():
    state, log = run([submit(0, ref_no="ZZ-1"), submit(1, ref_no="zz-1"), submit(1, ref_no="ZZ-1")])
    assert len(state.records) == 2 and len(log) == 3


def test_the_fold_and_the_case_row_agree_on_a_late_correction_past_the_records_kept():
    from domain.case import MAX_RECORDS_KEPT

    commands = [
        submit(0, found_at="2026-01-05", category="邻里纠纷"),
        submit(0, found_at="2026-02-19", record_kind="correction", category="土地征收"),
    ]
    commands += [
        submit(0, found_at="2026-03-01", record_kind="follow_up", description=f"第{i}次回访")
        for i in range(MAX_RECORDS_KEPT + 1)
    ]
    commands.append(
        submit(0, found_at="2026-01-10", record_kind="correction", category="宅基地纠纷")
    )
    from dataclasses import replace

    state, log = run([replace(c, command_id=f"records:0:{i}") for i, c in enumerate(commands)])
    assert state.category == _case_row(log)["category"] == "land_expropriation"


def test_a_case_past_the_records_kept_still_knows_the_facts_it_was_opened_with():
    """A long case keeps its latest records, and also those that still decide what is known of
    it: the first (the day it opened, the head count it started with), its corrections, and the
    latest and the largest value of each fact a record gives.  Before, the 101st record pushed
    out the first: the petition's date, its statutory clock and the group of 60 were forgotten,
    and the case fell silent however overdue the petition was."""
    from dataclasses import replace

    from domain.case import MAX_RECORDS_KEPT
    from domain.risk.features import case_features
    from domain.risk.rules import rule_hits

    opened = submit(
        0,
        found_at="2026-01-02T09:00:00+08:00",
        people_involved=60,
        is_petition=True,
        petition_received_on="2026-01-01",
        prior_skip_level=1,
    )
    corrected = submit(
        0, found_at="2026-01-03T09:00:00+08:00", record_kind="correction", amount_involved_yuan=9e5
    )
    follow_ups = [
        submit(
            0,
            found_at=f"2026-02-{1 + i // 24:02d}T{i % 24:02d}:30:00+08:00",
            record_kind="follow_up",
            follow_up_status="mediating",
            description=f"第{i}次回访，仍在协调",
        )
        for i in range(MAX_RECORDS_KEPT + 20)
    ]
    commands = [opened, corrected, *follow_ups]
    state, _ = run([replace(c, command_id=f"records:0:{i}") for i, c in enumerate(commands)])

    assert len(state.records) == MAX_RECORDS_KEPT
    assert state.records[0].petition_received_on == "2026-01-01"
    assert state.records[-1].description == f"第{MAX_RECORDS_KEPT + 19}次回访，仍在协调"
    as_of = "2026-03-20T12:00:00+08:00"  # 78 days after the petition came in: overdue
    f = case_features(state, as_of)
    assert (f["people_max"], f["prior_skip_level"], f["amount_max_yuan"]) == (60, 1, 9e5)
    assert f["is_petition"] == 1 and f["petition_overdue"] == 1
    assert f["days_open"] > 77
    assert {"handling_overdue", "large_group"} <= {h.code for h in rule_hits(state, as_of)}


def test_a_long_case_keeps_the_head_count_a_correction_left_standing():
    """60 people corrected to 2, then 10 at a later visit, then many records of 5: the group
    rules go by the largest count after the correction, 10, also once the records of 60, 2 and
    10 are older than the latest ones kept."""
    from dataclasses import replace

    from domain.case import MAX_RECORDS_KEPT
    from domain.risk.features import people_for_rules

    def at(i: int) -> str:
        return f"2026-02-{1 + i // 24:02d}T{i % 24:02d}:30:00+08:00"

    commands = [
        submit(0, found_at=at(0), people_involved=60),
        submit(0, found_at=at(1), record_kind="correction", people_involved=2),
        submit(0, found_at=at(2), record_kind="follow_up", people_involved=10),
        *(
            submit(0, found_at=at(3 + i), record_kind="follow_up", people_involved=5)
            for i in range(MAX_RECORDS_KEPT)
        ),
    ]
    state, _ = run([replace(c, command_id=f"records:0:{i}") for i, c in enumerate(commands)])
    assert len(state.records) == MAX_RECORDS_KEPT
    assert people_for_rules(list(state.records)) == (10, False)
    assert [r.people_involved for r in state.records[:3]] == [60, 2, 10]


def test_a_long_case_keeps_the_head_count_a_later_record_gave_in_words():
    """3 in the first record's field (its words say 80, which its field outweighs), then 30
    workers in a later record's words, then many records with no count: the group rules go
    by the 30, also once the record that said it is older than the latest ones kept."""
    from dataclasses import replace

    from domain.case import MAX_RECORDS_KEPT
    from domain.risk.features import people_for_rules

    def at(i: int) -> str:
        return f"2026-02-{1 + i // 24:02d}T{i % 24:02d}:30:00+08:00"

    commands = [
        submit(0, found_at=at(0), people_involved=3, description="欠80余名工人工资，3名代表来访"),
        submit(0, found_at=at(1), record_kind="follow_up", description="今日30余名工人到场讨薪"),
        *(
            submit(0, found_at=at(2 + i), record_kind="follow_up", description="继续调解")
            for i in range(MAX_RECORDS_KEPT)
        ),
    ]
    state, _ = run([replace(c, command_id=f"records:0:{i}") for i, c in enumerate(commands)])
    assert len(state.records) == MAX_RECORDS_KEPT
    assert people_for_rules(list(state.records)) == (30, True)


def test_what_a_long_case_s_rules_and_facts_say_is_what_all_its_records_say(monkeypatch):
    """Random long cases (130 records: head counts in fields and in words, corrections,
    petitions, statuses, records posted late): the facts the risk features and rules read,
    and the rules that fire, are the same from the 100 records the state keeps as from all
    130.  Only counts of records and of their phrases may differ."""
    import random
    from dataclasses import replace

    import domain.case
    from domain.risk.features import case_features
    from domain.risk.rules import rule_hits

    compared = (
        "days_open",
        *("people_max", "people_latest", "people_growth", "amount_max_yuan"),
        *("prior_visits", "prior_skip_level", "is_petition", "petition_days"),
        *("petition_overdue", "status", "category"),
    )

    def day(d: int) -> str:
        return f"2026-{1 + d // 28:02d}-{1 + d % 28:02d}T09:00:00+08:00"

    def record(rnd: random.Random, i: int) -> dict:
        r = {"found_at": day(i if rnd.random() > 0.1 else rnd.randrange(i + 1))}
        r["description"] = f"第{i}次回访"
        if i:
            r["record_kind"] = "correction" if rnd.random() < 0.04 else "follow_up"
            r["follow_up_status"] = rnd.choice(["mediating"] * 8 + ["agreed", "resolved"])
        if rnd.random() < 0.1:
            r["people_involved"] = rnd.choice([2, 5, 12, 40, 60])
        if rnd.random() < 0.08:
            r["description"] = f"第{i}次回访，约{rnd.choice([3, 8, 30, 80])}名工人到场讨薪"
        if rnd.random() < 0.05:
            r["amount_involved_yuan"] = float(rnd.randrange(1000, 900_000))
        if rnd.random() < 0.04:
            r["prior_visits"], r["prior_skip_level"] = rnd.randrange(6), rnd.randrange(3)
        if rnd.random() < 0.03:
            r.update(is_petition=True, petition_received_on=day(rnd.randrange(i + 1))[:10])
        if r.get("record_kind") == "correction" and rnd.random() < 0.5:
            r["category"] = "土地征收"
        return r

    for seed in range(20):
        rnd = random.Random(seed)
        commands = [replace(submit(0, **record(rnd, i)), command_id=f"c{i}") for i in range(130)]
        kept, _ = run(commands)
        monkeypatch.setattr(domain.case, "MAX_RECORDS_KEPT", 10_000)
        whole, _ = run(commands)
        monkeypatch.undo()
        assert (len(kept.records), len(whole.records)) == (100, 130)
        for as_of in (day(130), day(170)):
            f, g = case_features(kept, as_of), case_features(whole, as_of)
            assert {k: f[k] for k in compared} == {k: g[k] for k in compared}, seed
            hits = [
                sorted((h.code, h.level, h.zh) for h in rule_hits(s, as_of)) for s in (kept, whole)
            ]
            assert hits[0] == hits[1], seed


def test_the_records_a_case_keeps_give_the_rules_what_all_its_records_give():
    """20,000 random short cases (head counts in fields and in words, as large as each other
    too, corrections, earlier visits and petitions, records found out of order): the group
    and earlier-petition rules read the same counts from the records ``_deciding`` keeps as
    from all of them, and say the same (涉及人数 for a field, 记录称约 for words)."""
    import datetime as dt
    import random

    from domain.case import RecordSeen, _deciding
    from domain.risk.features import people_for_rules, standing_max

    texts = [
        "",
        "30余人聚集",
        "五十多名工人讨薪",
        "实际仅涉及6人",
        "80余名工人聚集",
        "3人来访",
        "50人",
    ]
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def read(records: list[RecordSeen]) -> tuple:
        ordered = sorted(records, key=lambda r: dt.datetime.fromisoformat(r.found_at))
        return (
            people_for_rules(ordered),
            standing_max(ordered, "prior_visits"),
            standing_max(ordered, "prior_skip_level"),
        )

    for trial in range(20_000):
        rnd = random.Random(trial)
        records = []
        for i in range(rnd.randint(2, 12)):
            found = (base + dt.timedelta(hours=rnd.randint(0, 5))).isoformat()
            records.append(
                RecordSeen(
                    fingerprint=str(i),
                    found_at=found,
                    recorded_at=found,
                    record_kind=rnd.choice(["initial", "follow_up", "correction"]),
                    follow_up_status="new",
                    description=rnd.choice(texts),
                    people_involved=rnd.choice([None, None, 3, 6, 50, 60, 0]),
                    prior_visits=rnd.choice([None, 1, 4]),
                    prior_skip_level=rnd.choice([None, 0, 2]),
                )
            )
        kept = _deciding(tuple(records))
        assert read(records) == read([r for i, r in enumerate(records) if i in kept]), trial
