"""Generic payload → canonical records + one canonical event. Pure: no I/O, no clock.

* Every record carries ``SourceRef(platform="generic", connection_id=<delivery's>, external_id)``.
* ``source_updated_at`` is ``data.updated_at`` when sent, else the delivery's ``created_at``;
  ``source_version`` is ``data.version``.
* Sales keep the reported total and the lines as sent; disagreements are recorded as
  :class:`~tillwise.domain.sales.ReconciliationIssue` (never "fixed").
* ``inventory.counted`` (a physical cycle count) changes no record: the count is a fact about
  the shelf, not the book. Its event's subject is the canonical id of the level counted (the id
  the ``inventory.updated`` level for that SKU and location has), and its data carries the count.
* ``sale.voided`` with the sale's contents becomes the voided sale's record (status voided);
  without them, only the event (subject: the sale's canonical id, data: the void's facts).
  ``drawer.opened`` and ``price.overridden`` become till events
  (:class:`~tillwise.domain.till.TillEvent`).
* ``payment.updated`` (one payment attempt, declined ones included) becomes a
  :class:`~tillwise.domain.sales.Payment` (``sale_id`` → ``transaction_external_id``,
  ``register_id`` → ``device_external_id``; ``occurred_at`` is when the attempt was made).
* One :class:`~tillwise.domain.events.Envelope` per delivery, with a deterministic id derived
  from (platform, connection, delivery event id), so a re-normalized delivery yields the same
  event.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tillwise.connectors._normalizing import level_summary, payment_summary
from tillwise.domain.catalog import Product, Variant, Vendor, VendorItem
from tillwise.domain.customers import Customer
from tillwise.domain.errors import DomainError
from tillwise.domain.events import Envelope, EventType, connection_source
from tillwise.domain.ids import SourceRecord, SourceRef
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location
from tillwise.domain.money import Money, sum_money
from tillwise.domain.normalized import CanonicalRecord, NormalizedBatch
from tillwise.domain.purchasing import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus
from tillwise.domain.sales import (
    Discount,
    EntryMethod,
    IssueCode,
    Payment,
    PaymentStatus,
    ReconciliationIssue,
    Refund,
    RefundLine,
    Tax,
    Tender,
    TenderType,
    Transaction,
    TransactionLine,
    TransactionStatus,
    reconcile_total,
)
from tillwise.domain.staff import Employee
from tillwise.domain.till import TillEvent
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import PayloadError

from .payloads import (
    CountData,
    CustomerData,
    DiscountIn,
    DrawerOpenedData,
    EmployeeData,
    GenericEvent,
    InventoryData,
    LocationData,
    PaymentData,
    PriceOverriddenData,
    ProductData,
    PurchaseOrderData,
    RefundData,
    SaleData,
    SaleLineIn,
    TaxIn,
    TenderIn,
    VendorData,
    VoidData,
    parse_body,
)

PLATFORM = "generic"

# Envelope ids: uuid5(EVENT_NAMESPACE, "<platform>\x1f<connection_id>\x1f<delivery event id>")
EVENT_NAMESPACE = uuid.UUID("3d0f6c8e-52a1-4b7e-8f0c-9a4e1c2b7d55")

EVENT_TYPES: dict[GenericEvent, EventType] = {
    GenericEvent.SALE_COMPLETED: EventType.SALE_COMPLETED,
    GenericEvent.SALE_REFUNDED: EventType.REFUND_CREATED,
    GenericEvent.REFUND_CREATED: EventType.REFUND_CREATED,
    GenericEvent.INVENTORY_UPDATED: EventType.INVENTORY_UPDATED,
    GenericEvent.INVENTORY_COUNTED: EventType.INVENTORY_COUNTED,
    GenericEvent.CUSTOMER_CREATED: EventType.CUSTOMER_CREATED,
    GenericEvent.CUSTOMER_UPDATED: EventType.CUSTOMER_UPDATED,
    GenericEvent.PRODUCT_CREATED: EventType.PRODUCT_CREATED,
    GenericEvent.PRODUCT_UPDATED: EventType.PRODUCT_UPDATED,
    GenericEvent.LOCATION_UPDATED: EventType.LOCATION_UPDATED,
    GenericEvent.VENDOR_UPDATED: EventType.VENDOR_UPDATED,
    GenericEvent.PURCHASE_ORDER_UPDATED: EventType.PURCHASE_ORDER_UPDATED,
    GenericEvent.EMPLOYEE_UPDATED: EventType.EMPLOYEE_UPDATED,
    GenericEvent.SALE_VOIDED: EventType.SALE_VOIDED,
    GenericEvent.DRAWER_OPENED: EventType.DRAWER_OPENED,
    GenericEvent.PRICE_OVERRIDDEN: EventType.PRICE_OVERRIDDEN,
    GenericEvent.PAYMENT_UPDATED: EventType.PAYMENT_UPDATED,
}


def envelope_id(platform: str, connection_id: str, event_id: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{platform}\x1f{connection_id}\x1f{event_id}"))


def iso_utc(value: datetime) -> str:
    """``2024-01-15T14:30:00Z``: UTC, with a Z."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Context:
    def __init__(self, connection_id: str, created_at: datetime) -> None:
        self.connection_id = connection_id
        self.created_at = created_at.astimezone(UTC)

    def ref(self, external_id: str) -> SourceRef:
        return SourceRef(
            platform=PLATFORM, connection_id=self.connection_id, external_id=external_id
        )

    def updated_at(self, updated_at: datetime | None) -> datetime:
        return (updated_at or self.created_at).astimezone(UTC)


