"""The projector against real databases (SQLite and PostgreSQL), fed the log without Kafka."""

import json

import pytest
import sqlalchemy as sa

from domain.case import CaseState, handle_command
from domain.intake import Admitted, Posted, admit
from ews.demo_batch import demo_batch, expected_counts
from readside.db import drop_all, make_engine, migrate
from readside.projector import Message, apply_batch
from readside.queries import intake_rows
from readside.snapshot import snapshot
from readside.tables import case_timeline, cases, dead_letters, intake_receipts
from schemas.receipts import receipts_to_bytes
from schemas.topics import Topics

TOPICS = Topics()


def offline_log(batch):
    """What the stream would write for a batch: events, receipts and dead letters, in order."""
    states: dict[str, CaseState] = {}
    log: list[Message] = []
    offsets = {"e": 0, "r": 0, "d": 0}

    def put(kind, topic, value):
        log.append(Message(topic, 0, offsets[kind], value))
        offsets[kind] += 1

    for i, p in enumerate(batch):
        out = admit(Posted("x.records", 0, i, 1_767_000_000_000 + i, p.data))
        if isinstance(out, Admitted):
            cmd = out.command
            state = states.get(cmd.case_id, CaseState(cmd.case_id))
            states[cmd.case_id], events = handle_command(state, cmd)
            for e in events:
                put("e", TOPICS.case_events, e.to_bytes())
        else:
            put("d", TOPICS.dead_letters, out.dead_letter.to_bytes())
        put("r", TOPICS.intake_receipts, receipts_to_bytes([out.receipt]))
    return log, states


def project(engine, log, size):
    for i in range(0, len(log), size):
        with engine.begin() as conn:
            apply_batch(conn, log[i : i + size], TOPICS)


def test_read_models_reconcile_and_rebuild_identically(db_url):
    batch = demo_batch(1500, bad_fraction=0.05, duplicates=20)
    log, states = offline_log(batch)
    engine = make_engine(db_url)
    migrate(engine)
    project(engine, log, 400)

    assert {t: (r, a, d) for t, r, a, d in intake_rows(engine)} == expected_counts(batch)
    with engine.connect() as conn:
        n_cases = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
        n_dead = conn.execute(sa.select(sa.func.count()).select_from(dead_letters)).scalar_one()
        n_events = conn.execute(sa.select(sa.func.count()).select_from(case_timeline)).scalar_one()
        row = conn.execute(sa.select(cases).limit(1)).mappings().one()
    assert n_cases == len(states)
    assert n_dead == sum(1 for p in batch if p.expect != "accepted")
    assert n_events == sum(s.seq for s in states.values())
    state = states[row["case_id"]]
    assert (row["status"], row["record_count"], row["last_seq"]) == (
        state.status,
        len(state.records),
        state.seq,
    )

    first = snapshot(engine)
    drop_all(engine)
    migrate(engine)
    project(engine, log, 977)  # other batch boundaries, same result
    assert snapshot(engine) == first
    engine.dispose()


def test_duplicated_log_messages_change_nothing(db_url):
    batch = demo_batch(300, bad_fraction=0.1)
    log, _ = offline_log(batch)
    engine = make_engine(db_url)
    migrate(engine)
    project(engine, log, 100)
    once = snapshot(engine)
    # a crashed worker re-emits what it had sent: same ids at new offsets
    replayed = [Message(m.topic, 1, m.offset, m.value) for m in log]
    project(engine, replayed, 64)
    assert snapshot(engine) == once
    engine.dispose()


def test_a_message_that_cannot_be_projected_is_kept_and_the_rest_applied(db_url, tmp_path):
    import json

    from readside.projector import Projector
    from readside.tables import projection_failures

    batch = demo_batch(200, bad_fraction=0.0)
    log, states = offline_log(batch)
    broken = json.loads(next(m.value for m in log if b'"CaseOpened"' in m.value))
    broken["case_id"], broken["event_id"] = "Cbroken", "f" * 32
    del broken["payload"]["township"]
    bad = [
        Message(TOPICS.case_events, 3, 0, json.dumps(broken).encode()),
        Message(TOPICS.case_events, 3, 1, b"\x00 not an event"),
    ]
    engine = make_engine(db_url)
    migrate(engine)
    projector = Projector(engine, "unused:9092", TOPICS)
    projector._apply(log[:300] + bad + log[300:])
    with engine.connect() as conn:
        failures = conn.execute(sa.select(projection_failures)).mappings().all()
        n_cases = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
    assert sorted((f["partition"], f["offset"]) for f in failures) == [(3, 0), (3, 1)]
    assert all(f["reason"] for f in failures)
    assert n_cases == len(states)
    engine.dispose()


