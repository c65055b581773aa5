"""One writer of a read-model database at a time: the projector, or a replay rebuilding it.

A replay drops every read model and rebuilds it from the log; a projector writing beside it
would mix rows of both.  Both hold this lock while they write: on PostgreSQL an advisory lock
of the session, on a SQLite file an exclusive ``flock`` of a file beside it.  Either is
released when its process ends, however it ends (``kill -9`` included); the processes of a
replay (``readside.replay``) share their caller's, and stop after their batch if it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

LOCK_KEY = 0x657773  # "ews": the advisory lock of the read models


class ReadModelsBusy(RuntimeError):
    """Another projector or replay is writing this read-model database."""


@contextlib.contextmanager
def read_model_writer(engine: sa.Engine, who: str) -> Iterator[None]:
    """Hold the read models' writer lock while the block runs, or raise ``ReadModelsBusy``."""
    busy = ReadModelsBusy(
        f"another projector or replay is writing {engine.url.render_as_string()}; "
        f"stop it first ({who} needs the read models to itself)"
    )
    if engine.dialect.name == "postgresql":
        # autocommit: a session lock needs no transaction, and one left open for the
        # projector's life would be ended by idle_in_transaction_session_timeout
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if not conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}
            ).scalar():
                raise busy
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield  # one process owns an in-memory database anyway
        return
    with open(Path(database).with_name(Path(database).name + ".writer-lock"), "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
