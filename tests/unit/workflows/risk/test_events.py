"""from_canonical: canonical records and events → RiskEvents, in the store's local time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tillwise.domain.events import Envelope
from tillwise.domain.ids import SourceRef
from tillwise.domain.locations import Location
from tillwise.domain.money import Money
from tillwise.domain.sales import (
    Discount,
    Refund,
    RefundLine,
    Tender,
    TenderType,
    Transaction,
    TransactionLine,
    TransactionStatus,
)
from tillwise.domain.till import TillEvent
from tillwise.workflows.risk import from_canonical

AT = datetime(2024, 7, 1, 22, 30, tzinfo=UTC)  # 23:30 in London (BST)
LONDON = Location(
    source=SourceRef(platform="generic", connection_id="c1", external_id="loc-1"),
    name="Shop",
    time_zone="Europe/London",
    currency="GBP",
)


def ref(external_id: str) -> SourceRef:
    return SourceRef(platform="generic", connection_id="c1", external_id=external_id)


def env(type_: str, data: dict | None = None) -> Envelope:  # noqa: UP006
    return Envelope(
        id="e1",
        source="/x",
        type=type_,
        time=AT,
        data=data or {},
        platform="generic",
        connectionid="c1",
    )


def gbp(pence: int) -> Money:
    return Money(amount=pence, currency="GBP")


def test_a_sale_with_an_override_a_discount_and_tenders() -> None:
    txn = Transaction(
        source=ref("S-1"),
        location_external_id="loc-1",
        employee_external_id="emp-1",
        register_external_id="reg-2",
        customer_external_id="cust-1",
        occurred_at=AT,
        currency="GBP",
        lines=(
            TransactionLine(
                sku="A", quantity=Decimal(2), unit_price=gbp(500), original_unit_price=gbp(800)
            ),
            TransactionLine(
                sku="B",
                quantity=Decimal(1),
                unit_price=gbp(300),
                discounts=(Discount(amount=gbp(50)),),
            ),
        ),
        discounts=(Discount(amount=gbp(100)),),
        tenders=(
            Tender(
                type=TenderType.CARD, amount=gbp(1150), card_fingerprint="fp1", entry_method="keyed"
            ),
        ),
        total=gbp(1150),
    )
    e = from_canonical(env("sale.completed"), txn, LONDON)
    assert e is not None
    assert (e.id, e.kind, e.store) == ("S-1", "sale", "c1:loc-1")
    assert (e.local_hour, e.local_day, e.local_weekday) == (23, date(2024, 7, 1), 0)
    assert e.amount == 1150 and e.discount == 150 and e.override_count == 1
    assert (e.employee_id, e.register_id, e.customer_id) == ("emp-1", "reg-2", "cust-1")
    assert e.tenders[0].fingerprint == "fp1" and e.tenders[0].entry_method == "keyed"


def test_a_refund_names_its_receipt_and_tenders() -> None:
    refund = Refund(
        source=ref("R-1"),
        transaction_external_id="S-1",
        location_external_id="loc-1",
        employee_external_id="emp-2",
        occurred_at=AT,
        currency="GBP",
        lines=(RefundLine(sku="A", quantity=Decimal(2), amount=gbp(1000)),),
        total=gbp(1000),
        tenders=(Tender(type=TenderType.CASH, amount=gbp(1000)),),
    )
    e = from_canonical(env("refund.created"), refund, None)
    assert e is not None
    assert (e.kind, e.receipt_id, e.amount, e.local_hour) == ("refund", "S-1", 1000, 22)
    assert e.tenders[0].type == "cash" and e.lines[0].unit_price == 500


def test_till_events_and_a_bare_void() -> None:
    no_sale = TillEvent(
        source=ref("N-1"),
        event="no_sale",
        location_external_id="loc-1",
        employee_external_id="emp-3",
        register_external_id="reg-1",
        occurred_at=AT,
    )
    e = from_canonical(env("drawer.opened"), no_sale, LONDON)
    assert e is not None and (e.kind, e.amount, e.currency) == ("no_sale", 0, "GBP")
    override = TillEvent(
        source=ref("O-1"),
        event="price_override",
        location_external_id="loc-1",
        occurred_at=AT,
        sku="A",
        original_price=gbp(800),
        new_price=gbp(500),
        transaction_external_id="S-1",
    )
    o = from_canonical(env("price.overridden"), override, LONDON)
    assert o is not None
    assert (o.kind, o.override_count, o.discount, o.receipt_id) == ("price_override", 1, 300, "S-1")
    void = from_canonical(
        env(
            "sale.voided",
            {
                "external_id": "S-1",
                "location_external_id": "loc-1",
                "employee_external_id": "e",
                "register_external_id": "r",
                "voided_at": "2024-07-01T22:40:00Z",
                "after_tender": True,
            },
        ),
        None,
        LONDON,
    )
    assert void is not None
    assert (void.kind, void.id, void.after_tender, void.amount) == ("void", "S-1", True, 0)
    assert void.occurred_at == datetime(2024, 7, 1, 22, 40, tzinfo=UTC)


def test_a_sale_cancelled_by_its_status_is_not_a_till_void() -> None:
    # Shopify, Square and R-Series report a cancelled order by its status: no void time, no
    # till facts — it withdraws the sale from demand and the report, it is not an employee's void
    cancelled = Transaction(
        source=ref("S-9"),
        location_external_id="loc-1",
        employee_external_id="emp-1",
        occurred_at=AT,
        status=TransactionStatus.VOIDED,
        currency="GBP",
        total=gbp(500),
    )
    assert from_canonical(env("sale.voided", {"external_id": "S-9"}), cancelled, LONDON) is None
    at_the_till = cancelled.model_copy(update={"voided_at": AT})
    void = from_canonical(env("sale.voided", {"external_id": "S-9"}), at_the_till, LONDON)
    assert void is not None and void.kind == "void" and void.employee_id == "emp-1"


def test_other_events_are_not_scored() -> None:
    assert from_canonical(env("location.updated"), LONDON, LONDON) is None