def _discount(d: DiscountIn) -> Discount:
    return Discount(name=d.name, amount=d.amount.to_money())


def _tax(t: TaxIn) -> Tax:
    return Tax(name=t.name, amount=t.amount.to_money(), rate=t.rate, included=t.included)


def _tender(t: TenderIn) -> Tender:
    return Tender(
        type=TenderType(t.type.value),
        amount=t.amount.to_money(),
        card_last4=t.last4,
        card_fingerprint=t.card_fingerprint,
        entry_method=None if t.entry_method is None else EntryMethod(t.entry_method.value).value,
    )


def _line(line: SaleLineIn, cur: str) -> TransactionLine:
    original = line.original_unit_price
    return TransactionLine(
        sku=line.sku,
        name=line.name,
        quantity=line.quantity,
        unit_price=Money.from_decimal(line.price, cur),
        discounts=tuple(_discount(x) for x in line.discounts),
        taxes=tuple(_tax(x) for x in line.taxes),
        original_unit_price=None if original is None else Money.from_decimal(original, cur),
    )


def _sale(d: SaleData | VoidData, ctx: _Context) -> Transaction:
    if d.total_money is None:  # pragma: no cover - callers check
        raise TypeError("a sale record needs total_money")
    cur = d.total_money.currency
    voided = isinstance(d, VoidData)
    occurred_at = ctx.created_at
    if isinstance(d, VoidData):
        occurred_at = (d.occurred_at or d.voided_at).astimezone(UTC)
    txn = Transaction(
        source=ctx.ref(d.id),
        source_updated_at=ctx.updated_at(d.updated_at),
        source_version=d.version,
        location_external_id=d.location_id,
        customer_external_id=d.customer_id,
        employee_external_id=d.employee_id,
        occurred_at=occurred_at,
        status=TransactionStatus.VOIDED if voided else TransactionStatus.COMPLETED,
        currency=cur,
        lines=tuple(_line(line, cur) for line in d.line_items),
        discounts=tuple(_discount(x) for x in d.discounts),
        taxes=tuple(_tax(x) for x in d.taxes),
        tenders=tuple(_tender(x) for x in d.tenders),
        total=d.total_money.to_money(),
        register_external_id=d.register_id,
        voided_at=d.voided_at.astimezone(UTC) if isinstance(d, VoidData) else None,
        voided_after_tender=d.after_tender if isinstance(d, VoidData) else False,
    )
    return txn.model_copy(update={"issues": reconcile_total(txn)})


def sale_id(connection_id: str, external_id: str) -> str:
    """The canonical id of the sale ``external_id`` on a connection (a bare void's subject)."""
    ref = SourceRef(platform=PLATFORM, connection_id=connection_id, external_id=external_id)
    return ref.canonical_id(Transaction.model_fields["kind"].default)


def _void_summary(d: VoidData, connection_id: str) -> dict[str, Any]:
    """A bare ``sale.voided`` event's ``data`` (no record: the sale's contents were not sent)."""
    return {
        "kind": "transaction",
        "id": sale_id(connection_id, d.id),
        "external_id": d.id,
        "location_external_id": d.location_id,
        "employee_external_id": d.employee_id,
        "register_external_id": d.register_id,
        "voided_at": iso_utc(d.voided_at),
        "after_tender": d.after_tender,
    }


