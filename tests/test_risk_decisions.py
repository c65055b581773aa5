"""The scorer's steps without Kafka: case events and ticks in, RiskAssessed out."""

from __future__ import annotations

import datetime as dt

from domain.case import CaseState, handle_command
from domain.risk.assess import (
    Assessment,
    Watch,
    deadline_check_between,
    decide,
    level_for,
    ticks_between,
    watch_events,
    watch_tick,
)
from domain.risk.policy import default_policy
from domain.risk.rules import RuleHit
from models.scoring import score_cases
from schemas.commands import SubmitRecord
from schemas.events import Envelope, case_id_for
from schemas.record import fingerprint, validate

CN = dt.timezone(dt.timedelta(hours=8))
POLICY = default_policy()


def rules_alone(states, times):  # noqa: ANN001, ANN201 - the scorer with no model in service
    return score_cases(None, states, times, POLICY)


def case_events(ref: str, records: list[dict]) -> list[Envelope]:
    state, out = None, []
    for i, raw in enumerate(records):
        record = validate({"township": "周庄镇", "ref_no": ref, **raw})
        state = state or CaseState(case_id_for("周庄镇", ref))
        cmd = SubmitRecord(
            f"records:0:{ref}{i}", state.case_id, record, fingerprint(record), record["found_at"]
        )
        state, events = handle_command(state, cmd)
        out.extend(events)
    return out


THREAT = case_events(
    "ZZ-1",
    [
        {
            "category": "拖欠农民工工资",
            "found_at": "2026-01-10T09:00:00+08:00",
            "description": "60名农民工讨薪，扬言要去北京上访，还要堵路。",
            "people_involved": 60,
        }
    ],
)
CALM = case_events(
    "ZZ-2",
    [
        {
            "category": "邻里纠纷",
            "found_at": "2026-01-10T09:00:00+08:00",
            "description": "两户因排水口角，仍在调解中，暂无赴京苗头，没有过激言行。",
            "people_involved": 2,
        }
    ],
)
PETITION = case_events(
    "ZZ-3",
    [
        {
            "category": "农村宅基地纠纷",
            "found_at": "2026-01-05T09:00:00+08:00",
            "description": "宅基地界址争议，已受理信访。",
            "people_involved": 2,
            "is_petition": True,
            "petition_received_on": "2026-01-05",
        }
    ],
)


def test_a_threat_is_orange_and_a_calm_quarrel_is_blue() -> None:
    watches, out = watch_events({}, THREAT + CALM, rules_alone, POLICY)
    by_case = {e.case_id: e for e in out}
    threat, calm = by_case[THREAT[0].case_id], by_case[CALM[0].case_id]
    assert threat.level in ("red", "orange") and threat.policy_version == POLICY.version
    assert any("去北京" in r for r in threat.reasons_zh())
    assert calm.level == "blue" and calm.rules == ()  # 暂无赴京苗头 fires nothing
    assert watches[calm.case_id].level == "blue"


def test_a_head_count_in_the_words_stands_in_for_an_empty_field() -> None:
    from domain.risk.headcount import people_in_text

    said = {
        "30余人": 30,
        "五十多名工人": 50,
        "二三十户村民": 20,
        "上百人聚集": 100,
        "十几个工友": 11,
        "欠款30多万元": 0,  # money, years and months are no head counts
        "拖了十几年": 0,
        "3个月没发工资": 0,
        "70多岁老人": 0,
        "借款5000多人民币": 0,  # 人民币, not people
        "第6村民组两户": 2,  # an ordinal is no count
        "欠3至5人劳务费": 3,  # a range from its low end
        "组织30余名干部劝离": 0,  # officials are not in the dispute
        "三十多号人": 30,
        "近百人": 90,
        "现场聚集６０余名农民工": 60,  # full-width digits, as a phone's keyboard gives them
        "涉及5家企业": 0,  # firms and work groups are no people
        "3个村民组": 0,
        "100多名企业员工到县政府聚集": 100,  # their workers are
        "30余名医院职工上访": 30,
        "①20余名工人到镇政府讨薪": 20,  # a circled number is no digit
        "10多人组团去北京": 10,
    }
    assert {text: people_in_text(text) for text in said} == said
    in_words = case_events(
        "ZZ-9",
        [
            {
                "category": "拖欠农民工工资",
                "found_at": "2026-01-10T09:00:00+08:00",
                "description": "五十多名工人在镇政府门口讨薪，要求年前结清。",
            }
        ],
    )
    _, out = watch_events({}, in_words, rules_alone, POLICY)
    (assessed,) = out
    assert [r["code"] for r in assessed.rules] == ["large_group"]
    assert assessed.level == "orange"  # as a 50 in the field would be, with no model
    assert "记录称约50人" in assessed.reasons_zh()[0]
    # a correction that gives a smaller count in its words replaces it, as a field would
    corrected = case_events(
        "ZZ-9",
        [
            {
                "category": "拖欠农民工工资",
                "found_at": "2026-01-10T09:00:00+08:00",
                "description": "60余名工人讨薪。",
            },
            {
                "category": "拖欠农民工工资",
                "found_at": "2026-01-11T09:00:00+08:00",
                "record_kind": "correction",
                "description": "经核实，实际仅涉及2人。",
            },
        ],
    )
    _, out = watch_events({}, corrected, rules_alone, POLICY)
    assert [r["code"] for r in out[-1].rules] == []


