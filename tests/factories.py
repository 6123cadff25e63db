"""Canonical records for tests: one valid record of any kind, with only what a test cares about."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from tillwise.domain.catalog import Product, Variant, Vendor
from tillwise.domain.customers import Customer
from tillwise.domain.events import Envelope, connection_source
from tillwise.domain.ids import SourceRecord, SourceRef
from tillwise.domain.inventory import InventoryLevel, InventoryMovement, MovementReason
from tillwise.domain.locations import Location
from tillwise.domain.money import Money
from tillwise.domain.purchasing import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus
from tillwise.domain.sales import (
    EntryMethod,
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
    RefundLine,
    Transaction,
    TransactionLine,
    reconcile_total,
)
from tillwise.domain.staff import Employee, Shift
from tillwise.domain.till import TillEvent

R = TypeVar("R", bound=SourceRecord)

PLATFORM = "generic"
CONNECTION = "conn_1"
AT = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


def usd(amount: int) -> Money:
    return Money(amount=amount, currency="USD")


def _sale() -> dict[str, Any]:
    """The blueprint's reference sale: 29.99 × 1 + 9.99 × 2, reported as 49.87 USD."""
    return {
        "location_external_id": "loc_xyz789",
        "customer_external_id": "cust_456def",
        "occurred_at": AT,
        "currency": "USD",
        "lines": (
            TransactionLine(
                sku="MENS-TSHIRT-BLUE-L",
                name="Men's T-Shirt",
                quantity=Decimal(1),
                unit_price=Money.from_decimal("29.99", "USD"),
            ),
            TransactionLine(
                sku="SOCKS-ANKLE-BLACK",
                name="Ankle Socks",
                quantity=Decimal(2),
                unit_price=Money.from_decimal("9.99", "USD"),
            ),
        ),
        "total": usd(4987),
    }


def reference_sale(external_id: str = "txn_abc123", **fields: Any) -> Transaction:
    """The reference sale with its reconciliation issue (the total is 10 cents short)."""
    txn = make(Transaction, external_id, **fields)
    return txn.model_copy(update={"issues": reconcile_total(txn)})


# The fields each kind needs besides its source, with values worth round-tripping
# (Decimals with trailing zeros, Money, nested models, dates).
_REQUIRED: dict[type[SourceRecord], Callable[[], dict[str, Any]]] = {
    Location: lambda: {
        "name": "Main Street",
        "time_zone": "America/New_York",
        "country_code": "US",
        "currency": "USD",
    },
    Product: lambda: {"name": "Men's T-Shirt", "variants": (make(Variant, "var_nested"),)},
    Variant: lambda: {
        "sku": "MENS-TSHIRT-BLUE-L",
        "name": "Blue L",
        "gtin": "036000291452",
        "price": usd(2999),
        "product_external_id": "prod_1",
    },
    Vendor: lambda: {"name": "Acme Apparel", "email": "orders@acme.example", "lead_time_days": 7},
    Customer: lambda: {"email": "ada@example.com", "first_name": "Ada", "accepts_marketing": True},
    Transaction: _sale,
    Refund: lambda: {
        "transaction_external_id": "txn_abc123",
        "location_external_id": "loc_xyz789",
        "occurred_at": AT,
        "currency": "USD",
        "total": usd(999),
        "lines": (RefundLine(sku="SOCKS-ANKLE-BLACK", quantity=Decimal("1"), amount=usd(999)),),
    },
    Payment: lambda: {
        "transaction_external_id": "txn_abc123",
        "location_external_id": "loc_xyz789",
        "device_external_id": "reg_1",
        "occurred_at": AT,
        "status": PaymentStatus.COMPLETED,
        "payment_kind": PaymentKind.SALE,
        "currency": "USD",
        "amount": usd(4987),
        "tip": usd(0),
        "processing_fee": usd(175),
        "card_brand": "VISA",
        "card_last4": "4242",
        "entry_method": EntryMethod.TAPPED,
    },
    InventoryLevel: lambda: {
        "sku": "SOCKS-ANKLE-BLACK",
        "location_external_id": "loc_xyz789",
        "on_hand": Decimal("12.500"),
        "available": Decimal("10"),
        "as_of": AT,
    },
    InventoryMovement: lambda: {
        "sku": "SOCKS-ANKLE-BLACK",
        "location_external_id": "loc_xyz789",
        "delta": Decimal("-2"),
        "reason": MovementReason.SALE,
        "occurred_at": AT,
    },
    PurchaseOrder: lambda: {
        "vendor_external_id": "vend_1",
        "status": PurchaseOrderStatus.OPEN,
        "currency": "KWD",
        "lines": (
            PurchaseOrderLine(
                sku="SOCKS-ANKLE-BLACK",
                quantity=Decimal("24"),
                unit_cost=Money.from_decimal("0.125", "KWD"),
            ),
        ),
        "expected_on": date(2024, 2, 1),
    },
    Employee: lambda: {
        "first_name": "Grace",
        "role": "associate",
        "location_external_ids": ("loc_xyz789",),
    },
    Shift: lambda: {
        "employee_external_id": "emp_1",
        "location_external_id": "loc_xyz789",
        "starts_at": AT,
        "ends_at": datetime(2024, 1, 15, 22, 0, tzinfo=UTC),
    },
    TillEvent: lambda: {
        "event": "price_override",
        "location_external_id": "loc_xyz789",
        "employee_external_id": "emp_1",
        "register_external_id": "reg_1",
        "occurred_at": AT,
        "sku": "SOCKS-ANKLE-BLACK",
        "original_price": usd(999),
        "new_price": usd(499),
        "reason": "damaged",
    },
}
RECORD_TYPES: tuple[type[SourceRecord], ...] = tuple(_REQUIRED)


def make(
    record_type: type[R],
    external_id: str = "ext_1",
    *,
    connection_id: str = CONNECTION,
    version: int | None = None,
    updated_at: datetime | None = None,
    **fields: Any,
) -> R:
    """A valid ``record_type`` from ``connection_id`` with the given freshness and fields."""
    values = {**_REQUIRED[record_type](), **fields}
    return record_type(
        source=SourceRef(platform=PLATFORM, connection_id=connection_id, external_id=external_id),
        source_version=version,
        source_updated_at=updated_at,
        **values,
    )


def envelope(
    event_id: str = "evt_1",
    *,
    type: str = "sale.completed",
    connection_id: str = CONNECTION,
    time: datetime = AT,
    **data: Any,
) -> Envelope:
    return Envelope(
        id=event_id,
        source=connection_source(PLATFORM, connection_id),
        type=type,
        time=time,
        subject=f"subject_{event_id}",
        data=data,
        platform=PLATFORM,
        connectionid=connection_id,
    )
