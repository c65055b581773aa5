"""Database connection and schema migrations (Alembic) for the read side."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or SQLite in memory."""
    path = Path(url.removeprefix("sqlite:///"))
    return path if url.startswith("sqlite:///") and str(path) != ":memory:" else None


def make_engine(url: str) -> sa.Engine:
    """An engine for a SQLAlchemy URL (SQLite: the folder is created, WAL mode)."""
    if url.startswith("sqlite:///"):
        path = sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # A prepared statement's generic plan is made while a table is small (a replay into an
    # empty database) and kept for the connection's life: a seq scan per IN (...) lookup that
    # grows with the table.  Plan every execution for its own parameters instead.
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"options": "-c plan_cache_mode=force_custom_plan"},
    )


def alembic_config(engine: sa.Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    url = engine.url.render_as_string(hide_password=False)  # percent-encoded (p%40ss)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # % interpolates there
    return cfg


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision``."""
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def drop_all(engine: sa.Engine) -> None:
    """Drop every read model (and the projector's positions): the schema goes back to empty."""
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
