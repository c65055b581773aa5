"""A log written by earlier code replays to identical read models and case states."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

from domain.case import CaseState, fold
from domain.risk.features import read_records, status_as_of
from readside.db import make_engine, migrate
from readside.projector import Message, Projector, apply_batch
from readside.snapshot import snapshot
from readside.tables import cases, metadata
from schemas.events import Envelope
from schemas.topics import Topics

FIXTURE = Path(__file__).parent / "fixtures" / "log-v1"


def _load(name: str):  # noqa: ANN202
    with gzip.open(FIXTURE / name, "rt", encoding="utf-8") as fh:
        return json.load(fh) if name.endswith(".json.gz") else [json.loads(line) for line in fh]


def old_log(topics: Topics) -> list[Message]:
    return [
        Message(
            topics.name(m["topic"]), m["partition"], m["offset"], base64.b64decode(m["value_b64"])
        )
        for m in _load("log.jsonl.gz")
    ]


# columns added since the fixture that an old log fills in
FILLED_SINCE = {"cases": {"category_corrected_at", "status_found_at", "values_found_at"}}
# case state fields added since, likewise
STATE_SINCE = {"category_corrected_at"}


# columns whose meaning changed since the fixture: checked against the case fold instead
STATUS = [c.name for c in cases.columns].index("follow_up_status")  # the latest found's


@cache
def statuses_from_the_log() -> dict[str, str]:
    """Each case's follow-up status as the scorer reads it from the old log's records."""
    by_case: dict[str, list[Envelope]] = defaultdict(list)
    for m in old_log(Topics()):
        if m.topic.endswith(".case-events"):
            e = Envelope.from_bytes(m.value)
            by_case[e.case_id].append(e)
    end = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    return {
        case_id: status_as_of(
            list(read_records(fold(case_id, sorted(evs, key=lambda e: e.seq)), end).records)
        )
        for case_id, evs in by_case.items()
    }


def fixture_read_models() -> dict:
    """The fixture's read models, the columns whose meaning changed since left out."""
    known = _load("read_models.json.gz")
    for row in known["cases"]:
        row[STATUS] = None
    return known


def as_json(snap: dict) -> dict:
    """Rows as the fixture stores them (JSON has lists, not tuples), for the read models the
    fixture knows; read models added since must be empty after an old log, and columns added
    since (at the end of a row) empty in every row, but those FILLED_SINCE names.  The
    follow-up status is the scorer's, then left out."""
    statuses = statuses_from_the_log()
    assert {r[0]: r[STATUS] for r in snap["cases"]} == statuses
    snap = {**snap, "cases": [(*r[:STATUS], None, *r[STATUS + 1 :]) for r in snap["cases"]]}
    known = _load("read_models.json.gz")
    assert all(not rows for table, rows in snap.items() if table not in known)
    snap = {table: rows for table, rows in snap.items() if table in known}
    for table, rows in snap.items():
        width = len(known[table][0]) if known[table] else None
        if width is not None:
            names = [c.name for c in metadata.tables[table].columns]
            empty = [
                i for i in range(width, len(names)) if names[i] not in FILLED_SINCE.get(table, ())
            ]
            assert all(row[i] is None for row in rows for i in empty), table
            snap[table] = [row[:width] for row in rows]
    return json.loads(json.dumps(snap, ensure_ascii=False, sort_keys=True, default=str))


def test_the_old_log_folds_to_the_same_case_states() -> None:
    by_case: dict[str, list[Envelope]] = defaultdict(list)
    for m in old_log(Topics()):
        if m.topic.endswith(".case-events"):
            e = Envelope.from_bytes(m.value)
            by_case[e.case_id].append(e)
    expected = _load("case_states.json.gz")
    assert len(by_case) == len(expected) > 100
    for case_id, events in by_case.items():
        state = fold(case_id, sorted(events, key=lambda e: e.seq))
        now = state.to_dict()
        assert set(now) - set(expected[case_id]) <= STATE_SINCE
        assert {k: now[k] for k in expected[case_id]} == expected[case_id]
        assert CaseState.from_dict(state.to_dict()) == state
        # a state stored before the new fields were (the case table's JSON) still loads
        assert CaseState.from_dict(expected[case_id]).case_id == case_id


def test_the_old_log_projects_to_the_same_read_models(db_url: str) -> None:
    topics = Topics()
    engine = make_engine(db_url)
    migrate(engine)
    log = old_log(topics)
    with engine.begin() as conn:
        for i in range(0, len(log), 97):
            apply_batch(conn, log[i : i + 97], topics)
    assert as_json(snapshot(engine)) == fixture_read_models()
    engine.dispose()


def send_old_log(settings) -> list[Message]:  # noqa: ANN001
    from kafka import KafkaProducer

    from streams.admin import ensure_topics

    ensure_topics(settings.bootstrap, settings.topics.all())
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    log = old_log(settings.topics)
    for m in log:
        producer.send(m.topic, m.value, partition=m.partition)
    producer.flush()
    producer.close()
    return log


@pytest.mark.kafka
def test_the_old_log_replays_from_the_broker(settings, tmp_path: Path) -> None:  # noqa: ANN001
    send_old_log(settings)
    engine = make_engine(settings.db_url)
    migrate(engine)
    Projector(engine, settings.bootstrap, settings.topics).run(until_caught_up=True)
    assert as_json(snapshot(engine)) == fixture_read_models()
    engine.dispose()


@pytest.mark.kafka
@pytest.mark.parametrize("workers", [1, 3])
def test_ews_replay_rebuilds_the_same_read_models_with_any_number_of_processes(
    settings,  # noqa: ANN001
    db_url: str,
    workers: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ews.cli import main

    log = send_old_log(settings)
    args = ["--bootstrap", settings.bootstrap, "--db", db_url]
    assert main(["replay", "--workers", str(workers), *args]) == 0
    out, err = capsys.readouterr()
    assert f"rebuilt the read models from {len(log)} log messages" in out
    assert "replaying: 100%" in err and f"{len(log)}/{len(log)}" in err  # its progress bar
    engine = make_engine(db_url)
    assert as_json(snapshot(engine)) == fixture_read_models()
    engine.dispose()


@pytest.mark.kafka
def test_a_replay_process_that_fails_stops_the_others_and_says_which(settings) -> None:  # noqa: ANN001
    import sqlalchemy as sa

    from readside.projector import ProjectorError
    from readside.replay import replay
    from readside.tables import projection_offsets

    send_old_log(settings)
    engine = make_engine(settings.db_url)
    migrate(engine)
    with engine.begin() as conn:  # partition 1 "read" beyond the log: its process must stop
        conn.execute(
            sa.insert(projection_offsets).values(
                topic=settings.topics.case_events, partition=1, next_offset=10**6
            )
        )
    with pytest.raises(ProjectorError, match="replay process 1 of 3 failed .* incomplete"):
        replay(engine, settings.bootstrap, settings.topics, workers=3)
    engine.dispose()
