"""Alert read models and KPIs from alert events, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from domain.alerts.alert import AlertState, Tick, handle
from domain.alerts.routing import DEFAULT_ROUTING, Routing, default_routing, parse_routing
from readside.alert_queries import kpis, queue
from readside.db import drop_all, make_engine, migrate
from readside.projector import Message, apply_batch
from schemas.commands import AlertCommand, DeliveryReport
from schemas.topics import Topics
from tests.support import alert_row, case_row
from tests.test_alert_lifecycle import MONDAY_10, assessed

TOPICS = Topics()
ROUTING = default_routing()


def command(cause: str, action: str, unit: str, at: str = MONDAY_10, **kw: str) -> tuple:
    return AlertCommand(cause, "Cwages0001", action, "张三", unit, at, **kw), cause


def test_alerts_deliveries_and_kpis(db_url: str) -> None:
    routing = default_routing()
    state, log = AlertState("Cwages0001"), []
    inputs = [
        (assessed("red", MONDAY_10), "a1"),
        (
            AlertCommand(
                "c1", "Cwages0001", "acknowledge", "张三", "hrss", "2026-03-02T10:12:00+08:00"
            ),
            "c1",
        ),
    ]
    for given, cause in inputs:
        state, envelopes = handle(state, given, routing, cause, "2026-03-02T02:00:00+00:00")
        log.extend(envelopes)
    key = next(e.event.key for e in log if type(e.event).__name__ == "NotificationRequested")
    report = DeliveryReport(
        "d1", "Cwages0001", state.alert_id, "hrss-duty-day", key, "delivered", 2, "ok", MONDAY_10
    )
    state, envelopes = handle(state, report, routing, "d1", "2026-03-02T02:01:00+00:00")
    log.extend(envelopes)
    # a second case nobody acknowledges: escalated at its deadline
    other, more = AlertState("Cwages0002"), []
    a2 = assessed("orange", MONDAY_10)
    a2 = a2.__class__(**{**a2.__dict__, "case_id": "Cwages0002", "assessment_id": "a2"})
    for given, cause in ((a2, "a2"), (Tick("2026-03-02T12:05:00+08:00"), "t1")):
        other, envelopes = handle(other, given, routing, cause, "2026-03-02T04:05:00+00:00")
        more.extend(envelopes)
    engine = make_engine(db_url)
    migrate(engine)
    messages = [Message(TOPICS.alert_events, 0, i, e.to_bytes()) for i, e in enumerate(log + more)]
    with engine.begin() as conn:
        apply_batch(conn, messages, TOPICS)
    with engine.begin() as conn:  # a redelivered batch changes nothing
        apply_batch(conn, messages, TOPICS)
    assert [r["level"] for r in queue(engine)] == ["red", "orange"]
    assert [r["case_id"] for r in queue(engine, unit="police")] == []
    k = kpis(engine, dt.datetime.fromisoformat("2026-03-02T13:00:00+08:00"))
    assert k["alerts"] == 2 and k["acknowledge_minutes_median"] == {"red": 12.0}
    assert k["overdue_per_unit"] == {"hrss": 1}  # the orange one, escalated, unacknowledged
    # feedback: owed by neither yet (24 h and 72 h), so none on time of none due; a day later
    # the red one's is past, and the petition figures do not enter this share
    assert k["feedback_on_time"] == (0, 0)
    tomorrow = dt.datetime.fromisoformat("2026-03-03T13:00:00+08:00")
    assert kpis(engine, tomorrow)["feedback_on_time"] == (0, 1)
    engine.dispose()


def test_a_closed_case_says_closed_not_blue(db_url: str) -> None:
    from domain.risk.assess import watch_events
    from domain.risk.policy import default_policy
    from readside.queries import risk_lines
    from tests.test_risk_decisions import case_events, rules_alone

    events = case_events(
        "ZZ-5",
        [
            {
                "category": "邻里纠纷",
                "found_at": "2026-01-10T09:00:00+08:00",
                "description": "口角，扬言要去北京。",
            },
            {
                "category": "邻里纠纷",
                "found_at": "2026-01-12T09:00:00+08:00",
                "record_kind": "follow_up",
                "follow_up_status": "resolved",
                "description": "已调解。",
            },
        ],
    )
    _, said = watch_events({}, events, rules_alone, default_policy())
    engine = make_engine(db_url)
    migrate(engine)
    with engine.begin() as conn:
        apply_batch(
            conn,
            [Message(TOPICS.risk_assessments, 0, i, a.to_bytes()) for i, a in enumerate(said)],
            TOPICS,
        )
    with engine.connect() as conn:
        assert risk_lines(conn, said[0].case_id) == [
            "  risk: none, the case was closed (2026-01-12T09:00)"
        ]
    engine.dispose()


def test_on_time_completion_counts_open_petitions_already_past_their_limit(db_url: str) -> None:
    import sqlalchemy as sa

    from readside.tables import cases

    def petition(case_id: str, received: str, closed_at: str | None, petition: bool = True):  # noqa: ANN202
        return case_row(
            case_id,
            status="closed" if closed_at else "open",
            closed_at=closed_at,
            is_petition=petition,
            petition_received_on=received,
            follow_up_status="resolved" if closed_at else "mediating",
        )

    engine = make_engine(db_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(cases),
            [
                petition("on-time", "2026-01-01", "2026-03-01T10:00:00+08:00"),  # day 59
                petition("late", "2026-01-01", "2026-03-05T10:00:00+08:00"),
                petition("open-past", "2026-01-01", None),  # 60 days passed, still open
                petition("open-within", "2026-03-01", None),
                petition("no-petition", "2026-01-01", None, petition=False),
            ],
        )
    now = dt.datetime.fromisoformat("2026-03-20T09:00:00+08:00")
    assert kpis(engine, now)["resolved_within_limit"] == (1, 3)
    # an open petition did not count against the rate before: it read 1/2
    assert kpis(engine, now, handle_days=90)["resolved_within_limit"] == (2, 2)
    engine.dispose()


def test_feedback_stamped_in_utc_is_late_after_its_china_time_deadline(db_url: str) -> None:
    """Deadlines are kept in China time, the web's actions in UTC: a report half an hour late
    counts as late, not as early because its text sorts first."""
    engine = _one_alert(
        db_url,
        (assessed("red", MONDAY_10), "a1"),  # feedback owed by 2026-03-03 10:00 China time
        (
            AlertCommand("c1", "Cwages0001", "acknowledge", "张三", "hrss", "2026-03-02T02:05:00Z"),
            "c1",
        ),
        (
            AlertCommand(
                "c2",
                "Cwages0001",
                "feedback",
                "张三",
                "hrss",
                "2026-03-03T02:30:00+00:00",
                "已约谈",
            ),
            "c2",
        ),
    )
    later = dt.datetime.fromisoformat("2026-03-04T12:00:00+08:00")
    assert kpis(engine, later)["feedback_on_time"] == (0, 1)
    engine.dispose()


def test_a_case_s_follow_up_visit_counts_once_in_the_satisfaction_rate(db_url: str) -> None:
    """The clerk's record and the officer's resolve often report the same visit: one answer
    per case, the officer's."""

    from readside.tables import cases

    engine = _one_alert(
        db_url,
        (assessed("red", MONDAY_10), "a1"),
        (
            AlertCommand(
                "c1",
                "Cwages0001",
                "resolve",
                "张三",
                "hrss",
                "2026-03-03T02:00:00+00:00",
                satisfaction="unsatisfied",
            ),
            "c1",
        ),
    )
    with engine.begin() as conn:  # each case's record of the visit said "satisfied"
        for case_id in ("Cwages0001", "Cother"):
            conn.execute(sa.insert(cases).values(case_row(case_id, satisfaction="satisfied")))
        conn.execute(sa.insert(cases).values(case_row("Cunasked")))
    # Cwages0001: the officer's "unsatisfied" stands; Cother: the record's; Cunasked: none
    assert kpis(engine, dt.datetime.fromisoformat("2026-03-04T12:00:00+08:00"))["satisfaction"] == (
        1,
        2,
    )
    engine.dispose()


