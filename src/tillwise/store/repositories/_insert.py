"""The dialect's INSERT, for ``ON CONFLICT`` (SQLite and PostgreSQL spell it the same way)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
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
    # RETURNING, not rowcount: the DBAPI need not report a row count for an INSERT.
    statement = (
        insert_for(session, table)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
    return session.execute(statement).first() is not None
