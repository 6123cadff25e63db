"""Square payloads → canonical records + canonical events. Pure: no I/O, no clock.

Two kinds of input (docs/platforms/square.md, "What becomes what"):

* webhook deliveries (topic = Square's ``type``): ``{merchant_id, type, event_id, created_at,
  data: {type, id, object: {...}}}``;
* API objects (topic ``resource:<name>``, body = ONE object as the API returns it, e.g. one
  ``Order`` from BatchRetrieveOrders) — the same object in a webhook snapshot and from the API
  gives the same records.

Rules:

* money is Square's ``{amount: <minor units>, currency}`` taken as is; quantities are decimal
  strings; times are RFC 3339 (nanoseconds truncated to microseconds), stored in UTC;
* orders: only ``COMPLETED`` orders are sales (``CANCELED`` → a voided transaction without an
  event; ``OPEN``/``DRAFT`` → nothing yet). Square spreads order-scoped discounts and taxes
  onto the lines (``applied_discounts`` / ``applied_taxes``), so they are kept on the lines and
  the transaction's order-level lists stay empty (no double counting). A line's unit price is
  ``base_price_money`` plus its modifiers' prices. Tips and service charges have no canonical
  field: a total that does not add up is recorded as a reconciliation issue, never "fixed";
* order webhooks carry only a summary, and payments name their order: both ask the pipeline to
  fetch the order (``fetches``: resource ``orders``); Square POS-app sales emit no
  ``order.created``, so this is how in-person sales arrive. A payment (``payment.*``,
  ``resource:payments``) is also a :class:`~tillwise.domain.sales.Payment` record of its own
  (``payment.updated``): status APPROVED → authorized, PENDING → pending, COMPLETED →
  completed (refunded when ``refunded_money`` covers ``total_money``), CANCELED → voided,
  FAILED → failed; amount = ``total_money`` (tip included), tip = ``tip_money``, fee = the sum
  of ``processing_fee[]``; entry method KEYED/SWIPED/EMV/CONTACTLESS/ON_FILE → keyed/swiped/
  dipped/tapped/online;
* the canonical ``sku`` of a Square item variation is its catalog object id (what inventory
  counts, order lines and BatchChangeInventory all use);
* inventory counts: state ``IN_STOCK`` is the on-hand quantity (other states are not stock);
* one event per record that has a canonical event type, with a deterministic id
  ``uuid5(EVENT_NAMESPACE, "square\\x1f<connection>\\x1f<delivery event id>\\x1f<subject>")``.
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
from tillwise.domain.events import Envelope, EventType, connection_source
from tillwise.domain.ids import SourceRecord, SourceRef
from tillwise.domain.inventory import InventoryLevel, InventoryMovement, MovementReason
from tillwise.domain.locations import Location
from tillwise.domain.money import Money
from tillwise.domain.normalized import NormalizedBatch
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
    TransactionStatus,
    reconcile_total,
)
from tillwise.domain.staff import Employee, Shift
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import RESOURCE_PREFIX, PayloadError

PLATFORM = "square"
EVENT_NAMESPACE = uuid.UUID("8b6f0a3e-2c4d-4f7a-9e1b-5d3c7a9f1e24")

# resource names (``resource:<name>`` topics); bodies are single API objects
ORDERS = "orders"
PAYMENTS = "payments"
REFUNDS = "refunds"
INVENTORY_COUNTS = "inventory_counts"
INVENTORY_CHANGES = "inventory_changes"
INVENTORY_ADJUSTMENTS = "inventory_adjustments"
INVENTORY_PHYSICAL_COUNTS = "inventory_physical_counts"
ITEMS = "items"  # catalog objects (only ITEM objects become records)
CUSTOMERS = "customers"
LOCATIONS = "locations"
VENDORS = "vendors"
TEAM_MEMBERS = "team_members"
TIMECARDS = "timecards"
SCHEDULED_SHIFTS = "scheduled_shifts"
# a catalog change named only by its version time: fetch = SearchCatalogObjects(begin_time)
CATALOG_VERSION = "catalog_version"

TENDER_TYPES = {
    "CARD": TenderType.CARD,
    "CASH": TenderType.CASH,
    "SQUARE_GIFT_CARD": TenderType.GIFT_CARD,
    "WALLET": TenderType.WALLET,
}
PAYMENT_SOURCES = {
    "CARD": TenderType.CARD,
    "CASH": TenderType.CASH,
    "WALLET": TenderType.WALLET,
}
PAYMENT_STATUSES = {
    "APPROVED": PaymentStatus.AUTHORIZED,
    "PENDING": PaymentStatus.PENDING,
    "COMPLETED": PaymentStatus.COMPLETED,
    "CANCELED": PaymentStatus.VOIDED,
    "FAILED": PaymentStatus.FAILED,
}
ENTRY_METHODS = {
    "KEYED": EntryMethod.KEYED,
    "SWIPED": EntryMethod.SWIPED,
    "EMV": EntryMethod.DIPPED,
    "CONTACTLESS": EntryMethod.TAPPED,
    "ON_FILE": EntryMethod.ONLINE,
}
# the other side of an adjustment that moves stock into or out of IN_STOCK
ADJUSTMENT_REASONS = {
    "SOLD": MovementReason.SALE,
    "WASTE": MovementReason.SHRINK,
    "RETURNED_BY_CUSTOMER": MovementReason.RETURN,
    "UNLINKED_RETURN": MovementReason.RETURN,
    "NONE": MovementReason.RECEIPT,
    "RECEIVED_FROM_VENDOR": MovementReason.RECEIPT,
    "IN_TRANSIT_TO": MovementReason.TRANSFER_IN,
    "IN_TRANSIT": MovementReason.TRANSFER_OUT,
}

Json = dict[str, Any]


def envelope_id(connection_id: str, event_id: str, subject: str) -> str:
    key = f"{PLATFORM}\x1f{connection_id}\x1f{event_id}\x1f{subject}"
    return str(uuid.uuid5(EVENT_NAMESPACE, key))


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- reading fields, with the JSON path of whatever is wrong ---------------------------------

_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_time(value: Any, path: str) -> datetime:
    """An RFC 3339 time (up to nanoseconds, any offset) as an aware UTC datetime."""
    if isinstance(value, str):
        m = _RFC3339.match(value)
        if m:
            day, clock, frac, tz = m.groups()
            tz = "+00:00" if tz in ("Z", "z") else tz
            try:
                parsed = datetime.fromisoformat(f"{day}T{clock}{(frac or '')[:7]}{tz}")
            except ValueError:
                pass
            else:
                return parsed.astimezone(UTC)
    raise PayloadError(f"{path} is not an RFC 3339 time: {value!r}", field=path)


def _get(obj: Json, key: str, path: str) -> Any:
    if key not in obj or obj[key] is None:
        raise PayloadError(f"{path}.{key} is missing", field=f"{path}.{key}")
    return obj[key]


def _obj(obj: Json, key: str, path: str) -> Json:
    value = _get(obj, key, path)
    if not isinstance(value, dict):
        raise PayloadError(f"{path}.{key} is not an object", field=f"{path}.{key}")
    return value


def _opt_obj(obj: Json, key: str, path: str) -> Json:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{path}.{key} is not an object", field=f"{path}.{key}")
    return value


def _list(obj: Json, key: str, path: str) -> list[Json]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise PayloadError(f"{path}.{key} is not a list of objects", field=f"{path}.{key}")
    return value


def _str(obj: Json, key: str, path: str) -> str:
    value = _get(obj, key, path)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{path}.{key} is not a non-empty string", field=f"{path}.{key}")
    return value


def _opt_str(obj: Json, key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{path}.{key} is not a string", field=f"{path}.{key}")
    return value


def _opt_int(obj: Json, key: str, path: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{path}.{key} is not an integer", field=f"{path}.{key}")
    return value


def _time(obj: Json, key: str, path: str) -> datetime:
    return parse_time(_get(obj, key, path), f"{path}.{key}")


def _opt_time(obj: Json, key: str, path: str) -> datetime | None:
    value = obj.get(key)
    return None if value is None else parse_time(value, f"{path}.{key}")


def _decimal(obj: Json, key: str, path: str) -> Decimal:
    """Square quantities are decimal STRINGS ("1", "2.5")."""
    value = _get(obj, key, path)
    if isinstance(value, str):
        try:
            dec = Decimal(value)
        except InvalidOperation:
            pass
        else:
            if dec.is_finite():
                return dec
    raise PayloadError(f"{path}.{key} is not a decimal string: {value!r}", field=f"{path}.{key}")


def _money(obj: Json, key: str, path: str, currency: str | None = None) -> Money:
    value = _obj(obj, key, path)
    where = f"{path}.{key}"
    amount, cur = value.get("amount"), value.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise PayloadError(f"{where}.amount is not integer minor units", field=f"{where}.amount")
    if not isinstance(cur, str):
        raise PayloadError(f"{where}.currency is missing", field=f"{where}.currency")
    try:
        money = Money(amount=amount, currency=cur)
    except ValueError:
        raise PayloadError(
            f"{where}.currency {cur!r} is not an ISO 4217 code", field=f"{where}.currency"
        ) from None
    if currency is not None and money.currency != currency:
        raise PayloadError(
            f"{where} is in {money.currency}, not the order's {currency}", field=f"{where}.currency"
        )
    return money


def _rate(percentage: str | None) -> Decimal | None:
    """Square's ``"9"`` / ``"5.0"`` percent → ``Decimal("0.09")`` / ``Decimal("0.05")``."""
    if percentage is None:
        return None
    try:
        value = Decimal(percentage).scaleb(-2)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


