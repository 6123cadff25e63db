"""What a plan counts as on order and committed, on the real repositories and planner — the
cases where a store would otherwise be ordered for twice, or give away stock it no longer has.

Stores A, B and C of one connection sell SKU X (10, 10 and 1 a day over 28 days; the
deterministic forecaster of tests/replenishment.py plans by the mean), bought from vendor V
(7-day lead time, $2.00 a unit). With a nightly review the protection period is 8 days: A's
reorder point ``s`` is ceil(10 × 8 × 1.45) = 116 and its order-up-to ``S`` 116 + 70 = 186;
C's ``s`` is ceil(1 × 8 × 1.45) = 12 and ``S`` 12 + 7 = 19.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tests.replenishment import MeanForecaster
from tillwise.connectors._po_documents import PurchaseOrderDocuments
from tillwise.domain.catalog import Vendor, VendorItem
from tillwise.domain.ids import SourceRef
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location
from tillwise.domain.money import Money
from tillwise.domain.purchasing import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus
from tillwise.ports.repositories import DemandContribution, DemandLine
from tillwise.ports.writeback import WriteTarget
from tillwise.store.engine import make_engine, make_session_factory
from tillwise.store.tables_governance import proposals
from tillwise.store.unit_of_work import SqlUnitOfWorkFactory
from tillwise.workflows.replenishment.planner import Plan, Planner, read_supply

CONN = "c1"
NOW = datetime(2024, 3, 15, 3, 0, tzinfo=UTC)
SALES_END = date(2024, 3, 14)


class Clock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


def _ref(external_id: str) -> SourceRef:
    return SourceRef(platform="generic", connection_id=CONN, external_id=external_id)


class Chain:
    """A connection's stores on a fresh database, and its planner on any night."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.uow = SqlUnitOfWorkFactory(make_session_factory(self.engine))

    def store(self, loc: str, sold_a_day: int, *, currency: str | None = "USD") -> None:
        with self.uow() as w:
            w.records.upsert(
                Location(source=_ref(loc), name=f"Store {loc}", time_zone="UTC", currency=currency)
            )
            for back in range(28):
                day = SALES_END - timedelta(days=back)
                w.replenishment.set_demand(
                    f"{loc}-X-{day}",
                    DemandContribution(CONN, loc, day, (DemandLine("X", Decimal(sold_a_day)),)),
                )

    def vendor(self, cost: str | None = "2.00", currency: str = "USD", **kw: Any) -> None:
        unit_cost = None if cost is None else Money.from_decimal(cost, currency)
        with self.uow() as w:
            w.records.upsert(
                Vendor(
                    source=_ref("V"),
                    name="Vendor V",
                    lead_time_days=7,
                    items=(VendorItem(sku="X", unit_cost=unit_cost),),
                    **kw,
                )
            )

    def level(self, loc: str, on_hand: int, at: datetime = NOW, **kw: Any) -> None:
        with self.uow() as w:
            w.records.upsert(
                InventoryLevel(
                    source=_ref(f"{loc}/X"),
                    sku="X",
                    location_external_id=loc,
                    on_hand=Decimal(on_hand),
                    as_of=at,
                    source_updated_at=at,
                    **{k: Decimal(v) for k, v in kw.items()},
                )
            )

    def order(self, po: PurchaseOrder) -> None:
        with self.uow() as w:
            w.records.upsert(po)

    def planner(self, now: datetime = NOW) -> Planner:
        return Planner(self.uow, MeanForecaster(), Clock(now))

    def written(self, proposal_id: str, result: dict[str, Any]) -> None:
        """The order approved and written to the POS, as governance records it."""
        with self.engine.begin() as db:
            db.execute(
                update(proposals)
                .where(proposals.c.id == proposal_id)
                .values(status="applied", result=result, updated_at=NOW)
            )

    def on_order(self, loc: str, now: datetime = NOW) -> int:
        with self.uow() as w:
            return read_supply(w, CONN, loc, now).on_order.get("X", 0)


@pytest.fixture
def chain(sqlite_url: str) -> Chain:
    return Chain(sqlite_url)


def _order(plan: Plan) -> tuple[str, int]:
    [proposal] = [p for p in plan.proposals if p.kind == "draft_purchase_order"]
    [line] = proposal.payload["lines"]
    return proposal.id, int(line["quantity"])


def _pos_draft(external_id: str, quantity: int) -> PurchaseOrder:
    """A purchase order the POS reports as its draft, for store A from vendor V."""
    return PurchaseOrder(
        source=_ref(external_id),
        vendor_external_id="V",
        location_external_id="A",
        status=PurchaseOrderStatus.DRAFT,
        currency="USD",
        lines=(PurchaseOrderLine(sku="X", quantity=Decimal(quantity)),),
    )


def _moved(plans: list[Plan], giver: str) -> int:
    return sum(t.quantity for p in plans for t in p.transfers if t.from_location == giver)