def _till_event(
    d: DrawerOpenedData | PriceOverriddenData, ctx: _Context, currency: str | None
) -> TillEvent:
    if isinstance(d, DrawerOpenedData):
        return TillEvent(
            source=ctx.ref(d.id),
            source_updated_at=ctx.created_at,
            event="no_sale",
            location_external_id=d.location_id,
            employee_external_id=d.employee_id,
            register_external_id=d.register_id,
            occurred_at=d.opened_at.astimezone(UTC),
            reason=d.reason,
        )
    cur = d.currency or currency
    if cur is None:
        raise PayloadError(
            "data.currency: required (the connection has no currency)", field="data.currency"
        )
    return TillEvent(
        source=ctx.ref(d.id),
        source_updated_at=ctx.created_at,
        event="price_override",
        location_external_id=d.location_id,
        employee_external_id=d.employee_id,
        register_external_id=d.register_id,
        occurred_at=d.overridden_at.astimezone(UTC),
        transaction_external_id=d.sale_id,
        sku=d.sku,
        original_price=_price(d.original_price, cur, "data.original_price"),
        new_price=_price(d.new_price, cur, "data.new_price"),
        reason=d.reason,
    )


def _payment(d: PaymentData, ctx: _Context) -> Payment:
    return Payment(
        source=ctx.ref(d.id),
        source_updated_at=ctx.updated_at(d.updated_at),
        source_version=d.version,
        transaction_external_id=d.sale_id,
        location_external_id=d.location_id,
        employee_external_id=d.employee_id,
        device_external_id=d.register_id,
        occurred_at=d.occurred_at.astimezone(UTC),
        status=PaymentStatus(d.status.value),
        currency=d.amount.currency,
        amount=d.amount.to_money(),
        tender_type=TenderType(d.tender_type.value),
        card_brand=d.card_brand,
        card_last4=d.last4,
        card_fingerprint=d.card_fingerprint,
        entry_method=None if d.entry_method is None else EntryMethod(d.entry_method.value),
    )


def _price(value: Decimal, currency: str, path: str) -> Money:
    try:
        return Money.from_decimal(value, currency)
    except DomainError as exc:
        raise PayloadError(f"{path}: {exc}", field=path) from exc


def _employee(d: EmployeeData, ctx: _Context) -> Employee:
    return Employee(
        source=ctx.ref(d.id),
        source_updated_at=ctx.updated_at(d.updated_at),
        source_version=d.version,
        first_name=d.first_name,
        last_name=d.last_name,
        email=d.email,
        role=d.role,
        active=d.active,
        location_external_ids=tuple(d.location_ids),
    )


def _refund(d: RefundData, ctx: _Context) -> Refund:
    cur = d.total_money.currency
    lines = tuple(
        RefundLine(
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            amount=Money.from_decimal(line.price, cur).times(line.quantity),
            restock=line.restock,
        )
        for line in d.line_items
    )
    total = d.total_money.to_money()
    issues: tuple[ReconciliationIssue, ...] = ()
    if lines:
        computed = sum_money([line.amount for line in lines], cur)
        if computed != total:
            diff = total - computed
            issues = (
                ReconciliationIssue(
                    code=IssueCode.TOTAL_MISMATCH,
                    detail=(
                        f"reported refund total {total} differs from the lines' total "
                        f"{computed} by {diff}"
                    ),
                    difference=diff,
                ),
            )
    return Refund(
        source=ctx.ref(d.id),
        source_updated_at=ctx.updated_at(d.updated_at),
        source_version=d.version,
        transaction_external_id=d.receipt_id,
        location_external_id=d.location_id,
        customer_external_id=d.customer_id,
        employee_external_id=d.employee_id,
        occurred_at=ctx.created_at,
        currency=cur,
        lines=lines,
        total=total,
        reason=d.reason,
        issues=issues,
        register_external_id=d.register_id,
        tenders=tuple(_tender(x) for x in d.tenders),
    )


def _inventory(d: InventoryData, ctx: _Context) -> InventoryLevel:
    as_of = ctx.updated_at(d.updated_at)
    return InventoryLevel(
        source=ctx.ref(d.id),
        source_updated_at=as_of,
        source_version=d.version,
        sku=d.sku,
        location_external_id=d.location_id,
        on_hand=d.on_hand,
        available=d.available,
        as_of=as_of,
        max_stock=d.max_stock,
    )


