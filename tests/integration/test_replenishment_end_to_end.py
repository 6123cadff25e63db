"""Replenishment's closed loop on the SQL store with the simulator POS in the same process:
sales history → nightly plan → a draft purchase order in the approval queue → a store manager
approves → the simulator books it → after the vendor's lead time (on the POS's clock) the stock
arrives → the canonical level follows and the canonical purchase order is received.

The forecaster is a small deterministic double of the port (the production one is tested in
tests/unit/compute): each series' forecast is the mean of its uncensored days, and demand over
``d`` days at level ``a`` is ``mean * d * (0.5 + a)`` — easy to follow by hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
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
from tillwise.connectors.simulator.purchasing import vendor_of
from tillwise.connectors.simulator.replay import build_replay
from tillwise.connectors.simulator.stores import store_id
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.purchasing import PurchaseOrder
from tillwise.governance.principal import Principal, permissions_of
from tillwise.ports.forecasting import Accuracy, LeadTimeDemand
from tillwise.workflows.replenishment.history import store_history
from tillwise.workflows.replenishment.planner import Planner

SKU = "85123A"
UK = store_id("United Kingdom")
T0 = datetime(2010, 12, 1, 10, 0, tzinfo=UTC)
POS_URL = "http://pos.test"
TILLWISE_URL = "http://tillwise.test"


@dataclass
class MeanForecast:
    """The port's DemandForecast: a flat forecast at each series' uncensored mean."""

    means: dict[str, float]
    horizon: int
    start: dict[str, pd.Timestamp]
    model: str = "test-mean"
    version: str = "1"
    freq: str = "D"

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

    def lead_time_demand(self, unique_id: str, days: int, level: float) -> LeadTimeDemand:
        total = self.means[unique_id] * days
        return LeadTimeDemand(unique_id, days, total, total * (0.5 + level), level, "test")


class MeanForecaster:
    name = "test-mean"
    version = "1"

    def __init__(self) -> None:
        self.histories: list[pd.DataFrame] = []

    def fit_predict(
        self,
        history: pd.DataFrame,
        horizon: int,
        *,
        freq: str = "D",
        levels: Sequence[int] = (80, 95),
    ) -> MeanForecast:
        self.histories.append(history)
        kept = history[~history["censored"]]
        means = {str(uid): float(g["y"].mean()) for uid, g in kept.groupby("unique_id")}
        start = {str(uid): g["ds"].max() for uid, g in history.groupby("unique_id")}
        return MeanForecast({u: means.get(u, 0.0) for u in start}, horizon, start)


def _invoices(days: int, per_day: int) -> list[Invoice]:
    """One sale of ``per_day`` units of SKU at the UK store each day at 10:00."""
    return [
        Invoice(
            invoice=str(500 + d),
            invoiced_at=T0 + timedelta(days=d),
            customer_id=None,
            country="United Kingdom",
            lines=(
                InvoiceLine(SKU, "WHITE HANGING HEART T-LIGHT HOLDER", per_day, Decimal("2.55")),
            ),
        )
        for d in range(days)
    ]


def _manager(store: str) -> Principal:
    return Principal(
        kind="user",
        id="maria",
        name="Maria",
        role="store_manager",
        permissions=permissions_of("store_manager", None),
        stores=frozenset({store}),
    )


def test_history_plan_approve_deliver_and_the_level_follows(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_loop(sqlite_url, tmp_path))


async def _loop(sqlite_url: str, tmp_path: Path) -> None:
    # given the simulator POS, reachable in-process both ways
    wall = [time.time()]
    pos_box: list[SimulatorPos] = []

    def pos_app_transport() -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=_Lazy(pos_box))

    writeback = GenericWriteBack(transport=pos_app_transport())
    container: Container = build_container(
        make_settings(sqlite_url, tmp_path, replenish_hour=-1, documents_dir=tmp_path / "docs"),
        connectors={"generic": GenericConnector(writeback=writeback)},
    )
    try:
        conn = container.connections.create(
            "generic", "Simulator", ["whsec_sim"], actor="t", api_base_url=POS_URL
        )
        container.modes.set_mode("replenishment", "*", "draft", actor="t")
        app = create_app(container)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        pos = SimulatorPos(
            TILLWISE_URL, conn.id, "whsec_sim", client=client, wall_clock=lambda: wall[0]
        )
        pos_box.append(pos)
        async with pos:
            # 14 days selling 10 a day: opening stock is half of the 140 sold (70), so the
            # shelf is empty from day 7 (10:00 on 2010-12-07) on: days 7..13 are censored
            replay = build_replay(_invoices(14, 10))
            await simulate(TILLWISE_URL, conn.id, "whsec_sim", pos=pos, speed=None, events=replay)
            await pos.drain()
            await pump(container)

            # the history: 14 days of 10 units; the days at zero stock are censored
            frame = store_history(container.uow, conn.id, UK)
            assert list(frame["y"]) == [10.0] * 14
            assert list(frame["censored"]) == [False] * 6 + [True] * 8  # 12-07 .. 12-14 at 0
            # (the sale on 12-07 took the last 10 units: the level reached 0 that day)

            # when the nightly plan runs
            forecaster = MeanForecaster()
            planner = Planner(container.uow, forecaster, container.clock)
            plan, new = planner.run(conn.id, UK)
            vendor = vendor_of(SKU)
            lead = vendor.lead_time_days
            # mean of the uncensored days = 10/day; protection = lead + 1 review day;
            # reorder point = ceil(10 * (lead + 1) * 1.45)
            item = next(i for i in plan.items if i.sku == SKU)
            assert item.reorder_point == -(-10 * (lead + 1) * 145 // 100)
            assert item.data["on_hand"] == 0 and item.data["at_risk"] is True
            assert new == 1
            [proposal] = plan.proposals
            assert proposal.kind == "draft_purchase_order" and proposal.new_vendor
            [line] = proposal.payload["lines"]
            assert line["sku"] == SKU and line["quantity"] > 0
            assert line["justification"]["forecast"]["method"] == "mean of uncensored days"
            assert proposal.inputs["model"] == "test-mean"
            ordered = line["quantity"]

            # then it waits in the approval queue
            await container.approvals.route_new()
            record = container.approvals.get(proposal.id)
            assert record.status == "pending" and record.required_role == "regional_manager"
            # (a vendor never ordered from needs a regional manager by default)

            # a store manager cannot approve it alone; a regional manager can
            regional = Principal(
                kind="user",
                id="rita",
                name="Rita",
                role="regional_manager",
                permissions=permissions_of("regional_manager", None),
            )
            approved = await container.approvals.approve(proposal.id, regional)
            assert approved.status == "applied", approved.result
            assert approved.result is not None
            po_id = approved.result["reference"]
            await pos.drain()
            await pump(container)
            with container.uow() as uow:
                [order] = uow.records.find(PurchaseOrder, connection_id=conn.id)
            assert order.external_id == po_id and order.status == "open"
            assert order.reference == proposal.id

            # running the plan again counts the open order: nothing more is proposed
            again, new_again = planner.run(conn.id, UK)
            assert new_again == 0 or all(p.id == proposal.id for p in again.proposals)
            assert next(i for i in again.items if i.sku == SKU).data["on_order"] == ordered

            # when the vendor's lead time passes on the POS's clock (speed: a day per second)
            pos.speed = 86_400.0
            wall[0] += lead + 1
            await pos.deliver_due()
            await pos.drain()
            await pump(container)

            # then the stock arrived and the canonical copy follows
            with container.uow() as uow:
                [level] = uow.records.find(InventoryLevel, connection_id=conn.id)
                [order] = uow.records.find(PurchaseOrder, connection_id=conn.id)
            assert level.on_hand == ordered
            assert order.status == "received"
            assert [(ln.sku, ln.received) for ln in order.lines] == [(SKU, ordered)]
    finally:
        await container.close()


class _Lazy:
    """The POS's ASGI app, looked up when first called (the POS is made after the container)."""

    def __init__(self, box: list[SimulatorPos]) -> None:
        self._box = box

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._box[0].app(scope, receive, send)


