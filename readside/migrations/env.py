"""Alembic environment: the URL comes from the caller (readside.db.migrate) or the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from readside.tables import metadata
from schemas.settings import Settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or Settings.from_env().db_url

if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = create_engine(url)
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=metadata)
            with context.begin_transaction():
                context.run_migrations()
        engine.dispose()
    else:
        context.configure(connection=connectable, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
