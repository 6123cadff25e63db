"""Canonical records, one table per kind; upserts never move a record backwards."""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import TypeVar

from sqlalchemy import Table, Update, bindparam, literal, select, tuple_, update
from sqlalchemy.orm import Session

from tillwise.domain.ids import SourceRecord
from tillwise.domain.locations import Location
from tillwise.domain.merge import MergeDecision, decide
from tillwise.domain.normalized import CanonicalRecord
from tillwise.ports.clock import Clock
from tillwise.ports.repositories import Page

from .. import mappers
from ..tables import locations, record_table
from ._insert import insert_if_absent

R = TypeVar("R", bound=SourceRecord)


class SqlRecordRepository:
    """Implements :class:`tillwise.ports.repositories.RecordRepository` inside a session."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def upsert(self, record: CanonicalRecord) -> MergeDecision:
        """Insert, or replace unless the stored copy is fresher (:func:`merge.decide`).

        Safe when several transactions upsert the same record at once: the insert does nothing
        on conflict, and the stored row is then locked (``FOR UPDATE`` on PostgreSQL; SQLite
        transactions are serialized by ``BEGIN IMMEDIATE``) before it is compared and updated.
        """
        table = record_table(type(record))
        values = mappers.record_values(record)
        now = self._clock.now()
        new_row = {**values, "first_seen_at": now, "updated_at": now}
        if insert_if_absent(self._session, table, new_row):
            return MergeDecision.REPLACE
        stored = (
            self._session.connection()
            .execute(
                select(table.c.source_version, table.c.source_updated_at)
                .where(table.c.id == values["id"])
                .with_for_update()
            )
            .one()
        )
        decision = decide(
            stored.source_version,
            mappers.utc(stored.source_updated_at),
            values["source_version"],
            values["source_updated_at"],
        )
        if decision is MergeDecision.REPLACE:
            self._session.connection().execute(
                _update_statement(table, tuple(sorted(values))),
                {
                    **{f"v_{k}": v for k, v in values.items()},
                    "v_updated_at": now,
                    "key": values["id"],
                },
            )
        return decision

    def get(self, record_type: type[R], canonical_id: str) -> R | None:
        table = record_table(record_type)
        data = (
            self._session.connection()
            .execute(select(table.c.data).where(table.c.id == canonical_id))
            .scalar_one_or_none()
        )
        return None if data is None else mappers.record_from_data(record_type, data)

    def find(
        self,
        record_type: type[R],
        *,
        external_id: str | None = None,
        connection_id: str | None = None,
        page: Page = Page(),
        stores: Collection[tuple[str, str]] | None = None,
        connections: Collection[str] | None = None,
        sku: str | None = None,
    ) -> list[R]:
        """Records in canonical id order, or newest first (kinds that record when they
        happened); ``page.after`` continues after that record. ``stores`` keeps the records of
        those (connection id, location external id) pairs (kinds that belong to a store);
        ``connections`` the records of those connections."""
        table = record_table(record_type)
        newest = page.newest_first and "occurred_at" in table.c
        query = select(table.c.data).limit(page.limit)
        if newest:
            query = query.order_by(table.c.occurred_at.desc(), table.c.id.desc())
        else:
            query = query.order_by(table.c.id)
        if external_id is not None:
            query = query.where(table.c.external_id == external_id)
        if connection_id is not None:
            query = query.where(table.c.connection_id == connection_id)
        if connections is not None:
            query = query.where(table.c.connection_id.in_(sorted(connections)))
        if sku is not None:
            if "sku" not in table.c:
                raise ValueError(f"{record_type.__name__} records have no SKU")
            query = query.where(table.c.sku == sku)
        if stores is not None:
            column = table.c.location_external_id if "location_external_id" in table.c else None
            if column is None and record_type is Location:
                column = table.c.external_id
            if column is None:
                raise ValueError(f"{record_type.__name__} records do not belong to a store")
            query = query.where(tuple_(table.c.connection_id, column).in_(sorted(stores)))
        if page.after is not None and newest:
            anchor = select(table.c.occurred_at).where(table.c.id == page.after).scalar_subquery()
            query = query.where(
                tuple_(table.c.occurred_at, table.c.id) < tuple_(anchor, literal(page.after))
            )
        elif page.after is not None:
            query = query.where(table.c.id > page.after)
        return [
            mappers.record_from_data(record_type, data)
            for data in self._session.connection().execute(query).scalars()
        ]

    def location(self, connection_id: str, external_id: str) -> Location | None:
        data = (
            self._session.connection()
            .execute(
                select(locations.c.data)
                .where(locations.c.connection_id == connection_id)
                .where(locations.c.external_id == external_id)
                .order_by(locations.c.id)
                .limit(1)
            )
            .scalar_one_or_none()
        )
        return None if data is None else mappers.record_from_data(Location, data)


@functools.lru_cache(maxsize=256)
def _update_statement(table: Table, columns: tuple[str, ...]) -> Update:
    """One compiled UPDATE per table and column set (values are bound, not built per call)."""
    names = (*columns, "updated_at")
    return (
        update(table)
        .where(table.c.id == bindparam("key"))
        .values({name: bindparam(f"v_{name}") for name in names})
    )
