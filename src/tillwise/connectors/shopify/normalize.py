"""Shopify payloads → canonical records + canonical events. Pure: no I/O, no clock.

Input (docs/platforms/shopify.md, "What becomes what"): a webhook body is the REST resource
*unwrapped* (no ``{"order": ...}`` envelope); an API object (topic ``resource:<name>``) is the
same single REST object, so a backfilled store equals a webhook-fed store.

Rules:

* JSON is read with ``Decimal`` for every number (no float ever); ids are kept as strings
  (Shopify ids exceed 2**53);
* money: canonical money is **shop money** — ``<field>_set.shop_money`` when present, else the
  plain decimal string in the order's ``currency`` (the shop currency). Presentment money (what
  the buyer saw, ``presentment_money``) is not kept;
* orders: ``financial_status`` authorized / paid / partially_paid / partially_refunded /
  refunded → a completed sale (``sale.completed``); ``cancelled_at`` set or ``voided`` → a
  voided transaction (no event); pending / expired → not a sale (no transaction). Lines are
  ``line_items`` at their original ``quantity`` and ``price``, with ``discount_allocations`` as
  line discounts and ``tax_lines`` as line taxes (``included`` = ``taxes_included``); each
  ``shipping_lines`` entry is a line without SKU named ``Shipping: <title>``. Order-level
  ``tax_lines`` are used only when no line carries taxes (old payloads), so taxes are never
  counted twice. The total is ``total_price``; a disagreement is a reconciliation issue;
* POS sales: ``location_id`` (the till's location) and ``user_id`` (the staff member) are kept;
  ``source_name == "pos"`` needs no special case;
* the canonical SKU is the merchant SKU; a line or variant without one is ``variant:<id>``;
* a product's ``vendor`` text is its supplier (as Stocky used it): a non-empty one yields a
  :class:`~tillwise.domain.catalog.Vendor` named by it, external id ``vendor:<name casefolded,
  whitespace collapsed>`` (:func:`vendor_external_id`; "Apple" and " apple " are one vendor), no
  lead time (replenishment's default applies), no email, no event; the product and its
  variants name it in ``vendor_external_id``. A variant alone (``resource:variants``) names
  none (the REST variant carries no vendor);
* refunds embedded in an order and the order's ``customer`` are upserted too (no extra events);
  a refund's total is its successful ``refund`` transactions, each line's amount its
  ``subtotal`` + ``total_tax``; a line restocks when its ``restock_type`` is ``return`` /
  ``cancel`` / ``legacy_restock``, or, without ``restock_type``, when the refund's ``restock``
  is true; each of a refund's ``transactions[]`` is a refund ``Payment``
  (parent = the sale transaction it refunds), with ``payment.updated`` on ``refunds/create``;
* inventory levels are keyed by ``inventory_item_id`` and carry no SKU: a level without ``sku``
  (the ``inventory_levels/update`` webhook, a REST level) asks the pipeline to fetch
  ``inventory_levels`` ``<inventory_item_id>:<location_id>``; the API returns the level with
  ``sku`` and ``on_hand`` (Tillwise reads them through GraphQL), which becomes the record;
* variants carry no currency in REST: their ``price`` is in ``price_currency`` when the object
  names one, else in the connection's configured ``currency``, else ``None``;
* locations carry no time zone in REST: ``time_zone`` is the object's ``time_zone``, which the
  API (backfill and fetch) sets to the shop's ``iana_timezone``, else UTC; a ``locations/*``
  webhook therefore asks the pipeline to fetch ``locations`` ``<id>`` instead of storing its
  zone-less body;
* order transactions (``order_transactions/create``, ``resource:transactions``) and tender
  transactions (``tender_transactions/create``, ``resource:tender_transactions``) are
  :class:`~tillwise.domain.sales.Payment` records (``payment.updated``): see
  docs/platforms/shopify.md "Payments" for the kind/status/tender mapping. A tender
  transaction's external id is ``tender:<id>`` (its own id space); a REST response holding a
  list (``{"transactions": [...]}``) yields one record per element;
* money without a currency of its own (old REST transactions, variants) is in the connection's
  configured ``currency`` (``normalize(..., currency=)``); a transaction with neither is refused;
* topics without a canonical record (``app/uninstalled``, draft orders, price rules,
  fulfilment orders...) normalize to an empty batch;
* one event per record that has an event type, id
  ``uuid5(EVENT_NAMESPACE, "shopify\\x1f<connection>\\x1f<delivery event id>\\x1f<subject>")``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tillwise.connectors._normalizing import Output as _Out
from tillwise.connectors._normalizing import level_summary, payment_summary
from tillwise.domain.catalog import Product, Variant, Vendor, normalize_gtin
from tillwise.domain.customers import Customer
from tillwise.domain.errors import InvalidGtin
from tillwise.domain.events import Envelope, EventType, connection_source
from tillwise.domain.ids import SourceRecord, SourceRef
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location
from tillwise.domain.money import Money
from tillwise.domain.normalized import Fetch, NormalizedBatch
from tillwise.domain.sales import (
    Discount,
    EntryMethod,
    IssueCode,
    Payment,
    PaymentKind,
    PaymentStatus,
    ReconciliationIssue,
    Refund,
    RefundLine,
    Tax,
    TenderType,
    Transaction,
    TransactionLine,
    TransactionStatus,
    reconcile_total,
)
from tillwise.domain.staff import Employee
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import RESOURCE_PREFIX, PayloadError

PLATFORM = "shopify"
EVENT_NAMESPACE = uuid.UUID("5a0e7c1d-9b3f-4e28-8d61-2f4b6c8a0e93")

# resource names (``resource:<name>`` topics)
ORDERS = "orders"
REFUNDS = "refunds"
PRODUCTS = "products"
VARIANTS = "variants"
CUSTOMERS = "customers"
LOCATIONS = "locations"
INVENTORY_LEVELS = "inventory_levels"
USERS = "users"
TRANSACTIONS = "transactions"
TENDER_TRANSACTIONS = "tender_transactions"

SALE_STATUSES = frozenset(
    {"authorized", "paid", "partially_paid", "partially_refunded", "refunded"}
)
RESTOCK_TYPES = frozenset({"return", "cancel", "legacy_restock"})

# webhook topic → resource kind; anything else normalizes to an empty batch
TOPICS: dict[str, str] = {
    "orders/create": ORDERS,
    "orders/updated": ORDERS,
    "orders/paid": ORDERS,
    "orders/cancelled": ORDERS,
    "orders/fulfilled": ORDERS,
    "orders/partially_fulfilled": ORDERS,
    "refunds/create": REFUNDS,
    "products/create": PRODUCTS,
    "products/update": PRODUCTS,
    "customers/create": CUSTOMERS,
    "customers/update": CUSTOMERS,
    "locations/create": LOCATIONS,
    "locations/update": LOCATIONS,
    "inventory_levels/update": INVENTORY_LEVELS,
    "inventory_levels/connect": INVENTORY_LEVELS,
    "order_transactions/create": TRANSACTIONS,
    "tender_transactions/create": TENDER_TRANSACTIONS,
}
# order transaction kind → (payment kind, status when it succeeded)
TRANSACTION_KINDS: dict[str, tuple[PaymentKind, PaymentStatus]] = {
    "authorization": (PaymentKind.SALE, PaymentStatus.AUTHORIZED),
    "capture": (PaymentKind.SALE, PaymentStatus.CAPTURED),
    "sale": (PaymentKind.SALE, PaymentStatus.COMPLETED),
    "void": (PaymentKind.SALE, PaymentStatus.VOIDED),
    "refund": (PaymentKind.REFUND, PaymentStatus.COMPLETED),
    "change": (PaymentKind.REFUND, PaymentStatus.COMPLETED),  # cash change handed back (POS)
}
TRANSACTION_STATUSES = {
    "pending": PaymentStatus.PENDING,
    "failure": PaymentStatus.FAILED,
    "error": PaymentStatus.FAILED,
}
# tender transaction payment_method / order transaction gateway → tender type
PAYMENT_METHODS = {
    "credit_card": TenderType.CARD,
    "debit_card": TenderType.CARD,
    "cash": TenderType.CASH,
    "gift_card": TenderType.GIFT_CARD,
    "apple_pay": TenderType.WALLET,
    "google_pay": TenderType.WALLET,
    "shopify_pay": TenderType.WALLET,
}
CREATED_TOPICS = frozenset({"customers/create", "products/create"})

Json = dict[str, Any]


def envelope_id(connection_id: str, event_id: str, subject: str) -> str:
    key = f"{PLATFORM}\x1f{connection_id}\x1f{event_id}\x1f{subject}"
    return str(uuid.uuid5(EVENT_NAMESPACE, key))


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def level_external_id(inventory_item_id: str, location_id: str) -> str:
    return f"{inventory_item_id}:{location_id}"


def vendor_external_id(name: str) -> str:
    """The vendor a product's ``vendor`` text names: ``vendor:<casefolded, collapsed name>``."""
    return "vendor:" + " ".join(name.split()).casefold()


