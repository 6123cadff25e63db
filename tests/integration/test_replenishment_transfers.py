"""A transfer between two stores, from the plan to the shelves: the UK store runs out while the
French store sits on months of the same SKU; the plan proposes moving stock before buying; a
regional manager approves; the simulator POS ships it (``POST /transfers``): the French level
falls at once, the UK level rises after the transit time on the POS's clock, and Tillwise's
canonical levels follow. A POS without the transfer route gets two stock adjustments instead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.replenishment import (
    FRANCE,
    SKU,
    UK,
    Loop,
    MeanForecaster,
    daily_sales,
    person,
    simulator_loop,
)
from tillwise.connectors.simulator.pos import AdjustmentIn
from tillwise.connectors.simulator.stores import store_id
from tillwise.connectors.simulator.transfers import TRANSIT_DAYS
from tillwise.domain.catalog import Variant
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.purchasing import PurchaseOrder
from tillwise.workflows.replenishment.planner import Planner
from tillwise.workflows.replenishment.schedule import run_due

# UK sells 10 a day and is empty from day 7; France sells 1 a day (opening 7, 0 left)
SALES = daily_sales(14, {("United Kingdom", SKU): 10, ("France", SKU): 1})
SURPLUS = 500  # then France receives a big delivery: months of cover


def _levels(loop: Loop) -> dict[str, int]:
    with loop.container.uow() as uow:
        found = uow.records.find(InventoryLevel, connection_id=loop.conn)
    return {lv.location_external_id: int(lv.on_hand) for lv in found if lv.sku == SKU}


async def _planned_transfer(loop: Loop) -> tuple[str, int]:
    """France's surplus, both stores planned (France first: its plan is the giver's facts);
    returns the transfer proposal routed into the queue and its quantity."""
    loop.pos.adjust(AdjustmentIn(location_id=FRANCE, sku=SKU, delta=SURPLUS), "delivery")
    await loop.settle()
    planner = Planner(loop.container.uow, MeanForecaster(), loop.container.clock)
    planner.run(loop.conn, FRANCE)
    plan, _ = planner.run(loop.conn, UK)
    [transfer] = plan.transfers
    assert (transfer.from_location, transfer.to_location) == (FRANCE, UK)
    [proposal] = [p for p in plan.proposals if p.kind == "transfer"]
    assert proposal.payload["quantity"] == transfer.quantity > 0
    # titled with the item's and the stores' names, as the approver knows them
    with loop.container.uow() as uow:
        giver, taker = (uow.records.location(loop.conn, s) for s in (FRANCE, UK))
        variants = uow.records.find(Variant, connection_id=loop.conn)
    [item] = [v.name for v in variants if v.sku == SKU]
    assert giver is not None and taker is not None
    assert proposal.summary == (
        f"Move {transfer.quantity} units of {item} ({SKU}) from {giver.name} to {taker.name}"
    )
    # named in the payload too, for a receiving store's manager who cannot see the giver
    assert (proposal.payload["from_name"], proposal.payload["to_name"]) == (giver.name, taker.name)
    assert proposal.explanation.startswith(proposal.summary + ".")
    await loop.container.approvals.route_new()
    assert loop.container.approvals.get(proposal.id).status == "pending"
    return proposal.id, transfer.quantity


def test_an_approved_transfer_ships_at_once_and_arrives_after_transit(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_ships(sqlite_url, tmp_path))


async def _ships(sqlite_url: str, tmp_path: Path) -> None:
    async with simulator_loop(sqlite_url, tmp_path, SALES) as loop:
        pid, quantity = await _planned_transfer(loop)
        before = _levels(loop)
        assert before == {UK: 0, FRANCE: SURPLUS}

        # when a regional manager approves it
        record = await loop.container.approvals.approve(pid, person("regional_manager"))
        await loop.settle()

        # then the POS took it out of France at once; the UK has nothing yet (in transit)
        assert record.status == "applied", record.result
        assert record.result is not None
        details = record.result["details"]
        assert details["via"] == "transfer" and details["moved"] == quantity
        assert details["status"] == "in_transit" and details["expected_at"]
        assert _levels(loop) == {UK: 0, FRANCE: SURPLUS - quantity}

        # a retry of the same write (the sweep after a crash) moves nothing more
        await loop.container.approvals.write_approved()
        assert loop.pos.stock.level((FRANCE, SKU)).on_hand == SURPLUS - quantity

        # not yet there half way through the transit time
        loop.pos.speed = 86_400.0  # a simulated day per wall-clock second
        loop.advance(TRANSIT_DAYS / 2)
        await loop.pos.deliver_due()
        await loop.settle()
        assert _levels(loop)[UK] == 0

        # when the transit time has passed on the POS's clock, the UK's level rises
        loop.advance(TRANSIT_DAYS)
        assert await loop.pos.deliver_due() == 1
        await loop.settle()
        assert _levels(loop) == {UK: quantity, FRANCE: SURPLUS - quantity}


def test_a_store_that_stopped_reordering_an_item_gets_no_transfer_of_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        async with simulator_loop(sqlite_url, tmp_path, SALES, pos_api=False) as loop:
            c = loop.container
            loop.pos.adjust(AdjustmentIn(location_id=FRANCE, sku=SKU, delta=SURPLUS), "delivery")
            await loop.settle()
            planner = Planner(c.uow, MeanForecaster(), c.clock)
            planner.run(loop.conn, FRANCE)
            assert planner.plan(loop.conn, UK).transfers  # France's surplus would move
            c.reorder_stops.stop(loop.conn, UK, SKU, reason="range ends", actor="user:rita")
            plan = planner.plan(loop.conn, UK)
            assert plan.transfers == [] and plan.proposals == []

    asyncio.run(go())


def test_a_pos_without_the_transfer_route_gets_two_adjustments(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_adjusts(sqlite_url, tmp_path))


async def _adjusts(sqlite_url: str, tmp_path: Path) -> None:
    async with simulator_loop(sqlite_url, tmp_path, SALES) as loop:
        # a POS that predates POST /transfers: the route is not there (404)
        loop.pos.app.router.routes = [
            r for r in loop.pos.app.router.routes if getattr(r, "path", "") != "/transfers"
        ]
        pid, quantity = await _planned_transfer(loop)

        record = await loop.container.approvals.approve(pid, person("regional_manager"))
        await loop.settle()

        # then it was done as two adjustments, keyed on the proposal: out of France, into
        # the UK at once (no transit)
        assert record.status == "applied", record.result
        assert record.result is not None
        details = record.result["details"]
        assert details["via"] == "adjustments" and details["moved"] == quantity
        assert (details["out"]["delta"], details["in"]["delta"]) == (-quantity, quantity)
        assert _levels(loop) == {UK: quantity, FRANCE: SURPLUS - quantity}


def test_the_event_trigger_moves_surplus_from_another_store_before_buying(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_trigger_moves(sqlite_url, tmp_path))


async def _trigger_moves(sqlite_url: str, tmp_path: Path) -> None:
    async with simulator_loop(sqlite_url, tmp_path, SALES, pos_api=False) as loop:
        container = loop.container
        loop.pos.adjust(AdjustmentIn(location_id=FRANCE, sku=SKU, delta=SURPLUS), "delivery")
        await loop.settle()
        planner = Planner(container.uow, MeanForecaster(), container.clock)
        planner.run(loop.conn, FRANCE)
        rop = next(i for i in planner.plan(loop.conn, UK).items if i.sku == SKU).reorder_point
        # given the UK is refilled above its reorder point and its nightly plan is stored
        loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=rop + 50), "refill")
        await loop.settle()
        plan, _ = planner.run(loop.conn, UK)
        assert plan.proposals == []
        # when a sale takes the UK below its reorder point
        loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=-51), "sold")
        await loop.settle()
        await container.approvals.route_new()
        # then the trigger proposes moving France's surplus, and buys nothing France can cover
        queued = container.approvals.list(status="pending")
        assert [r.proposal.kind for r in queued] == ["transfer"], [
            (r.proposal.kind, r.proposal.summary) for r in queued
        ]
        [move] = queued
        assert move.proposal.inputs["run"].startswith("event:")
        assert move.proposal.payload["from_location"] == FRANCE
        assert move.proposal.payload["to_location"] == UK
        assert move.proposal.payload["quantity"] > 0
        # and the next night, with the transfer in play, neither is proposed again
        loop.advance(86_400.0)
        again, _ = planner.run(loop.conn, UK)
        assert again.proposals == []


def test_a_store_with_a_delivery_on_its_way_does_not_take_the_surplus_it_no_longer_needs(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_delivery_on_its_way(sqlite_url, tmp_path))


async def _delivery_on_its_way(sqlite_url: str, tmp_path: Path) -> None:
    germany = store_id("Germany")
    sales = daily_sales(14, {("United Kingdom", SKU): 10, ("Germany", SKU): 10, ("France", SKU): 1})
    async with simulator_loop(sqlite_url, tmp_path, sales) as loop:
        container = loop.container
        planner = Planner(container.uow, MeanForecaster(), container.clock)
        # given Germany ran out too, but has ordered from its vendor: the POS has the order open
        germany_plan, _ = planner.run(loop.conn, germany)
        [order] = [p for p in germany_plan.proposals if p.kind == "draft_purchase_order"]
        await container.approvals.route_new()
        placed = await container.approvals.approve(order.id, person("regional_manager"))
        await loop.settle()
        assert placed.status == "applied", placed.result
        with container.uow() as uow:
            [po] = uow.records.find(PurchaseOrder, connection_id=loop.conn)
        assert po.location_external_id == germany and po.status == "open"
        # and France holds just enough spare stock for the UK's need
        planner.run(loop.conn, germany)
        uk = planner.plan(loop.conn, UK)
        [uk_item] = [i for i in uk.items if i.sku == SKU]
        need = uk_item.order_up_to - int(uk_item.data["on_order"]) - int(uk_item.data["on_hand"])
        loop.pos.adjust(AdjustmentIn(location_id=FRANCE, sku=SKU, delta=need + 40), "delivery")
        await loop.settle()
        france, _ = planner.run(loop.conn, FRANCE)
        [france_item] = [i for i in france.items if i.sku == SKU]
        spare = int(france_item.data["excess"])
        assert need <= spare < 2 * need
        # then the UK's plan moves its whole need from France: Germany, whose delivery is on
        # its way, is not counted as a store still short of it
        plan = planner.plan(loop.conn, UK)
        assert [(t.from_location, t.quantity) for t in plan.transfers] == [(FRANCE, need)]


def test_the_first_nights_batch_moves_stock_from_a_store_planned_after_the_one_short_of_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    """No store has a plan yet. France, planned first, is out of the item; the UK, planned
    after it, holds months of it. France's plan moves the UK's spare stock rather than buying,
    as it does on every later night."""

    async def go() -> None:
        async with simulator_loop(sqlite_url, tmp_path, SALES, pos_api=False) as loop:
            c = loop.container
            loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=SURPLUS), "delivery")
            await loop.settle()
            planner = Planner(c.uow, MeanForecaster(), c.clock)
            assert await run_due(planner) == 2
            with c.uow() as uow:
                moves = uow.proposals.in_play(loop.conn, None, kinds=("transfer",))
                orders = uow.proposals.in_play(loop.conn, FRANCE, kinds=("purchase_order",))
            [move] = [m.proposal.payload for m in moves]
            assert (move["from_location"], move["to_location"]) == (UK, FRANCE)
            assert move["sku"] == SKU and move["quantity"] > 0
            # what the UK can spare is not bought for France as well
            lines = [ln for o in orders for ln in o.proposal.payload["lines"]]
            assert not [ln for ln in lines if ln["sku"] == SKU]

    asyncio.run(go())
