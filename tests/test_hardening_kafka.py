"""One message never stops intake: poison messages among 10,000 good records, on the real broker.

Each poison once stopped every township's intake: its dead letter did not fit the dead-letters
topic (a record near the records topic's 1 MiB limit) or reading its Kafka timestamp raised (the
broker takes any negative timestamp), so the worker died, restarted and met it again.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from ews import processes
from ews.demo_batch import demo_batch
from ews.lag import wait_settled
from readside.db import make_engine, migrate
from readside.queries import intake_rows
from readside.tables import dead_letters
from schemas.topics import RECORD_MESSAGE_BYTES
from streams.admin import ensure_topics
from tests.support import start_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

GOOD = {
    "township": "周庄镇",
    "ref_no": "ZZ-POISON-1",
    "found_at": "2026-01-10",
    "category": "邻里纠纷",
    "description": "院墙纠纷，双方情绪平稳。",
}


def _poisons() -> list[tuple[bytes | None, int | None, str]]:
    """(value, Kafka timestamp in ms or None for now, the dead letter's reason code)."""
    good = json.dumps(GOOD, ensure_ascii=False).encode()
    head = b'{"township":"\xe5\x91\xa8\xe5\xba\x84\xe9\x95\x87","description":"'
    near_limit = head + b"x" * (RECORD_MESSAGE_BYTES - 2048) + b'"}'  # ~1 MiB
    return [
        (near_limit, None, "oversized_record"),
        (good, -5, "bad_timestamp"),
        (good, -(10**15), "bad_timestamp"),  # before year 1: no Python datetime holds it
        (None, None, "not_json"),
        (b"[" * 30_000 + b"]" * 30_000, None, "nested_too_deep"),
        (b"\xff\xfe{", None, "not_utf8"),
    ]


def test_poison_messages_among_10k_good_records_never_stop_intake(settings, tmp_path) -> None:
    topics = settings.topics
    ensure_topics(settings.bootstrap, topics.all())
    engine = make_engine(settings.db_url)
    migrate(engine)
    good = [p.data for p in demo_batch(10_000, bad_fraction=0.0)]
    poisons = _poisons()
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", max_request_size=2 * RECORD_MESSAGE_BYTES
    )
    procs = start_pipeline(settings, tmp_path)
    try:
        futures = []
        every = len(good) // len(poisons)
        for i, data in enumerate(good):
            futures.append(producer.send(topics.records, value=data))
            if i % every == every // 2:  # each poison in the middle of the good records
                value, at, _ = poisons[i // every]
                key = None if value is not None else b"null"  # Kafka needs one of the two
                futures.append(producer.send(topics.records, key=key, value=value, timestamp_ms=at))
        producer.flush()
        for f in futures:
            f.get(timeout=60)
        assert len(futures) == len(good) + len(poisons)
        # raises if a worker or the projector exits on the way
        wait_settled(settings.bootstrap, topics, engine, len(futures), procs, timeout=300)
        assert all(p.poll() is None for p in procs)
    finally:
        producer.close()
        for p in procs:
            processes.stop(p)

    received = sum(r for _, r, _, _ in intake_rows(engine))
    accepted = sum(a for _, _, a, _ in intake_rows(engine))
    dead = sum(d for _, _, _, d in intake_rows(engine))
    assert (received, accepted, dead) == (len(futures), len(good), len(poisons))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(dead_letters)).mappings().all()
    assert Counter(r["reason_code"] for r in rows) == Counter(code for *_, code in poisons)
    by_code = {r["reason_code"]: r for r in rows}
    assert (
        "-5" in by_code["bad_timestamp"]["reason"]
        or "-1000000000000000" in (by_code["bad_timestamp"]["reason"])
    )
    assert len(by_code["oversized_record"]["original_b64"]) > RECORD_MESSAGE_BYTES  # kept whole


def test_a_projector_ahead_of_the_log_stops_and_says_so_instead_of_skipping(settings) -> None:
    """Read models kept while the topics were recreated: their positions lie beyond the new log.
    Reading on from 'latest' would skip everything posted since, in silence."""
    from readside.projector import Message, Projector, ProjectorError, _save_positions

    topics = settings.topics
    ensure_topics(settings.bootstrap, topics.all())
    engine = make_engine(settings.db_url)
    migrate(engine)
    with engine.begin() as conn:
        _save_positions(conn, [Message(topics.case_events, 1, 499, b"")])  # next: 500
    with pytest.raises(ProjectorError) as err:
        Projector(engine, settings.bootstrap, topics).run(until_caught_up=True)
    assert f"{topics.case_events}:1 at 500 (log ends at 0)" in str(err.value)
    assert "ews replay" in str(err.value)