def loads(body: bytes) -> Any:
    """Shopify JSON with every number exact (``Decimal``), never a float."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("the body is not JSON", field="$") from None


# -- reading fields, naming the JSON path of whatever is wrong -------------------------------


def _id(obj: Json, key: str, path: str) -> str:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise PayloadError(f"{path}.{key} is missing or not an id", field=f"{path}.{key}")
    return str(value)


def _opt_id(obj: Json, key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        return None
    return str(value)


def _opt_str(obj: Json, key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{path}.{key} is not a string", field=f"{path}.{key}")
    return value


def _list(obj: Json, key: str, path: str) -> list[Json]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise PayloadError(f"{path}.{key} is not a list of objects", field=f"{path}.{key}")
    return value


def _obj(obj: Json, key: str, path: str) -> Json:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{path}.{key} is not an object", field=f"{path}.{key}")
    return value


def _time(obj: Json, key: str, path: str) -> datetime:
    value = obj.get(key)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
    raise PayloadError(
        f"{path}.{key} is not an ISO 8601 time with an offset: {value!r}", field=f"{path}.{key}"
    )


def _opt_time(obj: Json, key: str, path: str) -> datetime | None:
    return None if obj.get(key) in (None, "") else _time(obj, key, path)


def _decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise PayloadError(f"{path} is not a decimal amount: {value!r}", field=path)
    try:
        dec = Decimal(str(value))
    except InvalidOperation:
        raise PayloadError(f"{path} is not a decimal amount: {value!r}", field=path) from None
    if not dec.is_finite():
        raise PayloadError(f"{path} is not a finite amount", field=path)
    return dec


def _money(obj: Json, key: str, currency: str, path: str) -> Money:
    """Shop money: ``<key>_set.shop_money`` when present, else ``<key>`` in ``currency``."""
    money_set = obj.get(f"{key}_set")
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        shop = money_set["shop_money"]
        sp = f"{path}.{key}_set.shop_money"
        code = shop.get("currency_code") or shop.get("currency") or currency
        return _build(sp, lambda: Money.from_decimal(_decimal(shop.get("amount"), sp), code))
    if obj.get(key) is None:
        raise PayloadError(f"{path}.{key} is missing", field=f"{path}.{key}")
    kp = f"{path}.{key}"
    return _build(kp, lambda: Money.from_decimal(_decimal(obj[key], kp), currency))


def _build(path: str, make: Callable[[], Any]) -> Any:
    """Construct a canonical value; a value the model refuses is the payload's fault."""
    try:
        return make()
    except PayloadError:
        raise
    except ValueError as exc:  # pydantic ValidationError and InvalidMoney are ValueErrors
        raise PayloadError(f"{path} cannot be normalized: {exc}", field=path) from None


