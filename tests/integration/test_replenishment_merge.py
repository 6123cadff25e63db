"""Merging into the open draft: a store has one purchase order per vendor in the queue, however
many times the nightly plan and the event trigger add to it.

Day 1 the plan drafts an order for SKU A (out of stock) from its vendor. Then SKU B, from the
same vendor, crosses below its reorder point: the event trigger's lines go into that draft.
Day 2 the forecast has doubled: the nightly plan raises the draft's quantities. Each merge is
audited ``proposal.merged``, the value is recomputed, and approvals start afresh. A merge
request that finds its draft already decided is discarded: a decided draft never changes.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.replenishment import (
    SKU,
    SKU_B,
    UK,
    Loop,
    MeanForecaster,
    daily_sales,
    person,
    simulator_loop,
)
from tillwise.connectors.simulator.pos import AdjustmentIn
from tillwise.domain.money import Money
from tillwise.governance.approvals import ProposalRecord
from tillwise.workflows.replenishment.planner import Planner, read_supply

DAY = 86_400.0
# A sells 10 a day (empty from day 7), B 2 a day; B is then restocked well above its need
SALES = daily_sales(14, {("United Kingdom", SKU): 10, ("United Kingdom", SKU_B): 2})
B_STOCK = 200


def _lines(record: ProposalRecord) -> dict[str, int]:
    return {ln["sku"]: ln["quantity"] for ln in record.proposal.payload["lines"]}


def _value(record: ProposalRecord) -> Money:
    """Σ quantity × unit cost, from the lines themselves."""
    payload: dict[str, Any] = record.proposal.payload
    total = sum((Decimal(ln["unit_cost"]) * ln["quantity"] for ln in payload["lines"]), Decimal(0))
    return Money.from_decimal(total, payload["currency"])


def _queue(loop: Loop) -> list[ProposalRecord]:
    return loop.container.approvals.list(
        status="pending", kind="draft_purchase_order", store=f"{loop.conn}:{UK}"
    )


def test_the_trigger_and_the_next_night_merge_into_the_open_draft(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_merges(sqlite_url, tmp_path))


async def _merges(sqlite_url: str, tmp_path: Path) -> None:
    async with simulator_loop(sqlite_url, tmp_path, SALES, pos_api=False) as loop:
        container, approvals = loop.container, loop.container.approvals
        loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU_B, delta=B_STOCK), "restock")
        await loop.settle()

        # orders above £1 need two approvers
        container.modes.set_rule(actor="t", kind="draft_purchase_order", two_approvers_above="1")

        # day 1: the plan drafts A only (B is covered); a first approver signs it
        plan, _ = Planner(container.uow, MeanForecaster(), container.clock).run(loop.conn, UK)
        [draft] = plan.proposals
        await approvals.route_new()
        day1 = await approvals.approve(draft.id, person("regional_manager", user="rita"))
        assert list(_lines(day1)) == [SKU] and day1.status == "pending"
        assert day1.required_approvals == 2 and len(day1.approvals) == 1
        b_rop = next(i for i in plan.items if i.sku == SKU_B).reorder_point

        # when B's level crosses below its reorder point, the trigger's lines go to the draft
        level = loop.pos.stock.level((UK, SKU_B)).on_hand
        loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU_B, delta=b_rop - 1 - level), "sold")
        await loop.settle()  # (the pipeline routes what the trigger proposes at once)
        await approvals.route_new()
        [request] = approvals.list(status="merged")
        assert request.proposal.inputs["merge_into"] == draft.id
        assert request.proposal.inputs["run"].startswith("event:")

        # then the queue still shows one order for the vendor and store, with both lines
        [merged] = _queue(loop)
        assert merged.id == draft.id
        lines = _lines(merged)
        assert list(lines) == [SKU, SKU_B] and lines[SKU] == _lines(day1)[SKU]
        assert lines[SKU_B] > 0
        assert (
            merged.proposal.value == _value(merged) and merged.proposal.value != day1.proposal.value
        )
        assert merged.proposal.inputs["merged"] == [request.id]
        assert merged.approvals == () and merged.required_approvals == 2  # afresh: it changed
        done = approvals.get(request.id)
        assert done.status == "merged" and done.result == {"merged_into": draft.id}
        [audit] = container.audit.list(action="proposal.merged")
        assert audit.inputs["proposal_id"] == draft.id
        assert audit.inputs["merge_request"] == request.id
        assert audit.store == f"{loop.conn}:{UK}"
        assert [ln["sku"] for ln in audit.outputs["payload"]["lines"]] == [SKU, SKU_B]

        # day 2: the forecast has doubled overnight; the nightly plan adds to the same draft
        loop.advance(DAY)
        plan2, new = Planner(container.uow, MeanForecaster(scale=2), container.clock).run(
            loop.conn, UK
        )
        assert new == 1
        [request2] = plan2.proposals
        assert request2.id != draft.id and request2.inputs["merge_into"] == draft.id
        await approvals.route_new()
        [merged2] = _queue(loop)
        assert merged2.id == draft.id
        assert _lines(merged2)[SKU] > lines[SKU]
        assert set(_lines(merged2)) == {SKU, SKU_B}
        assert merged2.proposal.value == _value(merged2)
        # and its summary speaks of the whole order its approver approves, saying what was added
        total, value = sum(_lines(merged2).values()), merged2.proposal.value
        assert value is not None
        assert merged2.proposal.summary.startswith(
            f"Order {total:,} units (2 SKUs) from Far East Homewares for "
        )
        assert f", worth {value.display()} — " in merged2.proposal.summary
        added = total - sum(lines.values())
        assert merged2.proposal.summary.endswith(f" — {added:,} units added to the draft")
        assert merged2.proposal.inputs["merged"] == [request.id, request2.id]
        assert len(container.audit.list(action="proposal.merged")) == 2

        # running day 2's plan again proposes nothing new
        _, again = Planner(container.uow, MeanForecaster(scale=2), container.clock).run(
            loop.conn, UK
        )
        assert again == 0

        # day 3: a merge request is stored, but the draft is decided before it is routed
        loop.advance(DAY)
        plan3, new3 = Planner(container.uow, MeanForecaster(scale=4), container.clock).run(
            loop.conn, UK
        )
        assert new3 == 1 and plan3.proposals[0].inputs["merge_into"] == draft.id
        manager = person("store_manager", store=f"{loop.conn}:{UK}", user="maria")
        approvals.reject(draft.id, manager, reason="the buyer orders this vendor by phone")
        await approvals.route_new()

        # then the decided draft is unchanged and the request is discarded, saying why
        rejected = approvals.get(draft.id)
        assert rejected.status == "rejected"
        assert rejected.proposal.payload == merged2.proposal.payload
        assert rejected.proposal.value == merged2.proposal.value
        late = approvals.get(plan3.proposals[0].id)
        assert late.status == "discarded"
        assert late.reason is not None and "already rejected" in late.reason
        assert len(container.audit.list(action="proposal.merged")) == 2


def test_a_crossing_while_the_plan_forecasts_is_not_ordered_again(
    sqlite_url: str, tmp_path: Path
) -> None:
    asyncio.run(_crossing_mid_plan(sqlite_url, tmp_path))


async def _crossing_mid_plan(sqlite_url: str, tmp_path: Path) -> None:
    sales = daily_sales(14, {("United Kingdom", SKU): 10, ("United Kingdom", SKU_B): 10})
    async with simulator_loop(sqlite_url, tmp_path, sales, pos_api=False) as loop:
        container, approvals = loop.container, loop.container.approvals
        loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU_B, delta=400), "restock")
        await loop.settle()
        planner = Planner(container.uow, MeanForecaster(), container.clock)
        # night 0: a stored plan gives B its reorder point; its draft is put aside
        plan0, _ = planner.run(loop.conn, UK)
        await approvals.route_new()
        for p in plan0.proposals:
            approvals.reject(p.id, person("regional_manager", user="rita"), reason="not now")
        b_rop = next(i for i in plan0.items if i.sku == SKU_B).reorder_point
        # night 1: B has sold below its reorder point; the plan reads the store and forecasts
        # (it would order B); meanwhile a delivery lifts B and a sale takes it below again:
        # the event trigger drafts B from the same vendor
        level = loop.pos.stock.level((UK, SKU_B)).on_hand
        loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU_B, delta=b_rop - 1 - level), "sold")
        await loop.settle()
        await approvals.route_new()
        for record in _queue(loop):  # (the trigger's order for that drop is put aside too)
            approvals.reject(record.id, person("regional_manager", user="rita"), reason="no")
        loop.advance(DAY)
        plan1 = planner.plan(loop.conn, UK)
        assert SKU_B in {ln["sku"] for p in plan1.proposals for ln in p.payload["lines"]}
        loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU_B, delta=100), "received")
        await loop.settle()
        loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU_B, delta=-100), "sold-again")
        await loop.settle()
        await approvals.route_new()
        [triggered] = _queue(loop)
        b_units = _lines(triggered)[SKU_B]
        # when the plan is saved, it is decided again on what is now on order: its lines go
        # to the trigger's draft, and B, which the draft covers, is not ordered a second time
        planner.save(plan1)
        await approvals.route_new()
        open_drafts = _queue(loop)
        [draft] = open_drafts
        assert draft.id == triggered.id
        assert _lines(draft)[SKU_B] == b_units and _lines(draft)[SKU] > 0
        # on the calendar of the replayed sales the forecast continues, not the machine's:
        # expected the day after the history plus the vendor's 14 days
        assert plan1.history_end is not None
        due = (plan1.history_end + timedelta(days=1 + 14)).isoformat()
        assert draft.proposal.payload["expected_on"] == due
        ordered = dict.fromkeys((SKU, SKU_B), 0)
        for record in open_drafts:
            for sku, units in _lines(record).items():
                ordered[sku] += units
        assert ordered[SKU_B] > 0
        # when the next night sees nothing changed, it orders nothing more for either item
        loop.advance(DAY)
        plan2, _new = planner.run(loop.conn, UK)
        added = {
            ln["sku"]: ln["quantity"] - ln.get("already_in_draft", 0)
            for p in plan2.proposals
            for ln in p.payload["lines"]
        }
        assert added.get(SKU_B, 0) == 0, added
        with container.uow() as uow:
            supply = read_supply(uow, loop.conn, UK, container.clock.now())
        assert supply.on_order[SKU] >= ordered[SKU] and supply.on_order[SKU_B] >= ordered[SKU_B]
