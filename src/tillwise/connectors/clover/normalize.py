"""Clover payloads → canonical records + canonical events. Pure: no I/O, no clock.

Topics:

* ``notification`` (a webhook): names objects only. Each ``CREATE``/``UPDATE`` becomes a
  :class:`~tillwise.domain.normalized.Fetch` of its resource (``O`` → ``orders``, ``P`` →
  ``payments``, ``C`` → ``customers``, ``I`` → ``items``, ``E`` → ``employees``, ``M`` →
  ``merchant``), the id written ``"<merchant id>/<object id>"`` because one POST is batched
  across merchants and only the API knows which merchant a connection is. ``DELETE`` needs no
  fetch and changes nothing here: the last state seen stays (the canonical model has no
  tombstones; the deletion is visible in the inbox). Other prefixes (apps, categories,
  modifiers, cash adjustments, service hours) are ignored.
* ``verification``: the setup handshake; nothing to record.
* ``resource:<name>`` (an object from the REST API, see ``backfill.py``): ``orders`` →
  :class:`Transaction` (+ one :class:`Refund` per refund), ``items`` → Product + Variant
  (+ InventoryLevel when ``itemStock`` is expanded), ``item_stocks`` → InventoryLevel,
  ``customers``, ``employees``, ``shifts``, ``merchant`` → Location; ``payments`` → a
  :class:`Payment` (``payment.updated``) and a fetch of the payment's order (tenders live on
  the order); payments expanded on an order are Payment records too (no extra events).

Payments [mapping UNVERIFIED against live data]: ``result`` SUCCESS → completed, or authorized
for a ``PREAUTH`` card transaction not yet ``CLOSED``; AUTH → authorized; AUTH_COMPLETED /
VOID_FAILED → completed; PENDING / INITIATED / OFFLINE_RETRYING / VOIDING → pending; VOIDED →
voided; FAIL → failed. Amount = ``amount`` + ``tipAmount`` (Clover's amount excludes the tip),
tip = ``tipAmount``. Entry types SWIPED / KEYED / EMV_CONTACT / EMV_CONTACTLESS /
MSR_CONTACTLESS → swiped / keyed / dipped / tapped / tapped; card brand = ``cardType``.

Money is integer cents as Clover sends it, in the object's ``currency`` when it names one,
else the connection's configured ``currency``, else USD [UNVERIFIED]. Orders that are not paid
yet (``paymentState`` OPEN / PARTIALLY_PAID, or an ``open`` order without a payment state) are
no sale: nothing is recorded until the order is paid (its UPDATE notification brings it back).

Taxes: Clover orders carry tax *rates* per line (``rate`` in millionths ×10, i.e. ×100000 of a
percent [UNVERIFIED]: 825000 = 8.25 %), not amounts. For each rate, the order-level tax is
``round_half_up(Σ net of the lines carrying it × rate)`` — which reproduces Clover's
``total`` on both corpus orders (1545 and 774171 cents). VAT orders (``isVat``) are
tax-inclusive: the included tax is ``round_half_up(base × r / (1 + r))`` [UNVERIFIED]. Order
discounts do not reduce the tax base here [UNVERIFIED]; a disagreement with the reported
total is recorded as a ReconciliationIssue, never "fixed".

SKU: a Clover line item names its inventory item by id only, so the canonical ``sku`` of a
Clover item is its 13-char item id (in sales lines, variants, levels and write-back alike).

Events: one per canonical record that has an event type, id
``uuid5(EVENT_NAMESPACE, "clover␟<connection>␟<delivery event id>␟<record canonical id>")``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tillwise.connectors._normalizing import level_summary, payment_summary
from tillwise.domain.catalog import Product, Variant, normalize_gtin
from tillwise.domain.customers import Customer
from tillwise.domain.errors import InvalidGtin
from tillwise.domain.events import Envelope, EventType, connection_source
from tillwise.domain.ids import SourceRef
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location
from tillwise.domain.money import Money
from tillwise.domain.normalized import CanonicalRecord, Fetch, NormalizedBatch
from tillwise.domain.sales import (
    Discount,
    EntryMethod,
    Payment,
    PaymentKind,
    PaymentStatus,
    Refund,
    Tax,
    Tender,
    TenderType,
    Transaction,
    TransactionLine,
    reconcile_total,
)
from tillwise.domain.staff import Employee, Shift
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import RESOURCE_PREFIX, PayloadError

from .webhooks import NOTIFICATION_TOPIC, VERIFICATION_TOPIC, parse_notices

PLATFORM = "clover"
EVENT_NAMESPACE = uuid.UUID("5b2e9c1a-7f43-4d8e-b6a0-2c9d4e7f1a38")

# objectId key prefix → REST resource (docs.clover.com/dev/docs/webhooks)
PREFIX_RESOURCES: dict[str, str] = {
    "O": "orders",
    "P": "payments",
    "C": "customers",
    "I": "items",
    "E": "employees",
    "M": "merchant",
}
RATE_SCALE = Decimal(10_000_000)  # rate 825000 → 0.0825 [UNVERIFIED ×100000 of a percent]
UNIT_QTY_SCALE = Decimal(1000)  # unitQty in thousandths [UNVERIFIED]
PAID_STATES = frozenset({"PAID", "REFUNDED", "PARTIALLY_REFUNDED", "CREDITED"})
UNPAID_STATES = frozenset({"OPEN", "PARTIALLY_PAID"})
PAID_ORDER_STATES = frozenset({"locked", "paid"})  # ``state``, read without a ``paymentState``
TENDER_TYPES: dict[str, TenderType] = {
    "com.clover.tender.cash": TenderType.CASH,
    "com.clover.tender.credit_card": TenderType.CARD,
    "com.clover.tender.debit_card": TenderType.CARD,
    "com.clover.tender.external_payment": TenderType.OTHER,
    "com.clover.tender.check": TenderType.OTHER,
    "com.clover.tender.external_gift_card": TenderType.GIFT_CARD,
    "com.clover.tender.gift_card": TenderType.GIFT_CARD,
}
PAYMENT_RESULTS: dict[str, PaymentStatus] = {
    "SUCCESS": PaymentStatus.COMPLETED,
    "AUTH": PaymentStatus.AUTHORIZED,
    "AUTH_COMPLETED": PaymentStatus.COMPLETED,
    "VOID_FAILED": PaymentStatus.COMPLETED,
    "PENDING": PaymentStatus.PENDING,
    "INITIATED": PaymentStatus.PENDING,
    "OFFLINE_RETRYING": PaymentStatus.PENDING,
    "VOIDING": PaymentStatus.PENDING,
    "VOIDED": PaymentStatus.VOIDED,
    "FAIL": PaymentStatus.FAILED,
}
ENTRY_TYPES: dict[str, EntryMethod] = {
    "SWIPED": EntryMethod.SWIPED,
    "KEYED": EntryMethod.KEYED,
    "EMV_CONTACT": EntryMethod.DIPPED,
    "EMV_CONTACTLESS": EntryMethod.TAPPED,
    "MSR_CONTACTLESS": EntryMethod.TAPPED,
}
DEFAULT_CURRENCY = "USD"  # [UNVERIFIED] what a Clover object without currency is in
_MERCHANT_IN_HREF = re.compile(r"/merchants/([A-Za-z0-9]+)")


def envelope_id(connection_id: str, event_id: str, record_id: str) -> str:
    key = f"{PLATFORM}\x1f{connection_id}\x1f{event_id}\x1f{record_id}"
    return str(uuid.uuid5(EVENT_NAMESPACE, key))


def from_ms(value: Any, field: str) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PayloadError("must be epoch milliseconds (an integer)", field=field)
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _cents(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PayloadError("must be integer cents", field=field)
    if isinstance(value, Decimal) and value != value.to_integral_value():
        raise PayloadError("must be integer cents", field=field)
    return int(value)


def _elements(obj: Mapping[str, Any], key: str, field: str) -> list[dict[str, Any]]:
    """``obj[key].elements`` (Clover's expanded collection), [] when absent or null."""
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, list):  # some responses inline the list
        items = value
    elif isinstance(value, dict):
        items = value.get("elements") or []
    else:
        raise PayloadError("must be an object with elements", field=f"{field}.{key}")
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise PayloadError("elements must be a list of objects", field=f"{field}.{key}.elements")
    return items