def _sku(sku: Any, variant_id: str | None) -> str | None:
    if isinstance(sku, str) and sku.strip():
        return sku.strip()
    return f"variant:{variant_id}" if variant_id else None


def _gtin(barcode: str | None) -> str | None:
    if not barcode:
        return None
    try:
        return normalize_gtin(barcode)
    except InvalidGtin:
        return None  # Shopify barcodes are free text (ISBNs, "1234_green"...): not a GTIN


# -- context and events ----------------------------------------------------------------------


@dataclass
class _Ctx:
    connection_id: str
    event_id: str
    topic: str
    currency: str | None = None  # the connection's configured currency

    def ref(self, external_id: str) -> SourceRef:
        return SourceRef(
            platform=PLATFORM, connection_id=self.connection_id, external_id=external_id
        )


def _summary(record: SourceRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": record.kind, "id": record.id, "external_id": record.external_id}
    if isinstance(record, Transaction | Refund):
        out["location_external_id"] = record.location_external_id
        out["occurred_at"] = iso_utc(record.occurred_at)
        out["currency"] = record.currency
        out["total_amount"] = record.total.amount
        if isinstance(record, Refund):
            out["transaction_external_id"] = record.transaction_external_id
    elif isinstance(record, Payment):
        out.update(payment_summary(record))
    elif isinstance(record, InventoryLevel):
        out.update(level_summary(record))
    return out


def _event(ctx: _Ctx, type_: EventType, time: datetime | None, record: SourceRecord) -> Envelope:
    return Envelope(
        id=envelope_id(ctx.connection_id, ctx.event_id, record.id),
        source=connection_source(PLATFORM, ctx.connection_id),
        type=type_.value,
        time=time,
        subject=record.id,
        data=_summary(record),
        platform=PLATFORM,
        connectionid=ctx.connection_id,
    )


# -- orders and refunds ----------------------------------------------------------------------


def _taxes(obj: Json, path: str, currency: str, included: bool) -> tuple[Tax, ...]:
    taxes = []
    for i, t in enumerate(_list(obj, "tax_lines", path)):
        tp = f"{path}.tax_lines[{i}]"
        rate = None if t.get("rate") is None else _decimal(t["rate"], f"{tp}.rate")
        taxes.append(
            Tax(
                name=_opt_str(t, "title", tp),
                amount=_money(t, "price", currency, tp),
                rate=rate,
                included=included,
            )
        )
    return tuple(taxes)


def _discount_name(applications: list[Json], index: Any) -> str | None:
    if isinstance(index, int) and 0 <= index < len(applications):
        app = applications[index]
        for key in ("code", "title", "description"):
            if isinstance(app.get(key), str) and app[key]:
                return str(app[key])
    return None


def _allocations(
    obj: Json, path: str, currency: str, applications: list[Json]
) -> tuple[Discount, ...]:
    out = []
    for i, a in enumerate(_list(obj, "discount_allocations", path)):
        ap = f"{path}.discount_allocations[{i}]"
        out.append(
            Discount(
                name=_discount_name(applications, a.get("discount_application_index")),
                amount=_money(a, "amount", currency, ap),
            )
        )
    return tuple(out)


def _quantity(obj: Json, path: str) -> Decimal:
    value = obj.get("quantity")
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise PayloadError(f"{path}.quantity is missing or not a number", field=f"{path}.quantity")
    return _decimal(value, f"{path}.quantity")


def _order(o: Json, path: str, ctx: _Ctx) -> _Out:
    out = _Out()
    order_id = _id(o, "id", path)
    currency = _opt_str(o, "currency", path)
    if currency is None:
        raise PayloadError(f"{path}.currency is missing", field=f"{path}.currency")
    customer = _obj(o, "customer", path)
    if customer.get("id") is not None:
        out.records.append(_customer_record(customer, f"{path}.customer", ctx))
    status = o.get("financial_status")
    if o.get("cancelled_at") or status == "voided":
        txn_status = TransactionStatus.VOIDED
    elif status in SALE_STATUSES:
        txn_status = TransactionStatus.COMPLETED
    else:
        return out  # pending / expired: no money has been secured, not a sale (yet)
    included = o.get("taxes_included") is True
    applications = _list(o, "discount_applications", path)
    lines: list[TransactionLine] = []
    for i, li in enumerate(_list(o, "line_items", path)):
        lp = f"{path}.line_items[{i}]"
        lines.append(
            TransactionLine(
                sku=_sku(li.get("sku"), _opt_id(li, "variant_id")),
                name=_opt_str(li, "name", lp) or _opt_str(li, "title", lp),
                quantity=_quantity(li, lp),
                unit_price=_money(li, "price", currency, lp),
                discounts=_allocations(li, lp, currency, applications),
                taxes=_taxes(li, lp, currency, included),
            )
        )
    for i, sl in enumerate(_list(o, "shipping_lines", path)):
        sp = f"{path}.shipping_lines[{i}]"
        title = _opt_str(sl, "title", sp) or _opt_str(sl, "code", sp) or "shipping"
        lines.append(
            TransactionLine(
                sku=None,
                name=f"Shipping: {title}",
                quantity=Decimal(1),
                unit_price=_money(sl, "price", currency, sp),
                discounts=_allocations(sl, sp, currency, applications),
                taxes=_taxes(sl, sp, currency, included),
            )
        )
    order_taxes: tuple[Tax, ...] = ()
    if not any(line.taxes for line in lines):
        order_taxes = _taxes(o, path, currency, included)
    occurred = _opt_time(o, "processed_at", path) or _time(o, "created_at", path)
    txn: Transaction = _build(
        path,
        lambda: Transaction(
            source=ctx.ref(order_id),
            source_updated_at=_opt_time(o, "updated_at", path),
            location_external_id=_opt_id(o, "location_id"),
            customer_external_id=_opt_id(customer, "id"),
            employee_external_id=_opt_id(o, "user_id"),
            occurred_at=occurred,
            status=txn_status,
            currency=currency,
            lines=tuple(lines),
            taxes=order_taxes,
            total=_money(o, "total_price", currency, path),
        ),
    )
    txn = txn.model_copy(update={"issues": reconcile_total(txn)})
    out.records.append(txn)
    if txn_status is TransactionStatus.COMPLETED:
        out.events.append(_event(ctx, EventType.SALE_COMPLETED, occurred, txn))
    elif status not in ("refunded", "partially_refunded"):
        # cancelled or voided with no money given back: what it added to sales and demand is
        # withdrawn (a refunded one stays a sale, and its refunds net it out)
        out.events.append(_event(ctx, EventType.SALE_VOIDED, occurred, txn))
    for i, r in enumerate(_list(o, "refunds", path)):
        embedded = _refund_out(r, f"{path}.refunds[{i}]", ctx, currency)
        out.records.extend(embedded.records)  # upserted; the refund's own webhook has the events
    return out


def _refund_currency(r: Json, path: str) -> str:
    for t in _list(r, "transactions", path):
        if isinstance(t.get("currency"), str) and t["currency"]:
            return str(t["currency"])
    for line in _list(r, "refund_line_items", path):
        shop = _obj(_obj(line, "subtotal_set", path), "shop_money", path)
        if isinstance(shop.get("currency_code"), str):
            return str(shop["currency_code"])
    raise PayloadError(
        f"{path} names no currency (no transactions[].currency nor shop money)",
        field=f"{path}.transactions",
    )


def _refund_record(r: Json, path: str, ctx: _Ctx, currency: str | None = None) -> Refund:
    refund_id = _id(r, "id", path)
    cur = currency or _refund_currency(r, path)
    lines: list[RefundLine] = []
    location = None
    refund_restocks = r.get("restock") is True  # older payloads: one flag for the whole refund
    for i, rl in enumerate(_list(r, "refund_line_items", path)):
        rp = f"{path}.refund_line_items[{i}]"
        item = _obj(rl, "line_item", rp)
        quantity = _quantity(rl, rp)
        if rl.get("subtotal") is not None or rl.get("subtotal_set") is not None:
            amount = _money(rl, "subtotal", cur, rp)
            if rl.get("total_tax") is not None or rl.get("total_tax_set") is not None:
                amount = amount + _money(rl, "total_tax", cur, rp)
        else:  # old payloads: no subtotal; the item's price times the quantity refunded
            amount = _money(item, "price", cur, f"{rp}.line_item").times(quantity)
        location = location or _opt_id(rl, "location_id")
        lines.append(
            RefundLine(
                sku=_sku(item.get("sku"), _opt_id(item, "variant_id")),
                name=_opt_str(item, "name", f"{rp}.line_item"),
                quantity=quantity,
                amount=amount,
                restock=(
                    rl["restock_type"] in RESTOCK_TYPES
                    if rl.get("restock_type") is not None
                    else refund_restocks
                ),
            )
        )
    total = Money.zero(cur)
    for i, t in enumerate(_list(r, "transactions", path)):
        if t.get("kind") == "refund" and t.get("status") == "success":
            total = total + _money(t, "amount", cur, f"{path}.transactions[{i}]")
    adjustments = Money.zero(cur)
    for i, a in enumerate(_list(r, "order_adjustments", path)):
        # [UNVERIFIED] sign: Shopify reports a refunded shipping amount as a negative adjustment
        adjustments = adjustments - _money(a, "amount", cur, f"{path}.order_adjustments[{i}]")
    issues: tuple[ReconciliationIssue, ...] = ()
    if lines or adjustments.amount:
        computed = Money(amount=sum(line.amount.amount for line in lines), currency=cur)
        computed = computed + adjustments
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
    occurred = _opt_time(r, "processed_at", path) or _time(r, "created_at", path)
    refund: Refund = _build(
        path,
        lambda: Refund(
            source=ctx.ref(refund_id),
            source_updated_at=occurred,
            transaction_external_id=_opt_id(r, "order_id"),
            location_external_id=location,
            employee_external_id=_opt_id(r, "user_id"),
            occurred_at=occurred,
            currency=cur,
            lines=tuple(lines),
            total=total,
            reason=_opt_str(r, "note", path),
            issues=issues,
        ),
    )
    return refund


def _refund_out(r: Json, path: str, ctx: _Ctx, currency: str | None = None) -> _Out:
    """The refund + one refund ``Payment`` per entry of its ``transactions[]`` (kind refund,
    parent = the sale transaction it refunds), each with its event."""
    refund = _refund_record(r, path, ctx, currency)
    out = _Out(
        records=[refund], events=[_event(ctx, EventType.REFUND_CREATED, refund.occurred_at, refund)]
    )
    order_id = _opt_id(r, "order_id")
    for i, t in enumerate(_list(r, "transactions", path)):
        tp = f"{path}.transactions[{i}]"
        out.add(_order_transaction(t, tp, ctx, currency=refund.currency, order_id=order_id))
    return out


def _refund(r: Json, path: str, ctx: _Ctx) -> _Out:
    return _refund_out(r, path, ctx)


# -- payments: order transactions and tender transactions ------------------------------------

_DIGITS = re.compile(r"(\d{4})\s*$")


def _last4(number: str | None) -> str | None:
    """The last 4 digits of a masked card number (``•••• •••• •••• 4242``, ``**** **** **** 4242``);
    None when fewer than 4 digits are shown (``•••• 1``)."""
    m = _DIGITS.search(number or "")
    return m.group(1) if m else None


def _payment_currency(t: Json, path: str, ctx: _Ctx, default: str | None = None) -> str:
    cur = _opt_str(t, "currency", path) or default or ctx.currency
    if cur is None:
        raise PayloadError(
            f"{path}.currency is missing and the connection has no currency configured",
            field=f"{path}.currency",
        )
    return cur


def _tender(method: str | None, gateway: str | None, details: Json) -> TenderType:
    if _opt_str(details, "credit_card_wallet", "$"):
        return TenderType.WALLET
    for key in (method, gateway):
        if key and key.lower() in PAYMENT_METHODS:
            return PAYMENT_METHODS[key.lower()]
    if details.get("credit_card_number") or details.get("credit_card_company"):
        return TenderType.CARD
    return TenderType.OTHER


def _order_transaction(
    t: Json, path: str, ctx: _Ctx, *, currency: str | None = None, order_id: str | None = None
) -> _Out:
    """An order transaction; ``currency``/``order_id``: what the enclosing refund says, for a
    transaction embedded in one that names neither."""
    tx_id = _id(t, "id", path)
    cur = _payment_currency(t, path, ctx, currency)
    kind = _opt_str(t, "kind", path)
    if kind not in TRANSACTION_KINDS:
        raise PayloadError(
            f"{path}.kind {kind!r} is not a known transaction kind", field=f"{path}.kind"
        )
    payment_kind, succeeded = TRANSACTION_KINDS[kind]
    status = _opt_str(t, "status", path)
    pay_status = succeeded if status == "success" else TRANSACTION_STATUSES.get(str(status))
    if pay_status is None:
        raise PayloadError(
            f"{path}.status {status!r} is not a known status", field=f"{path}.status"
        )
    details = _obj(t, "payment_details", path)
    dp = f"{path}.payment_details"
    tender = _tender(None, _opt_str(t, "gateway", path), details)
    amount = _money(t, "amount", cur, path)
    entry = None
    if tender in (TenderType.CARD, TenderType.WALLET) and t.get("source_name") == "web":
        entry = EntryMethod.ONLINE  # [UNVERIFIED] an online-store payment: card not present
    occurred = _opt_time(t, "processed_at", path) or _time(t, "created_at", path)
    payment: Payment = _build(
        path,
        lambda: Payment(
            source=ctx.ref(tx_id),
            source_updated_at=occurred,
            transaction_external_id=_opt_id(t, "order_id") or order_id,
            parent_external_id=_opt_id(t, "parent_id"),
            location_external_id=_opt_id(t, "location_id"),
            employee_external_id=_opt_id(t, "user_id"),
            device_external_id=_opt_id(t, "device_id"),
            occurred_at=occurred,
            status=pay_status,
            payment_kind=payment_kind,
            currency=amount.currency,
            amount=Money(amount=abs(amount.amount), currency=amount.currency),
            tender_type=tender,
            card_brand=_opt_str(details, "credit_card_company", dp),
            card_last4=_last4(_opt_str(details, "credit_card_number", dp)),
            entry_method=entry,
        ),
    )
    event = _event(ctx, EventType.PAYMENT_UPDATED, occurred, payment)
    return _Out(records=[payment], events=[event])


def _tender_transaction(t: Json, path: str, ctx: _Ctx) -> _Out:
    tx_id = _id(t, "id", path)
    cur = _payment_currency(t, path, ctx)
    amount = _money(t, "amount", cur, path)
    details = _obj(t, "payment_details", path)
    dp = f"{path}.payment_details"
    occurred = _time(t, "processed_at", path)
    payment: Payment = _build(
        path,
        lambda: Payment(
            source=ctx.ref(f"tender:{tx_id}"),
            source_updated_at=_opt_time(t, "updated_at", path) or occurred,
            transaction_external_id=_opt_id(t, "order_id"),
            employee_external_id=_opt_id(t, "user_id"),
            occurred_at=occurred,
            status=PaymentStatus.COMPLETED,  # a tender transaction is money that moved
            payment_kind=PaymentKind.REFUND if amount.amount < 0 else PaymentKind.SALE,
            currency=amount.currency,
            amount=Money(amount=abs(amount.amount), currency=amount.currency),
            tender_type=_tender(_opt_str(t, "payment_method", path), None, details),
            card_brand=_opt_str(details, "credit_card_company", dp),
            card_last4=_last4(_opt_str(details, "credit_card_number", dp)),
        ),
    )
    event = _event(ctx, EventType.PAYMENT_UPDATED, occurred, payment)
    return _Out(records=[payment], events=[event])


# -- catalog, customers, locations, stock, staff ---------------------------------------------


def _variant_record(
    v: Json,
    path: str,
    ctx: _Ctx,
    product_id: str | None,
    product_name: str | None,
    vendor_id: str | None = None,
) -> Variant:
    variant_id = _id(v, "id", path)
    title = _opt_str(v, "title", path)
    if product_name and title and title != "Default Title":
        name = f"{product_name} - {title}"
    else:
        name = product_name or title or variant_id
    price_currency = _opt_str(v, "price_currency", path) or ctx.currency
    price = None
    if price_currency and v.get("price") is not None:
        price = _money(v, "price", price_currency, path)
    sku = _sku(v.get("sku"), variant_id)
    assert sku is not None
    variant: Variant = _build(
        path,
        lambda: Variant(
            source=ctx.ref(variant_id),
            source_updated_at=_opt_time(v, "updated_at", path),
            product_external_id=product_id or _opt_id(v, "product_id"),
            sku=sku,
            name=name,
            gtin=_gtin(_opt_str(v, "barcode", path)),
            price=price,
            vendor_external_id=vendor_id,
        ),
    )
    return variant


def _product(p: Json, path: str, ctx: _Ctx) -> _Out:
    product_id = _id(p, "id", path)
    name = _opt_str(p, "title", path) or product_id
    vendor_name = " ".join((_opt_str(p, "vendor", path) or "").split())
    vendor = (
        Vendor(source=ctx.ref(vendor_external_id(vendor_name)), name=vendor_name)
        if vendor_name
        else None
    )
    vendor_id = None if vendor is None else vendor.external_id
    variants = [
        _variant_record(v, f"{path}.variants[{i}]", ctx, product_id, name, vendor_id)
        for i, v in enumerate(_list(p, "variants", path))
    ]
    product: Product = _build(
        path,
        lambda: Product(
            source=ctx.ref(product_id),
            source_updated_at=_opt_time(p, "updated_at", path),
            name=name,
            vendor_external_id=vendor_id,
            variants=tuple(variants),
        ),
    )
    type_ = EventType.PRODUCT_CREATED if ctx.topic in CREATED_TOPICS else EventType.PRODUCT_UPDATED
    event = _event(ctx, type_, product.source_updated_at, product)
    out = _Out(records=[product, *variants], events=[event])
    if vendor is not None:
        out.records.insert(0, vendor)
    return out


def _variant(v: Json, path: str, ctx: _Ctx) -> _Out:
    return _Out(records=[_variant_record(v, path, ctx, None, None)])


def _accepts_marketing(c: Json) -> bool:
    consent = c.get("email_marketing_consent")
    if isinstance(consent, dict) and consent.get("state") is not None:
        return consent.get("state") == "subscribed"
    return c.get("accepts_marketing") is True


def _customer_record(c: Json, path: str, ctx: _Ctx) -> Customer:
    customer_id = _id(c, "id", path)
    address = _obj(c, "default_address", path)
    customer: Customer = _build(
        path,
        lambda: Customer(
            source=ctx.ref(customer_id),
            source_updated_at=_opt_time(c, "updated_at", path),
            email=_opt_str(c, "email", path),
            phone=_opt_str(c, "phone", path),
            first_name=_opt_str(c, "first_name", path),
            last_name=_opt_str(c, "last_name", path),
            country_code=_opt_str(address, "country_code", f"{path}.default_address"),
            accepts_marketing=_accepts_marketing(c),
        ),
    )
    return customer


def _customer(c: Json, path: str, ctx: _Ctx) -> _Out:
    customer = _customer_record(c, path, ctx)
    type_ = (
        EventType.CUSTOMER_CREATED if ctx.topic in CREATED_TOPICS else EventType.CUSTOMER_UPDATED
    )
    return _Out(
        records=[customer], events=[_event(ctx, type_, customer.source_updated_at, customer)]
    )


def _location(loc: Json, path: str, ctx: _Ctx) -> _Out:
    location_id = _id(loc, "id", path)
    if not ctx.topic.startswith(RESOURCE_PREFIX):
        # the webhook's REST body has no time zone: the API's location has the shop's
        return _Out(fetches=[Fetch(resource=LOCATIONS, ids=(location_id,))])
    location: Location = _build(
        path,
        lambda: Location(
            source=ctx.ref(location_id),
            source_updated_at=_opt_time(loc, "updated_at", path),
            name=_opt_str(loc, "name", path) or location_id,
            time_zone=_opt_str(loc, "time_zone", path) or "UTC",
            country_code=_opt_str(loc, "country_code", path),
            currency=_opt_str(loc, "currency", path),
        ),
    )
    event = _event(ctx, EventType.LOCATION_UPDATED, location.source_updated_at, location)
    return _Out(records=[location], events=[event])


def _inventory_level(lv: Json, path: str, ctx: _Ctx) -> _Out:
    item_id = _id(lv, "inventory_item_id", path)
    location_id = _id(lv, "location_id", path)
    external_id = level_external_id(item_id, location_id)
    sku = lv.get("sku")
    if not isinstance(sku, str) or not sku:
        # the level does not say which SKU it counts: fetch it (with its SKU) from the API
        return _Out(fetches=[Fetch(resource=INVENTORY_LEVELS, ids=(external_id,))])
    available = (
        None if lv.get("available") is None else _decimal(lv["available"], f"{path}.available")
    )
    on_hand_raw = lv.get("on_hand", lv.get("available"))
    if on_hand_raw is None:
        raise PayloadError(f"{path}.on_hand is missing", field=f"{path}.on_hand")
    as_of = _time(lv, "updated_at", path)
    level: InventoryLevel = _build(
        path,
        lambda: InventoryLevel(
            source=ctx.ref(external_id),
            source_updated_at=as_of,
            sku=sku,
            location_external_id=location_id,
            on_hand=_decimal(on_hand_raw, f"{path}.on_hand"),
            available=available,
            as_of=as_of,
        ),
    )
    return _Out(records=[level], events=[_event(ctx, EventType.INVENTORY_UPDATED, as_of, level)])


def _user(u: Json, path: str, ctx: _Ctx) -> _Out:
    user_id = _id(u, "id", path)
    permissions = u.get("permissions")
    role = "account_owner" if u.get("account_owner") is True else _opt_str(u, "user_type", path)
    employee: Employee = _build(
        path,
        lambda: Employee(
            source=ctx.ref(user_id),
            first_name=_opt_str(u, "first_name", path),
            last_name=_opt_str(u, "last_name", path),
            email=_opt_str(u, "email", path),
            role=role,
            active=u.get("active", True) is not False and permissions != [],
        ),
    )
    return _Out(records=[employee])


HANDLERS: dict[str, Callable[[Json, str, _Ctx], _Out]] = {
    ORDERS: _order,
    REFUNDS: _refund,
    PRODUCTS: _product,
    VARIANTS: _variant,
    CUSTOMERS: _customer,
    LOCATIONS: _location,
    INVENTORY_LEVELS: _inventory_level,
    USERS: _user,
    TRANSACTIONS: _order_transaction,
    TENDER_TRANSACTIONS: _tender_transaction,
}


def resource_of(topic: str) -> str | None:
    """The resource a topic (webhook or ``resource:<name>``) carries; None: nothing to keep."""
    if topic.startswith(RESOURCE_PREFIX):
        name = topic[len(RESOURCE_PREFIX) :]
        return name if name in HANDLERS else None
    return TOPICS.get(topic)


def normalize(delivery: RawDelivery, *, currency: str | None = None) -> NormalizedBatch:
    """One stored delivery → records + events; ``currency``: the connection's configured one
    (for money that names none)."""
    resource = resource_of(delivery.topic)
    if resource is None:
        return NormalizedBatch()  # app/uninstalled, shop/update, draft orders...: no record
    body = loads(delivery.body)
    if not isinstance(body, dict):
        raise PayloadError("the body is not a JSON object", field="$")
    ctx = _Ctx(delivery.connection_id, delivery.event_id, delivery.topic, currency)
    handler = HANDLERS[resource]
    # a REST response keeps the object(s) under its name ({"order": {...}},
    # {"transactions": [...]}): read what is inside
    if "id" not in body and len(body) == 1:
        [(key, inner)] = body.items()
        if isinstance(inner, dict):
            return handler(inner, f"$.{key}", ctx).batch()
        if isinstance(inner, list) and all(isinstance(o, dict) for o in inner):
            out = _Out()
            for i, obj in enumerate(inner):
                out.add(handler(obj, f"$.{key}[{i}]", ctx))
            return out.batch()
    objects = [(k, v) for k, v in body.items() if isinstance(v, dict)]
    if "id" not in body and len(objects) == 1:
        key, inner = objects[0]
        return handler(inner, f"$.{key}", ctx).batch()
    return handler(body, "$", ctx).batch()
