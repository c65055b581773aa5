"""Writing a batch of rows the fastest way each database offers, in the caller's transaction.

* ``insert_rows``: new rows.  PostgreSQL gets them by ``COPY ... FROM STDIN`` (one stream,
  no statement per row); SQLite by the driver's ``executemany`` over plain tuples.
* ``existing_keys`` / ``rows_by_key``: which of many keys a table has, and their rows.
  PostgreSQL gets every key in one array parameter (``= ANY(...)``); SQLite in ``IN (...)``
  lists of ``CHUNK`` keys.
* ``upsert_rows``: rows that may exist already, by primary key, as one
  ``INSERT ... ON CONFLICT (key) DO UPDATE`` over the batch (both databases; SQLite's over
  plain tuples again), instead of an ``UPDATE`` or ``INSERT`` statement per row.

Errors keep SQLAlchemy's classes (``IntegrityError``, ``DataError`` ...) whichever way the rows
were sent, so a caller tells a bad row from a lost database the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from operator import itemgetter
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects import postgresql, sqlite

Row = dict[str, Any]
CHUNK = 500  # keys per IN (...) list (SQLite)


def existing_keys(conn: sa.Connection, column: sa.Column, keys: Collection[Any]) -> set[Any]:
    """The ones of ``keys`` that ``column`` holds."""
    found: set[Any] = set()
    for condition in _matching(conn, column, keys):
        found.update(conn.execute(sa.select(column).where(condition)).scalars())
    return found


def rows_by_key(conn: sa.Connection, column: sa.Column, keys: Collection[Any]) -> dict[Any, Row]:
    """The rows of ``column``'s table whose ``column`` is one of ``keys``, by that key."""
    rows: dict[Any, Row] = {}
    for condition in _matching(conn, column, keys):
        query = sa.select(column.table).where(condition)
        rows.update({r[column.name]: dict(r) for r in conn.execute(query).mappings()})
    return rows


def _matching(
    conn: sa.Connection, column: sa.Column, keys: Collection[Any]
) -> Iterator[sa.ColumnElement[bool]]:
    """Conditions that together pick the rows whose ``column`` is one of ``keys``."""
    keys = list(keys)
    if not keys:
        return
    if conn.dialect.name == "postgresql":
        yield column == sa.any_(sa.literal(keys, postgresql.ARRAY(column.type)))
        return
    for i in range(0, len(keys), CHUNK):
        yield column.in_(keys[i : i + CHUNK])


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
    """Insert ``rows`` (dicts with every column of ``table``) into ``table``."""
    if not rows:
        return
    names = [c.name for c in table.columns]
    values = list(map(_values_of(names), rows))
    if conn.dialect.name == "postgresql":
        _copy(conn, table, names, values)
    else:
        statement = str(sa.insert(table).compile(dialect=conn.dialect))
        conn.exec_driver_sql(statement, values)


def _values_of(names: list[str]) -> Callable[[Row], tuple[Any, ...]]:
    """A function from a row to the tuple of its values under ``names``, in that order."""
    if len(names) == 1:
        return lambda row: (row[names[0]],)
    return itemgetter(*names)


def upsert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
    """Insert ``rows`` (every column), replacing the row of the same primary key if there is
    one.  Each key at most once in ``rows``."""
    if not rows:
        return
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(conn.dialect.name)
    if dialect is None:
        raise NotImplementedError(f"no upsert for {conn.dialect.name}")
    key = [c.name for c in table.primary_key.columns]
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=key,
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in key},
    )
    if conn.dialect.name == "sqlite":  # plain tuples, as insert_rows: no per-row binding work
        names = [c.name for c in table.columns]
        statement = str(stmt.compile(dialect=conn.dialect))
        conn.exec_driver_sql(statement, list(map(_values_of(names), rows)))
    else:
        conn.execute(stmt, list(rows))


def _copy(
    conn: sa.Connection, table: sa.Table, names: list[str], values: list[tuple[Any, ...]]
) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    try:
        with conn.connection.dbapi_connection.cursor() as cursor:
            with cursor.copy(statement) as copy:
                for row in values:
                    copy.write_row(row)
    except psycopg.Error as exc:
        raise sa.exc.DBAPIError.instance(
            f"COPY {table.name}", None, exc, psycopg.Error, dialect=conn.dialect
        ) from exc
