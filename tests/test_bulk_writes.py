"""The projector's batch writes (``readside.bulk``) on SQLite and PostgreSQL alike: COPY or
executemany for new rows, one upsert for changed rows, key lookups of any size."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from readside.bulk import CHUNK, existing_keys, insert_rows, rows_by_key, upsert_rows
from readside.db import make_engine, migrate
from readside.tables import intake_receipts, projection_offsets


def receipt(i: int) -> dict:
    return {
        "receipt_id": f"records:0:{i}",
        "township": "周庄镇",
        "outcome": "accepted",
        "case_id": f"C{i:020d}",
        "reason_code": None,
        "received_at": "2026-11-27T08:00:00+08:00",
        "idempotency_key": None,
    }


@pytest.fixture
def engine(db_url: str) -> sa.Engine:
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_new_rows_are_written_with_their_values(engine: sa.Engine) -> None:
    rows = [receipt(i) for i in range(3 * CHUNK)]
    rows[7]["reason_code"], rows[7]["outcome"] = "missing_field", "dead_lettered"
    with engine.begin() as conn:
        insert_rows(conn, intake_receipts, rows)
    with engine.connect() as conn:
        back = rows_by_key(conn, intake_receipts.c.receipt_id, [r["receipt_id"] for r in rows])
    assert back == {r["receipt_id"]: r for r in rows}


def test_a_row_written_twice_fails_the_batch_as_an_integrity_error(engine: sa.Engine) -> None:
    # the projector tells a bad message (IntegrityError, DataError ...) from a lost database by
    # SQLAlchemy's classes; PostgreSQL's COPY must raise the same as an INSERT would
    with engine.begin() as conn:
        insert_rows(conn, intake_receipts, [receipt(1), receipt(2)])
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as conn:
            insert_rows(conn, intake_receipts, [receipt(3), receipt(2), receipt(4)])
    assert count(engine, intake_receipts) == 2  # the failed batch left nothing behind


def test_upsert_replaces_rows_by_their_key_and_adds_the_new(engine: sa.Engine) -> None:
    def offsets(**nexts: int) -> list[dict]:
        return [{"topic": t, "partition": 0, "next_offset": o} for t, o in nexts.items()]

    with engine.begin() as conn:
        upsert_rows(conn, projection_offsets, offsets(events=10, receipts=4))
    with engine.begin() as conn:
        upsert_rows(conn, projection_offsets, offsets(events=25, dead=1))
    with engine.connect() as conn:
        stored = {r.topic: r.next_offset for r in conn.execute(sa.select(projection_offsets))}
    assert stored == {"events": 25, "receipts": 4, "dead": 1}


def test_key_lookups_find_exactly_the_keys_present_however_many_are_asked(
    engine: sa.Engine,
) -> None:
    present = [receipt(i) for i in range(0, 4 * CHUNK, 3)]
    with engine.begin() as conn:
        insert_rows(conn, intake_receipts, present)
    asked = [f"records:0:{i}" for i in range(4 * CHUNK)]
    with engine.connect() as conn:
        found = existing_keys(conn, intake_receipts.c.receipt_id, asked)
        assert existing_keys(conn, intake_receipts.c.receipt_id, []) == set()
    assert found == {r["receipt_id"] for r in present}


@pytest.mark.parametrize("township", [None, "周庄镇"])
def test_a_page_of_the_case_list_is_read_from_an_index_not_by_sorting_every_case(
    engine: sa.Engine, township: str | None
) -> None:
    """A county of hundreds of thousands of cases: a page of the list, the latest found first,
    took 0.6 s to sort them all (bench/bench_case_list.py); the database must read it from an
    index (migration 0010), with the query as the web console sends it (parameters bound)."""
    from readside.case_queries import case_list

    query = case_list(township, limit=50, after=("2026-11-27T08:00:00+08:00", "C1"))
    with engine.connect() as conn:
        compiled = query.compile(dialect=conn.dialect)
        if conn.dialect.name == "sqlite":
            params = tuple(compiled.params[k] for k in compiled.positiontup)
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
            text = " | ".join(str(step[-1]) for step in plan)
            assert "TEMP B-TREE FOR ORDER BY" not in text, text
        else:  # PostgreSQL would sort an empty table anyway: how it reads a large one
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_sort = off")
            plan = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).all()
            text = " | ".join(step[0] for step in plan)
            assert "Sort" not in text, text
    wanted = "ix_cases_township_found_order" if township else "ix_cases_found_order"
    assert wanted in text, text
