"""The replenishment workflow on the event stream: keeps demand history current and reorders
when a level crosses below its reorder point.

* ``sale.completed`` / ``refund.created``: the record's units per SKU become its contribution
  to the store's daily demand on its local day (sales and returns apart); a re-delivered or
  corrected record replaces its contribution, a voided sale withdraws it.
* ``inventory.updated``: the level is recorded for the stock-out history (a day on which it was
  zero is censored demand). Then the **event trigger**: when the level falls from at or above
  the SKU's reorder point (the store's latest plan) to below it, the stored plan's outlook and
  terms are decided again against the current position (on hand now, on order, pending drafts)
  — no forecasting in the handler — and, as in the nightly plan, a transfer is proposed first
  from another store with excess cover of the SKU, then a quantity to order for what is still
  short, merged into the store's open draft for the vendor when there is one. The proposal id
  is keyed on the event, so a redelivered event proposes once. A level already below the
  reorder point, a report older than one already seen, or a SKU without a plan proposes
  nothing (the nightly batch covers it).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tillwise.domain.events import Envelope, EventType
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.proposals import Proposal, ProposalKind
from tillwise.domain.sales import Refund, Transaction, TransactionStatus
from tillwise.ports.repositories import (
    DemandContribution,
    DemandLine,
    StockObservation,
    StockOuts,
)
from tillwise.workflows.base import WorkflowContext

from .orders import draft_orders
from .planner import (
    VERSION,
    WORKFLOW,
    StoreInputs,
    all_records,
    instant,
    order_proposal,
    other_stores,
    outlook_from,
    planned_line,
    planning_day,
    position_of,
    read_supply,
    terms_from,
    transfer_proposal,
    transfers_in,
    transfers_in_play,
    vendor_info,
    vendor_with_terms,
    with_incoming,
)
from .policy import decide


def local_day(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(time_zone))


class Replenishment:
    name = WORKFLOW
    version = VERSION
    subscribes_to = frozenset(
        {
            EventType.SALE_COMPLETED.value,
            EventType.SALE_VOIDED.value,
            EventType.REFUND_CREATED.value,
            EventType.INVENTORY_UPDATED.value,
        }
    )
    proposes = frozenset({ProposalKind.DRAFT_PURCHASE_ORDER.value, ProposalKind.TRANSFER.value})

    def handle(self, event: Envelope, ctx: WorkflowContext) -> list[Proposal]:
        if event.subject is None:
            return []
        if event.type == EventType.INVENTORY_UPDATED:
            return self._level(event, ctx)
        if event.type == EventType.SALE_VOIDED:  # with its contents or bare: never demand
            ctx.uow.replenishment.set_demand(event.subject, None)
            return []
        self._demand(event, ctx)
        return []

    # -- demand history ----------------------------------------------------------------------

    def _demand(self, event: Envelope, ctx: WorkflowContext) -> None:
        assert event.subject is not None
        uow = ctx.uow
        record: Transaction | Refund | None
        if event.type == EventType.SALE_COMPLETED:
            record = uow.records.get(Transaction, event.subject)
        else:
            record = uow.records.get(Refund, event.subject)
        if record is None or record.location_external_id is None:
            return
        location = uow.records.location(event.connectionid, record.location_external_id)
        zone = location.time_zone if location is not None else "UTC"
        units: dict[str, Decimal] = defaultdict(Decimal)
        for line in record.lines:
            if line.sku and line.quantity > 0:
                units[line.sku] += line.quantity
        contribution = None
        if units and not (
            isinstance(record, Transaction) and record.status is TransactionStatus.VOIDED
        ):
            returned = isinstance(record, Refund)
            contribution = DemandContribution(
                connection_id=event.connectionid,
                location_external_id=record.location_external_id,
                day=local_day(record.occurred_at, zone).date(),
                lines=tuple(
                    DemandLine(sku=sku, returned=q) if returned else DemandLine(sku=sku, sold=q)
                    for sku, q in sorted(units.items())
                ),
            )
        uow.replenishment.set_demand(record.id, contribution)

    # -- stock-outs and the event trigger -----------------------------------------------------

    def _level(self, event: Envelope, ctx: WorkflowContext) -> list[Proposal]:
        assert event.subject is not None
        uow = ctx.uow
        data = event.data
        try:
            sku = str(data["sku"])
            location_id = str(data["location_external_id"])
            on_hand = Decimal(str(data["on_hand"]))
            available = None if data.get("available") is None else Decimal(str(data["available"]))
        except (KeyError, ArithmeticError, ValueError) as exc:
            raise ValueError(f"inventory.updated event {event.id} has malformed data") from exc
        # how fresh the POS says the level is (events from before they said so: their time)
        as_of = instant(data.get("as_of")) or event.time
        if as_of is None:  # the level's own time, read only when the event has none
            level = uow.records.get(InventoryLevel, event.subject)
            as_of = level.as_of if level is not None else ctx.clock.now()
        as_of = as_of.astimezone(UTC)
        version = data.get("version")
        location = uow.records.location(event.connectionid, location_id)
        zone = location.time_zone if location is not None else "UTC"
        seen = uow.replenishment.observe_stock(
            StockObservation(
                connection_id=event.connectionid,
                location_external_id=location_id,
                sku=sku,
                on_hand=on_hand,
                as_of=as_of,
                day=local_day(as_of, zone).date(),
                version=version if isinstance(version, int) else None,
            )
        )
        if not seen.fresh:
            return []
        items = uow.replenishment.plan_items(event.connectionid, location_id, [sku])
        item = items[0] if items else None
        if item is None or on_hand >= item.reorder_point:
            return []
        if seen.previous is not None and seen.previous < item.reorder_point:
            return []  # already below: not a crossing (the nightly plan handles it)
        if sku in uow.replenishment.reorder_stops(event.connectionid, location_id):
            return []  # a person stopped reordering it here
        outlook, terms = outlook_from(item), terms_from(item)
        if outlook is None or terms is None:
            return []
        vendor = (
            None
            if terms.vendor_external_id is None
            else vendor_with_terms(uow, event.connectionid, terms.vendor_external_id)
        )
        now = ctx.clock.now()
        moves = transfers_in_play(uow, event.connectionid, now)
        others = other_stores(
            uow,
            event.connectionid,
            location_id,
            all_records(uow, InventoryLevel, event.connectionid, sku=sku),
            moves,
            now,
            [sku],
        )
        name = str(item.data.get("name") or sku)
        inputs = StoreInputs(
            connection_id=event.connectionid,
            location_external_id=location_id,
            location=location,
            demand=[],
            stock_outs=StockOuts(),
            levels={},
            names={sku: name},
            vendors={} if vendor is None else {vendor.external_id: vendor},
            variant_vendor={},
            supply=read_supply(uow, event.connectionid, location_id, now, moves),
            others=others.stock,
            others_supply=others.supply,
            store_names=others.names,
        )
        forecast = dict(item.data.get("forecast") or {})
        position = position_of(
            sku, on_hand, available, inputs.supply, None if vendor is None else vendor.external_id
        )
        # as the nightly plan does: first what a store with excess cover can send, then buy
        transfers = transfers_in(inputs, {sku: (position, outlook, terms, vendor, forecast)})
        run_key = f"event:{event.id}"
        proposals = [
            transfer_proposal(inputs, t, run_key=run_key, created_at=now) for t in transfers
        ]
        position = with_incoming(position, sum(t.quantity for t in transfers))
        decision = decide(position, outlook, terms)
        if vendor is None or decision.quantity <= 0:
            return proposals
        line = planned_line(
            sku,
            name,
            decision,
            outlook,
            terms,
            position,
            {**forecast, "trigger": f"inventory.updated {event.id}"},
            location_id,
        )
        info = vendor_info(vendor, terms.lead_time_days, inputs.currency)
        existing = {v: p for v, (_id, p) in inputs.supply.drafts.items() if v == vendor.external_id}
        today = planning_day(uow, event.connectionid, location_id, now)
        orders = draft_orders(
            [line],
            {vendor.external_id: info},
            currency=inputs.currency,
            today=today,
            existing=existing,
            location_external_id=location_id,
        )
        return proposals + [
            order_proposal(
                inputs,
                order,
                run_key=run_key,
                created_at=now,
                model=str(forecast.get("model") or ""),
            )
            for order in orders
            if order.held is None and order.units() > 0
        ]