def level_id(connection_id: str, location_id: str, sku: str) -> str:
    """The canonical id of the inventory level of ``sku`` at ``location_id`` on a connection:
    the id an ``inventory.updated`` delivery for them gives its :class:`InventoryLevel`."""
    ref = SourceRef(
        platform=PLATFORM, connection_id=connection_id, external_id=f"{location_id}:{sku}"
    )
    return ref.canonical_id(InventoryLevel.model_fields["kind"].default)


def _count_summary(d: CountData) -> dict[str, Any]:
    """The ``inventory.counted`` event's ``data``: the count itself (no record is written)."""
    return {
        "sku": d.sku,
        "location_external_id": d.location_id,
        "counted": str(d.counted),
        "counted_at": iso_utc(d.counted_at),
        "count_id": d.count_id,
    }


def _customer(d: CustomerData, ctx: _Context) -> Customer:
    return Customer(
        source=ctx.ref(d.id),
        source_updated_at=ctx.updated_at(d.updated_at),
        source_version=d.version,
        email=d.email,
        phone=d.phone,
        first_name=d.first_name,
        last_name=d.last_name,
        country_code=d.country_code,
        accepts_marketing=d.accepts_marketing,
    )


def _product(d: ProductData, ctx: _Context) -> tuple[Product, tuple[Variant, ...]]:
    updated = ctx.updated_at(d.updated_at)
    variants = tuple(
        Variant(
            source=ctx.ref(v.id or f"{d.id}:{v.sku}"),
            source_updated_at=updated,
            source_version=d.version,
            product_external_id=d.id,
            sku=v.sku,
            name=v.name or d.name,
            gtin=v.gtin,
            price=(
                Money.from_decimal(v.price, d.currency)
                if v.price is not None and d.currency is not None
                else None
            ),
            vendor_external_id=d.vendor_id,
        )
        for v in d.variant_list()
    )
    product = Product(
        source=ctx.ref(d.id),
        source_updated_at=updated,
        source_version=d.version,
        name=d.name,
        vendor_external_id=d.vendor_id,
        variants=variants,
    )
    return product, variants


def _location(d: LocationData, ctx: _Context) -> Location:
    return Location(
        source=ctx.ref(d.id),
        source_updated_at=ctx.updated_at(d.updated_at),
        source_version=d.version,
        name=d.name,
        time_zone=d.time_zone,
        country_code=d.country_code,
        currency=d.currency,
    )


def _vendor(d: VendorData, ctx: _Context) -> Vendor:
    cur = d.currency
    return Vendor(
        source=ctx.ref(d.id),
        source_updated_at=ctx.updated_at(d.updated_at),
        source_version=d.version,
        name=d.name,
        email=d.email,
        lead_time_days=d.lead_time_days,
        min_order_value=None if d.min_order_value is None else d.min_order_value.to_money(),
        items=tuple(
            VendorItem(
                sku=item.sku,
                unit_cost=(
                    Money.from_decimal(item.unit_cost, cur)
                    if item.unit_cost is not None and cur is not None
                    else None
                ),
                case_pack=item.case_pack,
                moq=item.moq,
                vendor_sku=item.vendor_sku,
            )
            for item in d.items
        ),
    )


def _purchase_order(d: PurchaseOrderData, ctx: _Context) -> PurchaseOrder:
    return PurchaseOrder(
        source=ctx.ref(d.id),
        source_updated_at=ctx.updated_at(d.updated_at),
        source_version=d.version,
        vendor_external_id=d.vendor_id,
        location_external_id=d.location_id,
        status=PurchaseOrderStatus(d.status.value),
        currency=d.currency,
        lines=tuple(
            PurchaseOrderLine(
                sku=line.sku,
                quantity=line.quantity,
                received=line.received,
                unit_cost=(
                    None
                    if line.unit_cost is None
                    else Money.from_decimal(line.unit_cost, d.currency)
                ),
            )
            for line in d.lines
        ),
        expected_on=d.expected_on,
        reference=d.reference,
    )


