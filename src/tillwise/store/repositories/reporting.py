"""Daily sales per store, local day and currency; increments are atomic upserts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from tillwise.ports.repositories import DailySales

from .. import mappers
from ..tables import daily_sales
from ._insert import insert_for

_COUNTERS = ("sales_count", "sales_amount", "refunds_count", "refunds_amount")


class SqlReportingRepository:
    """Implements :class:`tillwise.ports.repositories.ReportingRepository` inside a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add_daily_sales(
        self,
        *,
        connection_id: str,
        location_external_id: str,
        day: date,
        currency: str,
        sales_count: int = 0,
        sales_amount: int = 0,
        refunds_count: int = 0,
        refunds_amount: int = 0,
    ) -> None:
        """Add to the day's counters (creating the row at the first addition), in one statement,
        so concurrent additions never lose one another."""
        insert = insert_for(self._session, daily_sales).values(
            connection_id=connection_id,
            location_external_id=location_external_id,
            day=day,
            currency=currency,
            sales_count=sales_count,
            sales_amount=sales_amount,
            refunds_count=refunds_count,
            refunds_amount=refunds_amount,
        )
        self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[c.name for c in daily_sales.primary_key],
                set_={name: daily_sales.c[name] + insert.excluded[name] for name in _COUNTERS},
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
        rows = self._session.execute(query).mappings()
        return [mappers.daily_sales_from_row(row) for row in rows]
