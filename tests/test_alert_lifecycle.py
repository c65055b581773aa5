"""The alert lifecycle without Kafka: assessments, officers' commands and ticks in, events out."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from domain.alerts.alert import AlertState, Tick, handle
from domain.alerts.message import mask_personal
from domain.alerts.routing import RoutingError, default_routing, parse_routing
from schemas.commands import AlertCommand
from schemas.risk import RiskAssessed

ROUTING = default_routing()
CASE = "Cwages0001"


def assessed(level: str, at: str, category: str = "unpaid_wages", seq: int = 2) -> RiskAssessed:
    return RiskAssessed(
        assessment_id=f"a-{level}-{at}",
        case_id=CASE,
        case_seq=seq,
        as_of=at,
        trigger="case_changed",
        probability={"red": 0.6, "orange": 0.3, "yellow": 0.1, "blue": 0.01}[level],
        level=level,
        township="周庄镇",
        category=category,
        model_version="v0001",
        policy_version="p1",
        rules=(
            {"code": "explicit_threat", "level": None, "zh": "明确扬言（赴京）", "en": "threat"},
        ),
    )


def command(
    action: str, unit: str = "hrss", at: str = "2026-03-02T10:10:00+08:00", **kw
) -> AlertCommand:
    return AlertCommand(f"cmd-{action}-{unit}-{at}", CASE, action, "张三", unit, at, **kw)


def cause(given) -> str:  # noqa: ANN001 - the id an input arrives with
    return (
        getattr(given, "assessment_id", None)
        or getattr(given, "command_id", None)
        or f"tick:{given.at}"
    )


def run(inputs: list, state: AlertState | None = None) -> tuple[AlertState, list]:
    state = state or AlertState(CASE)
    out = []
    for given in inputs:
        state, envelopes = handle(state, given, ROUTING, cause(given), "2026-03-02T02:00:00+00:00")
        out.extend(e.event for e in envelopes)
    return state, out


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


MONDAY_10 = "2026-03-02T10:00:00+08:00"  # a Monday, day shift at the labour bureau


def test_a_red_wage_case_reaches_the_unit_on_duty_the_township_and_the_desk_once_each() -> None:
    state, out = run([assessed("red", MONDAY_10)])
    sent = [e for e in out if type(e).__name__ == "NotificationRequested"]
    assert kinds(out)[0] == "AlertRaised" and state.status == "open" and state.units == ("hrss",)
    assert sorted(e.receiver for e in sent) == ["county-desk", "hrss-duty-day", "township:周庄镇"]
    assert len({e.key for e in sent}) == 3
    assert (
        "【红色预警】周庄镇 拖欠农民工工资" in sent[0].body and "明确扬言（赴京）" in sent[0].body
    )
    # at night the night shift is on duty
    _, night = run([assessed("red", "2026-03-02T23:00:00+08:00")])
    assert "hrss-duty-night" in {e.receiver for e in night if hasattr(e, "receiver")}


def test_the_link_in_a_message_opens_the_case_in_the_web_console() -> None:
    from schemas.settings import Settings

    _, out = run([assessed("red", MONDAY_10)])
    link = f"http://127.0.0.1:{Settings().web_port}/cases/{CASE}"  # where `ews web` serves it
    assert all(f"详情：{link}" in e.body for e in out[1:])


def test_blue_and_yellow_notify_nobody() -> None:
    assert (
        run([assessed("blue", MONDAY_10, "neighbour"), assessed("yellow", MONDAY_10, "neighbour")])[
            1
        ]
        == []
    )


def test_the_same_level_is_not_sent_again_before_its_repeat_interval() -> None:
    state, _ = run([assessed("red", MONDAY_10)])
    _, soon = run([assessed("red", "2026-03-02T11:00:00+08:00", seq=3)], state)
    assert soon == []
    _, later = run([assessed("red", "2026-03-02T14:30:00+08:00", seq=4)], state)  # 4h later
    assert kinds(later) == ["NotificationRequested"] * 3
    assert all(e.key.endswith("-2") for e in later)


def test_a_higher_level_upgrades_the_open_alert() -> None:
    state, _ = run([assessed("orange", MONDAY_10)])
    state, out = run([assessed("red", "2026-03-02T11:00:00+08:00", seq=3)], state)
    assert kinds(out)[0] == "AlertUpgraded" and state.level == "red"
    assert "county-desk" in {e.receiver for e in out[1:]}


def test_nobody_acknowledges_so_it_goes_to_the_head_then_the_leader() -> None:
    state, _ = run([assessed("red", MONDAY_10)])  # acknowledge within 30 minutes
    state, early = run([Tick("2026-03-02T10:20:00+08:00")], state)
    assert early == []
    state, first = run([Tick("2026-03-02T10:31:00+08:00")], state)
    assert kinds(first) == ["AlertEscalated", "NotificationRequested"]
    assert first[0].to == ("hrss-head",) and first[1].receiver == "hrss-head"
    state, again = run([Tick("2026-03-02T10:40:00+08:00")], state)
    assert again == []  # the new deadline has not passed
    state, second = run([Tick("2026-03-02T11:02:00+08:00")], state)
    assert second[0].to == ("county-leader",) and state.escalation_step == 2
    assert run([Tick("2026-03-02T12:00:00+08:00")], state)[1] == []  # no step beyond the leader
    _, asked = run([command("escalate", unit="county_desk", at="2026-03-02T12:01:00+08:00")], state)
    assert kinds(asked) == ["CommandRejected"] and "every escalation step" in asked[0].reason


def test_what_nobody_acknowledges_is_sent_again_every_repeat_interval_by_the_clock() -> None:
    state, _ = run([assessed("red", MONDAY_10)])  # red: repeat after 4h
    state, _ = run([Tick("2026-03-02T10:31:00+08:00"), Tick("2026-03-02T11:02:00+08:00")], state)
    assert state.escalation_step == 2  # the head, then the leader: no step left
    # repeats count from the latest sending, the leader's at 11:02
    state, none_yet = run([Tick("2026-03-02T15:01:00+08:00")], state)
    assert none_yet == []
    state, again = run([Tick("2026-03-02T15:02:00+08:00")], state)
    everyone = ["county-desk", "county-leader", "hrss-duty-day", "hrss-head", "township:周庄镇"]
    assert sorted(e.receiver for e in again) == everyone
    assert "重复提醒：尚未签收（已超过签收时限）" in again[0].body
    assert run([Tick("2026-03-02T15:03:00+08:00")], state)[1] == []  # not every minute after
    state, night = run([Tick("2026-03-02T19:02:00+08:00")], state)
    assert "hrss-duty-night" in {e.receiver for e in night}  # whoever is on duty now
    assert {e.key for e in night}.isdisjoint({e.key for e in again})
    state, _ = run([command("acknowledge", at="2026-03-02T19:05:00+08:00")], state)
    assert run([Tick("2026-03-02T23:02:00+08:00")], state)[1] == []  # acknowledged: quiet


def test_a_backlog_of_ticks_repeats_once_not_once_per_interval_missed() -> None:
    state, _ = run([assessed("red", MONDAY_10)])
    state, _ = run([Tick("2026-03-02T10:31:00+08:00"), Tick("2026-03-02T11:02:00+08:00")], state)
    # the alert writer was down from 11:05 to 11:00 the next day; the clock kept ticking
    taken = "2026-03-03T11:00:00+08:00"
    start = dt.datetime.fromisoformat("2026-03-02T11:05:00+08:00")
    backlog = [
        Tick((start + dt.timedelta(minutes=m)).isoformat(), taken) for m in range(0, 1436, 5)
    ]
    state, out = run(backlog, state)
    rounds = sorted({e.key.rsplit("-", 1)[1] for e in out})
    assert len(rounds) == 1  # one repeat: at the first tick less than 2 hours behind
    assert out[0].body.count("重复提醒") == 1


def test_an_escalation_by_hand_gives_its_deadline_in_china_time() -> None:
    state, _ = run([assessed("red", MONDAY_10)])
    # the web and the CLI send a command's time in UTC: 02:05 UTC is 10:05 in China
    _, out = run([command("escalate", unit="county_desk", at="2026-03-02T02:05:00+00:00")], state)
    assert kinds(out) == ["AlertEscalated", "NotificationRequested"]
    assert "请于2026-03-02 10:35前签收" in out[1].body  # 30 minutes to acknowledge a red alert


def test_a_tick_before_any_deadline_leaves_the_state_as_it_was() -> None:
    state, _ = run([assessed("red", MONDAY_10)])
    # the clock checks deadlines every minute: the minutes in which nothing is due must not
    # grow the state (and its changelog) by a remembered tick each
    for minute in range(1, 30):
        after, out = handle(state, Tick(f"2026-03-02T10:{minute:02d}:00+08:00"), ROUTING, "t", "r")
        assert out == [] and after is state
    state, out = run([Tick("2026-03-02T10:30:00+08:00")], state)
    assert kinds(out) == ["AlertEscalated", "NotificationRequested"]
    assert state.applied[-1] == "tick:2026-03-02T10:30:00+08:00"  # a tick that acted: once only
    assert run([Tick("2026-03-02T10:30:00+08:00")], state)[1] == []


def test_an_acknowledged_alert_does_not_escalate_at_the_acknowledgement_deadline() -> None:
    state, _ = run([assessed("red", MONDAY_10)])
    state, out = run([command("acknowledge"), Tick("2026-03-02T10:45:00+08:00")], state)
    assert kinds(out) == ["AlertAcknowledged"] and state.status == "acknowledged"
    # but with no feedback within 24 hours it does
    state, late = run([Tick("2026-03-03T10:05:00+08:00")], state)
    assert kinds(late)[0] == "AlertEscalated" and "未反馈" in late[0].reason
    assert late[0].to == ("hrss-head",)
    # the head is asked for the feedback by their own deadline, not to acknowledge again
    assert "请于2026-03-04 10:05前反馈" in late[1].body and "签收" not in late[1].body
    # the head has a day of their own to get a report back before the leader hears of it
    assert run([Tick("2026-03-03T10:06:00+08:00")], state)[1] == []
    assert run([Tick("2026-03-04T10:04:00+08:00")], state)[1] == []
    _, leader = run([Tick("2026-03-04T10:06:00+08:00")], state)
    assert leader[0].to == ("county-leader",)


@pytest.mark.parametrize(
    ("setup", "cmd", "says"),
    [
        ([], command("acknowledge"), "no alert for this case"),
        (
            [command("acknowledge")],
            command("acknowledge", at="2026-03-02T10:20:00+08:00"),
            "already acknowledged",
        ),
        ([command("resolve")], command("acknowledge"), "already resolved"),
        ([], command("feedback", unit="police", text="已处理"), "not routed to police"),
        ([], command("feedback", text=""), "feedback needs a text"),
    ],
)
def test_stale_and_foreign_commands_are_rejected_with_a_reason(setup, cmd, says) -> None:  # noqa: ANN001
    first = [] if "no alert" in says else [assessed("red", MONDAY_10)]
    state, _ = run(first + setup)
    state_after, out = run([cmd], state)
    assert kinds(out) == ["CommandRejected"] and says in out[0].reason
    assert state_after.status == state.status


def test_the_desk_acts_on_any_alert_and_a_reassignment_notifies_the_new_unit() -> None:
    state, _ = run([assessed("red", MONDAY_10)])
    state, out = run([command("reassign", unit="county_desk", to_unit="police")], state)
    assert kinds(out) == ["AlertReassigned", "NotificationRequested"] and state.units == ("police",)
    assert out[1].receiver == "police-duty"
    state, out = run(
        [command("feedback", unit="police", text="已约谈包工头", measures="约谈")], state
    )
    assert kinds(out) == ["FeedbackReported"]


def test_a_reassigned_alert_is_acknowledged_afresh_by_its_new_unit_in_its_own_time() -> None:
    state, _ = run([assessed("red", MONDAY_10), command("acknowledge")])  # hrss acknowledged
    at = "2026-03-02T10:25:00+08:00"
    state, out = run([command("reassign", unit="county_desk", to_unit="police", at=at)], state)
    assert state.status == "open" and out[0].acknowledge_by == "2026-03-02T10:55:00+08:00"
    # hrss's deadline (10:30) is not police's: nothing escalates to police's head at 10:31
    assert run([Tick("2026-03-02T10:31:00+08:00")], state)[1] == []
    _, late = run([Tick("2026-03-02T10:56:00+08:00")], state)
    assert late[0].to == ("police-head",)
    state, out = run([command("acknowledge", unit="police", at="2026-03-02T10:40:00+08:00")], state)
    assert kinds(out) == ["AlertAcknowledged"] and state.status == "acknowledged"


def test_a_unit_cannot_restart_its_deadlines_by_reassigning_the_alert_to_itself() -> None:
    """The labour bureau, escalated to its head for not acknowledging, "reassigns" the alert to
    itself: refused, so the escalation goes on to the leader in charge.  Before, it set the
    steps back to 0 and gave it a fresh 30 minutes, as often as it liked."""
    state, _ = run([assessed("red", MONDAY_10)])
    state, out = run([Tick("2026-03-02T10:31:00+08:00")], state)
    assert out[0].to == ("hrss-head",) and state.escalation_step == 1
    to_itself = command("reassign", to_unit="hrss", at="2026-03-02T10:40:00+08:00")
    state, out = run([to_itself], state)
    assert kinds(out) == ["CommandRejected"] and "already with hrss" in out[0].reason
    _, out = run([Tick("2026-03-02T11:02:00+08:00")], state)
    assert out[0].to == ("county-leader",)


def test_reminders_of_a_reassigned_alert_go_to_the_unit_it_is_with() -> None:
    state, _ = run([assessed("red", MONDAY_10), command("acknowledge")])
    at = "2026-03-02T10:25:00+08:00"
    state, _ = run([command("reassign", unit="county_desk", to_unit="police", at=at)], state)
    state, _ = run([Tick("2026-03-02T10:56:00+08:00")], state)  # police's head: step 1
    state, _ = run([Tick("2026-03-02T11:27:00+08:00")], state)  # the leader: step 2
    _, reminder = run([Tick("2026-03-02T15:28:00+08:00")], state)  # red repeats after 4 h
    told = {e.receiver for e in reminder if hasattr(e, "receiver")}
    assert "police-duty" in told and "police-head" in told
    assert not {r for r in told if r.startswith("hrss")}


def test_a_routing_by_township_alone_loads_and_an_alert_with_no_unit_reaches_the_leader() -> None:
    from domain.alerts.routing import DEFAULT_ROUTING

    text = DEFAULT_ROUTING.read_text(encoding="utf-8")
    start, end = text.index("routes:"), text.index("case_link:")
    by_township = "routes:\n  - match: {township: [周庄镇]}\n    units: [judicial]\n\n"
    routing = parse_routing(text[:start] + by_township + text[end:])
    state, envelopes = AlertState(CASE), []
    for given in (
        assessed("red", MONDAY_10).__class__(
            **{**assessed("red", MONDAY_10).__dict__, "township": "城关镇"}
        ),
        Tick("2026-03-02T10:31:00+08:00"),
    ):
        state, out = handle(state, given, routing, cause(given), "2026-03-02T02:00:00+00:00")
        envelopes += out
    escalated = [e.event for e in envelopes if type(e.event).__name__ == "AlertEscalated"]
    assert state.units == () and escalated[0].to == ("county-leader",)


def test_a_reassignment_when_nobody_of_the_unit_is_on_duty_tells_its_head() -> None:
    from domain.alerts.routing import DEFAULT_ROUTING

    routing = parse_routing(
        DEFAULT_ROUTING.read_text(encoding="utf-8").replace(
            '- {days: all, from: "00:00", to: "24:00", receiver: police-duty}',
            '- {days: [mon], from: "08:00", to: "09:00", receiver: police-duty}',
        )
    )
    state = AlertState(CASE)
    for given in (
        assessed("red", MONDAY_10),
        command("reassign", unit="county_desk", to_unit="police"),
    ):
        state, envelopes = handle(state, given, routing, cause(given), "2026-03-02T02:00:00+00:00")
    sent = [e.event for e in envelopes]
    assert kinds(sent) == ["AlertReassigned", "NotificationRequested"]
    assert sent[1].receiver == "police-head" and "无人值班" in sent[1].body


def test_reprocessing_an_input_gives_the_same_events_and_a_repeat_none() -> None:
    a = assessed("red", MONDAY_10)
    state, one = handle(AlertState(CASE), a, ROUTING, "risk:0:5", "t")
    _, two = handle(AlertState(CASE), a, ROUTING, "risk:0:5", "t")
    assert [e.event_id for e in one] == [e.event_id for e in two] and one == two
    assert handle(state, a, ROUTING, "risk:0:5", "t") == (state, [])  # redelivered: nothing


def test_a_channel_given_up_on_is_told_to_the_desk() -> None:
    from schemas.commands import DeliveryReport

    state, _ = run([assessed("red", MONDAY_10)])
    report = DeliveryReport(
        "d1", CASE, state.alert_id, "hrss-duty-day", "k", "given_up", 12, "refused", MONDAY_10
    )
    _, out = run([report], state)
    assert kinds(out) == ["NotificationGivenUp", "NotificationRequested"]
    assert out[1].receiver == "county-desk" and "未能送达hrss-duty-day" in out[1].body
    # once the alert is resolved, the desk is not asked to phone anyone about it
    resolved, _ = run([command("resolve", satisfaction="satisfied")], state)
    _, out = run([report], resolved)
    assert kinds(out) == ["NotificationGivenUp"]


def test_personal_numbers_are_masked_in_messages() -> None:
    text = "当事人身份证110101199003071234，电话13812345678。"
    assert mask_personal(text) == "当事人身份证110101********1234，电话138****5678。"
    case = "案件：Cd13812345678abc0000a"  # digits inside a case id are not a phone number
    assert mask_personal(case) == case


def test_a_state_copied_with_changes_is_the_one_replace_gives_and_refuses_unknown_fields() -> None:
    from dataclasses import replace

    state, _ = run([assessed("red", MONDAY_10)])
    changes = {"status": "acknowledged", "rounds": 2, "applied": ("x",)}
    assert state.but(**changes) == replace(state, **changes)
    assert state.but(**changes).to_dict() == replace(state, **changes).to_dict()
    assert state.status == "open"  # the original is left as it was
    with pytest.raises(TypeError, match="statu"):
        state.but(statu="resolved")


def test_how_often_deadlines_are_checked_is_configuration() -> None:
    from domain.alerts.routing import DEFAULT_ROUTING

    assert ROUTING.check_every == dt.timedelta(minutes=1)
    text = DEFAULT_ROUTING.read_text(encoding="utf-8")
    every = "deadlines_checked_every: 1m"
    assert parse_routing(text.replace(every, "deadlines_checked_every: 5m")).check_every == (
        dt.timedelta(minutes=5)
    )
    assert parse_routing(text.replace(every, "")).check_every == dt.timedelta(minutes=1)
    with pytest.raises(RoutingError, match=r"routing.yaml:\d+: .*from 10s to 1h"):
        parse_routing(text.replace(every, "deadlines_checked_every: 2h"), "routing.yaml")


def test_a_routing_error_names_its_line() -> None:
    from domain.alerts.routing import DEFAULT_ROUTING

    text = DEFAULT_ROUTING.read_text(encoding="utf-8").replace("units: [hrss]", "units: [hrs]", 1)
    with pytest.raises(
        RoutingError, match=r"routing.yaml:\d+: routing.routes\[0\].units\[0\]: no unit 'hrs'"
    ):
        parse_routing(text, "routing.yaml")


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "county_desk: {levels: [orange, red]",
            "county_desk: {levels: [橙, red]",
            r"routing.county_desk.levels\[0\]: unknown level '橙'",
        ),
        (
            "  - match: {category: [key_person]}\n    units: [police]\n",
            "",
            r"routing.routes: no route sends key_person alerts of level red to a unit",
        ),
        ('to: "18:00", receiver: hrss-duty-day', 'to: "24:30", receiver: hrss-duty-day', "24:00"),
        (
            "units:\n  hrss:\n",
            f"units:\n  {'h' * 33}: {{zh: x, head: hrss-duty-day, roster: []}}\n  hrss:\n",
            "longer than 32",
        ),
        (
            "  hrss-duty-day: {",
            f"  {'d' * 65}: {{zh: x, url: 'json://127.0.0.1:1/x'}}\n  hrss-duty-day: {{",
            "longer than 64",
        ),
        # fields the sending would fill in wrongly: each once failed only at the first alert
        ("/cases/{case_id}", "/cases/{id}", r"case_link: unknown field \{id\}"),
        ("/cases/{case_id}", "/cases/{}", r"case_link: unknown field \{\}"),
        ("/cases/{case_id}", "/cases/{case_id", r"case_link: .*brace"),
        ('receiver: "township:{township}"', 'receiver: "township:{town}"', r"unknown field"),
        ('receiver: "township:{township}"', 'receiver: "townships"', r"needs \{township\}"),
        ("repeat_after: 4h", "repeat_after: 0s", "above 0"),
        ("acknowledge_within: 30m", "acknowledge_within: 0m", "above 0"),
    ],
)
def test_a_routing_file_that_would_leave_an_alert_unheard_is_refused(old, new, says) -> None:  # noqa: ANN001
    from domain.alerts.routing import DEFAULT_ROUTING

    text = DEFAULT_ROUTING.read_text(encoding="utf-8")
    assert text.count(old) == 1
    with pytest.raises(RoutingError, match=says):
        parse_routing(text.replace(old, new), "routing.yaml")


def test_open_alerts_of_a_level_switched_off_still_escalate_and_can_be_reassigned() -> None:
    """The desk turns orange alerts off (``orange: {alert: false}``) while some are open: they
    escalate and are reassigned by the nearest level's deadlines (red's), and a new orange
    assessment raises nothing.  Before, the first deadline check of such an alert stopped the
    alert writer with a TypeError, and every restart again, for every case it holds."""
    from domain.alerts.routing import DEFAULT_ROUTING

    state, _ = run([assessed("orange", MONDAY_10)])  # acknowledge by 12:00
    text = DEFAULT_ROUTING.read_text(encoding="utf-8")
    old = "  orange: {alert: true, acknowledge_within: 2h, feedback_within: 72h, repeat_after: 12h}"
    assert text.count(old) == 1
    orange_off = parse_routing(text.replace(old, "  orange: {alert: false}"))

    def step(given, state):  # noqa: ANN001, ANN202
        state, out = handle(state, given, orange_off, cause(given), "2026-03-02T02:00:00+00:00")
        return state, [e.event for e in out]

    state, escalated = step(Tick("2026-03-02T12:01:00+08:00"), state)
    assert kinds(escalated) == ["AlertEscalated", "NotificationRequested"]
    assert escalated[0].acknowledge_by == "2026-03-02T12:31:00+08:00"  # red's 30 minutes
    reassign = command(
        "reassign", unit="county_desk", to_unit="judicial", at="2026-03-02T12:10:00+08:00"
    )
    state, moved = step(reassign, state)
    assert kinds(moved) == ["AlertReassigned", "NotificationRequested"]
    _, nothing = step(assessed("orange", "2026-03-02T12:20:00+08:00", seq=3), state)
    assert nothing == []


def test_a_gap_in_a_unit_s_roster_sends_its_alerts_to_the_unit_s_head() -> None:
    from domain.alerts.routing import DEFAULT_ROUTING

    night = '- {days: all, from: "00:00", to: "24:00", receiver: hrss-duty-night}'
    text = DEFAULT_ROUTING.read_text(encoding="utf-8")
    routing = parse_routing(text.replace(night, night.replace("all", "[mon, tue, wed, thu, fri]")))
    saturday = dt.datetime.fromisoformat("2026-03-07T10:00:00+08:00")
    told = routing.recipients("unpaid_wages", "周庄镇", "red", saturday)
    assert [(r.receiver, r.role) for r in told if r.unit == "hrss"] == [("hrss-head", "unit_head")]


def test_routes_test_prints_who_would_be_notified(capsys) -> None:  # noqa: ANN001
    from ews.cli import main

    args = [
        "routes",
        "test",
        "--category",
        "拖欠农民工工资",
        "--township",
        "周庄镇",
        "--level",
        "red",
    ]
    assert main([*args, "--at", "2026-03-02T10:00"]) == 0
    out = capsys.readouterr().out
    assert "hrss-duty-day" in out and "township:周庄镇" in out and "county-desk" in out
    assert "escalation 1: hrss-head" in out and "escalation 2: county-leader" in out
    assert (
        main(
            ["routes", "test", "--category", "neighbour", "--township", "周庄镇", "--level", "blue"]
        )
        == 0
    )
    assert "nobody is notified" in capsys.readouterr().out


def test_deadlines_and_the_officer_on_duty_follow_when_the_record_came_in_not_its_stamp() -> None:
    """A record posted Monday 10:00 whose time was typed in China time with a Z reads as 18:00:
    the assessment is of that moment, but the unit learnt of it at 10:00, so its 30 minutes
    run from 10:00 and the day shift, on duty then, is told."""
    ahead = dataclasses.replace(assessed("red", "2026-03-02T18:00:00+08:00"), noticed_at=MONDAY_10)
    state, out = run([ahead])
    raised = out[0]
    assert raised.acknowledge_by == "2026-03-02T10:30:00+08:00"
    assert raised.feedback_by == "2026-03-03T10:00:00+08:00"
    told = {e.receiver for e in out if type(e).__name__ == "NotificationRequested"}
    assert "hrss-duty-day" in told and "hrss-duty-night" not in told
    # at 10:31 nobody has acknowledged it: it goes to the unit's head
    _, later = run([Tick("2026-03-02T10:31:00+08:00")], state)
    assert kinds(later)[0] == "AlertEscalated"


def test_a_unit_a_higher_level_routes_to_joins_the_upgraded_alert_and_can_act_on_it() -> None:
    """Red wage cases go to the police as well as the labour bureau: an orange alert upgraded
    to red is the police's too, so their acknowledgement is taken, not rejected."""
    from domain.alerts.routing import DEFAULT_ROUTING

    routing = parse_routing(
        DEFAULT_ROUTING.read_text(encoding="utf-8").replace(
            "  - match: {category: [unpaid_wages]}\n",
            "  - match: {category: [unpaid_wages], level: [red]}\n    units: [hrss, police]\n"
            "  - match: {category: [unpaid_wages]}\n",
        )
    )
    state, out = AlertState(CASE), []
    for given in (
        assessed("orange", MONDAY_10),
        assessed("red", "2026-03-02T10:05:00+08:00", seq=3),
        command("acknowledge", unit="police"),
    ):
        state, envelopes = handle(state, given, routing, cause(given), "2026-03-02T02:00:00+00:00")
        out += [e.event for e in envelopes]
    upgraded = next(e for e in out if type(e).__name__ == "AlertUpgraded")
    assert upgraded.units == ("hrss", "police") and state.units == ("hrss", "police")
    assert kinds(out)[-1] == "AlertAcknowledged" and state.status == "acknowledged"