def _summary(record: SourceRecord) -> dict[str, Any]:
    """The envelope's ``data``: small, JSON-ready, enough to route without a lookup."""
    out: dict[str, Any] = {
        "kind": record.kind,
        "id": record.id,
        "external_id": record.external_id,
    }
    if isinstance(record, Transaction | Refund):
        out["location_external_id"] = record.location_external_id
        out["occurred_at"] = iso_utc(record.occurred_at)
        out["currency"] = record.currency
        out["total_amount"] = record.total.amount
        if isinstance(record, Refund):
            out["transaction_external_id"] = record.transaction_external_id
        if isinstance(record, Transaction) and record.status is TransactionStatus.VOIDED:
            out["employee_external_id"] = record.employee_external_id
            out["register_external_id"] = record.register_external_id
            out["voided_at"] = None if record.voided_at is None else iso_utc(record.voided_at)
            out["after_tender"] = record.voided_after_tender
    elif isinstance(record, TillEvent):
        out["event"] = record.event
        out["location_external_id"] = record.location_external_id
        out["employee_external_id"] = record.employee_external_id
        out["register_external_id"] = record.register_external_id
        out["occurred_at"] = iso_utc(record.occurred_at)
        if record.event == "price_override":
            out["transaction_external_id"] = record.transaction_external_id
            out["sku"] = record.sku
    elif isinstance(record, Payment):
        out = payment_summary(record)
        out["employee_external_id"] = record.employee_external_id
        out["register_external_id"] = record.device_external_id
    elif isinstance(record, InventoryLevel):
        out.update(level_summary(record))
    elif isinstance(record, PurchaseOrder):
        out["location_external_id"] = record.location_external_id
        out["vendor_external_id"] = record.vendor_external_id
        out["status"] = record.status.value
        out["reference"] = record.reference
    return out


def normalize(delivery: RawDelivery, currency: str | None = None) -> NormalizedBatch:
    """One stored generic delivery → records + exactly one canonical event. ``currency`` is the
    connection's (a ``price.overridden`` without ``currency`` is in it)."""
    parsed = parse_body(delivery.body)
    payload = parsed.payload
    ctx = _Context(delivery.connection_id, payload.created_at)
    data = payload.data
    if isinstance(data, CountData):
        return NormalizedBatch(
            records=(),
            events=(
                _envelope(
                    delivery,
                    payload.event,
                    ctx.created_at,
                    level_id(delivery.connection_id, data.location_id, data.sku),
                    _count_summary(data),
                ),
            ),
        )
    if isinstance(data, VoidData) and data.total_money is None:
        subject_id = sale_id(delivery.connection_id, data.id)
        summary = _void_summary(data, delivery.connection_id)
        envelope = _envelope(delivery, payload.event, ctx.created_at, subject_id, summary)
        return NormalizedBatch(records=(), events=(envelope,))
    records: tuple[CanonicalRecord, ...]
    subject: SourceRecord
    if isinstance(data, SaleData | VoidData):
        subject = _sale(data, ctx)
        records = (subject,)
    elif isinstance(data, RefundData):
        subject = _refund(data, ctx)
        records = (subject,)
    elif isinstance(data, InventoryData):
        subject = _inventory(data, ctx)
        records = (subject,)
    elif isinstance(data, CustomerData):
        subject = _customer(data, ctx)
        records = (subject,)
    elif isinstance(data, ProductData):
        subject, variants = _product(data, ctx)
        records = (subject, *variants)
    elif isinstance(data, LocationData):
        subject = _location(data, ctx)
        records = (subject,)
    elif isinstance(data, VendorData):
        subject = _vendor(data, ctx)
        records = (subject,)
    elif isinstance(data, PurchaseOrderData):
        subject = _purchase_order(data, ctx)
        records = (subject,)
    elif isinstance(data, EmployeeData):
        subject = _employee(data, ctx)
        records = (subject,)
    elif isinstance(data, DrawerOpenedData | PriceOverriddenData):
        subject = _till_event(data, ctx, currency)
        records = (subject,)
    elif isinstance(data, PaymentData):
        subject = _payment(data, ctx)
        records = (subject,)
    else:  # pragma: no cover - parse_body only returns the shapes above
        raise TypeError(f"unhandled generic payload {type(data).__name__}")
    summary = _summary(subject)
    if isinstance(data, InventoryData) and data.reason is not None:
        summary["reason"] = data.reason.value
    envelope = _envelope(delivery, payload.event, ctx.created_at, subject.id, summary)
    return NormalizedBatch(records=records, events=(envelope,))


def _envelope(
    delivery: RawDelivery,
    event: GenericEvent,
    time: datetime,
    subject: str,
    data: dict[str, Any],
) -> Envelope:
    return Envelope(
        id=envelope_id(PLATFORM, delivery.connection_id, delivery.event_id),
        source=connection_source(PLATFORM, delivery.connection_id),
        type=EVENT_TYPES[event].value,
        time=time,
        subject=subject,
        data=data,
        platform=PLATFORM,
        connectionid=delivery.connection_id,
    )
