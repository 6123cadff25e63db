"""Demand history of a store as the forecaster's long-format frame.

One row per SKU (series ``"<connection>:<location>:<sku>"``) and store-local day, from the day
the SKU first sold at the store to the store's last day of history (``end``):

* ``y``: units sold that day (0 on days without a sale); returns are kept apart in the store
  and never netted here;
* ``censored``: the SKU's level at the store was zero at some point that day (from
  ``inventory.updated``), so ``y`` is a lower bound of demand, not demand — including the days
  after a level fell to zero until it was reported again, and the days since a level that is
  still zero.

:func:`store_history` reads it from the store for one store or every store of a connection
(``tillwise forecast backtest --connection/--location`` uses it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from tillwise.ports.repositories import DemandDay, StockOuts, UnitOfWorkFactory

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("unique_id", "ds", "y", "censored")


def series_id(connection_id: str, location_external_id: str, sku: str) -> str:
    return f"{connection_id}:{location_external_id}:{sku}"


def sku_of(unique_id: str) -> str:
    """The SKU of a series id (SKUs may contain ':'; connection and location ids do not)."""
    return unique_id.split(":", 2)[2]


def last_sale_day(demand: Sequence[DemandDay]) -> date | None:
    """The last day with a sale (returns are not sales: a day with only returns is not one)."""
    return max((d.day for d in demand if d.sold > 0), default=None)


def build_frame(
    connection_id: str,
    location_external_id: str,
    demand: Sequence[DemandDay],
    stock_outs: StockOuts,
    *,
    end: date | None = None,
) -> pd.DataFrame:
    """The long frame (``unique_id, ds, y, censored``), sorted by series then day. ``end``:
    the last day of history (default: the store's last day with demand); later days are
    left out."""
    import pandas as pd

    sales = [d for d in demand if d.sold > 0]  # a day with only returns starts no series
    if end is None:
        end = last_sale_day(demand)
    sold: dict[str, dict[date, float]] = {}
    for d in sales:
        if end is not None and d.day > end:
            continue
        sold.setdefault(d.sku, {})[d.day] = sold.get(d.sku, {}).get(d.day, 0.0) + float(d.sold)
    ids: list[str] = []
    days: list[date] = []
    ys: list[float] = []
    censored: list[bool] = []
    for sku in sorted(sold):
        by_day = sold[sku]
        first = min(by_day)
        assert end is not None
        zero_since = stock_outs.open_since.get(sku)
        uid = series_id(connection_id, location_external_id, sku)
        for day in _days(first, end):
            ids.append(uid)
            days.append(day)
            ys.append(by_day.get(day, 0.0))
            censored.append(
                (sku, day) in stock_outs.days or (zero_since is not None and day >= zero_since)
            )
    return pd.DataFrame(
        {
            "unique_id": pd.Series(ids, dtype="object"),
            "ds": pd.to_datetime(pd.Series(days, dtype="object")),
            "y": pd.Series(ys, dtype="float64"),
            "censored": pd.Series(censored, dtype="bool"),
        },
        columns=list(COLUMNS),
    )


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def store_history(
    uow: UnitOfWorkFactory,
    connection_id: str,
    location_external_id: str | None = None,
    *,
    end: date | None = None,
) -> pd.DataFrame:
    """The history frame of one store, or of every store of the connection with demand
    (``location_external_id`` None), read from the store in one transaction."""
    import pandas as pd

    with uow() as work:
        stores = (
            [location_external_id]
            if location_external_id is not None
            else [loc for conn, loc in work.replenishment.demand_stores() if conn == connection_id]
        )
        parts = [
            build_frame(
                connection_id,
                loc,
                work.replenishment.demand(connection_id, loc),
                work.replenishment.stock_outs(connection_id, loc),
                end=end,
            )
            for loc in stores
        ]
    if not parts:
        return build_frame(connection_id, location_external_id or "", [], StockOuts())
    return pd.concat(parts, ignore_index=True)
