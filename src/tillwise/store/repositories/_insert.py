"""The dialect's INSERT, for ``ON CONFLICT`` (SQLite and PostgreSQL spell it the same way)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Executable, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` and ``excluded``."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database {name!r}: the store runs on SQLite and PostgreSQL")


def insert_if_absent(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """Insert the row unless one with the same key exists (then change nothing); True when it
    was inserted. Atomic: of concurrent inserts of one key exactly one returns True."""
    # RETURNING, not rowcount: the DBAPI need not report a row count for an INSERT. The values
    # go as parameters of one statement per table and column set, so SQLAlchemy compiles it once
    # (building ``.values(**values)`` anew costs more than the insert itself).
    statement = _insert_if_absent_statement(
        session.get_bind().dialect.name, table, tuple(sorted(values))
    )
    return session.connection().execute(statement, values).first() is not None


@functools.lru_cache(maxsize=256)
def _insert_if_absent_statement(dialect: str, table: Table, columns: tuple[str, ...]) -> Executable:
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return (
        insert.values({c: bindparam(c) for c in columns})
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