def test_the_projector_gives_up_with_a_reason_when_the_broker_is_gone(tmp_path, caplog) -> None:
    """Its own broker, stopped under it: the projector logs while the broker is away and stops
    (for its supervisor to restart it) after ``broker_timeout``, instead of polling forever."""
    import threading
    import time

    from deploy.kafka_local import LocalBroker, free_port
    from readside.projector import Projector, ProjectorError
    from schemas.topics import Topics

    broker = LocalBroker(home=tmp_path / "broker", port=free_port(), controller_port=free_port())
    broker.start()
    topics = Topics("gone", 2)
    engine = make_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    migrate(engine)
    try:
        ensure_topics(broker.bootstrap, topics.all())
        projector = Projector(engine, broker.bootstrap, topics, broker_timeout=8.0)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                projector.run()
            except BaseException as exc:  # noqa: BLE001 - the test reads it
                failure.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        time.sleep(3)
        assert thread.is_alive() and not failure  # idle, the broker there: it waits
    finally:
        broker.stop()
    stopped = time.monotonic()
    thread.join(120)
    assert not thread.is_alive(), "the projector still polls a broker that is gone"
    assert failure and isinstance(failure[0], ProjectorError)
    assert "unreachable for" in str(failure[0])
    assert time.monotonic() - stopped >= 8.0
    assert any("unreachable" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_a_worker_follows_the_topics_partition_count_and_refuses_topics_that_differ(
    settings, capsys
) -> None:
    """A case's partition is computed from the partition count: the one the broker has for the
    deployment's topics, never a setting that disagrees with them."""
    from kafka.admin import KafkaAdminClient, NewPartitions

    from ews.cli import main
    from streams.admin import PartitionMismatch, partition_count

    topics = settings.topics
    assert partition_count(settings.bootstrap, topics) is None  # nothing created yet
    ensure_topics(settings.bootstrap, topics.replace_partitions(2).all())
    assert partition_count(settings.bootstrap, topics) == 2  # EWS_PARTITIONS says 4
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    try:
        admin.create_partitions({topics.case_events: NewPartitions(total_count=3)})
    finally:
        admin.close()
    import time

    deadline = time.monotonic() + 20  # the new partitions take a moment to be described
    while time.monotonic() < deadline:
        try:
            partition_count(settings.bootstrap, topics)
        except PartitionMismatch:
            break
        time.sleep(0.5)
    with pytest.raises(PartitionMismatch) as err:
        partition_count(settings.bootstrap, topics)
    assert f"{topics.case_events} 3" in str(err.value) and f"{topics.case_commands} 2" in str(
        err.value
    )
    assert main(["worker", "--bootstrap", settings.bootstrap]) == 2  # refuses to start
    assert "differ in partitions" in capsys.readouterr().err


def test_a_second_case_writer_shares_the_partitions_and_no_stage_outlives_ews_worker(
    settings, tmp_path
) -> None:
    """`ews worker` (every stage) beside `ews worker --role cases`: both case writers are in the
    stage's one consumer group, so each partition has one writer and no event is written twice;
    each keeps its state stores in a folder of its own.
    `kill -9` of `ews worker` takes its stage processes down with it."""
    import time

    from readside.snapshot import snapshot
    from streams.post import post_messages
    from tests.support import group_members, posted_records, reference_snapshot

    topics = settings.topics
    ensure_topics(settings.bootstrap, topics.all())
    engine = make_engine(settings.db_url)
    migrate(engine)
    batch = demo_batch(600, bad_fraction=0.0)
    everything = processes.start_worker(settings, tmp_path / "worker.log")  # role all
    procs = [
        everything,
        processes.start_worker(settings, tmp_path / "cases2.log", "cases"),
        processes.start_projector(settings, tmp_path / "projector.log"),
    ]
    try:
        # half while one writer runs; the second joins it (once it has a folder of its own)
        post_messages(settings.bootstrap, topics.records, (p.data for p in batch[:300]))
        both = lambda: group_members(settings.bootstrap, topics.group("cases")) == 2  # noqa: E731
        assert processes.wait_until(both, 90)
        post_messages(settings.bootstrap, topics.records, (p.data for p in batch[300:]))
        wait_settled(settings.bootstrap, topics, engine, len(batch), procs, timeout=300)
        assert group_members(settings.bootstrap, topics.group("cases")) == 2
        assert group_members(settings.bootstrap, topics.group("intake")) == 1
        said = (tmp_path / "worker.log").read_text() + (tmp_path / "cases2.log").read_text()
        assert "this one keeps its state stores in" in said  # not in the other's databases
        processes.kill_hard(everything)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if group_members(settings.bootstrap, topics.group("intake")) == 0:
                break
            time.sleep(1)
        assert group_members(settings.bootstrap, topics.group("intake")) == 0
    finally:
        for p in procs:
            processes.stop(p)
    live = snapshot(engine)
    reference = reference_snapshot(posted_records(settings.bootstrap, topics), tmp_path, topics)
    assert live["case_timeline"] == reference["case_timeline"]  # no event twice, none missing
    assert live["cases"] == reference["cases"]


def test_a_clerk_posts_a_sheet_twice_sees_each_problem_and_no_row_counts_twice(
    settings, tmp_path, capsys
) -> None:
    from openpyxl import Workbook

    from ews.cli import main

    topics = settings.topics
    ensure_topics(settings.bootstrap, topics.all())
    engine = make_engine(settings.db_url)
    migrate(engine)
    wb = Workbook()
    ws = wb.active
    ws.append(["乡镇", "排查编号", "发现时间", "纠纷类别", "情况描述", "涉及人数"])
    ws.append(["周庄镇", "ZZ-S1", "2026-01-10", "邻里纠纷", "院墙纠纷", 2])
    ws.append(["周庄镇", "ZZ-S2", "昨天", "邻里纠纷", "排水纠纷", 3])
    ws.append(["周庄镇", None, "2026-01-11", "打架斗殴", "酒后口角", 2])
    ws.append(["周庄镇", "ZZ-S4", "2026-01-12", "宅基地纠纷", "宅基地边界", 4])
    path = tmp_path / "周庄镇-2026-01.xlsx"
    wb.save(path)
    post = ["post", str(path), "--bootstrap", settings.bootstrap, "--quiet"]
    assert main(post) == 3  # posted, with rows that have problems
    said = capsys.readouterr().out
    assert "周庄镇-2026-01.xlsx 第3行 “发现时间”列：取值不合理" in said
    assert "第4行 “排查编号”列：缺少必填项" in said and "第4行 “纠纷类别”列" in said
    assert "posted 4 rows; 2 pass the checks, 2 have the problems above" in said
    assert main(post) == 3  # the clerk posts the same sheet again
    procs = start_pipeline(settings, tmp_path)
    try:
        wait_settled(settings.bootstrap, topics, engine, 4, procs, timeout=300)
    finally:
        for p in procs:
            processes.stop(p)
    assert [(r, a, d) for t, r, a, d in intake_rows(engine) if t == "周庄镇"] == [(4, 2, 2)]
    capsys.readouterr()
    assert main(["dead-letters", "--db", settings.db_url]) == 0
    listed = capsys.readouterr().out
    assert "周庄镇-2026-01.xlsx 第3行  取值不合理 [invalid_value]" in listed
    assert "周庄镇-2026-01.xlsx 第4行  缺少必填项 [missing_field]" in listed
    assert "unknown category '打架斗殴'" in listed  # every problem of the row
    assert "排水纠纷" in listed  # the record's own text, decoded


def _free_ports(n: int) -> int:
    """The first of ``n`` consecutive free loopback ports, below the ephemeral range (where
    the system picks the local ports of outgoing connections, which could take one later)."""
    import random
    import socket

    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        base = random.randint(10_000, low - n - 1)
        try:
            for port in range(base, base + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


def test_an_operator_sees_health_lag_and_metrics_of_every_process(settings, tmp_path, capsys):
    import time
    import urllib.request

    from ews.cli import main
    from streams.metrics import port_of

    base = _free_ports(6)
    settings = settings.replace(metrics_port=base)
    topics = settings.topics
    ensure_topics(settings.bootstrap, topics.all())
    engine = make_engine(settings.db_url)
    migrate(engine)
    batch = demo_batch(300, bad_fraction=0.1)
    kafka = ["--bootstrap", settings.bootstrap, "--db", settings.db_url]
    procs = start_pipeline(settings, tmp_path)
    try:
        from streams.post import post_messages

        post_messages(settings.bootstrap, topics.records, (p.data for p in batch))
        wait_settled(settings.bootstrap, topics, engine, len(batch), procs, timeout=300)
        capsys.readouterr()
        assert main(["health", *kafka]) == 0
        said = capsys.readouterr().out
        for part in ("broker", "intake", "cases", "risk", "alerts", "projector"):
            assert f"ok    {part}" in said, said
        assert main(["lag", *kafka]) == 0
        assert "intake                 0 messages behind" in capsys.readouterr().out

        def scrape(process: str) -> str:
            url = f"http://127.0.0.1:{port_of(process, base)}/metrics"
            return urllib.request.urlopen(url, timeout=10).read().decode()

        intake = scrape("intake")
        assert f'ews_messages_total{{stage="intake"}} {float(len(batch))}' in intake
        bad = Counter(p.expect for p in batch if p.expect != "accepted")
        for reason, n in bad.items():
            assert (
                f'ews_dead_letters_total{{reason="{reason}",stage="intake"}} {float(n)}' in intake
            )
        assert 'ews_batch_seconds_count{stage="cases"}' in scrape("cases")
        assert "ews_projected_messages_total" in scrape("projector")

        processes.stop(procs[2])  # the risk stage
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and main(["health", "--part", "risk", *kafka]) == 0:
            time.sleep(1)
        assert main(["health", "--part", "risk", *kafka]) == 1
        assert "FAIL  risk" in capsys.readouterr().out
    finally:
        for p in procs:
            processes.stop(p)


@pytest.mark.parametrize("busy", [True, False], ids=["mid-batch", "idle"])
def test_a_worker_whose_broker_goes_away_exits_within_the_broker_timeout(
    tmp_path, busy: bool
) -> None:
    """Its own broker, killed while intake works through 20,000 records, or while it waits for
    some: the worker exits, for its supervisor to restart it, after EWS_BROKER_TIMEOUT (a send
    that failed, or its watchdog) instead of faust's 20 minutes or never."""
    import time

    from deploy.kafka_local import LocalBroker, free_port
    from schemas.settings import Settings
    from streams.post import post_messages

    broker = LocalBroker(home=tmp_path / "broker", port=free_port(), controller_port=free_port())
    broker.start()
    settings = Settings(
        bootstrap=broker.bootstrap,
        topic_prefix="gone",
        db_url=f"sqlite:///{tmp_path / 'ews.db'}",
        faust_dir=str(tmp_path / "faust"),
        broker_timeout=10.0,
    )
    worker = None
    try:
        ensure_topics(settings.bootstrap, settings.topics.all())
        worker = processes.start_worker(settings, tmp_path / "intake.log", "intake")
        time.sleep(8)  # joined its group
        if busy:
            batch = demo_batch(20_000, bad_fraction=0.0)
            post_messages(settings.bootstrap, settings.topics.records, (p.data for p in batch))
            time.sleep(1.0)  # intake is mid-way through them
        broker.process.kill()  # the broker goes away
        gone = time.monotonic()
        code = worker.wait(timeout=120)
        waited = time.monotonic() - gone
        assert code in ((69, 70) if busy else (69,)) and waited < 60, (code, waited)
        print(f"worker exited {code} after {waited:.0f}s without a broker")
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        broker.stop()


def test_a_stage_send_made_while_the_broker_restarts_lands_after_it_in_order(tmp_path) -> None:
    """A case writer's event sent while the broker is away, for longer than a request's
    timeout, lands once the broker is back, and before the next event of its partition.
    Before, it failed while the next one landed: a case's later event in the log without the
    one before it (a chaos run found it)."""
    import asyncio

    from kafka import KafkaConsumer, TopicPartition

    from deploy.kafka_local import LocalBroker, free_port
    from schemas.settings import Settings
    from streams.app import create_app
    from streams.state import _send

    broker = LocalBroker(home=tmp_path / "broker", port=free_port(), controller_port=free_port())
    broker.start()
    settings = Settings(
        bootstrap=broker.bootstrap,
        topic_prefix="away",
        faust_dir=str(tmp_path / "faust"),
        broker_timeout=3.0,  # a produce request's timeout, too
    )
    topic = settings.topics.case_events
    app = create_app(settings, "cases")

    async def send_across_a_restart() -> list[object]:
        await app.producer.start()
        try:
            await (await _send(app, topic, b"C1", b"first", 0))
            await asyncio.to_thread(broker.stop)
            second = await _send(app, topic, b"C1", b"second", 0)
            await asyncio.sleep(8.0)  # the broker away for over twice the request timeout
            await asyncio.to_thread(broker.start)
            third = await _send(app, topic, b"C1", b"third", 0)
            return await asyncio.wait_for(
                asyncio.gather(second, third, return_exceptions=True), 120
            )
        finally:
            await app.producer.stop()

    try:
        ensure_topics(broker.bootstrap, settings.topics.all())
        results = asyncio.run(send_across_a_restart())
        assert not [r for r in results if isinstance(r, BaseException)], results
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            values = [m.value for batch in consumer.poll(10_000).values() for m in batch]
        finally:
            consumer.close()
        assert values == [b"first", b"second", b"third"]
    finally:
        broker.stop()
