"""The workers' state stores (RocksDB, the default): a restarted case writer goes on from the
states and changelog offsets on its disk, and a store left from a changelog that has since been
deleted and created again is dropped, not trusted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource
from kafka.errors import BrokerResponseError

from domain.case import CaseState, handle_command
from domain.intake import Admitted, Posted, admit
from ews import processes
from ews.demo_batch import demo_batch
from schemas.commands import SubmitRecord, command_messages
from schemas.events import Envelope
from schemas.settings import Settings
from streams.admin import ensure_topics
from streams.log import read_from_start
from streams.state import partition_for

pytestmark = pytest.mark.timeout(300)


def _commands(n: int) -> list[SubmitRecord]:
    """Commands of ``n`` synthetic records (several per case), in posting order."""
    out = []
    for i, posting in enumerate(demo_batch(n, bad_fraction=0, duplicates=0, seed=5)):
        outcome = admit(Posted("t.records", 0, i, 1_790_000_000_000 + i * 1000, posting.data))
        assert isinstance(outcome, Admitted)
        out.append(outcome.command)
    return out


def _post(settings: Settings, commands: list[SubmitRecord]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    for command in commands:
        part = partition_for(command.case_id, settings.partitions)
        for body in command_messages([command]):
            producer.send(settings.topics.case_commands, body, partition=part)
    producer.flush()
    producer.close()


def _expected(commands: list[SubmitRecord]) -> dict[str, bytes]:
    """What one uninterrupted case writer emits for ``commands``: event id -> bytes."""
    states: dict[str, CaseState] = {}
    out = {}
    for command in commands:
        state = states.get(command.case_id) or CaseState(case_id=command.case_id)
        states[command.case_id], events = handle_command(state, command)
        out.update({e.event_id: e.to_bytes() for e in events})
    return out


def _events(settings: Settings) -> list[Envelope]:
    return [
        Envelope.from_bytes(m.value)
        for m in read_from_start(settings.bootstrap, settings.topics.case_events)
    ]


def _values(settings: Settings, topic: str) -> list[bytes]:
    return [m.value for m in read_from_start(settings.bootstrap, topic)]


def _run_until(settings: Settings, log: Path, count: int) -> str:
    """Run a case writer until the case-events topic holds ``count`` events; its output."""
    worker = processes.start_worker(settings, log, "cases")
    try:
        assert processes.wait_until(lambda: len(_events(settings)) >= count, 120), log.read_text()
    finally:
        processes.stop(worker)
    return log.read_text()


def _skip_to(settings: Settings, stage: str, topic: str, partition: int, offset: int) -> None:
    """Commit ``stage``'s group position in ``topic``:``partition`` at ``offset``, past what its
    writer applied: what faust does around a rebalance."""
    from kafka import KafkaConsumer
    from kafka.structs import OffsetAndMetadata

    group = KafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=settings.topics.group(stage),
        enable_auto_commit=False,
    )
    group.commit({TopicPartition(topic, partition): OffsetAndMetadata(offset, "", -1)})
    group.close()


def _empty_the_changelog(settings: Settings) -> None:
    """Delete every message of the case-state changelog (its offsets go on from where they
    were): a worker that needs the changelog to know its cases would forget them all."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    topic = settings.topics.case_state_changelog

    def policy(value: str) -> None:  # records of a compacted topic cannot be deleted
        admin.alter_configs([ConfigResource("TOPIC", topic, configs={"cleanup.policy": value})])

    policy("delete")
    everything = {TopicPartition(topic, p): -1 for p in range(settings.partitions)}
    deadline = time.monotonic() + 30
    while True:  # the partitions take up the new policy a moment after the broker accepts it
        try:
            admin.delete_records(everything)
            break
        except BrokerResponseError as e:
            assert "PolicyViolation" in str(e) and time.monotonic() < deadline, e
            time.sleep(0.5)
    policy("compact")
    admin.close()


def _recreate_topics(settings: Settings) -> None:
    """Delete the deployment's topics and create them again, empty (a reset cluster)."""
    specs = settings.topics.all()
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap)
    admin.delete_topics([s.name for s in specs])
    deadline = time.monotonic() + 60
    while set(admin.list_topics()) & {s.name for s in specs}:
        assert time.monotonic() < deadline, "the topics were not deleted"
        time.sleep(0.5)
    admin.close()
    ensure_topics(settings.bootstrap, specs)