WAGES = {"category": "拖欠农民工工资", "found_at": "2026-01-10T09:00:00+08:00"}


def test_a_group_a_later_record_tells_of_in_words_counts_beside_an_earlier_field() -> None:
    """Three came to ask first (the field says 3); a follow-up says 80 workers gathered, in
    words only: the group rules go by 80.  Before, any field outweighed every record's words,
    and no group rule fired."""
    grew = case_events(
        "ZZ-10",
        [
            {**WAGES, "description": "3名工人代表来访讨薪。", "people_involved": 3},
            {
                **WAGES,
                "found_at": "2026-01-12T09:00:00+08:00",
                "record_kind": "follow_up",
                "description": "今日80余名工人聚集在工地门口讨薪。",
            },
        ],
    )
    _, out = watch_events({}, grew, rules_alone, POLICY)
    assert [r["code"] for r in out[-1].rules] == ["large_group"]
    assert "记录称约80人" in out[-1].reasons_zh()[0]


def test_a_correction_takes_back_a_head_count_and_earlier_petitions_for_the_rules() -> None:
    """60 in the field and 3 earlier skip-level petitions, corrected to 6 people in words
    and to no petition: the group rules go by 6, and the earlier-petition rules are silent.
    Before, a count in words never replaced a field (60 was a large group), and a corrected
    petition count still fired."""
    corrected = case_events(
        "ZZ-11",
        [
            {
                **WAGES,
                "description": "工人讨薪。",
                "people_involved": 60,
                "prior_skip_level": 3,
                "prior_visits": 5,
            },
            {
                **WAGES,
                "found_at": "2026-01-11T09:00:00+08:00",
                "record_kind": "correction",
                "description": "更正：经核实实际仅涉及6人，此前未越级上访。",
                "prior_skip_level": 0,
                "prior_visits": 1,
            },
        ],
    )
    _, out = watch_events({}, corrected, rules_alone, POLICY)
    assert [r["code"] for r in out[-1].rules] == ["group_size"]
    assert "记录称约6人" in out[-1].reasons_zh()[0]


def test_batching_does_not_change_what_is_said() -> None:
    log = THREAT + CALM + PETITION
    _, whole = watch_events({}, log, rules_alone, POLICY)
    watches: dict[str, Watch] = {}
    parts = []
    for e in log:  # one event per batch
        changed, out = watch_events(watches, [e], rules_alone, POLICY)
        watches.update(changed)
        parts.extend(out)
    assert parts == whole
    # and a batch seen again (redelivered after a crash) says nothing new
    assert watch_events(watches, log, rules_alone, POLICY)[1] == []


def test_time_turns_a_petition_approaching_then_overdue_once_each() -> None:
    watches, first = watch_events({}, PETITION, rules_alone, POLICY)
    assert [r["code"] for r in first[0].rules] == []
    said = []
    for day in ("2026-01-12", "2026-01-18", "2026-01-18", "2026-01-21", "2026-01-22"):
        at = dt.datetime.fromisoformat(day + "T08:00:00+08:00")
        changed, out = watch_tick(watches, at, rules_alone, POLICY)
        watches.update(changed)
        said.extend(out)
    # nothing on the 12th (8 days left), approaching on the 18th once though ticked twice,
    # overdue on the 21st, nothing new on the 22nd (same level, same rules)
    assert [(e.as_of[:10], e.trigger) for e in said] == [
        ("2026-01-18", "time_passed"),
        ("2026-01-21", "time_passed"),
    ]
    soon, late = said[0].rules[0], said[1].rules[0]
    assert soon["code"] == "accept_decision_approaching" and soon["deadline"]["days_left"] == 2
    assert (
        soon["deadline"]["starts_on"] == "2026-01-05" and soon["deadline"]["due_on"] == "2026-01-20"
    )
    assert late["code"] == "accept_decision_overdue" and late["deadline"]["days_left"] == -1
    assert said[1].level == "orange"  # rules alone: an overdue decision is orange (policy)


def test_the_rules_raise_a_level_never_lower_it() -> None:
    cut = POLICY.levels
    orange = RuleHit("x", "orange", "", "")
    assert level_for(0.99, cut, [orange]) == "red"
    assert level_for(0.0, cut, [orange]) == "orange"
    assert level_for(0.0, cut, [RuleHit("y", None, "", "")]) == "blue"


def test_ticks_follow_the_schedule_and_none_is_repeated() -> None:
    schedule = POLICY.reassess  # daily at 08:00 China time
    at = dt.datetime(2026, 3, 1, 7, 0, tzinfo=CN)
    assert ticks_between(None, at, schedule) == [dt.datetime(2026, 2, 28, 8, 0, tzinfo=CN)]
    last = dt.datetime(2026, 3, 1, 8, 0, tzinfo=CN)
    later = ticks_between(last, dt.datetime(2026, 3, 3, 9, 0, tzinfo=CN), schedule)
    assert later == [dt.datetime(2026, 3, d, 8, 0, tzinfo=CN) for d in (2, 3)]
    assert ticks_between(later[-1], dt.datetime(2026, 3, 3, 20, 0, tzinfo=CN), schedule) == []


