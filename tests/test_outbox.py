"""The notifier's outbox on SQLite and on PostgreSQL: what a duty officer's notification goes
through between the alert event and the delivery report (real broker, time moved by hand)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from alerts import outbox as ob
from alerts.notifier import Notifier
from domain.alerts.routing import DEFAULT_ROUTING, parse_routing
from readside.db import make_engine
from readside.projector import Message  # a log message as the notifier reads it too
from schemas.commands import DeliveryReport, commands_from_bytes
from schemas.events import (
    AlertResolved,
    Envelope,
    NotificationDelivered,
    NotificationGivenUp,
    NotificationRequested,
)
from schemas.settings import Settings
from streams.admin import ensure_topics
from streams.log import read_from_start

pytestmark = pytest.mark.kafka
START = 1_800_000_000.0
# a first retry after 10 s, then 20 s; the third attempt is the last
ROUTING = parse_routing(
    DEFAULT_ROUTING.read_text(encoding="utf-8").replace(
        "delivery: {retry_first: 5s, retry_max: 5m, attempts: 16}",
        "delivery: {retry_first: 10s, retry_max: 5m, attempts: 3}",
    )
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def requested(
    topic: str, offset: int, key: str, case_id: str = "c1", body: str = "周庄镇 拖欠农民工工资"
) -> Message:
    """The alert event that asks for one notification with idempotency key ``key``."""
    return logged(
        topic,
        offset,
        NotificationRequested(
            alert_id="a1",
            receiver="hrss-duty",
            zh="人社局值班员",
            url="json://127.0.0.1:9/hook",
            role="duty",
            unit="hrss",
            key=key,
            title="红色预警",
            body=body,
        ),
        case_id,
    )


def logged(topic: str, offset: int, event: object, case_id: str = "c1") -> Message:
    """An alert event as the log holds it."""
    envelope = Envelope(
        event_id=f"e{offset}",
        case_id=case_id,
        seq=offset + 1,
        occurred_at="2027-01-15T08:00:00+00:00",
        recorded_at="2027-01-15T08:00:00+00:00",
        causation_id="x",
        event=event,
    )
    return Message(topic, 0, offset, envelope.to_bytes())


@pytest.fixture
def world(db_url: str, settings: Settings):  # noqa: ANN201
    ensure_topics(settings.bootstrap, settings.topics.all())
    engine = make_engine(db_url)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    yield engine, producer, settings
    producer.close()
    engine.dispose()


def outbox_rows(engine: sa.Engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r["key"]: dict(r) for r in conn.execute(sa.select(ob.outbox)).mappings()}


def reports(settings: Settings) -> list[DeliveryReport]:
    messages = read_from_start(settings.bootstrap, settings.topics.alert_commands)
    out = [c for m in messages for c in commands_from_bytes(m.value)]
    return sorted(out, key=lambda r: (r.key, r.attempt))


def test_a_failing_receiver_is_tried_after_its_back_off_and_given_up_after_the_last_attempt(
    world,  # noqa: ANN001
) -> None:
    engine, producer, settings = world
    clock, sent = Clock(), []

    def send(url: str, title: str, body: str, key: str) -> tuple[bool, str]:
        sent.append((key, clock.now))
        return (True, "HTTP 200") if key == "ok" else (False, "HTTP 503")

    notifier = Notifier(
        engine, settings.bootstrap, settings.topics, ROUTING, send=send, clock=clock
    )
    topic = settings.topics.alert_events
    events = [requested(topic, 0, "ok"), requested(topic, 1, "down")]
    assert notifier.take(events) == 2
    assert notifier.take(events) == 0  # the same events read again after a restart

    assert notifier.send_due(producer) == 2
    clock.now += 9.9
    assert notifier.send_due(producer) == 0  # not before the back-off
    clock.now += 0.1
    assert notifier.send_due(producer) == 1
    clock.now += 20
    assert notifier.send_due(producer) == 1
    clock.now += 3600
    assert notifier.send_due(producer) == 0  # given up: never sent again

    assert sorted(sent) == [
        ("down", START),
        ("down", START + 10),
        ("down", START + 30),
        ("ok", START),
    ]
    rows = outbox_rows(engine)
    assert (rows["ok"]["status"], rows["ok"]["attempts"]) == ("delivered", 1)
    assert (rows["down"]["status"], rows["down"]["attempts"]) == ("given_up", 3)
    assert rows["down"]["last_reason"] == "HTTP 503"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ob.attempts)).scalar() == 4
        positions = conn.execute(sa.select(ob.positions)).all()
    assert [(p.topic, p.partition, p.next_offset) for p in positions] == [(topic, 0, 2)]
    assert [(r.key, r.attempt, r.outcome) for r in reports(settings)] == [
        ("down", 1, "failed"),
        ("down", 2, "failed"),
        ("down", 3, "given_up"),
        ("ok", 1, "delivered"),
    ]


def test_a_send_in_flight_at_a_crash_goes_out_again_with_the_same_key(world) -> None:  # noqa: ANN001
    engine, producer, settings = world
    clock, sent = Clock(), []

    def crash(url: str, title: str, body: str, key: str) -> tuple[bool, str]:
        sent.append(key)
        raise SystemExit("killed while sending")

    def send(url: str, title: str, body: str, key: str) -> tuple[bool, str]:
        sent.append(key)
        return True, "HTTP 200"

    first = Notifier(engine, settings.bootstrap, settings.topics, ROUTING, send=crash, clock=clock)
    first.take([requested(settings.topics.alert_events, 0, "k1")])
    with pytest.raises(SystemExit):
        first.send_due(producer)
    assert outbox_rows(engine)["k1"]["status"] == "sending"

    restarted = Notifier(
        engine, settings.bootstrap, settings.topics, ROUTING, send=send, clock=clock
    )
    assert restarted.send_due(producer) == 1
    assert sent == ["k1", "k1"]
    assert outbox_rows(engine)["k1"]["status"] == "delivered"
    assert [(r.key, r.outcome) for r in reports(settings)] == [("k1", "delivered")]


def test_a_batch_reports_each_case_in_one_message_with_its_reports_in_order(world) -> None:  # noqa: ANN001
    engine, producer, settings = world
    notifier = Notifier(
        engine,
        settings.bootstrap,
        settings.topics,
        ROUTING,
        send=lambda url, title, body, key: (True, "HTTP 200"),
        clock=Clock(),
    )
    topic = settings.topics.alert_events
    notifier.take(
        [
            requested(topic, 0, "c1-a", "c1"),
            requested(topic, 1, "c2-a", "c2"),
            requested(topic, 2, "c1-b", "c1"),
        ]
    )
    assert notifier.send_due(producer) == 3

    messages = list(read_from_start(settings.bootstrap, settings.topics.alert_commands))
    by_key = {m.key: [r.key for r in commands_from_bytes(m.value)] for m in messages}
    assert len(messages) == 2  # the alert writer reads one message per case, not per report
    assert by_key == {b"c1": ["c1-a", "c1-b"], b"c2": ["c2-a"]}


def test_a_notification_whose_outcome_the_log_holds_is_never_sent_again(world) -> None:  # noqa: ANN001
    """The notifier started with an empty outbox (lost, or a new working folder) reads the
    alert events from their start: what the log says was delivered or given up is not sent
    again, however many reads the log takes (300 long notifications fill more than one
    fetch); only what never got an outcome goes out.  Before, every notification ever asked
    for went out again to every duty officer."""
    import threading
    import time

    engine, producer, settings = world
    topic = settings.topics.alert_events
    long = "周庄镇 拖欠农民工工资。" + "情况说明" * 1200  # about 15 kB: a fetch holds fewer
    earlier = [requested(topic, i, f"k{i}", body=long) for i in range(300)]
    earlier += [
        logged(topic, 300 + i, NotificationDelivered("a1", "hrss-duty", f"k{i}", 1))
        for i in range(299)
    ]
    earlier += [
        logged(topic, 599, NotificationGivenUp("a1", "hrss-duty", "k299", 16, "HTTP 503")),
        requested(topic, 600, "never-sent"),
    ]
    for m in earlier:
        producer.send(topic, key=b"c1", value=m.value, partition=0)
    producer.flush()
    sent: list[str] = []

    def send(url: str, title: str, body: str, key: str) -> tuple[bool, str]:
        sent.append(key)
        return True, "HTTP 200"

    notifier = Notifier(engine, settings.bootstrap, settings.topics, ROUTING, send=send)
    running = threading.Thread(target=notifier.run, daemon=True)
    running.start()
    deadline = time.monotonic() + 60
    while outbox_rows(engine).get("never-sent", {}).get("status") != "delivered":
        assert time.monotonic() < deadline, len(outbox_rows(engine))
        time.sleep(0.2)
    notifier.stop()
    running.join(timeout=30)
    assert sent == ["never-sent"]
    rows = outbox_rows(engine)
    assert (rows["k0"]["status"], rows["k299"]["status"]) == ("delivered", "given_up")


def test_what_is_still_pending_of_a_resolved_alert_is_reported_given_up_not_sent(world) -> None:  # noqa: ANN001
    """A receiver is down; the unit resolves the alert before the next try: the notification
    (请于…前签收) is not sent any more, and its report says why.  Before, it was tried again
    for about an hour after the alert was closed."""
    engine, producer, settings = world
    clock, sent = Clock(), []

    def send(url: str, title: str, body: str, key: str) -> tuple[bool, str]:
        sent.append(key)
        return False, "HTTP 503"

    notifier = Notifier(
        engine, settings.bootstrap, settings.topics, ROUTING, send=send, clock=clock
    )
    topic = settings.topics.alert_events
    notifier.take([requested(topic, 0, "k1")])
    assert notifier.send_due(producer) == 1  # failed: tried again in 10 s
    notifier.take([logged(topic, 1, AlertResolved("a1", "张三", "hrss", "satisfied"))])
    clock.now += 10
    assert notifier.send_due(producer) == 1
    clock.now += 3600
    assert notifier.send_due(producer) == 0
    assert sent == ["k1"]
    assert outbox_rows(engine)["k1"]["status"] == "cancelled"
    last = reports(settings)[-1]
    assert (last.key, last.outcome) == ("k1", "given_up") and "resolved" in last.detail
