"""Replenishment's closed loop on the SQL store with the simulator POS in the same process:
sales history → nightly plan → a draft purchase order in the approval queue → a store manager
approves → the simulator books it → after the vendor's lead time (on the POS's clock) the stock
arrives → the canonical level follows and the canonical purchase order is received.

The forecaster is the deterministic double of tests/replenishment.py (the mean of the
uncensored days); the loop runs both sides in one process on one wall clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from tests.helpers import body_of, signed_headers
from tests.replenishment import (
    SECRET,
    SKU,
    TILLWISE_URL,
    UK,
    Loop,
    MeanForecaster,
    daily_sales,
    person,
    simulator_loop,
)
from tillwise.api.app import create_app
from tillwise.connectors.simulator.pos import AdjustmentIn
from tillwise.connectors.simulator.purchasing import vendor_of
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.purchasing import PurchaseOrder
from tillwise.ports.forecasting import CalendarEffect
from tillwise.settings import Settings
from tillwise.workflows.replenishment.history import store_history
from tillwise.workflows.replenishment.planner import Planner

# 14 days selling 10 a day at the UK store: opening stock is half of the 140 sold (70), so the
# shelf is empty from day 7 (10:00 on 2010-12-07) on
SALES = daily_sales(14, {("United Kingdom", SKU): 10})


def test_history_plan_approve_deliver_and_the_level_follows(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_loop(sqlite_url, tmp_path))


async def _loop(sqlite_url: str, tmp_path: Path) -> None:
    async with simulator_loop(sqlite_url, tmp_path, SALES) as loop:
        await _closes(loop)


async def _closes(loop: Loop) -> None:
    container, conn, pos = loop.container, loop.conn, loop.pos
    # the history: 14 days of 10 units; the days at zero stock are censored
    frame = store_history(container.uow, conn, UK)
    assert list(frame["y"]) == [10.0] * 14
    assert list(frame["censored"]) == [False] * 6 + [True] * 8  # 12-07 .. 12-14 at 0
    # (the sale on 12-07 took the last 10 units: the level reached 0 that day)

    # when the nightly plan runs
    forecaster = MeanForecaster()
    planner = Planner(container.uow, forecaster, container.clock)
    plan, new = planner.run(conn, UK)
    assert forecaster.holidays == ["GB"]  # the store's country: its public holidays count
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

    # a regional manager approves it
    approved = await container.approvals.approve(proposal.id, person("regional_manager"))
    assert approved.status == "applied", approved.result
    assert approved.result is not None
    po_id = approved.result["reference"]
    await loop.settle()
    with container.uow() as uow:
        [order] = uow.records.find(PurchaseOrder, connection_id=conn)
    assert order.external_id == po_id and order.status == "open"
    assert order.reference == proposal.id

    # running the plan again counts the open order: nothing more is proposed
    again, new_again = planner.run(conn, UK)
    assert new_again == 0 or all(p.id == proposal.id for p in again.proposals)
    assert next(i for i in again.items if i.sku == SKU).data["on_order"] == ordered

    # when the vendor's lead time passes on the POS's clock (speed: a day per second)
    pos.speed = 86_400.0
    loop.advance(lead + 1)
    await pos.deliver_due()
    await loop.settle()

    # then the stock arrived and the canonical copy follows
    with container.uow() as uow:
        [level] = uow.records.find(InventoryLevel, connection_id=conn)
        [order] = uow.records.find(PurchaseOrder, connection_id=conn)
    assert level.on_hand == ordered
    assert order.status == "received"
    assert [(ln.sku, ln.received) for ln in order.lines] == [(SKU, ordered)]


def test_a_level_crossing_below_the_reorder_point_proposes_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_trigger(sqlite_url, tmp_path))


async def _trigger(sqlite_url: str, tmp_path: Path) -> None:
    async with simulator_loop(sqlite_url, tmp_path, SALES, pos_api=False) as loop:
        container, conn, pos = loop.container, loop.conn, loop.pos
        planner = Planner(container.uow, MeanForecaster(), container.clock)
        plan, _ = planner.run(conn, UK)
        [nightly] = plan.proposals
        await container.approvals.route_new()
        manager = person("store_manager", store=f"{conn}:{UK}", user="maria")
        container.approvals.reject(nightly.id, manager, reason="ordering by hand this week")
        rop = next(i for i in plan.items if i.sku == SKU).reorder_point

        # the shelf is refilled well above the reorder point: no crossing, nothing proposed
        pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=rop + 50), "refill")
        await loop.settle()
        assert container.approvals.list(status="new") == []

        # then sales take it to one unit below the reorder point: the trigger proposes
        pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=-51), "sold")
        await loop.settle()
        await container.approvals.route_new()
        [triggered] = container.approvals.list(status="pending")
        assert triggered.id != nightly.id
        assert triggered.proposal.inputs["run"].startswith("event:")
        [line] = triggered.proposal.payload["lines"]
        policy = line["justification"]["policy"]
        assert policy["on_hand"] == rop - 1 and line["quantity"] > 0

        # a second drop below (no new crossing) proposes nothing more
        pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=-1), "sold-2")
        await loop.settle()
        await container.approvals.route_new()
        assert len(container.approvals.list(kind="draft_purchase_order")) == 2


def test_an_order_sent_as_documents_in_a_replay_is_on_order_the_next_night(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_documents_next_night(sqlite_url, tmp_path))


async def _documents_next_night(sqlite_url: str, tmp_path: Path) -> None:
    # a POS without a purchase-order API, its sales replayed from 2010: the order goes to the
    # vendor as documents, expected on the replay's calendar
    async with simulator_loop(sqlite_url, tmp_path, SALES, pos_api=False) as loop:
        container, conn = loop.container, loop.conn
        planner = Planner(container.uow, MeanForecaster(), container.clock)
        plan, _ = planner.run(conn, UK)
        [draft] = plan.proposals
        assert plan.history_end is not None
        assert draft.payload["expected_on"] < container.clock.now().date().isoformat()
        await container.approvals.route_new()
        done = await container.approvals.approve(draft.id, person("regional_manager"))
        assert done.status == "applied", done.result
        with container.uow() as uow:
            [po] = uow.records.find(PurchaseOrder, connection_id=conn)
        assert (
            po.expected_on is not None
            and po.expected_on.isoformat() == draft.payload["expected_on"]
        )
        # then the next night counts it as on order and proposes nothing more
        loop.advance(86_400.0)
        again, new = planner.run(conn, UK)
        [item] = [i for i in again.items if i.sku == SKU]
        [line] = draft.payload["lines"]
        assert item.data["on_order"] == line["quantity"]
        assert new == 0 and again.proposals == []


def test_a_level_report_delivered_after_a_newer_one_changes_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_late_report(sqlite_url, tmp_path))


async def _late_report(sqlite_url: str, tmp_path: Path) -> None:
    async with simulator_loop(sqlite_url, tmp_path, SALES, pos_api=False) as loop:
        container, conn = loop.container, loop.conn
        plan, _ = Planner(container.uow, MeanForecaster(), container.clock).run(conn, UK)
        await container.approvals.route_new()
        for p in plan.proposals:
            container.approvals.reject(p.id, person("regional_manager"), reason="by hand")
        rop = next(i for i in plan.items if i.sku == SKU).reorder_point
        app = httpx.ASGITransport(app=create_app(container))
        async with httpx.AsyncClient(transport=app, base_url=TILLWISE_URL) as client:

            async def report(key: str, on_hand: int, version: int) -> None:
                at = datetime.fromtimestamp(int(loop.wall[0]), UTC).isoformat()
                body = body_of(
                    {
                        "event": "inventory.updated",
                        "created_at": at,
                        "data": {
                            "sku": SKU,
                            "location_id": UK,
                            "on_hand": on_hand,
                            "updated_at": at,
                            "version": version,
                        },
                    }
                )
                headers = signed_headers(body, SECRET, int(loop.wall[0]), key)
                resp = await client.post(f"/webhooks/generic/{conn}", content=body, headers=headers)
                assert resp.status_code < 300, resp.text
                await loop.settle()

            # in one second a sale (v11: rop - 6) and a delivery (v12: rop + 40), delivered
            # newest first: the store holds rop + 40, above its reorder point
            loop.advance(10)
            await report("lvl-12", rop + 40, 12)
            await report("lvl-11", rop - 6, 11)
            await container.approvals.route_new()
            # then the late, older report proposes nothing
            assert container.approvals.list(status="pending") == []
            # and a later sale below the reorder point is a crossing from the newest level
            loop.advance(10)
            await report("lvl-13", rop - 1, 13)
            await container.approvals.route_new()
            [triggered] = container.approvals.list(status="pending")
            [line] = triggered.proposal.payload["lines"]
            assert line["justification"]["policy"]["on_hand"] == rop - 1


def test_a_stopped_item_crossing_its_reorder_point_proposes_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_stopped_trigger(sqlite_url, tmp_path))


async def _stopped_trigger(sqlite_url: str, tmp_path: Path) -> None:
    async with simulator_loop(sqlite_url, tmp_path, SALES, pos_api=False) as loop:
        container, conn, pos = loop.container, loop.conn, loop.pos
        plan, _ = Planner(container.uow, MeanForecaster(), container.clock).run(conn, UK)
        await container.approvals.route_new()
        manager = person("store_manager", store=f"{conn}:{UK}", user="maria")
        for p in plan.proposals:
            container.approvals.reject(p.id, manager, reason="not this week")
        rop = next(i for i in plan.items if i.sku == SKU).reorder_point
        pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=rop + 50), "refill")
        await loop.settle()
        container.reorder_stops.stop(conn, UK, SKU, reason="discontinued", actor="user:maria")

        # stopped: the crossing proposes nothing
        pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=-51), "sold")
        await loop.settle()
        await container.approvals.route_new()
        assert container.approvals.list(status="pending") == []

        # resumed: the next crossing does
        container.reorder_stops.resume(conn, UK, SKU, actor="user:maria")
        pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=51), "refill-2")
        pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=-51), "sold-2")
        await loop.settle()
        await container.approvals.route_new()
        [triggered] = container.approvals.list(status="pending")
        assert triggered.proposal.inputs["run"].startswith("event:")


def test_the_nightly_plan_forecasts_with_the_retailers_events_for_that_store(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    asyncio.run(_events(sqlite_url, tmp_path, caplog))


async def _events(sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "ds,name,location\n"
        "2010-12-24,Late opening,\n"  # every store
        f"2010-12-27,Boxing Day sale,{UK}\n"
        "2010-12-28,Another store's sale,elsewhere\n"
    )
    async with simulator_loop(sqlite_url, tmp_path, SALES, events_file=events) as loop:
        container = loop.container
        assert container.planner().events is not None  # the production planner reads the file
        # the forecast says Christmas Day is a closed day: the line's justification names it
        christmas = CalendarEffect(date(2010, 12, 25), "Christmas Day", 0.0)
        later = CalendarEffect(date(2011, 4, 22), "Good Friday", 0.5)  # past the lead time
        forecaster = MeanForecaster(calendar=[christmas, later])
        plan, _ = Planner(
            container.uow, forecaster, container.clock, events=container.store_events
        ).run(loop.conn, UK)
        [line] = [x for p in plan.proposals for x in p.payload["lines"] if x["sku"] == SKU]
        why = line["justification"]
        assert why["forecast"]["calendar"] == [
            {"day": "2010-12-25", "name": "Christmas Day", "effect": 0.0}
        ]
        assert "includes Christmas Day on Sat 25 Dec (0.00\u00d7 a usual day)" in why["text"]
        # the item's forecast days (the dashboard's chart and table) mark the day too
        with container.uow() as uow:
            [item] = uow.replenishment.plan_items(loop.conn, UK, [SKU])
        marked = [r for r in item.data["rows"] if "event" in r]
        assert marked == [
            {**marked[0], "day": "2010-12-25", "event": {"name": "Christmas Day", "effect": 0.0}}
        ]
        assert forecaster.events == [
            {date(2010, 12, 24): "Late opening", date(2010, 12, 27): "Boxing Day sale"}
        ]
        events.write_text("ds,name\n2010-12-24,\n")  # broken: logged, the plan goes on
        with caplog.at_level(logging.ERROR):
            assert container.store_events(loop.conn, UK) == {}
        assert "events.csv: row 2, column 'name'" in caplog.text


def test_the_service_level_and_review_period_are_the_retailers_settings(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_policy(sqlite_url, tmp_path))


async def _policy(sqlite_url: str, tmp_path: Path) -> None:
    # TILLWISE_SERVICE_LEVEL=0.8, TILLWISE_REVIEW_PERIOD_DAYS=3
    async with simulator_loop(
        sqlite_url, tmp_path, SALES, service_level=0.8, review_period_days=3
    ) as loop:
        # the container's planner, with the test's forecaster (10 a day; its quantile at
        # level p is the mean x (0.5 + p))
        planner = dataclasses.replace(loop.container.planner(), forecaster=MeanForecaster())
        plan, _ = planner.run(loop.conn, UK)
        lead = vendor_of(SKU).lead_time_days
        item = next(i for i in plan.items if i.sku == SKU)
        # protection = lead + 3 review days; reorder point = ceil(10 x days x 1.3)
        assert item.reorder_point == -(-10 * (lead + 3) * 130 // 100)
        assert item.data["outlook"]["service_level"] == 0.8
    with pytest.raises(ValidationError, match="service_level"):
        Settings(service_level=1.0)  # certainty needs infinite stock
    with pytest.raises(ValidationError, match="service_level_abc"):
        Settings(service_level_abc=(0.98, 1.0, 0.9))


def test_a_service_level_per_abc_class_reaches_the_reorder_point_and_the_reasons(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_abc(sqlite_url, tmp_path))


async def _abc(sqlite_url: str, tmp_path: Path) -> None:
    # TILLWISE_SERVICE_LEVEL_ABC=[0.98,0.95,0.9]; the store sells one item: all its value, A
    levels = (0.98, 0.95, 0.9)
    async with simulator_loop(sqlite_url, tmp_path, SALES, service_level_abc=levels) as loop:
        planner = dataclasses.replace(loop.container.planner(), forecaster=MeanForecaster())
        plan, _ = planner.run(loop.conn, UK)
        lead = vendor_of(SKU).lead_time_days
        item = next(i for i in plan.items if i.sku == SKU)
        assert item.reorder_point == -(-10 * (lead + 1) * 148 // 100)  # quantile x (0.5 + 0.98)
        [line] = [x for p in plan.proposals for x in p.payload["lines"] if x["sku"] == SKU]
        assert line["justification"]["forecast"]["abc_class"] == "A"
        text = line["justification"]["text"]
        assert "to cover it 98% of the time (a class A item: among those making 80%" in text