def test_a_restarted_case_writer_goes_on_from_its_store_without_the_changelog(
    settings: Settings, tmp_path: Path
) -> None:
    assert settings.state_store == "rocksdb"
    ensure_topics(settings.bootstrap, settings.topics.all())
    commands = _commands(120)
    first, second = commands[:60], commands[60:]
    assert {c.case_id for c in first} & {c.case_id for c in second}, "follow-ups of known cases"
    _post(settings, first)
    _run_until(settings, tmp_path / "first.log", len(_expected(first)))

    # the changelog loses everything; only the worker's own store still knows the cases
    _empty_the_changelog(settings)
    _post(settings, second)
    expected = _expected(commands)
    _run_until(settings, tmp_path / "second.log", len(expected))

    got = {e.event_id: e.to_bytes() for e in _events(settings)}
    assert len(_events(settings)) == len(expected), "no event twice"
    assert got == expected  # follow-ups appended to the cases as they were, none re-opened


def test_a_store_of_a_deleted_changelog_is_dropped_and_the_new_log_starts_afresh(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings.bootstrap, settings.topics.all())
    commands = _commands(80)
    expected = _expected(commands)
    _post(settings, commands)
    _run_until(settings, tmp_path / "before.log", len(expected))

    _recreate_topics(settings)  # the same names, empty: the old states must not come back
    _post(settings, commands)
    output = _run_until(settings, tmp_path / "after.log", len(expected))

    assert "dropped a state store of an older changelog" in output
    got = _events(settings)
    assert {e.event_id: e.to_bytes() for e in got} == expected  # every case opened again
    assert len(got) == len(expected)


def test_a_state_is_written_as_json_even_with_a_number_orjson_refuses() -> None:
    import json

    from streams.state import _dumps

    state = {"case_id": "C1", "records": [{"text": "拖欠工资", "amount": 12.5}], "seq": 3}
    assert json.loads(_dumps(state)) == state
    huge = {"case_id": "C1", "records": [{"count": 10**30}]}  # beyond 64 bits
    assert json.loads(_dumps(huge)) == huge


def test_two_workers_of_a_stage_on_one_machine_never_share_a_store_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    from streams.state import claim_store_dir

    base = tmp_path / "faust" / "ews-cases"
    first = claim_store_dir(base)
    second = claim_store_dir(base, wait=0.3)
    assert (first.path, second.path) == (base, base.with_name("ews-cases.1"))
    first.release()  # the first worker stopped: the next one to start resumes from its store
    third = claim_store_dir(base)
    assert third.path == base
    second.release()  # a free folder there is is taken at once, without waiting for the base
    started = time.monotonic()
    assert claim_store_dir(base, wait=30).path == base.with_name("ews-cases.1")
    assert time.monotonic() - started < 5

    # restarted at once after kill -9, a worker waits for its stages of before to stop
    import threading

    threading.Timer(1.0, third.release).start()
    assert claim_store_dir(base, wait=30).path == base

    # a worker killed with -9 gives its folder back too (the system drops its lock)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from streams.state import claim_store_dir;"
            f"d = claim_store_dir(Path({str(tmp_path / 'other')!r})); print(d.path, flush=True);"
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    try:
        assert holder.stdout.readline().strip() == str(tmp_path / "other")
        assert claim_store_dir(tmp_path / "other", wait=0.3).path == tmp_path / "other.1"
    finally:
        processes.kill_hard(holder)
    assert claim_store_dir(tmp_path / "other").path == tmp_path / "other"


def test_a_second_intake_worker_takes_a_folder_of_its_own_without_waiting(
    settings: Settings, tmp_path: Path
) -> None:
    """The intake's table holds only how far it got in each records partition, which its
    changelog gives back at once, so no store of its own is worth waiting for: a second intake
    worker on the machine goes straight to a folder of its own."""
    from streams.app import store_base
    from streams.state import claim_store_dir

    ensure_topics(settings.bootstrap, settings.topics.all())
    held = claim_store_dir(store_base(settings, "intake"))  # the first intake worker's
    log = tmp_path / "second-intake.log"
    worker = processes.start_worker(settings, log, "intake")
    try:
        assert processes.wait_until(lambda: "keeps its state stores in" in log.read_text(), 60)
    finally:
        processes.stop(worker)
        held.release()
    assert "waiting up to" not in log.read_text()