def test_events_out_of_their_cases_sequence_are_kept_as_failures_never_dropped(db_url, capsys):
    """Before its case's opening, a seq repeated under another id, a gap: each is a failure
    with its reason, and the rest of the log is applied."""
    import dataclasses

    from readside.queries import projection_failure_rows
    from schemas.events import Envelope

    log, states = offline_log(demo_batch(60, bad_fraction=0.0))
    events = [Envelope.from_bytes(m.value) for m in log if m.topic == TOPICS.case_events]
    by_case: dict[str, list[Envelope]] = {}
    for e in events:
        by_case.setdefault(e.case_id, []).append(e)
    long_case = next(es for es in by_case.values() if len(es) >= 3)
    opening, second, third = long_case[:3]
    orphan = dataclasses.replace(second, case_id="Cnever-opened", event_id="a" * 32)
    twin = dataclasses.replace(second, event_id="b" * 32)  # same case and seq, another id
    after_gap = dataclasses.replace(third, seq=third.seq + 5, event_id="c" * 32)
    odd = [
        Message(TOPICS.case_events, 3, i, e.to_bytes())
        for i, e in enumerate([orphan, twin, after_gap])
    ]
    engine = make_engine(db_url)
    migrate(engine)
    project(engine, log + odd + log, 50)  # the log twice: a redelivery is no failure
    failures = projection_failure_rows(engine)
    assert [(f["partition"], f["offset"]) for f in failures] == [(3, 0), (3, 1), (3, 2)]
    reasons = [f["reason"] for f in failures]
    assert "whose opening was never seen" in reasons[0]
    assert f"seq {second.seq} of case {second.case_id} was already applied" in reasons[1]
    assert "gap" in reasons[2] and "is missing" in reasons[2]
    with engine.connect() as conn:
        n_events = conn.execute(sa.select(sa.func.count()).select_from(case_timeline)).scalar_one()
    assert n_events == len(events)  # every real event applied once, none of the odd ones
    assert opening.seq == 1
    engine.dispose()
    # and the operator sees them in `ews counts`
    from ews.cli import main

    assert main(["counts", "--db", db_url]) == 0
    said = capsys.readouterr().out
    assert "3 log message(s) the read models could not apply" in said
    assert f"{TOPICS.case_events}:3:2  OutOfSequence: gap" in said


def projected_50(db_url: str) -> sa.Engine:
    """A database holding the read models of 50 demo records."""
    engine = make_engine(db_url)
    migrate(engine)
    log, _ = offline_log(demo_batch(50, bad_fraction=0.0))
    project(engine, log, 50)
    return engine


def test_replay_refuses_to_run_beside_a_projector_writing_the_same_read_models(db_url, capsys):
    from ews.cli import main
    from readside.lock import ReadModelsBusy, read_model_writer

    engine = projected_50(db_url)
    before = snapshot(engine)
    with read_model_writer(engine, "a projector"):  # as a running `ews project` holds it
        assert main(["replay", "--db", db_url, "--bootstrap", "127.0.0.1:9"]) == 2
        assert "another projector or replay is writing" in capsys.readouterr().err
        with pytest.raises(ReadModelsBusy):
            with read_model_writer(engine, "a second projector"):
                pass
    assert snapshot(engine) == before  # nothing dropped
    with read_model_writer(engine, "the next one"):  # free again once released
        pass
    engine.dispose()