def test_an_upgrade_of_a_reassigned_alert_tells_the_unit_it_is_with() -> None:
    state, out = AlertState(CASE), []
    for given in (
        assessed("orange", MONDAY_10),
        command("reassign", unit="county_desk", to_unit="police"),
        assessed("red", "2026-03-02T10:20:00+08:00", seq=3),
    ):
        state, envelopes = run([given], state)
        out += envelopes
    upgrade = kinds(out).index("AlertUpgraded")
    told = [e.receiver for e in out[upgrade:] if type(e).__name__ == "NotificationRequested"]
    assert state.units == ("police",) and "police-duty" in told
    assert not any(r.startswith("hrss") for r in told)  # the labour bureau no longer has it


def test_telling_the_desk_of_a_channel_given_up_on_does_not_put_off_the_next_repeat() -> None:
    from schemas.commands import DeliveryReport

    state, _ = run([assessed("red", MONDAY_10)])  # red: repeat after 4h
    state, _ = run([Tick("2026-03-02T10:31:00+08:00"), Tick("2026-03-02T11:02:00+08:00")], state)
    report = DeliveryReport(
        "d1",
        CASE,
        state.alert_id,
        "hrss-head",
        "k",
        "given_up",
        12,
        "refused",
        "2026-03-02T13:00:00+08:00",
    )
    state, told = run([report], state)
    assert [e.receiver for e in told if hasattr(e, "receiver")][-1] == "county-desk"
    _, again = run([Tick("2026-03-02T15:02:00+08:00")], state)  # 4h after the leader's 11:02
    assert "重复提醒：尚未签收" in again[0].body