def test_commands_the_group_s_position_skipped_are_applied_by_the_next_writer(
    settings: Settings, tmp_path: Path
) -> None:
    """Around a rebalance faust can commit a partition's position past commands no writer
    applied (seen in a test where a second case writer joined).  The next writer starts there,
    finds that its table reached less far, and applies the skipped commands first: every case
    gets every event, in order."""

    ensure_topics(settings.bootstrap, settings.topics.all())
    commands = [c for c in _commands(160) if partition_for(c.case_id, settings.partitions) == 0]
    first, skipped, rest = commands[:10], commands[10:16], commands[16:]
    assert {c.case_id for c in first + skipped} & {c.case_id for c in rest}, "follow-ups"
    _post(settings, first)
    _run_until(settings, tmp_path / "first.log", len(_expected(first)))

    _post(settings, skipped + rest)  # offsets 10-15 are then passed over by the group
    _skip_to(settings, "cases", settings.topics.case_commands, 0, 16)
    expected = _expected(commands)
    said = _run_until(settings, tmp_path / "second.log", len(expected))

    assert "offsets 10-15 were skipped by the group's position" in said
    got = _events(settings)
    assert {e.event_id: e.to_bytes() for e in got} == expected
    assert len(got) == len(expected)  # none twice


def test_commands_skipped_at_the_end_of_a_partition_that_stays_quiet_are_applied_too(
    settings: Settings, tmp_path: Path
) -> None:
    """The same skip, with nothing posted after it: no later command shows the writer the
    hole, and the lag reads 0.  The periodic check finds the group's position past what the
    table reached, twice in a row, and applies the commands between."""
    import dataclasses
    import urllib.request

    from deploy.kafka_local import free_port

    ensure_topics(settings.bootstrap, settings.topics.all())
    commands = [c for c in _commands(60) if partition_for(c.case_id, settings.partitions) == 0]
    first, skipped = commands[:10], commands[10:16]
    _post(settings, first)
    _run_until(settings, tmp_path / "first.log", len(_expected(first)))

    _post(settings, skipped)  # offsets 10-15, the last of the partition, passed over
    _skip_to(settings, "cases", settings.topics.case_commands, 0, 16)
    expected = _expected(first + skipped)
    ports = free_port()  # its /metrics shows an operator how many were read again
    checking = dataclasses.replace(settings, skip_check_every=1.0, metrics_port=ports - 1)
    log = tmp_path / "second.log"
    worker = processes.start_worker(checking, log, "cases")
    try:
        done = processes.wait_until(lambda: len(_events(settings)) >= len(expected), 120)
        assert done, log.read_text()
        url = f"http://127.0.0.1:{ports}/metrics"  # the cases stage's: the second port
        metrics = urllib.request.urlopen(url, timeout=10).read().decode()
    finally:
        processes.stop(worker)
    said = log.read_text()

    assert "offsets 10-15 were skipped by the group's position and nothing came" in said
    assert 'ews_read_again_total{stage="cases"} 6.0' in metrics
    got = _events(settings)
    assert {e.event_id: e.to_bytes() for e in got} == expected
    assert len(got) == len(expected)  # none twice