def _one_alert(db_url: str, *inputs: tuple, routing: Routing | None = None) -> sa.Engine:
    """The read models of one case's alert after ``inputs`` (assessments, commands)."""
    state, log = AlertState("Cwages0001"), []
    routing = routing or default_routing()
    for given, cause in inputs:
        state, envelopes = handle(state, given, routing, cause, "2026-03-03T02:30:00Z")
        log.extend(envelopes)
    engine = make_engine(db_url)
    migrate(engine)
    messages = [Message(TOPICS.alert_events, 0, i, e.to_bytes()) for i, e in enumerate(log)]
    with engine.begin() as conn:
        apply_batch(conn, messages, TOPICS)
    return engine


@pytest.mark.parametrize("answer", ["satisfied", "basically_satisfied", "unsatisfied"])
def test_every_answer_at_the_visit_is_kept_with_the_resolved_alert(
    db_url: str, answer: str
) -> None:
    """基本满意 (``basically_satisfied``) is longer than the 16 characters the column once
    held: PostgreSQL refused the row and the resolve never reached the read models."""
    from readside.tables import alerts

    engine = _one_alert(
        db_url,
        (assessed("red", MONDAY_10), "a1"),
        command("c1", "resolve", "hrss", "2026-03-03T10:00:00+08:00", satisfaction=answer),
    )
    with engine.connect() as conn:
        [row] = conn.execute(sa.select(alerts.c.status, alerts.c.satisfaction)).all()
    assert tuple(row) == ("resolved", answer)
    drop_all(engine)  # as ews replay does first: the downgrade does not narrow the column again
    migrate(engine)
    engine.dispose()


