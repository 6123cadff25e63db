"""Replenishment's test doubles and the simulator loop they run in.

The forecaster is a small deterministic double of the port (the production one is tested in
tests/unit/compute): each series' forecast is the mean of its uncensored days (times
``scale``), and demand over ``d`` days at level ``a`` is ``mean * d * (0.5 + a)`` — easy to
follow by hand.

:func:`simulator_loop` runs Tillwise (SQLite) and the simulator POS in one process, reachable
both ways, with one wall clock (``loop.wall[0]``, seconds) for both sides, Tillwise's clock
included: moving it moves everything (signatures stay valid).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from tests.helpers import make_settings, pump
from tillwise.api.app import create_app
from tillwise.bootstrap import Container, build_container
from tillwise.connectors.generic import GenericConnector, GenericWriteBack
from tillwise.connectors.simulator import SimulatorPos, simulate
from tillwise.connectors.simulator.dataset import Invoice, InvoiceLine
from tillwise.connectors.simulator.replay import build_replay
from tillwise.connectors.simulator.stores import store_id
from tillwise.governance.principal import Principal, permissions_of
from tillwise.ports.forecasting import Accuracy, CalendarEffect, LeadTimeDemand

SKU = "85123A"  # WHITE HANGING HEART T-LIGHT HOLDER, vendor ven-06 (14 days)
SKU_B = "85099B"  # JUMBO BAG RED RETROSPOT: the same vendor
NAMES = {SKU: "WHITE HANGING HEART T-LIGHT HOLDER", SKU_B: "JUMBO BAG RED RETROSPOT"}
PRICES = {SKU: Decimal("2.55"), SKU_B: Decimal("1.95")}
UK = store_id("United Kingdom")
FRANCE = store_id("France")
T0 = datetime(2010, 12, 1, 10, 0, tzinfo=UTC)
POS_URL = "http://pos.test"
TILLWISE_URL = "http://tillwise.test"
SECRET = "whsec_sim"


@dataclass
class MeanForecast:
    """The port's DemandForecast: a flat forecast at each series' uncensored mean."""

    means: dict[str, float]
    horizon: int
    start: dict[str, pd.Timestamp]
    model: str = "test-mean"
    version: str = "1"
    freq: str = "D"
    calendar: list[CalendarEffect] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        rows = []
        for uid, mean in self.means.items():
            for step in range(1, self.horizon + 1):
                rows.append(
                    {
                        "unique_id": uid,
                        "ds": self.start[uid] + pd.Timedelta(days=step),
                        "mean": mean,
                        "lo-80": mean * 0.6,
                        "hi-80": mean * 1.4,
                        "lo-95": mean * 0.5,
                        "hi-95": mean * 1.5,
                    }
                )
        return pd.DataFrame(rows)

    def accuracy(self, unique_id: str) -> Accuracy | None:
        return Accuracy("mean", 1, 0.9, 0.8, 0.5, 0.0, 0.8, 0.95)

    def method(self, unique_id: str) -> str:
        return "mean of uncensored days"

    def summary(self, unique_id: str) -> str:
        return "the mean of the days it was in stock"

    def lead_time_demand(self, unique_id: str, days: int, level: float) -> LeadTimeDemand:
        total = self.means[unique_id] * days
        return LeadTimeDemand(unique_id, days, total, total * (0.5 + level), level, "test")

    def calendar_effects(self) -> list[CalendarEffect]:
        return self.calendar

    def observed_periods(self, unique_id: str) -> int:
        return 1 if self.means.get(unique_id) else 0


class MeanForecaster:
    name = "test-mean"
    version = "1"

    def __init__(self, scale: float = 1.0, calendar: Sequence[CalendarEffect] = ()) -> None:
        self.scale = scale
        self.calendar = list(calendar)
        self.histories: list[pd.DataFrame] = []
        self.holidays: list[object] = []
        self.events: list[object] = []

    def fit_predict(
        self,
        history: pd.DataFrame,
        horizon: int,
        *,
        freq: str = "D",
        levels: Sequence[int] = (80, 95),
        holidays: object = None,
        events: object = None,
    ) -> MeanForecast:
        self.histories.append(history)
        self.holidays.append(holidays)
        self.events.append(events)
        kept = history[~history["censored"]]
        means = {
            str(uid): float(g["y"].mean()) * self.scale for uid, g in kept.groupby("unique_id")
        }
        start = {str(uid): g["ds"].max() for uid, g in history.groupby("unique_id")}
        return MeanForecast(
            {u: means.get(u, 0.0) for u in start}, horizon, start, calendar=self.calendar
        )


def daily_sales(days: int, per_day: Mapping[tuple[str, str], int]) -> list[Invoice]:
    """One invoice a day at 10:00 per country, selling ``per_day[(country, sku)]`` units."""
    countries = sorted({country for country, _ in per_day})
    out = []
    for d in range(days):
        for n, country in enumerate(countries):
            lines = tuple(
                InvoiceLine(sku, NAMES.get(sku, sku), quantity, PRICES.get(sku, Decimal("1.00")))
                for (c, sku), quantity in sorted(per_day.items())
                if c == country
            )
            out.append(
                Invoice(
                    invoice=str(500_000 + d * 10 + n),
                    invoiced_at=T0 + timedelta(days=d),
                    customer_id=None,
                    country=country,
                    lines=lines,
                )
            )
    return out


def person(role: str, *, store: str | None = None, user: str | None = None) -> Principal:
    return Principal(
        kind="user",
        id=user or role,
        name=(user or role).title(),
        role=role,
        permissions=permissions_of(role, None),
        stores=None if store is None else frozenset({store}),
    )


class WallClock:
    """Tillwise's clock on the loop's wall clock."""

    def __init__(self, wall: list[float]) -> None:
        self._wall = wall

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._wall[0], UTC)


class _Lazy:
    """The POS's ASGI app, looked up when first called (the POS is made after the container)."""

    def __init__(self, box: list[SimulatorPos]) -> None:
        self._box = box

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._box[0].app(scope, receive, send)