@pytest.mark.parametrize("after", ["another_acknowledgement", "nothing"])
def test_an_officer_s_acknowledgement_the_group_s_position_skipped_is_still_applied(
    settings: Settings, tmp_path: Path, after: str
) -> None:
    """The alert writer keeps how far it got in each input with its alert states, like the
    case writer: an acknowledgement passed over by the group's position is read again, when
    another one follows it and when nothing does (found by the periodic check)."""
    import dataclasses

    from schemas.commands import AlertCommand, commands_to_bytes
    from streams.log import append
    from tests.test_alert_lifecycle import MONDAY_10, assessed

    topics = settings.topics
    ensure_topics(settings.bootstrap, topics.all())
    red = assessed("red", MONDAY_10)
    case_id, part = red.case_id, partition_for(red.case_id, settings.partitions)
    append(settings.bootstrap, topics.risk_assessments, case_id.encode(), red.to_bytes())

    def kinds() -> list[str]:
        return [
            Envelope.from_bytes(m.value).event_type
            for m in read_from_start(settings.bootstrap, topics.alert_events)
        ]

    def run_until(log: Path, done) -> None:  # noqa: ANN001
        quiet = after == "nothing"  # else the check (every 30 s) cannot come first
        checking = dataclasses.replace(settings, skip_check_every=1.0 if quiet else 30.0)
        worker = processes.start_worker(checking, log, "alerts")
        try:
            assert processes.wait_until(done, 120), log.read_text()
        finally:
            processes.stop(worker)

    def post(i: int, who: str, unit: str) -> None:
        at = "2026-03-02T10:10:00+08:00"
        ack = AlertCommand(f"c{i}", case_id, "acknowledge", who, unit, at)
        append(
            settings.bootstrap, topics.alert_commands, case_id.encode(), commands_to_bytes([ack])
        )

    post(0, "王五", "police")  # offset 0: not the police's alert, rejected
    run_until(tmp_path / "first.log", lambda: "CommandRejected" in kinds())
    post(1, "张三", "hrss")  # offset 1, passed over
    if after == "another_acknowledgement":
        post(2, "李四", "hrss")  # offset 2
    _skip_to(settings, "alerts", topics.alert_commands, part, 2)
    run_until(tmp_path / "second.log", lambda: "AlertAcknowledged" in kinds())
    acknowledged = [
        e.event.by
        for e in map(Envelope.from_bytes, _values(settings, topics.alert_events))
        if e.event_type == "AlertAcknowledged"
    ]
    assert acknowledged == ["张三"]  # the one at offset 1, passed over, came first
    said = (tmp_path / "second.log").read_text()
    assert f"alert-commands:{part}: offsets 1-1 were skipped by the group's position" in said
    assert ("nothing came after them" in said) == (after == "nothing")


def test_a_long_skip_is_read_again_and_applied_in_parts_each_with_how_far_it_reached(
    settings: Settings,
) -> None:
    """A skip of many messages is not read into one batch: each part comes with the offset
    after it, for the stage to save with its states before the next part is read (memory stays
    bounded; a restart goes on from the last part saved)."""
    import asyncio
    from types import SimpleNamespace

    from kafka import KafkaProducer

    from streams.app import with_skipped
    from streams.log import RangeReader

    topic = settings.topics.case_commands
    ensure_topics(settings.bootstrap, settings.topics.all())
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    for i in range(12):
        producer.send(topic, value=f"m{i}".encode(), partition=0)
    producer.flush()
    producer.close()

    class Table:  # how far the stage's table says its writer got: offset 2 of partition 0
        def reached(self, t: str, p: int) -> int | None:
            return 2 if (t, p) == (topic, 0) else None

    arrived = SimpleNamespace(topic=topic, partition=0, offset=11, value=b"m11")  # 2-10 skipped

    async def parts() -> list[tuple[list[bytes], dict]]:
        batch = [SimpleNamespace(message=arrived)]
        return [
            ([m.value for m in messages], reached)
            async for messages, reached in with_skipped(reader, Table(), batch, 4)
        ]

    reader = RangeReader(settings.kafka)
    assert asyncio.run(parts()) == [
        ([b"m2", b"m3", b"m4", b"m5"], {(topic, 0): 6}),
        ([b"m6", b"m7", b"m8", b"m9"], {(topic, 0): 10}),
        ([b"m10", b"m11"], {(topic, 0): 12}),
    ]

    # the reader's consumer stays open for the next read, which gets its own range only,
    # also after a read closed part-way
    def values(start: int, end: int, most: int) -> list[list[bytes]]:
        return [[m.value for m in part] for part in reader.parts(topic, 0, start, end, most)]

    assert values(0, 3, 10) == [[b"m0", b"m1", b"m2"]]
    first = next(reader.parts(topic, 0, 4, 12, 2))
    assert [m.value for m in first] == [b"m4", b"m5"]  # then left: closed when collected
    del first
    assert values(9, 11, 10) == [[b"m9", b"m10"]]
    assert values(1, 2, 10) == [[b"m1"]]