def test_a_reassigned_alert_waits_in_the_new_unit_s_queue_for_its_acknowledgement(
    db_url: str,
) -> None:
    reassigned_at = "2026-03-02T10:25:00+08:00"
    engine = _one_alert(
        db_url,
        *[
            (assessed("red", MONDAY_10), "a1"),
            command("c1", "acknowledge", "hrss"),
            command("c2", "reassign", "county_desk", reassigned_at, to_unit="police"),
        ],
    )
    [row] = queue(engine, unit="police")
    assert row["status"] == "open" and row["acknowledge_by"] == "2026-03-02T10:55:00+08:00"
    assert queue(engine, unit="hrss") == []
    engine.dispose()


def test_people_s_actions_are_ordered_and_shown_by_time_whatever_zone_they_were_stamped_in(
    db_url: str,
) -> None:
    from readside.alert_queries import alert_lines
    from readside.case_queries import audit_rows
    from readside.tables import alert_timeline

    engine = make_engine(db_url)
    migrate(engine)
    rows = [  # 09:00 China (01:00 UTC), then an acknowledgement at 16:30 China stamped in UTC
        ("e1", 1, "AlertResolved", "2026-03-05T09:00:00+08:00", "case"),
        ("e2", 2, "AlertAcknowledged", "2026-03-05T08:30:00+00:00", "张三"),
    ]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(alert_timeline),
            [
                dict(event_id=e, case_id="C1", alert_id="A1", seq=s, event_type=t, occurred_at=at)
                | dict(summary=t, actor=who)
                for e, s, t, at, who in rows
            ],
        )
        lines = alert_lines(conn, "C1")
    assert [r["who"] for r in audit_rows(engine, limit=1)] == ["张三"]  # the later one
    assert "2026-03-05 16:30" in lines[1].replace("T", " ")
    engine.dispose()


def test_feedback_after_an_escalation_for_its_lateness_is_still_late(db_url: str) -> None:
    engine = _one_alert(
        db_url,
        *[
            (assessed("red", MONDAY_10), "a1"),  # feedback due within 24 h: 03-03 10:00
            command("c1", "acknowledge", "hrss"),
            (Tick("2026-03-03T10:05:00+08:00"), "t1"),  # no feedback: to the head
            command("c2", "feedback", "hrss", "2026-03-03T20:00:00+08:00", text="已约谈"),
        ],
    )
    later = dt.datetime.fromisoformat("2026-03-05T10:00:00+08:00")
    assert kpis(engine, later)["feedback_on_time"] == (0, 1)
    engine.dispose()