def _obj(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _ref_id(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    return None


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def merchant_of(obj: Mapping[str, Any]) -> str | None:
    """The merchant an API object belongs to: ``merchant.id``, else from its ``href``."""
    mid = _ref_id(obj, "merchant")
    if mid is not None:
        return mid
    href = obj.get("href")
    if isinstance(href, str):
        found = _MERCHANT_IN_HREF.search(href)
        if found:
            return found.group(1)
    return None


class _Ctx:
    def __init__(self, delivery: RawDelivery, currency: str | None = None) -> None:
        self.delivery = delivery
        self.currency = currency or DEFAULT_CURRENCY  # the connection's, else USD

    def ref(self, external_id: str) -> SourceRef:
        return SourceRef(
            platform=PLATFORM, connection_id=self.delivery.connection_id, external_id=external_id
        )

    def updated(self, obj: Mapping[str, Any], field: str) -> datetime:
        """``modifiedTime``, else ``createdTime``, else when the object was fetched."""
        for key in ("modifiedTime", "createdTime"):
            if obj.get(key) is not None:
                return from_ms(obj[key], f"{field}.{key}")
        return self.delivery.received_at.astimezone(UTC)


def _id(obj: Mapping[str, Any], field: str) -> str:
    value = obj.get("id")
    if not isinstance(value, str) or not value:
        raise PayloadError("id must be a non-empty string", field=f"{field}.id")
    return value


def _discount(d: Mapping[str, Any], base: int, cur: str, field: str) -> Discount:
    """A Clover discount: ``amount`` in cents (negative as Clover stores it) or
    ``percentage`` of ``base``."""
    if d.get("amount") is not None:
        amount = abs(_cents(d["amount"], f"{field}.amount"))
    elif d.get("percentage") is not None:
        pct = Decimal(str(d["percentage"]))
        amount = _half_up(Decimal(base) * pct / 100)
    else:
        raise PayloadError("a discount has an amount or a percentage", field=field)
    return Discount(name=_text(d, "name"), amount=Money(amount=amount, currency=cur))


def _line(li: dict[str, Any], cur: str, field: str) -> tuple[TransactionLine, int]:
    """A canonical line and its net in cents (after its own discounts)."""
    price = _cents(li.get("price"), f"{field}.price")
    for j, mod in enumerate(_elements(li, "modifications", field)):
        if mod.get("amount") is not None:
            price += _cents(mod["amount"], f"{field}.modifications.elements[{j}].amount")
    qty = Decimal(1)
    if li.get("unitQty") is not None:
        qty = Decimal(_cents(li["unitQty"], f"{field}.unitQty")) / UNIT_QTY_SCALE
    unit = Money(amount=price, currency=cur)
    gross = unit.times(qty).amount  # half-even, as TransactionLine.gross
    discounts = tuple(
        _discount(d, gross, cur, f"{field}.discounts.elements[{j}]")
        for j, d in enumerate(_elements(li, "discounts", field))
    )
    line = TransactionLine(
        sku=_ref_id(li, "item"),
        name=_text(li, "name"),
        quantity=qty,
        unit_price=unit,
        discounts=discounts,
    )
    return line, gross - sum(d.amount.amount for d in discounts)


def _tender(p: Mapping[str, Any], cur: str, field: str) -> Tender:
    tender, card = _obj(p, "tender"), _obj(p, "cardTransaction")
    last4 = card.get("last4") if isinstance(card.get("last4"), str) else None
    return Tender(
        type=TENDER_TYPES.get(str(tender.get("labelKey")), TenderType.OTHER),
        amount=Money(amount=_cents(p.get("amount"), f"{field}.amount"), currency=cur),
        card_last4=last4 if last4 and re.fullmatch(r"\d{4}", last4) else None,
        entry_method=_text(card, "entryType"),
    )


def is_paid(order: Mapping[str, Any]) -> bool:
    state = order.get("paymentState")
    if isinstance(state, str) and state:
        return state.upper() in PAID_STATES
    return str(order.get("state", "")).lower() in PAID_ORDER_STATES


def _order(o: dict[str, Any], ctx: _Ctx) -> list[CanonicalRecord]:
    if not is_paid(o):
        return []
    oid = _id(o, "$")
    cur = _text(o, "currency") or ctx.currency
    lines: list[TransactionLine] = []
    bases: dict[str, tuple[str | None, Decimal, int]] = {}  # rate id → (name, rate, base)
    for i, li in enumerate(_elements(o, "lineItems", "$")):
        at = f"$.lineItems.elements[{i}]"
        line, net = _line(li, cur, at)
        lines.append(line)
        for j, rate in enumerate(_elements(li, "taxRates", at)):
            rid = _text(rate, "id") or f"{rate.get('name')}:{rate.get('rate')}"
            value = Decimal(_cents(rate.get("rate"), f"{at}.taxRates.elements[{j}].rate"))
            name, r, base = bases.get(rid, (_text(rate, "name"), value / RATE_SCALE, 0))
            bases[rid] = (name, r, base + net)
    subtotal = sum(line.net.amount for line in lines)
    discounts = tuple(
        _discount(d, subtotal, cur, f"$.discounts.elements[{j}]")
        for j, d in enumerate(_elements(o, "discounts", "$"))
    )
    vat = bool(o.get("isVat"))
    taxes: tuple[Tax, ...] = ()
    if not o.get("taxRemoved"):
        taxes = tuple(
            Tax(
                name=name,
                rate=rate.normalize(),
                amount=Money(
                    amount=_half_up(Decimal(base) * rate / (1 + rate))
                    if vat
                    else _half_up(Decimal(base) * rate),
                    currency=cur,
                ),
                included=vat,
            )
            for name, rate, base in bases.values()
        )
    tenders = tuple(
        _tender(p, cur, f"$.payments.elements[{j}]")
        for j, p in enumerate(_elements(o, "payments", "$"))
        if str(p.get("result", "SUCCESS")).upper() == "SUCCESS"
    )
    customers = _elements(o, "customers", "$")
    location = merchant_of(o)
    updated = ctx.updated(o, "$")
    txn = Transaction(
        source=ctx.ref(oid),
        source_updated_at=updated,
        location_external_id=location,
        customer_external_id=_text(customers[0], "id") if customers else None,
        employee_external_id=_ref_id(o, "employee"),
        occurred_at=from_ms(o.get("createdTime"), "$.createdTime"),
        currency=cur,
        lines=tuple(lines),
        discounts=discounts,
        taxes=taxes,
        tenders=tenders,
        total=Money(amount=_cents(o.get("total"), "$.total"), currency=cur),
    )
    txn = txn.model_copy(update={"issues": reconcile_total(txn)})
    records: list[CanonicalRecord] = [txn]
    for j, p in enumerate(_elements(o, "payments", "$")):
        if p.get("id") is not None:
            at = f"$.payments.elements[{j}]"
            times = (txn.occurred_at, txn.source_updated_at)
            records.append(_payment_record(p, ctx, at, oid, cur, times))
    for j, refund in enumerate(_elements(o, "refunds", "$")):
        at = f"$.refunds.elements[{j}]"
        records.append(
            Refund(
                source=ctx.ref(_id(refund, at)),
                source_updated_at=ctx.updated(refund, at),
                transaction_external_id=oid,
                location_external_id=location,
                employee_external_id=_ref_id(refund, "employee"),
                occurred_at=from_ms(refund.get("createdTime"), f"{at}.createdTime"),
                currency=cur,
                total=Money(amount=abs(_cents(refund.get("amount"), f"{at}.amount")), currency=cur),
            )
        )
    return records


def _gtin(code: Any) -> str | None:
    if not isinstance(code, str) or not code.strip():
        return None
    try:
        return normalize_gtin(code)
    except InvalidGtin:
        return None  # Clover's ``code`` is free text; only valid GTINs are kept


def _item(o: dict[str, Any], ctx: _Ctx) -> list[CanonicalRecord]:
    iid = _id(o, "$")
    updated = ctx.updated(o, "$")
    name = _text(o, "name") or iid
    price = None
    if o.get("price") is not None and str(o.get("priceType", "FIXED")).upper() == "FIXED":
        cur = _text(o, "currency") or ctx.currency
        price = Money(amount=_cents(o["price"], "$.price"), currency=cur)
    variant = Variant(
        source=ctx.ref(iid),
        source_updated_at=updated,
        product_external_id=iid,
        sku=iid,
        name=name,
        gtin=_gtin(o.get("code")),
        price=price,
    )
    product = Product(
        source=ctx.ref(iid), source_updated_at=updated, name=name, variants=(variant,)
    )
    records: list[CanonicalRecord] = [product, variant]
    stock = o.get("itemStock")
    merchant = merchant_of(o)
    if isinstance(stock, dict) and merchant is not None:
        records.append(_level(iid, merchant, stock, updated, ctx, "$.itemStock"))
    return records


def _level(
    item_id: str,
    merchant: str,
    stock: Mapping[str, Any],
    as_of: datetime,
    ctx: _Ctx,
    field: str,
) -> InventoryLevel:
    qty = stock.get("quantity", stock.get("stockCount"))
    if isinstance(qty, bool) or not isinstance(qty, int | Decimal):
        raise PayloadError("quantity must be a number", field=f"{field}.quantity")
    return InventoryLevel(
        source=ctx.ref(f"{merchant}:{item_id}"),
        source_updated_at=as_of,
        sku=item_id,
        location_external_id=merchant,
        on_hand=Decimal(qty),
        as_of=as_of,
    )


def _item_stock(o: dict[str, Any], ctx: _Ctx) -> list[CanonicalRecord]:
    item_id = _ref_id(o, "item")
    if item_id is None:
        raise PayloadError("item.id is required", field="$.item.id")
    merchant = merchant_of(o) or merchant_of(_obj(o, "item"))
    if merchant is None:
        raise PayloadError("the item stock names no merchant (merchant.id or href)", field="$")
    return [_level(item_id, merchant, o, ctx.updated(o, "$"), ctx, "$")]


def _customer(o: dict[str, Any], ctx: _Ctx) -> list[CanonicalRecord]:
    emails = _elements(o, "emailAddresses", "$")
    phones = _elements(o, "phoneNumbers", "$")
    addresses = _elements(o, "addresses", "$")
    country = _text(addresses[0], "country") if addresses else None
    return [
        Customer(
            source=ctx.ref(_id(o, "$")),
            source_updated_at=ctx.updated(o, "$"),
            email=_text(emails[0], "emailAddress") if emails else None,
            phone=_text(phones[0], "phoneNumber") if phones else None,
            first_name=_text(o, "firstName"),
            last_name=_text(o, "lastName"),
            country_code=country.upper() if country and len(country) == 2 else None,
            accepts_marketing=o.get("marketingAllowed") is True,
        )
    ]


def _employee(o: dict[str, Any], ctx: _Ctx) -> list[CanonicalRecord]:
    name = _text(o, "name")
    first, _, last = (name or "").partition(" ")
    merchant = merchant_of(o)
    return [
        Employee(
            source=ctx.ref(_id(o, "$")),
            source_updated_at=ctx.updated(o, "$"),
            first_name=first or None,
            last_name=last or None,
            email=_text(o, "email"),
            role=_text(o, "role"),
            active=o.get("deletedTime") is None,
            location_external_ids=(merchant,) if merchant else (),
        )
    ]


def _shift(o: dict[str, Any], ctx: _Ctx) -> list[CanonicalRecord]:
    employee = _ref_id(o, "employee")
    if employee is None:
        raise PayloadError("employee.id is required", field="$.employee.id")
    start_key = "overrideInTime" if o.get("overrideInTime") is not None else "inTime"
    end_key = "overrideOutTime" if o.get("overrideOutTime") is not None else "outTime"
    ends = o.get(end_key)
    return [
        Shift(
            source=ctx.ref(_id(o, "$")),
            source_updated_at=ctx.updated(o, "$"),
            employee_external_id=employee,
            location_external_id=merchant_of(o),
            starts_at=from_ms(o.get(start_key), f"$.{start_key}"),
            ends_at=from_ms(ends, f"$.{end_key}") if ends is not None else None,
        )
    ]


def _merchant(o: dict[str, Any], ctx: _Ctx) -> list[CanonicalRecord]:
    address, props = _obj(o, "address"), _obj(o, "properties")
    country = _text(address, "country")
    tz = _text(props, "timezone") or _text(o, "timezone") or "UTC"
    return [
        Location(
            source=ctx.ref(_id(o, "$")),
            source_updated_at=ctx.updated(o, "$"),
            name=_text(o, "name") or _id(o, "$"),
            time_zone=tz,
            country_code=country.upper() if country and len(country) == 2 else None,
            currency=_text(props, "defaultCurrency") or _text(o, "defaultCurrency"),
        )
    ]


def _payment_status(p: Mapping[str, Any], field: str) -> PaymentStatus:
    result = str(p.get("result") or "SUCCESS").upper()
    if result not in PAYMENT_RESULTS:
        raise PayloadError(f"{field}.result {result!r} is not a Clover payment result", field=field)
    card = _obj(p, "cardTransaction")
    status = PAYMENT_RESULTS[result]
    preauth = str(card.get("type") or "").upper() == "PREAUTH"
    if status is PaymentStatus.COMPLETED and preauth and card.get("state") != "CLOSED":
        return PaymentStatus.AUTHORIZED  # a pre-authorization: funds held until captured
    return status


def _payment_record(
    p: Mapping[str, Any],
    ctx: _Ctx,
    field: str,
    order: str | None,
    cur: str,
    order_times: tuple[datetime, datetime | None] | None = None,
) -> Payment:
    """A Clover payment; one expanded on its order without times takes the order's."""
    pid = _id(p, field)
    card, tender = _obj(p, "cardTransaction"), _obj(p, "tender")
    amount = _cents(p.get("amount"), f"{field}.amount")
    tip = None if p.get("tipAmount") is None else _cents(p["tipAmount"], f"{field}.tipAmount")
    last4 = card.get("last4") if isinstance(card.get("last4"), str) else None
    try:
        return Payment(
            source=ctx.ref(pid),
            source_updated_at=ctx.updated(p, field)
            if order_times is None or p.get("modifiedTime") or p.get("createdTime")
            else order_times[1],
            transaction_external_id=order,
            location_external_id=merchant_of(p),
            employee_external_id=_ref_id(p, "employee"),
            device_external_id=_ref_id(p, "device"),
            occurred_at=from_ms(p["createdTime"], f"{field}.createdTime")
            if p.get("createdTime") is not None or order_times is None
            else order_times[0],
            status=_payment_status(p, field),
            payment_kind=PaymentKind.SALE,  # money back is a Clover refund (a Refund record)
            currency=cur,
            amount=Money(amount=amount + (tip or 0), currency=cur),
            tip=None if tip is None else Money(amount=tip, currency=cur),
            tender_type=TENDER_TYPES.get(str(tender.get("labelKey")), TenderType.OTHER),
            card_brand=_text(card, "cardType"),
            card_last4=last4 if last4 and re.fullmatch(r"\d{4}", last4) else None,
            entry_method=ENTRY_TYPES.get(str(card.get("entryType") or "").upper()),
        )
    except ValueError as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"{field} cannot be normalized: {exc}", field=field) from None


def _payment(o: dict[str, Any], ctx: _Ctx) -> NormalizedBatch:
    order = _ref_id(o, "order")
    payment = _payment_record(o, ctx, "$", order, _text(o, "currency") or ctx.currency)
    records: tuple[CanonicalRecord, ...] = (payment,)
    event = Envelope(
        id=envelope_id(ctx.delivery.connection_id, ctx.delivery.event_id, payment.id),
        source=connection_source(PLATFORM, ctx.delivery.connection_id),
        type=EventType.PAYMENT_UPDATED.value,
        time=payment.source_updated_at,
        subject=payment.id,
        data=payment_summary(payment),
        platform=PLATFORM,
        connectionid=ctx.delivery.connection_id,
    )
    if order is None:
        return NormalizedBatch(records=records, events=(event,))
    merchant = merchant_of(o)
    fetch_id = f"{merchant}/{order}" if merchant else order
    return NormalizedBatch(
        records=records, events=(event,), fetches=(Fetch(resource="orders", ids=(fetch_id,)),)
    )


_HANDLERS = {
    "orders": _order,
    "order": _order,
    "items": _item,
    "item_stocks": _item_stock,
    "customers": _customer,
    "employees": _employee,
    "shifts": _shift,
    "merchant": _merchant,
}

EVENT_TYPES: dict[type, EventType] = {
    Transaction: EventType.SALE_COMPLETED,
    Refund: EventType.REFUND_CREATED,
    InventoryLevel: EventType.INVENTORY_UPDATED,
    Customer: EventType.CUSTOMER_UPDATED,
    Product: EventType.PRODUCT_UPDATED,
    Location: EventType.LOCATION_UPDATED,
}


def _summary(record: CanonicalRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": record.kind, "id": record.id, "external_id": record.external_id}
    if isinstance(record, Transaction | Refund):
        out["location_external_id"] = record.location_external_id
        out["occurred_at"] = _iso(record.occurred_at)
        out["currency"] = record.currency
        out["total_amount"] = record.total.amount
        if isinstance(record, Refund):
            out["transaction_external_id"] = record.transaction_external_id
    elif isinstance(record, InventoryLevel):
        out.update(level_summary(record))
    return out


def _event_time(record: CanonicalRecord) -> datetime | None:
    if isinstance(record, Transaction | Refund):
        return record.occurred_at
    return record.source_updated_at


def _events(delivery: RawDelivery, records: list[CanonicalRecord]) -> tuple[Envelope, ...]:
    out = []
    for record in records:
        etype = EVENT_TYPES.get(type(record))
        if etype is None:
            continue
        out.append(
            Envelope(
                id=envelope_id(delivery.connection_id, delivery.event_id, record.id),
                source=connection_source(PLATFORM, delivery.connection_id),
                type=etype.value,
                time=_event_time(record),
                subject=record.id,
                data=_summary(record),
                platform=PLATFORM,
                connectionid=delivery.connection_id,
            )
        )
    return tuple(out)


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"body is not JSON: {exc}", field="$") from exc


def _notification(body: Any) -> NormalizedBatch:
    _, notices = parse_notices(body)
    wanted: dict[str, dict[str, None]] = {}
    for notice in notices:
        resource = PREFIX_RESOURCES.get(notice.prefix)
        if resource is None or notice.type == "DELETE":
            continue
        wanted.setdefault(resource, {})[f"{notice.merchant_id}/{notice.bare_id}"] = None
    return NormalizedBatch(
        fetches=tuple(Fetch(resource=r, ids=tuple(ids)) for r, ids in wanted.items())
    )


def normalize(delivery: RawDelivery, *, currency: str | None = None) -> NormalizedBatch:
    """One stored delivery → records + events; ``currency``: the connection's configured one
    (for objects that name none)."""
    topic = delivery.topic
    if topic == VERIFICATION_TOPIC:
        return NormalizedBatch()
    body = _parse(delivery.body)
    if topic == NOTIFICATION_TOPIC:
        return _notification(body)
    if not topic.startswith(RESOURCE_PREFIX):
        return NormalizedBatch()  # a topic Clover does not send: nothing to record
    resource = topic[len(RESOURCE_PREFIX) :]
    if not isinstance(body, dict):
        raise PayloadError("an API object is a JSON object", field="$")
    ctx = _Ctx(delivery, currency)
    if resource in ("payments", "payment"):
        return _payment(body, ctx)
    handler = _HANDLERS.get(resource)
    if handler is None:
        return NormalizedBatch()
    records = handler(body, ctx)
    return NormalizedBatch(records=tuple(records), events=_events(delivery, records))