# -- what one delivery yields ------------------------------------------------------------------


@dataclass
class _Ctx:
    connection_id: str
    event_id: str
    topic: str

    def ref(self, external_id: str) -> SourceRef:
        return SourceRef(
            platform=PLATFORM, connection_id=self.connection_id, external_id=external_id
        )


def _event(
    ctx: _Ctx,
    type_: EventType,
    time: datetime | None,
    subject: str,
    data: dict[str, Any],
) -> Envelope:
    return Envelope(
        id=envelope_id(ctx.connection_id, ctx.event_id, subject),
        source=connection_source(PLATFORM, ctx.connection_id),
        type=type_.value,
        time=time,
        subject=subject,
        data=data,
        platform=PLATFORM,
        connectionid=ctx.connection_id,
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
        return payment_summary(record)
    elif isinstance(record, InventoryLevel):
        out.update(level_summary(record))
    return out


def _build(path: str, make: Callable[[], Any]) -> Any:
    """Construct a canonical record; a value the model refuses is the payload's fault."""
    try:
        return make()
    except PayloadError:
        raise
    except ValueError as exc:
        raise PayloadError(f"{path} cannot be normalized: {exc}", field=path) from None


# -- orders, payments, refunds -------------------------------------------------------------


def _order(o: Json, path: str, ctx: _Ctx) -> _Out:
    order_id = _str(o, "id", path)
    state = _opt_str(o, "state", path)
    if state not in ("COMPLETED", "CANCELED"):
        return _Out()  # OPEN / DRAFT: not a sale (yet)
    total = _money(o, "total_money", path)
    cur = total.currency
    discounts = {d.get("uid"): d for d in _list(o, "discounts", path)}
    taxes = {t.get("uid"): t for t in _list(o, "taxes", path)}
    lines: list[TransactionLine] = []
    for i, li in enumerate(_list(o, "line_items", path)):
        lp = f"{path}.line_items[{i}]"
        unit = _money(li, "base_price_money", lp, cur)
        for j, mod in enumerate(_list(li, "modifiers", lp)):
            mp = f"{lp}.modifiers[{j}]"
            if mod.get("base_price_money") is None:
                continue
            mod_qty = _decimal(mod, "quantity", mp) if "quantity" in mod else Decimal(1)
            unit = unit + _money(mod, "base_price_money", mp, cur).times(mod_qty)
        line_discounts = []
        for j, ad in enumerate(_list(li, "applied_discounts", lp)):
            ap = f"{lp}.applied_discounts[{j}]"
            named = discounts.get(ad.get("discount_uid"), {})
            line_discounts.append(
                Discount(
                    name=_opt_str(named, "name", f"{path}.discounts"),
                    amount=_money(ad, "applied_money", ap, cur),
                )
            )
        line_taxes = []
        for j, at in enumerate(_list(li, "applied_taxes", lp)):
            ap = f"{lp}.applied_taxes[{j}]"
            tax = taxes.get(at.get("tax_uid"), {})
            line_taxes.append(
                Tax(
                    name=_opt_str(tax, "name", f"{path}.taxes"),
                    amount=_money(at, "applied_money", ap, cur),
                    rate=_rate(_opt_str(tax, "percentage", f"{path}.taxes")),
                    included=tax.get("type") == "INCLUSIVE",
                )
            )
        lines.append(
            TransactionLine(
                sku=_opt_str(li, "catalog_object_id", lp),
                name=_opt_str(li, "name", lp),
                quantity=_decimal(li, "quantity", lp),
                unit_price=unit,
                discounts=tuple(line_discounts),
                taxes=tuple(line_taxes),
            )
        )
    tenders = []
    for i, t in enumerate(_list(o, "tenders", path)):
        tp = f"{path}.tenders[{i}]"
        card_details = _opt_obj(t, "card_details", tp)
        card = _opt_obj(card_details, "card", f"{tp}.card_details")
        last4 = _opt_str(card, "last_4", f"{tp}.card_details.card")
        tenders.append(
            Tender(
                type=TENDER_TYPES.get(str(t.get("type")), TenderType.OTHER),
                amount=_money(t, "amount_money", tp, cur),
                card_last4=last4 if last4 and re.fullmatch(r"\d{4}", last4) else None,
                card_fingerprint=_opt_str(card, "fingerprint", f"{tp}.card_details.card"),
                entry_method=_opt_str(card_details, "entry_method", f"{tp}.card_details"),
            )
        )
    occurred = _opt_time(o, "closed_at", path) or _time(o, "created_at", path)
    completed = state == "COMPLETED"
    txn: Transaction = _build(
        path,
        lambda: Transaction(
            source=ctx.ref(order_id),
            source_updated_at=_opt_time(o, "updated_at", path),
            source_version=_opt_int(o, "version", path),
            location_external_id=_opt_str(o, "location_id", path),
            customer_external_id=_opt_str(o, "customer_id", path),
            occurred_at=occurred,
            status=TransactionStatus.COMPLETED if completed else TransactionStatus.VOIDED,
            currency=cur,
            lines=tuple(lines),
            tenders=tuple(tenders),
            total=total,
        ),
    )
    txn = txn.model_copy(update={"issues": reconcile_total(txn)})
    out = _Out(records=[txn])
    # a CANCELED order withdraws what it added to sales and demand
    kind = EventType.SALE_COMPLETED if completed else EventType.SALE_VOIDED
    out.events.append(_event(ctx, kind, txn.occurred_at, txn.id, _summary(txn)))
    return out


def _payment(p: Json, path: str, ctx: _Ctx) -> _Out:
    """A payment is a record of its own (status, card, fees) and a tender of its order: it is
    stored, and its order (with ``tenders[]``: POS sales emit no ``order.created``) fetched."""
    payment_id = _str(p, "id", path)
    amount = _money(p, "amount_money", path)
    cur = amount.currency
    tip = _money(p, "tip_money", path, cur) if p.get("tip_money") is not None else None
    if p.get("total_money") is not None:
        total = _money(p, "total_money", path, cur)
    else:
        total = amount + tip if tip is not None else amount
    raw_status = _opt_str(p, "status", path)
    if raw_status not in PAYMENT_STATUSES:
        raise PayloadError(
            f"{path}.status {raw_status!r} is not a Square payment status", field=f"{path}.status"
        )
    status = PAYMENT_STATUSES[raw_status]
    refunded = (
        _money(p, "refunded_money", path, cur) if p.get("refunded_money") is not None else None
    )
    if status is PaymentStatus.COMPLETED and refunded and 0 < total.amount <= refunded.amount:
        status = PaymentStatus.REFUNDED
    fees = [
        _money(f, "amount_money", f"{path}.processing_fee[{i}]", cur)
        for i, f in enumerate(_list(p, "processing_fee", path))
        if f.get("amount_money") is not None
    ]
    fee = Money(amount=sum(f.amount for f in fees), currency=cur) if fees else None
    card_details = _opt_obj(p, "card_details", path)
    cp = f"{path}.card_details"
    card = _opt_obj(card_details, "card", cp)
    brand = _opt_str(card, "card_brand", f"{cp}.card")
    tender = PAYMENT_SOURCES.get(str(p.get("source_type")), TenderType.OTHER)
    if brand == "SQUARE_GIFT_CARD":
        tender = TenderType.GIFT_CARD
    last4 = _opt_str(card, "last_4", f"{cp}.card")
    device = _opt_obj(p, "device_details", path)
    created = _opt_time(p, "created_at", path) or _time(p, "updated_at", path)
    payment: Payment = _build(
        path,
        lambda: Payment(
            source=ctx.ref(payment_id),
            source_updated_at=_opt_time(p, "updated_at", path) or created,
            transaction_external_id=_opt_str(p, "order_id", path),
            location_external_id=_opt_str(p, "location_id", path),
            employee_external_id=_opt_str(p, "team_member_id", path)
            or _opt_str(p, "employee_id", path),
            device_external_id=_opt_str(device, "device_id", f"{path}.device_details"),
            occurred_at=created,
            status=status,
            payment_kind=PaymentKind.SALE,  # money back is a PaymentRefund (a Refund record)
            currency=cur,
            amount=total,
            tip=tip,
            processing_fee=fee,
            tender_type=tender,
            card_brand=brand,
            card_last4=last4 if last4 and re.fullmatch(r"\d{4}", last4) else None,
            card_fingerprint=_opt_str(card, "fingerprint", f"{cp}.card"),
            entry_method=ENTRY_METHODS.get(str(card_details.get("entry_method"))),
        ),
    )
    time = payment.source_updated_at
    event = _event(ctx, EventType.PAYMENT_UPDATED, time, payment.id, _summary(payment))
    out = _Out(records=[payment], events=[event])
    if payment.transaction_external_id is not None:
        out.fetch(ORDERS, payment.transaction_external_id)
    return out


def _refund(r: Json, path: str, ctx: _Ctx) -> _Out:
    refund_id = _str(r, "id", path)
    if _opt_str(r, "status", path) in ("REJECTED", "FAILED"):
        return _Out()  # no money went back
    total = _money(r, "amount_money", path)
    created = _time(r, "created_at", path)
    refund: Refund = _build(
        path,
        lambda: Refund(
            source=ctx.ref(refund_id),
            source_updated_at=_opt_time(r, "updated_at", path) or created,
            source_version=_opt_int(r, "version", path),
            transaction_external_id=_opt_str(r, "order_id", path),
            location_external_id=_opt_str(r, "location_id", path),
            occurred_at=created,
            currency=total.currency,
            total=total,
            reason=_opt_str(r, "reason", path),
        ),
    )
    event = _event(ctx, EventType.REFUND_CREATED, refund.occurred_at, refund.id, _summary(refund))
    return _Out(records=[refund], events=[event])


# -- inventory -----------------------------------------------------------------------------


def level_external_id(location_id: str, variation_id: str) -> str:
    return f"{location_id}:{variation_id}"


def _inventory_count(c: Json, path: str, ctx: _Ctx) -> _Out:
    if _opt_str(c, "state", path) != "IN_STOCK":
        return _Out()
    if _opt_str(c, "catalog_object_type", path) not in (None, "ITEM_VARIATION"):
        return _Out()
    sku = _str(c, "catalog_object_id", path)
    location = _str(c, "location_id", path)
    as_of = _time(c, "calculated_at", path)
    level: InventoryLevel = _build(
        path,
        lambda: InventoryLevel(
            source=ctx.ref(level_external_id(location, sku)),
            source_updated_at=as_of,
            sku=sku,
            location_external_id=location,
            on_hand=_decimal(c, "quantity", path),
            as_of=as_of,
        ),
    )
    event = _event(ctx, EventType.INVENTORY_UPDATED, as_of, level.id, _summary(level))
    return _Out(records=[level], events=[event])


def _physical_count(pc: Json, path: str, ctx: _Ctx) -> _Out:
    """A stock-take: a fact about the shelf, no record (the count webhook brings the level)."""
    if _opt_str(pc, "state", path) != "IN_STOCK":
        return _Out()
    sku = _str(pc, "catalog_object_id", path)
    location = _str(pc, "location_id", path)
    counted = _decimal(pc, "quantity", path)
    counted_at = _time(pc, "occurred_at", path)
    subject = ctx.ref(level_external_id(location, sku)).canonical_id("inventory_level")
    data = {
        "sku": sku,
        "location_external_id": location,
        "counted": str(counted),
        "counted_at": iso_utc(counted_at),
        "count_id": _opt_str(pc, "id", path),
    }
    return _Out(events=[_event(ctx, EventType.INVENTORY_COUNTED, counted_at, subject, data)])


def _adjustment(a: Json, path: str, ctx: _Ctx) -> _Out:
    """An adjustment moving stock into or out of IN_STOCK is a movement of on-hand stock."""
    adj_id = _str(a, "id", path)
    from_state = _opt_str(a, "from_state", path)
    to_state = _opt_str(a, "to_state", path)
    quantity = _decimal(a, "quantity", path)
    if to_state == "IN_STOCK" and from_state != "IN_STOCK":
        delta, other = quantity, from_state
    elif from_state == "IN_STOCK" and to_state != "IN_STOCK":
        delta, other = -quantity, to_state
    else:
        return _Out()
    occurred = _time(a, "occurred_at", path)
    movement: InventoryMovement = _build(
        path,
        lambda: InventoryMovement(
            source=ctx.ref(adj_id),
            source_updated_at=_opt_time(a, "created_at", path) or occurred,
            sku=_str(a, "catalog_object_id", path),
            location_external_id=_str(a, "location_id", path),
            delta=delta,
            reason=ADJUSTMENT_REASONS.get(other or "", MovementReason.ADJUSTMENT),
            occurred_at=occurred,
        ),
    )
    return _Out(records=[movement])


def _inventory_change(ch: Json, path: str, ctx: _Ctx) -> _Out:
    kind = _opt_str(ch, "type", path)
    if kind == "PHYSICAL_COUNT":
        return _physical_count(_obj(ch, "physical_count", path), f"{path}.physical_count", ctx)
    if kind == "ADJUSTMENT":
        return _adjustment(_obj(ch, "adjustment", path), f"{path}.adjustment", ctx)
    return _Out()  # TRANSFER: moves between locations arrive as two count updates


# -- catalog, customers, locations, vendors, staff -------------------------------------------


def _gtin(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalize_gtin(value)
    except ValueError:
        return None  # a UPC field holding something else is not a GTIN


def _catalog_object(obj: Json, path: str, ctx: _Ctx) -> _Out:
    if obj.get("type") != "ITEM" or obj.get("is_deleted") is True:
        return _Out()  # categories, taxes, discounts...: not products
    item_id = _str(obj, "id", path)
    data = _obj(obj, "item_data", path)
    dp = f"{path}.item_data"
    name = _str(data, "name", dp)
    updated = _opt_time(obj, "updated_at", path)
    version = _opt_int(obj, "version", path)
    variants: list[Variant] = []
    for i, v in enumerate(_list(data, "variations", dp)):
        if v.get("is_deleted") is not True:
            variants.append(_variant(v, f"{dp}.variations[{i}]", item_id, name, updated, ctx))
    product: Product = _build(
        path,
        lambda: Product(
            source=ctx.ref(item_id),
            source_updated_at=updated,
            source_version=version,
            name=name,
            variants=tuple(variants),
        ),
    )
    event = _event(ctx, EventType.PRODUCT_UPDATED, updated, product.id, _summary(product))
    return _Out(records=[product, *variants], events=[event])


def _variant(
    v: Json, vp: str, item_id: str, item_name: str, updated: datetime | None, ctx: _Ctx
) -> Variant:
    var_id = _str(v, "id", vp)
    vd = _opt_obj(v, "item_variation_data", vp)
    vdp = f"{vp}.item_variation_data"
    var_name = _opt_str(vd, "name", vdp)
    price = None
    if vd.get("price_money") is not None and vd.get("pricing_type") != "VARIABLE_PRICING":
        price = _money(vd, "price_money", vdp)
    variant: Variant = _build(
        vp,
        lambda: Variant(
            source=ctx.ref(var_id),
            source_updated_at=_opt_time(v, "updated_at", vp) or updated,
            source_version=_opt_int(v, "version", vp),
            product_external_id=item_id,
            sku=var_id,
            name=f"{item_name} ({var_name})" if var_name else item_name,
            gtin=_gtin(_opt_str(vd, "upc", vdp)),
            price=price,
        ),
    )
    return variant


def _customer(c: Json, path: str, ctx: _Ctx) -> _Out:
    customer_id = _str(c, "id", path)
    address = _opt_obj(c, "address", path)
    customer: Customer = _build(
        path,
        lambda: Customer(
            source=ctx.ref(customer_id),
            source_updated_at=_opt_time(c, "updated_at", path),
            source_version=_opt_int(c, "version", path),
            email=_opt_str(c, "email_address", path),
            phone=_opt_str(c, "phone_number", path),
            first_name=_opt_str(c, "given_name", path),
            last_name=_opt_str(c, "family_name", path),
            country_code=_opt_str(address, "country", f"{path}.address"),
            # Square has no marketing-consent field (email_unsubscribed=false is not consent)
            accepts_marketing=False,
        ),
    )
    created = ctx.topic == "customer.created"
    kind = EventType.CUSTOMER_CREATED if created else EventType.CUSTOMER_UPDATED
    event = _event(ctx, kind, customer.source_updated_at, customer.id, _summary(customer))
    return _Out(records=[customer], events=[event])


def _location(loc: Json, path: str, ctx: _Ctx) -> _Out:
    location_id = _str(loc, "id", path)
    location: Location = _build(
        path,
        lambda: Location(
            source=ctx.ref(location_id),
            name=_str(loc, "name", path),
            time_zone=_opt_str(loc, "timezone", path) or "UTC",
            country_code=_opt_str(loc, "country", path),
            currency=_opt_str(loc, "currency", path),
        ),
    )
    event = _event(ctx, EventType.LOCATION_UPDATED, None, location.id, _summary(location))
    return _Out(records=[location], events=[event])


def _vendor(v: Json, path: str, ctx: _Ctx) -> _Out:
    vendor_id = _str(v, "id", path)
    contacts = _list(v, "contacts", path)
    email = _opt_str(contacts[0], "email_address", f"{path}.contacts[0]") if contacts else None
    vendor: Vendor = _build(
        path,
        lambda: Vendor(
            source=ctx.ref(vendor_id),
            source_updated_at=_opt_time(v, "updated_at", path),
            source_version=_opt_int(v, "version", path),
            name=_str(v, "name", path),
            email=email,
        ),
    )
    return _Out(records=[vendor])


def _team_member(t: Json, path: str, ctx: _Ctx) -> _Out:
    member_id = _str(t, "id", path)
    assigned = _opt_obj(t, "assigned_locations", path)
    locations = assigned.get("location_ids") or []
    if not isinstance(locations, list) or not all(isinstance(x, str) for x in locations):
        raise PayloadError(
            f"{path}.assigned_locations.location_ids is not a list of strings",
            field=f"{path}.assigned_locations.location_ids",
        )
    jobs = _list(_opt_obj(t, "wage_setting", path), "job_assignments", f"{path}.wage_setting")
    role = "owner" if t.get("is_owner") is True else None
    if role is None and jobs:
        role = _opt_str(jobs[0], "job_title", f"{path}.wage_setting.job_assignments[0]")
    employee: Employee = _build(
        path,
        lambda: Employee(
            source=ctx.ref(member_id),
            source_updated_at=_opt_time(t, "updated_at", path),
            first_name=_opt_str(t, "given_name", path),
            last_name=_opt_str(t, "family_name", path),
            email=_opt_str(t, "email_address", path),
            role=role,
            active=t.get("status") == "ACTIVE",
            location_external_ids=tuple(locations),
        ),
    )
    return _Out(records=[employee])


def _timecard(s: Json, path: str, ctx: _Ctx) -> _Out:
    """A timecard (the old Labor API called it a shift): worked time of one team member."""
    shift_id = _str(s, "id", path)
    member = _opt_str(s, "team_member_id", path) or _str(s, "employee_id", path)
    shift: Shift = _build(
        path,
        lambda: Shift(
            source=ctx.ref(shift_id),
            source_updated_at=_opt_time(s, "updated_at", path),
            source_version=_opt_int(s, "version", path),
            employee_external_id=member,
            location_external_id=_opt_str(s, "location_id", path),
            starts_at=_time(s, "start_at", path),
            ends_at=_opt_time(s, "end_at", path),
        ),
    )
    return _Out(records=[shift])


# -- dispatch ------------------------------------------------------------------------------

Handler = Callable[[Json, str, _Ctx], _Out]

RESOURCE_HANDLERS: dict[str, Handler] = {
    ORDERS: _order,
    PAYMENTS: _payment,
    REFUNDS: _refund,
    INVENTORY_COUNTS: _inventory_count,
    INVENTORY_CHANGES: _inventory_change,
    INVENTORY_ADJUSTMENTS: _adjustment,
    INVENTORY_PHYSICAL_COUNTS: _physical_count,
    ITEMS: _catalog_object,
    CUSTOMERS: _customer,
    LOCATIONS: _location,
    VENDORS: _vendor,
    TEAM_MEMBERS: _team_member,
    TIMECARDS: _timecard,
    # planned shifts are not worked time and the canonical model has no schedule record yet
    SCHEDULED_SHIFTS: lambda obj, path, ctx: _Out(),
}

# webhook type → (key under data.object, handler for that object)
WEBHOOK_OBJECTS: dict[str, tuple[str, Handler]] = {
    "payment.created": ("payment", _payment),
    "payment.updated": ("payment", _payment),
    "refund.created": ("refund", _refund),
    "refund.updated": ("refund", _refund),
    "customer.created": ("customer", _customer),
    "customer.updated": ("customer", _customer),
    "vendor.created": ("vendor", _vendor),
    "vendor.updated": ("vendor", _vendor),
    "team_member.created": ("team_member", _team_member),
    "team_member.updated": ("team_member", _team_member),
    "labor.shift.created": ("shift", _timecard),
    "labor.shift.updated": ("shift", _timecard),
    "labor.timecard.created": ("timecard", _timecard),
    "labor.timecard.updated": ("timecard", _timecard),
}
ORDER_SUMMARIES = {
    "order.created": "order_created",
    "order.updated": "order_updated",
    "order.fulfillment.updated": "order_fulfillment_updated",
}
LOCATION_EVENTS = frozenset({"location.created", "location.updated"})


def _webhook(body: Json, ctx: _Ctx) -> _Out:
    topic = ctx.topic
    data = _obj(body, "data", "$")
    if topic in WEBHOOK_OBJECTS:
        key, handler = WEBHOOK_OBJECTS[topic]
        obj = _obj(data, "object", "$.data")
        return handler(_obj(obj, key, "$.data.object"), f"$.data.object.{key}", ctx)
    if topic in ORDER_SUMMARIES:
        key = ORDER_SUMMARIES[topic]
        summary = _obj(_obj(data, "object", "$.data"), key, "$.data.object")
        out = _Out()
        out.fetch(ORDERS, _str(summary, "order_id", f"$.data.object.{key}"))
        return out
    if topic == "inventory.count.updated":
        obj = _obj(data, "object", "$.data")
        out = _Out()
        for i, count in enumerate(_list(obj, "inventory_counts", "$.data.object")):
            out.add(_inventory_count(count, f"$.data.object.inventory_counts[{i}]", ctx))
        return out
    if topic in LOCATION_EVENTS:
        out = _Out()
        out.fetch(LOCATIONS, _str(data, "id", "$.data"))
        return out
    if topic == "catalog.version.updated":
        version = _obj(_obj(data, "object", "$.data"), "catalog_version", "$.data.object")
        _time(version, "updated_at", "$.data.object.catalog_version")  # RFC 3339, checked
        out = _Out()
        # as sent: it becomes SearchCatalogObjects' begin_time
        out.fetch(CATALOG_VERSION, version["updated_at"])
        return out
    # customer.deleted, labor.*.deleted, scheduled shifts, oauth.authorization.revoked,
    # webhooks.test_notification...: nothing to store (docs/platforms/square.md)
    return _Out()


# what an API response wraps its object(s) in (``{"payment": {...}}``, ``{"payments": [...]}``)
RESPONSE_KEYS = frozenset(
    {
        "payment", "payments", "order", "orders", "refund", "refunds", "customer", "customers",
        "location", "locations", "vendor", "vendors", "team_member", "team_members",
        "timecard", "timecards", "shift", "shifts", "object", "objects", "counts", "changes",
    }
)  # fmt: skip
RESPONSE_EXTRAS = frozenset({"cursor", "errors", "related_objects", "latest_time"})


def _response_objects(body: Json) -> list[tuple[Json, str]]:
    """One API object as stored by backfill/fetch, or (for ``tillwise inspect``) a whole API
    response holding one object or a list of them."""
    keys = [k for k in body if k not in RESPONSE_EXTRAS]
    if "id" in body or len(keys) != 1 or keys[0] not in RESPONSE_KEYS:
        return [(body, "$")]
    key = keys[0]
    inner = body[key]
    if isinstance(inner, dict):
        return [(inner, f"$.{key}")]
    if isinstance(inner, list) and all(isinstance(o, dict) for o in inner):
        return [(o, f"$.{key}[{i}]") for i, o in enumerate(inner)]
    return [(body, "$")]


def normalize(delivery: RawDelivery) -> NormalizedBatch:
    """One stored Square delivery (webhook or ``resource:<name>``) → records + events."""
    try:
        body = json.loads(delivery.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}", field="$") from None
    if not isinstance(body, dict):
        raise PayloadError("the body is not a JSON object", field="$")
    ctx = _Ctx(delivery.connection_id, delivery.event_id, delivery.topic)
    if delivery.topic.startswith(RESOURCE_PREFIX):
        handler = RESOURCE_HANDLERS.get(delivery.topic.removeprefix(RESOURCE_PREFIX))
        out = _Out()
        if handler is not None:
            for obj, path in _response_objects(body):
                out.add(handler(obj, path, ctx))
    else:
        out = _webhook(body, ctx)
    return out.batch()