def test_the_console_counts_down_to_the_feedback_deadline_the_alert_has_now(db_url: str) -> None:
    """Escalated to the head for want of feedback, the alert has the head's own day: the
    console counts down to it, while the on-time share still measures the unit's deadline.
    Before, the console showed the unit's deadline, a day past, for the whole of the head's."""
    from web.app import _queued

    engine = _one_alert(
        db_url,
        *[
            (assessed("red", MONDAY_10), "a1"),  # feedback due within 24 h: 03-03 10:00
            command("c1", "acknowledge", "hrss"),
            (Tick("2026-03-03T10:05:00+08:00"), "t1"),  # no feedback: to the head, for a day
        ],
    )
    [row] = queue(engine, unit="hrss")
    assert (row["feedback_by"], row["feedback_due"]) == (
        "2026-03-03T10:00:00+08:00",
        "2026-03-04T10:05:00+08:00",
    )
    shown = _queued(row, dt.datetime.fromisoformat("2026-03-03T12:05:00+08:00"))
    assert shown["feedback_by"] == "2026-03-04T10:05:00+08:00"
    assert shown["feedback_by_minutes_left"] == 22 * 60
    engine.dispose()


def test_alerts_projected_before_0012_start_with_the_unit_s_feedback_deadline(db_url: str) -> None:
    from readside.tables import alerts

    engine = make_engine(db_url)
    migrate(engine, "0011")
    row = alert_row("C1", ["hrss"], feedback_by="2026-11-27T09:00:00+08:00")
    with engine.begin() as conn:
        columns = ", ".join(row)
        conn.execute(sa.text(f"INSERT INTO alerts ({columns}) VALUES (:{', :'.join(row)})"), row)
    migrate(engine)
    with engine.connect() as conn:
        due = conn.execute(sa.select(alerts.c.feedback_due)).scalar_one()
    assert due == "2026-11-27T09:00:00+08:00"
    engine.dispose()


def test_an_acknowledged_alert_raised_to_a_higher_level_waits_to_be_acknowledged_again(
    db_url: str,
) -> None:
    orange, red = assessed("orange", MONDAY_10), assessed("red", "2026-03-02T11:00:00+08:00")
    engine = _one_alert(
        db_url,
        *[  # ids as short as the stream's (the alert's id is its first assessment's)
            (orange.__class__(**{**orange.__dict__, "assessment_id": "a1"}), "a1"),
            command("c1", "acknowledge", "hrss"),
            (red.__class__(**{**red.__dict__, "assessment_id": "a2"}), "a2"),
        ],
    )
    [row] = queue(engine, unit="hrss")
    assert (row["level"], row["status"]) == ("red", "open")
    engine.dispose()


def test_a_unit_a_higher_level_routes_to_finds_the_upgraded_alert_in_its_queue(
    db_url: str,
) -> None:
    red_wages_to_police_too = parse_routing(
        DEFAULT_ROUTING.read_text(encoding="utf-8").replace(
            "  - match: {category: [unpaid_wages]}\n",
            "  - match: {category: [unpaid_wages], level: [red]}\n    units: [hrss, police]\n"
            "  - match: {category: [unpaid_wages]}\n",
        )
    )
    orange, red = assessed("orange", MONDAY_10), assessed("red", "2026-03-02T11:00:00+08:00")
    engine = _one_alert(
        db_url,
        (orange.__class__(**{**orange.__dict__, "assessment_id": "a1"}), "a1"),
        (red.__class__(**{**red.__dict__, "assessment_id": "a2"}), "a2"),
        routing=red_wages_to_police_too,
    )
    [row] = queue(engine, unit="police")
    assert (row["level"], row["status"]) == ("red", "open")
    assert len(queue(engine, unit="hrss")) == 1
    engine.dispose()


def test_a_unit_reads_the_cases_of_the_alerts_routed_to_it_and_no_others(db_url: str) -> None:
    from readside.case_queries import case_rows
    from readside.tables import alerts, cases

    engine = make_engine(db_url)
    migrate(engine)
    units = {
        "C1": ["police", "finance"],
        "C2": ["hrss"],
        "C3": ["natural_resources"],
        "C4": ["人社局"],  # a routing file may name its units in Chinese
    }
    with engine.begin() as conn:
        for case_id, routed in units.items():
            conn.execute(sa.insert(cases).values(case_row(case_id)))
            conn.execute(sa.insert(alerts).values(alert_row(case_id, routed)))

    def read(unit: str) -> list[str]:
        return [r["case_id"] for r in case_rows(engine, unit=unit)]

    assert read("finance") == ["C1"] and read("hrss") == ["C2"]
    assert read("natural_resources") == ["C3"] and read("natural-resources") == []
    assert read("hrs") == [] and read("%") == []
    assert read("人社局") == ["C4"]
    engine.dispose()