def test_deadlines_are_checked_once_per_interval_between_the_reassessments() -> None:
    minute = dt.timedelta(minutes=1)

    def at(day: int, hour: int, minute: int, second: int = 0) -> dt.datetime:
        return dt.datetime(2026, 3, day, hour, minute, second, tzinfo=CN)

    check = deadline_check_between
    assert check(at(1, 8, 1), at(1, 8, 3, 30), minute) == at(1, 8, 3)
    assert check(at(1, 8, 3), at(1, 8, 3, 59), minute) is None  # posted already
    assert check(None, at(1, 8, 3, 30), minute) == at(1, 8, 3)  # the first start
    # a ticker down for hours: one check stands for the missed ones
    assert check(at(1, 8, 3), at(1, 11, 0, 5), minute) == at(1, 11, 0)
    # a re-assessment tick checks the deadlines too: no check at its time or before it
    assert check(at(1, 7, 59), at(1, 8, 0, 30), minute, [at(1, 8, 0)]) is None
    assert check(at(1, 7, 59), at(1, 8, 1), minute, [at(1, 8, 0)]) == at(1, 8, 1)
    # an interval that does not divide the day: the grid starts each midnight, China time
    seven = dt.timedelta(minutes=7)
    assert check(None, at(1, 8, 5).astimezone(dt.UTC), seven) == at(1, 8, 3)  # 69 x 7 minutes
    assert check(None, at(1, 0, 6), seven) == at(1, 0, 0)


def test_a_closed_case_gets_a_last_word_that_resolves_its_alert() -> None:
    from domain.alerts.alert import AlertState, handle
    from domain.alerts.routing import default_routing

    resolved = case_events(
        "ZZ-1",
        [
            {
                "category": "拖欠农民工工资",
                "found_at": "2026-01-10T09:00:00+08:00",
                "description": "60名农民工讨薪，扬言要去北京上访，还要堵路。",
                "people_involved": 60,
            },
            {
                "category": "拖欠农民工工资",
                "found_at": "2026-01-12T09:00:00+08:00",
                "record_kind": "follow_up",
                "follow_up_status": "resolved",
                "description": "工资已结清，息诉罢访。",
            },
        ],
    )
    _, out = watch_events({}, resolved, rules_alone, POLICY)
    assert [(e.trigger, e.level) for e in out] == [
        ("case_changed", "orange"),
        ("case_closed", "blue"),
    ]
    alert, said = AlertState(out[0].case_id), []
    for a in out:
        alert, events = handle(alert, a, default_routing(), a.assessment_id, "")
        said.extend(type(e.event).__name__ for e in events)
    assert said[0] == "AlertRaised" and said[-1] == "AlertResolved" and alert.status == "resolved"
    # a case closed by its first record was never assessed open: nothing to say
    at_once = case_events(
        "ZZ-9",
        [
            {
                "category": "邻里纠纷",
                "found_at": "2026-01-10T09:00:00+08:00",
                "follow_up_status": "resolved",
                "description": "当场调解，已化解。",
            }
        ],
    )
    assert watch_events({}, at_once, rules_alone, POLICY)[1] == []


def test_a_record_stamped_ahead_of_its_posting_is_known_from_when_it_came_in() -> None:
    """China time typed with a Z reads 8 hours ahead (the intake takes up to a day ahead): the
    assessment is as of the record's moment, and says it was known when the record came in,
    which is where an alert's deadlines count from."""
    record = validate(
        {
            "township": "周庄镇",
            "ref_no": "ZZ-9",
            "category": "拖欠农民工工资",
            "found_at": "2026-01-10T17:00:00Z",  # meant 17:00 in China: reads 01:00 next day
            "description": "60名农民工讨薪，扬言要去北京上访。",
            "people_involved": 60,
        }
    )
    case_id = case_id_for("周庄镇", "ZZ-9")
    received = "2026-01-10T09:05:00.000+00:00"  # 17:05 in China
    cmd = SubmitRecord("records:0:9", case_id, record, fingerprint(record), received)
    _, events = handle_command(CaseState(case_id), cmd)
    _, out = watch_events({}, events, rules_alone, POLICY)
    assert out[0].as_of == "2026-01-11T01:00:00+08:00"
    assert out[0].noticed_at == "2026-01-10T17:05:00+08:00"
    # an assessment because time passed is known at its tick
    watches, _ = watch_events({}, events, rules_alone, POLICY)
    tick = Assessment(case_id, "2026-01-20T08:00:00+08:00", 0.01, "blue", None)
    _, said = decide(watches[case_id], tick, "time_passed", POLICY)
    assert said is not None and said.noticed_at == said.as_of == "2026-01-20T08:00:00+08:00"
