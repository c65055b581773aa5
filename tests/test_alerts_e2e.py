"""Alerts end to end: real broker, real webhook and SMTP receivers on loopback, every worker
and the notifier as their own processes."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from domain.risk.policy import DEFAULT_POLICY
from ews import processes
from ews.cli import main as ews_main
from ews.receivers import MailReceiver, WebhookReceiver, routing_for
from readside.db import make_engine, migrate
from readside.tables import alert_timeline, alerts, deliveries
from streams.admin import ensure_topics
from streams.clock import publish_ticks
from streams.post import post_messages
from tests.support import group_members, threat_is_red_alone

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
CN = dt.timezone(dt.timedelta(hours=8))
SEND_BATCH = 200  # the notifier's batch (alerts.notifier.Notifier.send_due)


def record(ref: str, **fields) -> bytes:
    body = {
        "township": "周庄镇",
        "ref_no": ref,
        "category": "拖欠农民工工资",
        "found_at": dt.datetime.now(CN).isoformat(timespec="seconds"),
        "description": "六十多名农民工讨薪，扬言要赴京上访，还要堵路。",
        "people_involved": 60,
        **fields,
    }
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


CALM = {
    "category": "邻里纠纷",
    "description": "两户因排水口角，暂无赴京苗头，没有过激言行。",
    "people_involved": 2,
}


@pytest.fixture
def world(settings, tmp_path: Path):  # noqa: ANN001, ANN201
    """Receivers, a routing that points at them, a policy where a threat is red without a
    model, and the whole pipeline with the notifier."""
    webhook, mail = WebhookReceiver().start(), MailReceiver().start()
    routing = routing_for(webhook, mail, tmp_path / "routing.yaml", fast_retries=True)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        threat_is_red_alone(DEFAULT_POLICY.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    s = settings.replace(
        routing=str(routing),
        risk_policy=str(policy),
        outbox_db=f"sqlite:///{tmp_path / 'outbox.db'}",
    )
    ensure_topics(s.bootstrap, s.topics.all())
    engine = make_engine(s.db_url)
    migrate(engine)
    procs = [
        *processes.start_workers(s, tmp_path),
        processes.start_projector(s, tmp_path / "projector.log"),
        processes.start(["notify"], s, tmp_path / "notifier.log"),
    ]
    yield s, webhook, mail, engine, procs
    for p in procs:
        processes.stop(p)
    webhook.stop()
    mail.stop()
    engine.dispose()


def until(check, timeout: float = 120.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("not seen in time")


def rows(engine, table, **where) -> list[dict]:  # noqa: ANN001
    query = sa.select(table)
    for k, v in where.items():
        query = query.where(table.c[k] == v)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def test_a_red_wage_case_reaches_its_unit_township_and_desk_once_each(world) -> None:  # noqa: ANN001
    s, webhook, mail, engine, _ = world
    began = time.monotonic()
    post_messages(s.bootstrap, s.topics.records, [record("ZZ-A1"), record("ZZ-A2", **CALM)])
    until(lambda: len(webhook.items()) >= 2 and mail.received)
    print(f"post -> notifications delivered: {time.monotonic() - began:.1f}s")
    time.sleep(3)  # anything sent twice would arrive now
    got = Counter(r.receiver for r in webhook.items())
    assert set(got) == {"hrss-duty-day", "township/周庄镇"} or set(got) == {
        "hrss-duty-night",
        "township/周庄镇",
    }
    assert all(n == 1 for n in got.values())
    assert len(mail.received) == 1 and "desk@county.local" in mail.received[0].receiver
    assert "【红色预警】周庄镇 拖欠农民工工资" in mail.received[0].title
    # the calm quarrel raised no alert at all
    until(lambda: rows(engine, alerts))
    assert [a["level"] for a in rows(engine, alerts)] == ["red"]
    assert {d["status"] for d in until(lambda: rows(engine, deliveries, status="delivered"))} == {
        "delivered"
    }


def test_a_receiver_that_was_down_gets_every_notification_once_it_is_back(world) -> None:  # noqa: ANN001
    s, webhook, _mail, engine, _ = world
    webhook.stop()
    down = time.monotonic()
    post_messages(s.bootstrap, s.topics.records, [record(f"ZZ-D{i}") for i in range(3)])
    until(lambda: len(rows(engine, deliveries, status="retrying")) >= 6, timeout=120)
    time.sleep(max(0.0, 120 - (time.monotonic() - down)))  # down for two minutes
    webhook.start()
    until(lambda: len({r.key for r in webhook.items()}) >= 6, timeout=120)
    print(f"back after {time.monotonic() - down:.0f}s down; every notification arrived")
    time.sleep(4)
    keys = Counter(r.key for r in webhook.items())
    assert len(keys) == 6 and all(n == 1 for n in keys.values())  # each once, none lost
    done = until(
        lambda: (
            [
                d
                for d in rows(engine, deliveries)
                if d["role"] != "county_desk" and d["status"] == "delivered"
            ]
            or None
        )
    )
    assert max(d["attempts"] for d in done) > 1


def test_kill_9_of_the_notifier_and_the_alert_writer_loses_and_doubles_nothing(
    world, tmp_path
) -> None:  # noqa: ANN001
    s, webhook, mail, engine, procs = world
    post_messages(s.bootstrap, s.topics.records, [record(f"ZZ-K{i:02d}") for i in range(20)])
    until(lambda: len(webhook.items()) >= 5)
    alerter, notifier = procs[3], procs[5]
    processes.kill_hard(alerter)
    processes.kill_hard(notifier)
    assert processes.wait_until(
        lambda: group_members(s.bootstrap, f"{s.topic_prefix}-alerts") == 0, 60
    )
    procs[3] = processes.start_worker(s, tmp_path / "alerts2.log", "alerts")
    procs[5] = processes.start(["notify"], s, tmp_path / "notifier2.log")
    until(
        lambda: (
            len({r.key for r in webhook.items()}) >= 40
            and len({r.key for r in mail.received}) >= 20
        ),
        timeout=180,
    )
    time.sleep(4)
    raised = Counter(a["case_id"] for a in rows(engine, alerts))
    assert len(raised) == 20 and set(raised.values()) == {1}  # no alert lost, none raised twice
    per_recipient = Counter((r.receiver, r.key) for r in webhook.items())
    # deduplicated by key at the receiver: exactly one per recipient, for every case
    assert len(per_recipient) == 40
    assert len({r.key for r in webhook.items()}) == 40
    # a repeat can only be a send in flight at the crash (at most one batch), with the same key
    assert sum(per_recipient.values()) - 40 <= SEND_BATCH


def test_escalation_fires_at_the_deadline_and_not_after_an_acknowledgement(world) -> None:  # noqa: ANN001
    s, webhook, _mail, engine, _ = world
    post_messages(s.bootstrap, s.topics.records, [record("ZZ-E1"), record("ZZ-E2")])
    until(lambda: len(rows(engine, alerts)) == 2)
    acked = rows(engine, alerts)[0]
    assert (
        ews_main(
            [
                "alert",
                "ack",
                acked["case_id"],
                "--by",
                "张三",
                "--unit",
                "hrss",
                "--bootstrap",
                s.bootstrap,
            ]
        )
        == 0
    )
    until(lambda: rows(engine, alerts, status="acknowledged"))
    late = dt.datetime.now(CN) + dt.timedelta(minutes=31)  # red: acknowledge within 30 minutes
    publish_ticks(s.bootstrap, s.topics, [late], reassess=False)  # `ews clock`'s minute check
    until(lambda: [r for r in webhook.items() if r.receiver == "hrss-head"])
    time.sleep(3)
    heads = [r for r in webhook.items() if r.receiver == "hrss-head"]
    assert len(heads) == 1  # only the alert nobody acknowledged went up
    escalated = rows(engine, alerts, escalation_step=1)
    assert [a["case_id"] for a in escalated] != [acked["case_id"]] and len(escalated) == 1


def test_stale_and_foreign_commands_are_rejected_with_reasons(world, capsys) -> None:  # noqa: ANN001
    """The officer's command says what became of it: done, or refused and why (exit 1)."""
    s, _webhook, _mail, engine, _ = world
    post_messages(s.bootstrap, s.topics.records, [record("ZZ-R1")])
    alert = until(lambda: rows(engine, alerts))[0]
    case = alert["case_id"]
    opts = ["--bootstrap", s.bootstrap]
    feedback = ["alert", "feedback", case, "--by", "李四", "--unit", "police", "--text", "已处理"]
    assert ews_main([*feedback, *opts]) == 1
    assert "not routed to police" in capsys.readouterr().out
    resolve = ["alert", "resolve", case, "--by", "张三", "--unit", "hrss"]
    assert ews_main([*resolve, "--satisfaction", "satisfied", *opts]) == 0
    assert "张三" in capsys.readouterr().out
    assert ews_main(["alert", "ack", case, "--by", "张三", "--unit", "hrss", *opts]) == 1
    assert "already resolved" in capsys.readouterr().out
    nosuch = ["alert", "ack", "Cnosuchcase0000000000", "--by", "张三", "--unit", "hrss"]
    assert ews_main([*nosuch, *opts]) == 1
    assert "no alert for this case" in capsys.readouterr().out

    def rejected() -> list[dict]:
        return [r for r in rows(engine, alert_timeline) if r["event_type"] == "CommandRejected"]

    found = until(lambda: len(rejected()) >= 3 and rejected())
    said = " | ".join(r["summary"] for r in found)
    assert (
        "not routed to police" in said
        and "already resolved" in said
        and "no alert for this case" in said
    )
    assert (
        rows(engine, alerts)[0]["status"] == "resolved"
        and rows(engine, alerts)[0]["satisfaction"] == "satisfied"
    )