@dataclass
class Loop:
    container: Container
    conn: str
    pos: SimulatorPos
    wall: list[float] = field(default_factory=list)

    async def settle(self) -> None:
        """Let the POS's reports arrive and the pipeline handle them."""
        await self.pos.drain()
        await pump(self.container)

    def advance(self, seconds: float) -> None:
        self.wall[0] += seconds


@asynccontextmanager
async def simulator_loop(
    sqlite_url: str,
    tmp_path: Path,
    invoices: Sequence[Invoice],
    *,
    pos_api: bool = True,
    **settings: Any,
) -> AsyncIterator[Loop]:
    """Tillwise with a generic connection to a live simulator POS that has replayed
    ``invoices`` (replenishment in draft mode everywhere). ``pos_api=False``: the connection
    has no API base URL (a POS that only sends webhooks)."""
    import time

    wall = [time.time()]
    pos_box: list[SimulatorPos] = []
    writeback = GenericWriteBack(
        transport=httpx.ASGITransport(app=_Lazy(pos_box)), wall_clock=lambda: wall[0]
    )
    container = build_container(
        make_settings(
            sqlite_url,
            tmp_path,
            replenish_hour=-1,
            documents_dir=tmp_path / "docs",
            **settings,
        ),
        clock=WallClock(wall),
        connectors={"generic": GenericConnector(writeback=writeback)},
    )
    try:
        conn = container.connections.create(
            "generic",
            "Simulator",
            [SECRET],
            actor="t",
            **({"api_base_url": POS_URL} if pos_api else {}),
        )
        container.modes.set_mode("replenishment", "*", "draft", actor="t")
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(container)))
        pos = SimulatorPos(TILLWISE_URL, conn.id, SECRET, client=client, wall_clock=lambda: wall[0])
        pos_box.append(pos)
        async with pos:
            await simulate(
                TILLWISE_URL, conn.id, SECRET, pos=pos, speed=None, events=build_replay(invoices)
            )
            loop = Loop(container, conn.id, pos, wall)
            await loop.settle()
            yield loop
    finally:
        await container.close()