def _post_records(
    settings: Settings,
    first: int,
    n: int,
    transaction_of: int = 0,
    aborting: frozenset[int] = frozenset(),
) -> None:
    """``n`` demo records to records partition 0, the i-th with the idempotency key
    ``row-<first + i>`` (a Kafka header, as ``ews post`` sets it); with ``transaction_of``,
    through a transactional producer, that many records per transaction (each transaction
    leaves a marker in the log, an offset no record has).  The transactions numbered in
    ``aborting`` (0: the first) are aborted instead of committed: their records stay in the
    log, marked as never posted."""
    from domain.intake import KEY_HEADER

    extra = {"transactional_id": "township-system"} if transaction_of else {}
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", **extra)
    if transaction_of:
        producer.init_transactions()
    postings = demo_batch(first + n, bad_fraction=0, duplicates=0, seed=9)[first:]
    for i, posting in enumerate(postings):
        if transaction_of and i % transaction_of == 0:
            producer.begin_transaction()
        headers = [(KEY_HEADER, f"row-{first + i}".encode())]
        producer.send(settings.topics.records, posting.data, partition=0, headers=headers)
        if transaction_of and (i % transaction_of == transaction_of - 1 or i == n - 1):
            if i // transaction_of in aborting:
                producer.flush()  # the records are in the log before the abort marks them
                producer.abort_transaction()
            else:
                producer.commit_transaction()
    producer.flush()
    producer.close()


def _receipts(settings: Settings) -> list:
    from schemas.receipts import receipts_from_bytes

    return [
        r
        for m in read_from_start(settings.bootstrap, settings.topics.intake_receipts)
        for r in receipts_from_bytes(m.value)
    ]


def _run_intake_until(settings: Settings, log: Path, count: int, idle: float = 0) -> str:
    """Run an intake worker until the receipts cover ``count`` records, then ``idle`` seconds
    more, through which it must keep running; its output."""
    worker = processes.start_worker(settings, log, "intake")
    try:
        seen = lambda: len({r.receipt_id for r in _receipts(settings)}) >= count  # noqa: E731
        assert processes.wait_until(seen, 120), log.read_text()
        time.sleep(idle)
        assert worker.poll() is None, log.read_text()
    finally:
        processes.stop(worker)
    return log.read_text()


@pytest.mark.parametrize("after", ["more_records", "nothing"])
def test_records_the_group_s_position_skipped_are_admitted_by_the_next_intake(
    settings: Settings, tmp_path: Path, after: str
) -> None:
    """Intake keeps how far it got in each records partition, like the stages with states: six
    records the group's position passed over are read again and admitted, with the headers
    they were posted with, whether more records follow them or none (the periodic check).
    Before, they were never admitted, and ``ews counts`` did not show them missing."""
    import dataclasses

    ensure_topics(settings.bootstrap, settings.topics.all())
    _post_records(settings, 0, 10)
    _run_intake_until(settings, tmp_path / "first.log", 10)

    _post_records(settings, 10, 6 + (4 if after == "more_records" else 0))
    total = 20 if after == "more_records" else 16
    _skip_to(settings, "intake", settings.topics.records, 0, 16)
    checking = dataclasses.replace(settings, skip_check_every=1.0)
    said = _run_intake_until(checking, tmp_path / "second.log", total)

    assert "offsets 10-15 were skipped by the group's position" in said
    receipts = _receipts(settings)
    assert sorted(int(r.receipt_id.rsplit(":", 1)[1]) for r in receipts) == list(range(total))
    keys = {r.receipt_id.rsplit(":", 1)[1]: r.idempotency_key for r in receipts}
    assert all(keys[str(i)] == f"row-{i}" for i in range(total))
    assert all(r.outcome == "accepted" for r in receipts)


def test_a_township_system_posting_in_transactions_loses_no_record_and_raises_no_alarm(
    settings: Settings, tmp_path: Path
) -> None:
    """A transactional producer leaves a marker after each transaction, an offset with no
    record: intake reads the log there once, finds nothing skipped, and admits every record
    once, without saying that anything was skipped.  Idle after the last marker, it is not
    taken for stalled (the watchdog once restarted it every EWS_STALL_TIMEOUT), and ``ews lag``
    shows it caught up (it showed one record waiting for ever, the last marker)."""
    import dataclasses

    from ews.lag import lag
    from readside.db import make_engine, migrate

    ensure_topics(settings.bootstrap, settings.topics.all())
    _post_records(settings, 0, 12, transaction_of=3)
    watched = dataclasses.replace(settings, stall_timeout=2.0)
    said = _run_intake_until(watched, tmp_path / "intake.log", 12, idle=8.0)
    assert "no progress" not in said
    _post_records(settings, 12, 6, transaction_of=2)  # after a restart: from the saved mark
    said += _run_intake_until(settings, tmp_path / "again.log", 18, idle=3.0)  # commits

    # a record admitted again after the stop has the same receipt id (the read side counts it
    # once); each of the 18 is admitted, under its own receipt id
    receipts = {r.receipt_id: r.idempotency_key for r in _receipts(settings)}
    assert sorted(receipts.values()) == sorted(f"row-{i}" for i in range(18))
    assert "skipped" not in said
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    migrate(engine)
    assert lag(settings.kafka, settings.topics, engine)["intake"] == 0