def test_an_alert_with_a_unit_taken_out_of_the_routing_file_goes_to_the_desk_and_the_leader() -> (
    None
):
    """The labour bureau is taken out of the routing while its red alert is open: the alert
    writer must go on (before, every tick of the case stopped it with a KeyError)."""
    from domain.alerts.routing import DEFAULT_ROUTING

    state, _ = run([assessed("orange", MONDAY_10)])  # with hrss
    text = DEFAULT_ROUTING.read_text(encoding="utf-8")
    start, end = text.index("  hrss:\n"), text.index("  housing:\n")
    text = (text[:start] + text[end:]).replace("units: [hrss]", "units: [judicial]")
    without_hrss = parse_routing(text)
    assert "hrss" not in without_hrss.units and state.units == ("hrss",)

    def step(given, state):  # noqa: ANN001, ANN202
        state, out = handle(state, given, without_hrss, cause(given), "2026-03-02T02:00:00+00:00")
        return state, [e.event for e in out]

    state, upgraded = step(assessed("red", "2026-03-02T10:05:00+08:00", seq=3), state)
    told = {e.receiver for e in upgraded if hasattr(e, "receiver")}
    assert told == {"county-desk", "township:周庄镇"}  # the desk in the unit's place, to reassign
    state, escalated = step(Tick("2026-03-02T10:36:00+08:00"), state)
    assert kinds(escalated) == ["AlertEscalated", "NotificationRequested"]
    assert escalated[0].to == ("county-leader",)  # no head to tell: the next step
    reassign = command(
        "reassign", unit="county_desk", to_unit="judicial", at="2026-03-02T10:40:00+08:00"
    )
    state, moved = step(reassign, state)
    assert kinds(moved) == ["AlertReassigned", "NotificationRequested"]
    assert moved[1].receiver == "judicial-duty"