def test_stock_promised_to_one_store_is_not_promised_to_another(chain: Chain) -> None:
    for loc, sold in (("A", 10), ("B", 10), ("C", 1)):
        chain.store(loc, sold)
    chain.vendor()
    chain.level("A", 5)
    chain.level("B", 200)
    chain.level("C", 300)  # 300 weeks of cover: 300 - S 19 = 281 over
    night = chain.planner()
    night.run(CONN, "C")
    plan_a, _ = night.run(CONN, "A")
    [to_a] = plan_a.transfers
    assert (to_a.from_location, to_a.quantity) == ("C", 186 - 5)  # A's need: S - IP
    with chain.uow() as w:  # C counts what it was asked to send, though filed under A
        assert read_supply(w, CONN, "C", NOW).committed == {"X": 181}

    # the next night B has sold out; the transfer to A still waits for a person
    chain.level("B", 0, at=NOW + timedelta(days=1))
    plan_b, _ = chain.planner(NOW + timedelta(days=1)).run(CONN, "B")
    # C has 300 - 181 = 119 free, of which it keeps S = 19: 100 for B (which buys the rest)
    assert [(t.from_location, t.quantity) for t in plan_b.transfers] == [("C", 100)]
    assert _moved([plan_a, plan_b], "C") == 281
    plan_c = chain.planner(NOW + timedelta(days=1)).plan(CONN, "C")
    assert plan_c.items[0].data["committed"] == 281 and plan_c.items[0].data["excess"] == 0


def test_a_transfer_in_stays_under_the_receivers_shelf_limit(chain: Chain) -> None:
    chain.store("A", 10)
    chain.store("C", 1)
    chain.vendor()
    chain.level("A", 5, max_stock=60)
    chain.level("C", 300)
    night = chain.planner()
    night.run(CONN, "C")
    plan_a, _ = night.run(CONN, "A")
    # A needs S - IP = 181, but its shelf holds 60: 55 more fit, and nothing is bought
    assert [(t.from_location, t.quantity) for t in plan_a.transfers] == [("C", 55)]
    assert plan_a.orders == []


def test_an_order_the_pos_keeps_as_its_draft_is_still_on_order(chain: Chain) -> None:
    chain.store("A", 10)
    chain.vendor()
    chain.level("A", 5)
    pid, quantity = _order(chain.planner().run(CONN, "A")[0])
    chain.written(pid, {"reference": "PO-77"})
    # Lightspeed reports the order it was given back as a draft of its own (a consignment still
    # OPEN, an R-Series order not yet marked ordered)
    chain.order(_pos_draft("PO-77", quantity))
    tomorrow = NOW + timedelta(days=1)
    assert chain.on_order("A", tomorrow) == quantity
    plan, new = chain.planner(tomorrow).run(CONN, "A")
    assert (plan.proposals, new) == ([], 0)
    # a draft a person started at the POS, not sent to the vendor, is not on order
    chain.order(_pos_draft("PO-78", 500))
    assert chain.on_order("A", tomorrow) == quantity


def test_an_order_sent_as_a_document_counts_until_a_week_past_its_expected_day(
    chain: Chain, tmp_path: Path
) -> None:
    chain.store("A", 10)
    chain.vendor()
    chain.level("A", 5)
    plan, _ = chain.planner().run(CONN, "A")
    pid, quantity = _order(plan)
    [proposal] = [p for p in plan.proposals if p.id == pid]

    async def record(po: PurchaseOrder) -> None:
        chain.order(po)

    # a POS without a purchase-order API (Shopify): the order goes to the vendor as a document
    documents = PurchaseOrderDocuments(tmp_path, record=record)
    target = WriteTarget(CONN, "shopify", None)
    result = asyncio.run(documents.apply(target, proposal, idempotency_key="k1"))
    chain.written(pid, {"reference": result.reference, "details": result.details})
    expected = date.fromisoformat(proposal.payload["expected_on"])  # 7 days on
    assert expected == NOW.date() + timedelta(days=7)

    def day(n: int) -> datetime:
        return datetime.combine(expected + timedelta(days=n), NOW.timetz())

    assert chain.on_order("A") == chain.on_order("A", day(7)) == quantity
    # a week after it was due the POS's level has long shown the delivery: not counted twice
    assert chain.on_order("A", day(8)) == 0
    chain.level("A", 40, at=day(8))  # sold down again: ordered again
    again = chain.planner(day(8)).plan(CONN, "A")
    [item] = again.items  # (its 15 days without a sale since have lowered the forecast)
    assert item.data["on_order"] == 0
    assert item.data["decision"]["quantity"] == item.order_up_to - 40


def test_stock_the_pos_holds_for_customer_orders_is_committed(chain: Chain) -> None:
    chain.store("A", 10)
    chain.vendor()
    # 150 on the shelf, all of it held for customers' unfulfilled orders (Shopify's committed)
    chain.level("A", 150, available=0)
    plan = chain.planner().plan(CONN, "A")
    item = plan.items[0]
    assert (item.data["on_hand"], item.data["committed"]) == (150, 150)
    assert item.data["decision"]["quantity"] == 186  # S - IP = 186 - (150 - 150)
    chain.level("A", 150, available=140)  # 10 held: IP 140 covers s = 116
    assert chain.planner().plan(CONN, "A").items[0].data["decision"]["rule"] == "covered"


@pytest.mark.parametrize(
    ("store_currency", "cost_currency", "value"),
    [
        (None, "GBP", Money.from_decimal("362.00", "GBP")),  # the POS names no currency
        ("USD", "GBP", None),  # a cost in another currency than the store's: left out
    ],
)
def test_a_store_is_planned_in_the_currency_its_costs_are_in(
    chain: Chain,
    store_currency: str | None,
    cost_currency: str,
    value: Money | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chain.store("A", 10, currency=store_currency)
    chain.vendor(currency=cost_currency, min_order_value=Money.from_decimal("50", cost_currency))
    chain.level("A", 5)
    plan = chain.planner().plan(CONN, "A")
    [order] = plan.orders
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("X", 186 - 5)]
    assert order.value() == value
    warned = [r.message for r in caplog.records if "in GBP, the store orders in USD" in r.message]
    assert bool(warned) is (value is None)