def test_ews_lag_goes_by_what_intake_applied_however_far_behind_the_group_s_position_is(
    settings: Settings, tmp_path: Path
) -> None:
    """faust can leave the group's committed position behind what intake applied (the mark
    in its table), as the watchdog knows: ews lag takes the later of the two, also when the
    position is more than COUNTED_UP_TO behind, and shows nothing waiting."""
    from ews.lag import COUNTED_UP_TO, lag
    from readside.db import make_engine, migrate

    ensure_topics(settings.bootstrap, settings.topics.all())
    n = COUNTED_UP_TO + 100
    _post_records(settings, 0, n)
    _run_intake_until(settings, tmp_path / "intake.log", n, idle=3.0)
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    migrate(engine)
    assert lag(settings.kafka, settings.topics, engine)["intake"] == 0
    _skip_to(settings, "intake", settings.topics.records, 0, 0)
    assert lag(settings.kafka, settings.topics, engine)["intake"] == 0


def test_ews_lag_goes_by_what_the_case_writer_applied_when_the_group_s_position_is_behind(
    settings: Settings, tmp_path: Path
) -> None:
    """faust can leave the case writer's committed position behind what it applied and saved
    with its states (the mark in its table), as the watchdog knows: ews lag shows nothing
    waiting then, and still counts each command posted after.  Before, it showed commands
    waiting for good (a second case writer beside ``ews worker`` left one so for 300 s)."""
    from ews.lag import lag
    from readside.db import make_engine, migrate

    ensure_topics(settings.bootstrap, settings.topics.all())
    commands = _commands(40)
    _post(settings, commands)
    _run_until(settings, tmp_path / "cases.log", len(_expected(commands)))
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    migrate(engine)
    assert lag(settings.kafka, settings.topics, engine)["case_writer"] == 0
    for partition in range(settings.partitions):  # the position of every partition at its start
        _skip_to(settings, "cases", settings.topics.case_commands, partition, 0)
    assert lag(settings.kafka, settings.topics, engine)["case_writer"] == 0

    _post(settings, commands[:5])  # posted again: waiting until a case writer reads them
    posted = sum(len(command_messages([c])) for c in commands[:5])
    assert lag(settings.kafka, settings.topics, engine)["case_writer"] == posted


def test_ews_lag_finds_a_quiet_input_s_mark_thousands_of_messages_back_in_the_changelog(
    settings: Settings, tmp_path: Path
) -> None:
    """A stage that reads several topics saves the mark of a quiet one (the alert writer's
    officers' commands) only when one comes; the states and marks of its busy input follow it
    in the same changelog partition.  ews lag still finds it there, and counts nothing waiting
    while the group's position is behind it.  Before, it looked among the last 200 messages
    only, and showed the commands waiting until the next one came."""
    from ews.lag import lag
    from readside.db import make_engine, migrate
    from streams.state import reached_key

    ensure_topics(settings.bootstrap, settings.topics.all())
    commands, changelog = settings.topics.alert_commands, settings.topics.alert_state_changelog
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    for i in range(7):  # seven officers' commands, applied and marked, then a busy day
        producer.send(commands, b"{}", key=f"C{i}".encode(), partition=0)
    producer.send(changelog, b'{"next": 7}', key=reached_key(commands, 0).encode(), partition=0)
    busy = reached_key(settings.topics.risk_assessments, 0).encode()
    for i in range(1500):
        producer.send(changelog, b'{"state": 1}', key=f"C{i:020x}".encode(), partition=0)
        producer.send(changelog, b'{"next": %d}' % i, key=busy, partition=0)
    producer.flush()
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    migrate(engine)
    _skip_to(settings, "alerts", commands, 0, 2)  # faust left the position behind the mark
    assert lag(settings.kafka, settings.topics, engine)["alert_writer"] == 0

    for i in range(3):  # three more: waiting until an alert writer reads them
        producer.send(commands, b"{}", key=f"D{i}".encode(), partition=0)
    producer.close()
    assert lag(settings.kafka, settings.topics, engine)["alert_writer"] == 3