def test_a_level_crossing_below_the_reorder_point_proposes_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_trigger(sqlite_url, tmp_path))


async def _trigger(sqlite_url: str, tmp_path: Path) -> None:
    from tillwise.connectors.simulator.pos import AdjustmentIn

    container = build_container(
        make_settings(sqlite_url, tmp_path, replenish_hour=-1, documents_dir=tmp_path / "docs")
    )
    try:
        conn = container.connections.create("generic", "Simulator", ["whsec_sim"], actor="t")
        container.modes.set_mode("replenishment", "*", "draft", actor="t")
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(container)))
        pos = SimulatorPos(TILLWISE_URL, conn.id, "whsec_sim", client=client)
        async with pos:
            await simulate(
                TILLWISE_URL,
                conn.id,
                "whsec_sim",
                pos=pos,
                speed=None,
                events=build_replay(_invoices(14, 10)),
            )
            await pos.drain()
            await pump(container)
            planner = Planner(container.uow, MeanForecaster(), container.clock)
            plan, _ = planner.run(conn.id, UK)
            [nightly] = plan.proposals
            await container.approvals.route_new()
            manager = _manager(f"{conn.id}:{UK}")
            container.approvals.reject(nightly.id, manager, reason="ordering by hand this week")
            rop = next(i for i in plan.items if i.sku == SKU).reorder_point

            # the shelf is refilled well above the reorder point: no crossing, nothing proposed
            pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=rop + 50), "refill")
            await pos.drain()
            await pump(container)
            assert container.approvals.list(status="new") == []

            # then sales take it to one unit below the reorder point: the trigger proposes
            pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=-51), "sold")
            await pos.drain()
            await pump(container)
            await container.approvals.route_new()
            [triggered] = container.approvals.list(status="pending")
            assert triggered.id != nightly.id
            assert triggered.proposal.inputs["run"].startswith("event:")
            [line] = triggered.proposal.payload["lines"]
            policy = line["justification"]["policy"]
            assert policy["on_hand"] == rop - 1 and line["quantity"] > 0

            # a second drop below (no new crossing) proposes nothing more
            pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=-1), "sold-2")
            await pos.drain()
            await pump(container)
            await container.approvals.route_new()
            assert len(container.approvals.list(kind="draft_purchase_order")) == 2
    finally:
        await container.close()