def test_the_acknowledgement_time_of_an_upgraded_alert_counts_from_its_upgrade(
    db_url: str,
) -> None:
    """Orange at 10:00, acknowledged 10:20; red at 14:00, acknowledged again at 14:10: the red
    acknowledgement took 10 minutes, not the 250 since the alert was first raised; before the
    second acknowledgement, no red acknowledgement time is counted at all."""
    orange, red = assessed("orange", MONDAY_10), assessed("red", "2026-03-02T14:00:00+08:00")
    inputs = [
        (orange.__class__(**{**orange.__dict__, "assessment_id": "a1"}), "a1"),
        command("c1", "acknowledge", "hrss", "2026-03-02T10:20:00+08:00"),
        (red.__class__(**{**red.__dict__, "assessment_id": "a2"}), "a2"),
    ]
    at = dt.datetime.fromisoformat("2026-03-02T14:05:00+08:00")
    waiting = _one_alert(db_url, *inputs)
    assert kpis(waiting, at)["acknowledge_minutes_median"] == {}
    waiting.dispose()
    again = command("c2", "acknowledge", "hrss", "2026-03-02T06:10:00Z")  # 14:10 China time
    engine = _one_alert(db_url, *inputs, again)
    assert kpis(engine, at)["acknowledge_minutes_median"] == {"red": 10.0}
    engine.dispose()


def test_an_upgrade_of_an_alert_nobody_acknowledged_does_not_restart_its_wait(
    db_url: str,
) -> None:
    orange, red = assessed("orange", MONDAY_10), assessed("red", "2026-03-02T14:00:00+08:00")
    engine = _one_alert(
        db_url,
        (orange.__class__(**{**orange.__dict__, "assessment_id": "a1"}), "a1"),
        (red.__class__(**{**red.__dict__, "assessment_id": "a2"}), "a2"),
        command("c1", "acknowledge", "hrss", "2026-03-02T14:05:00+08:00"),
    )
    at = dt.datetime.fromisoformat("2026-03-02T15:00:00+08:00")
    assert kpis(engine, at)["acknowledge_minutes_median"] == {"red": 245.0}  # since 10:00
    engine.dispose()


def test_an_earlier_database_gets_each_case_s_visit_answer_from_its_timeline(db_url: str) -> None:
    """Migration 0011 fills the case rows' answers of a database projected before it, by the
    rule the projection keeps: the latest-found record's answer, a late record of an earlier
    visit filling only an empty answer."""
    from readside.tables import cases

    engine = make_engine(db_url)
    migrate(engine, "0010")
    visits = {  # case: (found_at, answer) in the order posted
        "Clate": [
            ("2026-03-01", "satisfied"),
            ("2026-03-05", "unsatisfied"),
            ("2026-03-03", "basically_satisfied"),
        ],
        "Conly": [("2026-03-02", None), ("2026-02-01", "basically_satisfied")],
        "Cnone": [("2026-03-02", None)],
    }
    with engine.begin() as conn:
        for case_id, records in visits.items():
            row = case_row(case_id)
            columns = ", ".join(row)
            conn.execute(sa.text(f"INSERT INTO cases ({columns}) VALUES (:{', :'.join(row)})"), row)
            for seq, (found, answer) in enumerate(records, start=2):
                record = {"found_at": f"{found}T09:00:00+08:00", "description": "回访"}
                record |= {"satisfaction": answer} if answer else {}
                conn.execute(
                    sa.text(
                        "INSERT INTO case_timeline (event_id, case_id, seq, event_type, "
                        "occurred_at, recorded_at, summary, payload) VALUES (:e, :c, :s, "
                        "'RecordAppended', :f, :f, '回访', :p)"
                    ),
                    {
                        "e": f"{case_id}{seq}",
                        "c": case_id,
                        "s": seq,
                        "f": found,
                        "p": json.dumps({"record": record}),
                    },
                )
    migrate(engine)
    with engine.connect() as conn:
        answers = dict(conn.execute(sa.select(cases.c.case_id, cases.c.satisfaction)).all())
    assert answers == {"Clate": "unsatisfied", "Conly": "basically_satisfied", "Cnone": None}
    engine.dispose()
