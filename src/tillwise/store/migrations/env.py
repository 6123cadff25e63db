"""Alembic environment: URL from the config (set by tillwise.store.migrate), batch mode for
SQLite."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tillwise.store import tables_all  # noqa: F401  (registers every table on metadata)
from tillwise.store.engine import make_engine
from tillwise.store.metadata import metadata

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
