"""Daily sales per store, local day and currency; increments are atomic upserts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from tillwise.ports.repositories import DailySales, SalesContribution

from .. import mappers
from ..tables import daily_sales, sales_contributions
from ._insert import insert_for

_COUNTERS = ("sales_count", "sales_amount", "refunds_count", "refunds_amount")


class SqlReportingRepository:
    """Implements :class:`tillwise.ports.repositories.ReportingRepository` inside a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def set_contribution(self, record_id: str, contribution: SalesContribution | None) -> None:
        """Replace the record's share of the daily counters (see the port). The contribution row
        is locked first, so concurrent handling of one record serializes on it."""
        row = (
            self._session.connection()
            .execute(
                select(sales_contributions)
                .where(sales_contributions.c.record_id == record_id)
                .with_for_update()
            )
            .mappings()
            .first()
        )
        old = mappers.dataclass_from_row(SalesContribution, row) if row is not None else None
        if old == contribution:
            return
        if old is not None:
            self._add(old, sign=-1)
        if contribution is not None:
            self._add(contribution, sign=1)
        values = asdict(contribution) if contribution is not None else None
        if row is None and values is not None:
            self._session.connection().execute(
                insert(sales_contributions).values(record_id=record_id, **values)
            )
        elif values is not None:
            self._session.connection().execute(
                update(sales_contributions)
                .where(sales_contributions.c.record_id == record_id)
                .values(**values)
            )
        else:
            self._session.connection().execute(
                delete(sales_contributions).where(sales_contributions.c.record_id == record_id)
            )

    def _add(self, c: SalesContribution, *, sign: int) -> None:
        """Add to the day's counters in one statement (creating the row at the first addition),
        so concurrent additions for different records never lose one another."""
        counters = {name: sign * getattr(c, name) for name in _COUNTERS}
        statement = insert_for(self._session, daily_sales).values(
            connection_id=c.connection_id,
            location_external_id=c.location_external_id,
            day=c.day,
            currency=c.currency,
            **counters,
        )
        self._session.connection().execute(
            statement.on_conflict_do_update(
                index_elements=[col.name for col in daily_sales.primary_key],
                set_={name: daily_sales.c[name] + statement.excluded[name] for name in _COUNTERS},
            )
        )

    def daily_sales(
        self, *, since: date | None = None, until: date | None = None
    ) -> Sequence[DailySales]:
        """Rows for days from ``since`` to ``until`` inclusive, by day, store and currency."""
        query = select(daily_sales).order_by(
            daily_sales.c.day,
            daily_sales.c.connection_id,
            daily_sales.c.location_external_id,
            daily_sales.c.currency,
        )
        if since is not None:
            query = query.where(daily_sales.c.day >= since)
        if until is not None:
            query = query.where(daily_sales.c.day <= until)
        rows = self._session.connection().execute(query).mappings()
        return [mappers.dataclass_from_row(DailySales, row) for row in rows]
