"""Shared fixtures: one real Kafka broker per test session, SQLite and PostgreSQL databases.

The broker is the project's own (deploy/kafka_local.py): free loopback ports and a temporary
data directory per session.  PostgreSQL tests use ``EWS_TEST_PG_URL`` (set by ``make test``,
which starts a local server); without it they are skipped, except under CI where that is an
error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.kafka_local import LocalBroker, free_port
from schemas.settings import Settings


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """bootstrap servers of a real broker started for this test session."""
    if os.environ.get("EWS_TEST_BOOTSTRAP"):
        yield os.environ["EWS_TEST_BOOTSTRAP"]
        return
    home = tmp_path_factory.mktemp("broker")
    port = free_port()
    broker = LocalBroker(home=Path(home), port=port, controller_port=free_port())
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def topic_prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh topic prefix, so each test sees empty topics on the shared broker."""
    value = "t" + uuid.uuid4().hex[:10]
    monkeypatch.setenv("EWS_TOPIC_PREFIX", value)
    return value


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Settings:
    """Settings of one test's deployment: the session's broker, fresh topics, its own folders."""
    return Settings(
        bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        db_url=f"sqlite:///{tmp_path / 'ews.db'}",
        faust_dir=str(tmp_path / "faust"),
        model_dir=str(tmp_path / "models"),
        stall_timeout=60.0,  # a stage stuck on an unfetched partition is restarted soon
    )


def _pg_url() -> str | None:
    url = os.environ.get("EWS_TEST_PG_URL")
    if not url and os.environ.get("CI"):
        raise RuntimeError("CI needs PostgreSQL: EWS_TEST_PG_URL is not set")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite in a temp file, then PostgreSQL (a new database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ews.db'}"
        return
    base = _pg_url()
    if not base:
        pytest.skip("EWS_TEST_PG_URL not set (make test starts a local PostgreSQL)")
    import sqlalchemy as sa

    name = "ews_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
