"""Migrations and tables agree, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tillwise.store import tables_all  # noqa: F401  (registers every table on metadata)
from tillwise.store.engine import make_engine
from tillwise.store.metadata import metadata
from tillwise.store.migrate import alembic_config, upgrade
from tillwise.store.tables import RECORD_TABLES, daily_sales, events, outbox, processed_messages

CANONICAL = frozenset(
    {t.name for t in RECORD_TABLES.values()}
    | {t.name for t in (events, daily_sales, processed_messages, outbox)}
)


def _differences(url: str, only: frozenset[str] | None = None) -> list[Any]:
    """What autogenerate would change, for every table or ``only`` those named."""

    def include_object(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
        table = name if type_ == "table" else obj.table.name
        return only is None or table in only

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_creates_the_canonical_tables_as_declared(database_url: str) -> None:
    # given a database migrated to head (by the fixture)
    assert len(CANONICAL) == 18
    assert _table_names(database_url) >= CANONICAL
    # then autogenerate finds nothing to add, drop or alter in them
    assert _differences(database_url, only=CANONICAL) == []


def test_upgrade_head_matches_every_table(database_url: str) -> None:
    # the whole schema, every part's tables and migrations together
    assert _differences(database_url) == []


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    # when every migration is undone
    command.downgrade(alembic_config(database_url), "base")
    # then only Alembic's own bookkeeping is left
    assert _table_names(database_url) == {"alembic_version"}
    # and migrating again gives the canonical tables as declared
    upgrade(database_url)
    assert _differences(database_url, only=CANONICAL) == []
