"""The event backbone end to end: real Kafka broker, real workers, SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections import Counter

import pytest
import sqlalchemy as sa

from ews import processes
from ews.demo_batch import demo_batch, expected_counts
from ews.lag import wait_settled
from readside.db import drop_all, make_engine, migrate
from readside.projector import Projector
from readside.queries import intake_rows
from readside.replay import replay
from readside.snapshot import snapshot
from readside.tables import dead_letters
from streams.admin import ensure_topics
from streams.log import read_from_start
from streams.post import post_messages
from tests.support import (
    group_members,
    posted_records,
    received_so_far,
    reference_snapshot,
    start_pipeline,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_topics_keep_everything_and_have_partitions(kafka_bootstrap, topic_prefix, settings):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    all_topics = settings.topics.all
    ensure_topics(kafka_bootstrap, all_topics())
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = {t["name"]: t for t in admin.describe_topics([s.name for s in all_topics()])}
        specs = {s.name: s for s in all_topics()}
        for name in (f"{topic_prefix}.records", f"{topic_prefix}.case-events"):
            assert len(described[name]["partitions"]) >= 4
            res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
            configs = {k: v["value"] for k, v in res["topic"][name].items()}
            assert configs["retention.ms"] == "-1" and configs["retention.bytes"] == "-1"
        assert set(specs) <= set(described)
    finally:
        admin.close()


def test_10k_records_reconcile_per_township_and_replay_is_identical(
    kafka_bootstrap, settings, db_url, tmp_path
):
    settings = settings.replace(db_url=db_url)
    topics = settings.topics
    ensure_topics(kafka_bootstrap, topics.all())
    engine = make_engine(db_url)
    migrate(engine)
    batch = demo_batch(10_000, bad_fraction=0.05, duplicates=30)
    procs = start_pipeline(settings, tmp_path)
    try:
        assert post_messages(kafka_bootstrap, topics.records, (p.data for p in batch)) == len(batch)
        wait_settled(kafka_bootstrap, topics, engine, len(batch), procs)
    finally:
        for p in procs:
            processes.stop(p)

    # received = accepted + dead-lettered, exactly, township by township
    got = {t: (r, a, d) for t, r, a, d in intake_rows(engine)}
    assert got == expected_counts(batch)
    assert all(r == a + d for r, a, d in got.values())

    # every bad record is a dead letter with its reason and its original bytes
    with engine.connect() as conn:
        rows = conn.execute(sa.select(dead_letters)).mappings().all()
    assert Counter(r["reason_code"] for r in rows) == Counter(
        p.expect for p in batch if p.expect != "accepted"
    )
    assert {base64.b64decode(r["original_b64"]) for r in rows} == {
        p.data for p in batch if p.expect != "accepted"
    }
    assert all(r["reason"] for r in rows)

    # every valid record became events and rows exactly as an uninterrupted reference run
    live = snapshot(engine)
    assert live == reference_snapshot(posted_records(kafka_bootstrap, topics), tmp_path, topics)
    assert len(live["case_timeline"]) > len(live["cases"]) > 1000
    assert len(live["case_risk"]) > 500  # the scorer assessed the open cases

    # replay: drop every read model and rebuild it from the first offset
    drop_all(engine)
    migrate(engine)
    applied = Projector(engine, kafka_bootstrap, topics).run(until_caught_up=True)
    assert snapshot(engine) == live

    # and again with three processes, each its share of the case events' partitions
    drop_all(engine)
    migrate(engine)
    assert replay(engine, kafka_bootstrap, topics, workers=3) == applied
    assert snapshot(engine) == live
    engine.dispose()


def test_kill_9_halfway_then_restart_loses_and_duplicates_nothing(
    kafka_bootstrap, topic_prefix, settings, tmp_path
):
    topics = settings.topics
    ensure_topics(kafka_bootstrap, topics.all())
    engine = make_engine(settings.db_url)
    migrate(engine)
    batch = demo_batch(10_000, bad_fraction=0.05, duplicates=30, seed=11)
    procs = start_pipeline(settings, tmp_path)
    try:
        post_messages(kafka_bootstrap, topics.records, (p.data for p in batch))
        assert processes.wait_until(lambda: received_so_far(engine) >= len(batch) * 0.4, 300, 0.1)
        workers = len(processes.STAGES)
        for p in procs[:workers]:  # every worker, mid-batch
            processes.kill_hard(p)
        # restart once the dead members' sessions have expired (EWS_SESSION_TIMEOUT): faust
        # 0.15 can leave a partition unfetched when a worker joins while a dead one is
        # still in the group and then is evicted (a second rebalance)
        for role in processes.STAGES:
            group = f"{topic_prefix}-{role}"
            assert processes.wait_until(lambda g=group: group_members(kafka_bootstrap, g) == 0, 60)
        procs[:workers] = processes.start_workers(settings, tmp_path / "restart1")
        assert processes.wait_until(lambda: received_so_far(engine) >= len(batch) * 0.7, 300, 0.1)
        processes.kill_hard(procs[workers])  # the projector, mid-transaction
        procs[workers] = processes.start_projector(settings, tmp_path / "p2.log")
        wait_settled(kafka_bootstrap, topics, engine, len(batch), procs)
    finally:
        for p in procs:
            processes.stop(p)

    assert {t: (r, a, d) for t, r, a, d in intake_rows(engine)} == expected_counts(batch)
    live = snapshot(engine)
    reference = reference_snapshot(posted_records(kafka_bootstrap, topics), tmp_path, topics)
    for table in reference:
        extra = sorted(set(live[table]) - set(reference[table]))[:3]
        missing = sorted(set(reference[table]) - set(live[table]))[:3]
        assert not extra and not missing, f"{table}: extra {extra}, missing {missing}"
    assert live == reference
    # on the risk topic itself: a repeat after the crash is the same assessment, byte for byte
    risk = [m.value for m in read_from_start(kafka_bootstrap, topics.risk_assessments)]
    by_id: dict[str, set[bytes]] = {}
    for value in risk:
        by_id.setdefault(json.loads(value)["assessment_id"], set()).add(value)
    assert all(len(v) == 1 for v in by_id.values())
    assert len(by_id) == len(reference["risk_assessments"]) > 500
    engine.dispose()


def test_single_worker_keeps_going_past_a_garbage_command(kafka_bootstrap, settings, tmp_path):
    """One `ews worker` process (both agents); a foreign producer writes garbage to the
    commands topic: it becomes a dead letter, and the records around it are processed."""
    from kafka import KafkaProducer

    topics = settings.topics
    ensure_topics(kafka_bootstrap, topics.all())
    engine = make_engine(settings.db_url)
    migrate(engine)
    batch = demo_batch(200, bad_fraction=0.0)
    procs = [
        processes.start_worker(settings, tmp_path / "worker.log"),
        processes.start_projector(settings, tmp_path / "p.log"),
    ]
    try:
        post_messages(kafka_bootstrap, topics.records, (p.data for p in batch[:100]))
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        producer.send(topics.case_commands, b"\x00not a command", partition=0).get(timeout=30)
        invalid = (
            b'[{"command_id":"x","case_id":"C1","record":{},"fingerprint":"f","received_at":"t"}]'
        )
        producer.send(topics.case_commands, invalid, partition=1).get(timeout=30)
        producer.close()
        post_messages(kafka_bootstrap, topics.records, (p.data for p in batch[100:]))
        wait_settled(kafka_bootstrap, topics, engine, len(batch), procs)
    finally:
        for p in procs:
            processes.stop(p)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(dead_letters)).mappings().all()
    assert sorted((r["reason_code"], base64.b64decode(r["original_b64"])) for r in rows) == [
        ("invalid_command", invalid),
        ("unreadable_command", b"\x00not a command"),
    ]
    assert {t: (r, a, d) for t, r, a, d in intake_rows(engine)} == expected_counts(batch)
    engine.dispose()