def test_records_of_a_township_transaction_that_aborted_are_never_admitted(
    settings: Settings, tmp_path: Path
) -> None:
    """A township system whose transaction aborted has taken those records back: they stay in
    the log, marked aborted.  Intake admits only the records of transactions that committed,
    neither when it reads them nor when it reads the log again at the gap they leave, nor
    after a restart.  Before, it admitted the aborted records as cases."""
    from ews.lag import lag
    from readside.db import make_engine, migrate

    ensure_topics(settings.bootstrap, settings.topics.all())
    _post_records(settings, 0, 9, transaction_of=3, aborting=frozenset({1}))  # rows 3-5
    said = _run_intake_until(settings, tmp_path / "intake.log", 6, idle=3.0)
    _post_records(settings, 9, 6, transaction_of=3, aborting=frozenset({0}))  # rows 9-11
    said += _run_intake_until(settings, tmp_path / "again.log", 9, idle=3.0)

    keys = sorted(r.idempotency_key for r in _receipts(settings))
    assert keys == sorted(f"row-{i}" for i in (0, 1, 2, 6, 7, 8, 12, 13, 14))
    assert "skipped" not in said
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    migrate(engine)
    assert lag(settings.kafka, settings.topics, engine)["intake"] == 0  # nothing left to admit


def test_ews_lag_says_where_a_township_transaction_left_open_holds_records_back(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A township system that begins a transaction and neither commits nor aborts it holds
    back every record after it in that partition, other townships' too: no stage can read
    them, and lag counts nothing waiting.  ``ews lag`` says which partition, how many offsets
    and since when; once the transaction commits it says no more, and counts the records as
    waiting for intake.  Before, it showed every stage caught up and said nothing."""
    from ews.cli import main
    from readside.db import make_engine, migrate

    ensure_topics(settings.bootstrap, settings.topics.all())
    migrate(make_engine(settings.db_url))
    records = settings.topics.records
    postings = demo_batch(5, bad_fraction=0, duplicates=0, seed=9)
    township = KafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", transactional_id="township-left-open"
    )
    township.init_transactions()
    township.begin_transaction()
    for posting in postings[:2]:
        township.send(records, posting.data, partition=0)
    township.flush()
    other = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    for posting in postings[2:]:
        other.send(records, posting.data, partition=0)
    other.close()
    command = ["lag", "--bootstrap", settings.bootstrap, "--db", settings.db_url]
    try:
        capsys.readouterr()
        assert main(command) == 0
        said = capsys.readouterr().out
        assert "intake                 0 messages behind" in said, said
        assert f"{records} partition 0: 5 offsets held back by a transaction open since " in said, (
            said
        )
        assert "(0 min), from offset 0;" in said, said
        township.commit_transaction()
    finally:
        township.close()
    assert main(command) == 0
    said = capsys.readouterr().out
    assert "held back" not in said, said
    assert "intake                 5 messages behind" in said, said


def test_a_send_the_broker_never_takes_stops_the_batch_instead_of_holding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The idempotent producer sends again without end what the broker refuses with an error
    that may pass; a batch whose sends are not delivered within twice the request timeout
    raises (the worker then exits for its supervisor) instead of waiting for ever."""
    import asyncio
    import types

    from streams import state
    from streams.state import delivered

    monkeypatch.setattr(state, "DELIVERY_AT_LEAST", 0.0)  # twice the request timeout, here
    app = types.SimpleNamespace(conf=types.SimpleNamespace(producer_request_timeout=0.1))

    async def batch() -> None:
        loop = asyncio.get_running_loop()
        answered, never = loop.create_future(), loop.create_future()
        answered.set_result("offset 7")
        assert await delivered(app, [answered]) == ["offset 7"]
        await delivered(app, [answered, never])

    began = time.monotonic()
    with pytest.raises(TimeoutError):
        asyncio.run(batch())
    assert 0.2 <= time.monotonic() - began < 5