def test_replay_with_no_broker_at_its_address_keeps_the_read_models(db_url, capsys):
    from ews.cli import main

    engine = projected_50(db_url)
    before = snapshot(engine)
    assert main(["replay", "--quiet", "--db", db_url, "--bootstrap", "127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "no Kafka broker reachable at 127.0.0.1:9" in err and "left as they were" in err
    assert snapshot(engine) == before
    engine.dispose()


def test_the_writer_lock_holds_no_transaction_open_on_postgresql(db_url) -> None:  # noqa: ANN001
    """A projector holds the lock for days: its session must not sit "idle in transaction"
    (a server's idle_in_transaction_session_timeout would end it and free the lock)."""
    from readside.lock import LOCK_KEY, read_model_writer

    if not db_url.startswith("postgresql"):
        pytest.skip("an advisory lock is PostgreSQL's")
    engine = make_engine(db_url)
    with read_model_writer(engine, "a projector"):
        with make_engine(db_url).connect() as other:
            state = other.execute(
                sa.text(
                    "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.objid = :k"
                ),
                {"k": LOCK_KEY},
            ).scalar_one()
    assert state == "idle"
    engine.dispose()


def test_a_township_system_s_long_idempotency_key_is_kept_with_its_receipt(db_url):
    """A township system posting to the records topic itself may send an idempotency key of up
    to 255 characters; the receipt and the dead letter keep it (PostgreSQL refused keys over
    64 before migration 0011, and the rows with them)."""
    from domain.intake import KEY_HEADER
    from readside.tables import intake_receipts

    keys = ["a" * 255, "b" * 255]  # one per row: the same key twice is one row posted twice
    log: list[Message] = []
    for i, data in enumerate((demo_batch(1, bad_fraction=0)[0].data, b"{not json")):
        header = ((KEY_HEADER, keys[i].encode()),)
        posted = Posted("x.records", 0, i, 1_800_000_000_000, data, header)  # January 2027
        out = admit(posted)
        log.append(Message(TOPICS.intake_receipts, 0, i, receipts_to_bytes([out.receipt])))
        if not isinstance(out, Admitted):
            log.append(Message(TOPICS.dead_letters, 0, i, out.dead_letter.to_bytes()))
    engine = make_engine(db_url)
    migrate(engine)
    project(engine, log, 10)
    with engine.connect() as conn:
        kept = conn.execute(sa.select(intake_receipts.c.idempotency_key)).scalars().all()
        dead = conn.execute(sa.select(dead_letters.c.idempotency_key)).scalars().all()
    assert (sorted(kept), dead) == (keys, keys[1:])
    engine.dispose()


def test_the_migrated_read_models_are_the_tables_the_code_describes(db_url):
    """The migrations build the tables ``readside.tables`` describes, column by column: names,
    types (with their lengths on PostgreSQL, which enforces them), nullability and indexes.
    A column widened in one and not the other refuses rows on PostgreSQL that SQLite takes
    (as idempotency keys over 64 characters once were)."""
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from readside.tables import metadata

    engine = make_engine(db_url)
    migrate(engine)
    with warnings.catch_warnings(), engine.connect() as conn:
        warnings.simplefilter("ignore")  # SQLite cannot reflect the expression indexes
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    flat = [d for group in differences for d in (group if isinstance(group, list) else [group])]
    if engine.dialect.name == "sqlite":  # SQLite keeps any length in any column
        flat = [d for d in flat if d[0] != "modify_type"]
    assert flat == []


def test_a_database_url_with_percent_encoded_characters_is_migrated(db_url, tmp_path):
    """A PostgreSQL password with @ or %, a SQLite folder with : or %: the URL reaches the
    migrations percent-encoded, and the web service, projector and replay still start."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'county:ews 100%' / 'ews.db'}"
    else:  # loopback trusts the user; the password is still part of the URL the code reads
        url = db_url.replace("postgres@", "postgres:p%40ss%25w%3A@", 1)
        assert url != db_url
    engine = make_engine(url)
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 0
    engine.dispose()


def test_a_case_row_holds_the_values_of_the_latest_found_records_whatever_order_they_came(db_url):
    """The case row (the time-limit map, the case list) and the scorer read a case's head count,
    petition and sums from the latest-found record that gives each, so a follow-up posted
    late, found between two others, changes the row as it changes the scorer's reading."""
    import random
    from types import SimpleNamespace

    from domain.risk.features import known_records, latest_value
    from readside.projections import LATEST_VALUE_FIELDS

    rng = random.Random(7)
    batch = []
    for n in range(150):
        records = []
        for i in range(rng.randint(2, 5)):
            record = {
                "township": "周庄镇",
                "ref_no": f"V-{n}",
                "category": "unpaid_wages",
                "record_kind": "initial" if i == 0 else "follow_up",
                "found_at": f"2025-11-{rng.randint(1, 4):02d}T0{rng.randint(8, 9)}:00:00+08:00",
                "description": "讨要工资",
                "follow_up_status": "mediating",
            }
            values = {
                "people_involved": rng.randint(1, 40),
                "amount_involved_yuan": float(rng.randint(1, 9) * 10_000),
                "is_petition": rng.random() < 0.5,
                "petition_received_on": f"2025-10-{rng.randint(1, 28):02d}",
            }
            record |= {k: v for k, v in values.items() if rng.random() < 0.5}
            records.append(record)
        rng.shuffle(records[1:])  # follow-ups arrive in any order
        batch += [SimpleNamespace(data=json.dumps(r, ensure_ascii=False).encode()) for r in records]
    log, states = offline_log(batch)
    engine = make_engine(db_url)
    migrate(engine)
    project(engine, log, 97)
    with engine.connect() as conn:
        rows = {r.case_id: r for r in conn.execute(sa.select(cases))}
    engine.dispose()
    assert len(rows) == len(states) == 150
    differ = []
    for case_id, state in states.items():
        known = known_records(state, "2030-01-01T00:00:00+08:00")
        for name in LATEST_VALUE_FIELDS[:4]:
            if getattr(rows[case_id], name) != latest_value(known, name):
                differ.append((case_id, name))
    assert differ == []


@pytest.mark.parametrize("batch_size", [1, 10])
def test_a_file_row_dead_lettered_then_accepted_when_posted_again_counts_as_accepted(
    db_url, batch_size
):
    """A row dated after the moment it was first posted is dead-lettered; the same file posted
    again once that date has come is accepted and opens its case.  The counts then say
    accepted, and the dead letters no longer ask the clerk to fix it; a replay agrees."""
    from domain.intake import KEY_HEADER, ROW_HEADER, SOURCE_HEADER
    from readside.queries import intake_rows

    record = {
        "township": "周庄镇",
        "ref_no": "ZZ-9",
        "found_at": "2026-01-02T09:00:00+08:00",
        "category": "unpaid_wages",
        "description": "拖欠工资",
    }
    other = dict(record, ref_no="ZZ-10", found_at="2025-12-01T09:00:00+08:00")
    heads = ((SOURCE_HEADER, b"zz.csv"), (ROW_HEADER, b"3"), (KEY_HEADER, b"zz.csv:3:ab"))
    log, states, offsets = [], {}, {"e": 0, "r": 0, "d": 0}
    postings = [(record, 1_767_000_000_000, heads), (other, 1_767_000_100_000, ())]
    postings.append((record, 1_767_500_000_000, heads))  # 4 January: now the date has come
    for i, (rec, at, h) in enumerate(postings):
        data = json.dumps(rec, ensure_ascii=False).encode()
        out = admit(Posted("x.records", 0, i, at, data, h))
        if isinstance(out, Admitted):
            state = states.get(out.command.case_id, CaseState(out.command.case_id))
            states[out.command.case_id], events = handle_command(state, out.command)
            for e in events:
                log.append(Message(TOPICS.case_events, 0, offsets["e"], e.to_bytes()))
                offsets["e"] += 1
        else:
            log.append(Message(TOPICS.dead_letters, 0, offsets["d"], out.dead_letter.to_bytes()))
            offsets["d"] += 1
        log.append(
            Message(TOPICS.intake_receipts, 0, offsets["r"], receipts_to_bytes([out.receipt]))
        )
        offsets["r"] += 1
    engine = make_engine(db_url)
    migrate(engine)
    project(engine, log, batch_size)
    project(engine, log, batch_size)  # the whole log again: redelivered, changes nothing
    with engine.connect() as conn:
        letters = conn.execute(sa.select(dead_letters.c.reason_code)).all()
        receipts = conn.execute(sa.select(sa.func.count()).select_from(intake_receipts)).scalar()
    counts = intake_rows(engine)
    engine.dispose()
    assert counts == [("周庄镇", 2, 2, 0)]
    assert letters == [] and receipts == 2 and len(states) == 2
