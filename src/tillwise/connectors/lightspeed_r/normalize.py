"""R-Series API objects → canonical records + events. Pure: no I/O, no clock.

Topics are ``resource:<Entity>`` with the R-Series entity name (``resource:Sale``,
``resource:Item``, ``resource:ItemShop``, ``resource:Customer``, ``resource:Employee``,
``resource:EmployeeHours``, ``resource:Vendor``, ``resource:Shop``, ``resource:Order``,
``resource:CreditAccount``); R-Series has no webhooks.

The body is either one object (what backfill stores) or a whole API response — ``{"@attributes":
{...}, "<Entity>": <object or array>}``: a single result is an OBJECT, several are an ARRAY, and
the same holds for every nested relation (``SaleLines.SaleLine``, ``SalePayments.SalePayment``,
``ItemShops.ItemShop``...). Both are read.

Rules (docs/platforms/lightspeed_r.md):

* every value arrives as a string; ids are kept as strings and ``"0"`` means "none";
* money is a decimal string in the account's currency, which R-Series objects do not carry: it
  is the connection's configured ``currency`` (``normalize(..., currency=)``, passed by the
  pipeline from the connection's config); an object with money and no configured currency is
  refused (``PayloadError`` at ``connection.currency``), never guessed. Amounts with more
  decimals than the currency has (``calcTax1: "1.49625"``) are rounded half-up, the way a
  receipt shows them;
* a completed sale is a :class:`Transaction` (``sale.completed``); a completed sale whose total
  is negative is a return: a :class:`Refund` (``refund.created``); an open (not completed, not
  voided) sale yields nothing; a voided sale is a ``voided`` Transaction without an event;
* sale lines and purchase-order lines know their SKU only through the embedded ``Item``
  (``customSku``, else ``systemSku``) — backfill asks for it with ``load_relations``;
* each (not archived) ``SalePayment`` of a completed or voided sale is also a
  :class:`~tillwise.domain.sales.Payment` (no event of its own): completed, or voided with its
  sale; a negative amount (a gift-card load's "Gift Card −100", a return) is a refund payment;
  ``tipAmount`` when not zero is the tip [UNVERIFIED: whether ``amount`` includes it];
  ``PaymentType.type`` gives the tender; no card data is read;
* sale-line notes are not copied (they can hold gift-card numbers);
* credit accounts / gift cards have no canonical record yet: an empty batch.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from tillwise.connectors._normalizing import level_summary
from tillwise.domain.catalog import Product, Variant, Vendor, normalize_gtin
from tillwise.domain.customers import Customer
from tillwise.domain.errors import DomainError, InvalidGtin, InvalidMoney
from tillwise.domain.events import Envelope, EventType, connection_source
from tillwise.domain.ids import SourceRecord, SourceRef
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location, check_time_zone
from tillwise.domain.money import Money, exponent, sum_money
from tillwise.domain.normalized import CanonicalRecord, NormalizedBatch
from tillwise.domain.purchasing import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus
from tillwise.domain.sales import (
    Discount,
    Payment,
    PaymentKind,
    PaymentStatus,
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
from tillwise.domain.staff import Employee, Shift
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import RESOURCE_PREFIX, PayloadError

PLATFORM = "lightspeed-r"
CURRENCY_FIELD = "connection.currency"  # where a missing/unknown currency is reported

# Envelope ids: uuid5(EVENT_NAMESPACE, "<platform>\x1f<connection>\x1f<delivery event id>
# \x1f<record kind>:<external id>") — one delivery can carry several objects.
EVENT_NAMESPACE = uuid.UUID("b3f5e0a2-7c41-4d8e-9b6a-2e1f4c7d9a30")

SHOP = "Shop"
VENDOR = "Vendor"
EMPLOYEE = "Employee"
EMPLOYEE_HOURS = "EmployeeHours"
CUSTOMER = "Customer"
ITEM = "Item"
ITEM_SHOP = "ItemShop"
ORDER = "Order"
SALE = "Sale"
CREDIT_ACCOUNT = "CreditAccount"

# the primary key of each entity (also what fetch-on-notify asks for)
ID_FIELDS: dict[str, str] = {
    SHOP: "shopID",
    VENDOR: "vendorID",
    EMPLOYEE: "employeeID",
    EMPLOYEE_HOURS: "employeeHoursID",
    CUSTOMER: "customerID",
    ITEM: "itemID",
    ITEM_SHOP: "itemShopID",
    ORDER: "orderID",
    SALE: "saleID",
    CREDIT_ACCOUNT: "creditAccountID",
}

_TENDERS: dict[str, TenderType] = {
    "cash": TenderType.CASH,
    "credit card": TenderType.CARD,
    "debit card": TenderType.CARD,
    "gift card": TenderType.GIFT_CARD,
}

Obj = dict[str, Any]


def envelope_id(connection_id: str, event_id: str, record: SourceRecord) -> str:
    key = f"{PLATFORM}\x1f{connection_id}\x1f{event_id}\x1f{record.kind}:{record.external_id}"
    return str(uuid.uuid5(EVENT_NAMESPACE, key))


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- reading R-Series JSON -----------------------------------------------------------------


def many(value: Any) -> list[Obj]:
    """A relation's children: one object, an array of them, or nothing (``""``/absent)."""
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def unwrap(body: Any, entity: str) -> list[Obj]:
    """The objects of an API response (``@attributes`` + object-or-array) or one object."""
    if not isinstance(body, dict):
        raise PayloadError(f"expected a JSON object for {entity}", field="$")
    if "@attributes" in body:
        return many(body.get(entity))
    return [body]


def _text(obj: Obj, key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        text = str(value).strip()
        return text or None
    return None


def _required(obj: Obj, key: str, path: str) -> str:
    value = _text(obj, key)
    if value is None:
        raise PayloadError(f"{path}.{key} is missing", field=f"{path}.{key}")
    return value


def _ref_id(obj: Obj, key: str) -> str | None:
    """A foreign key: ``"0"`` (R-Series for "none") and empty are None."""
    value = _text(obj, key)
    return None if value in (None, "0") else value


def _flag(obj: Obj, key: str) -> bool:
    return _text(obj, key) == "true"


def _decimal(obj: Obj, key: str, path: str, default: str | None = None) -> Decimal:
    raw = _text(obj, key)
    if raw is None:
        if default is None:
            raise PayloadError(f"{path}.{key} is missing", field=f"{path}.{key}")
        raw = default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise PayloadError(
            f"{path}.{key} is not a decimal: {raw!r}", field=f"{path}.{key}"
        ) from None
    if not value.is_finite():
        raise PayloadError(f"{path}.{key} is not a finite decimal", field=f"{path}.{key}")
    return value


def _money(obj: Obj, key: str, path: str, currency: str, default: str | None = None) -> Money:
    value = _decimal(obj, key, path, default)
    try:
        return Money.from_decimal(value, currency, rounding=ROUND_HALF_UP)
    except InvalidMoney as exc:
        raise PayloadError(f"{path}.{key}: {exc}", field=f"{path}.{key}") from None


def _time(obj: Obj, key: str, path: str) -> datetime | None:
    raw = _text(obj, key)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{path}.{key} is not an ISO-8601 time", field=f"{path}.{key}") from None
    if value.tzinfo is None:
        raise PayloadError(f"{path}.{key} has no UTC offset", field=f"{path}.{key}")
    return value.astimezone(UTC)


def _required_time(obj: Obj, key: str, path: str) -> datetime:
    value = _time(obj, key, path)
    if value is None:
        raise PayloadError(f"{path}.{key} is missing", field=f"{path}.{key}")
    return value


def _child(obj: Obj, key: str) -> Obj | None:
    value = obj.get(key)
    return value if isinstance(value, dict) and value else None


def item_sku(item: Obj) -> str | None:
    """The SKU people use: ``customSku``, else the always-present ``systemSku``."""
    return _text(item, "customSku") or _text(item, "systemSku")


def _contact_first(contact: Obj | None, group: str, child: str, key: str) -> str | None:
    if contact is None:
        return None
    for entry in many((_child(contact, group) or {}).get(child)):
        value = _text(entry, key)
        if value:
            return value
    return None


class _Ctx:
    def __init__(self, delivery: RawDelivery, currency: str | None) -> None:
        self.connection_id = delivery.connection_id
        self._currency = currency

    @property
    def currency(self) -> str:
        """The connection's currency; asked for only by objects that carry money."""
        if self._currency is None:
            raise PayloadError(
                "R-Series objects name no currency and this connection has none configured "
                "(tillwise connections configure <id> currency=<ISO 4217 code>)",
                field=CURRENCY_FIELD,
            )
        return self._currency

    def ref(self, external_id: str) -> SourceRef:
        return SourceRef(
            platform=PLATFORM, connection_id=self.connection_id, external_id=external_id
        )


# -- entities -------------------------------------------------------------------------------


def _shop(obj: Obj, ctx: _Ctx, path: str) -> Location:
    zone = _text(obj, "timeZone") or "UTC"
    try:
        check_time_zone(zone)
    except DomainError:
        raise PayloadError(
            f"{path}.timeZone {zone!r} is not an IANA time zone", field=f"{path}.timeZone"
        ) from None
    return Location(
        source=ctx.ref(_required(obj, "shopID", path)),
        source_updated_at=_time(obj, "timeStamp", path),
        name=_text(obj, "name") or "",
        time_zone=zone,
        currency=ctx.currency,
    )


def _customer(obj: Obj, ctx: _Ctx, path: str) -> Customer:
    contact = _child(obj, "Contact")
    country = None
    for address in many((_child(contact or {}, "Addresses") or {}).get("ContactAddress")):
        code = _text(address, "countryCode")
        if code and len(code) == 2:
            country = code.upper()
            break
    return Customer(
        source=ctx.ref(_required(obj, "customerID", path)),
        source_updated_at=_time(obj, "timeStamp", path),
        email=_contact_first(contact, "Emails", "ContactEmail", "address"),
        phone=_contact_first(contact, "Phones", "ContactPhone", "number"),
        first_name=_text(obj, "firstName"),
        last_name=_text(obj, "lastName"),
        country_code=country,
        accepts_marketing=False,  # R-Series records no marketing opt-in (only "noEmail")
    )


def _vendor(obj: Obj, ctx: _Ctx, path: str) -> Vendor:
    contact = _child(obj, "Contact")
    return Vendor(
        source=ctx.ref(_required(obj, "vendorID", path)),
        source_updated_at=_time(obj, "timeStamp", path),
        name=_text(obj, "name") or "",
        email=_contact_first(contact, "Emails", "ContactEmail", "address"),
    )


def _employee(obj: Obj, ctx: _Ctx, path: str) -> Employee:
    role = _child(obj, "EmployeeRole")
    shop = _ref_id(obj, "limitToShopID")
    return Employee(
        source=ctx.ref(_required(obj, "employeeID", path)),
        source_updated_at=_time(obj, "timeStamp", path),
        first_name=_text(obj, "firstName"),
        last_name=_text(obj, "lastName"),
        email=_contact_first(_child(obj, "Contact"), "Emails", "ContactEmail", "address"),
        role=_text(role, "name") if role else None,
        active=not _flag(obj, "archived"),
        location_external_ids=(shop,) if shop else (),
    )


def _shift(obj: Obj, ctx: _Ctx, path: str) -> Shift:
    starts = _required_time(obj, "checkIn", path)
    ends = _time(obj, "checkOut", path)
    return Shift(
        source=ctx.ref(_required(obj, "employeeHoursID", path)),
        source_updated_at=ends or starts,
        employee_external_id=_required(obj, "employeeID", path),
        location_external_id=_ref_id(obj, "shopID"),
        starts_at=starts,
        ends_at=ends,
    )


def _gtin(item: Obj) -> str | None:
    for key in ("upc", "ean"):
        raw = _text(item, key)
        if raw:
            try:
                return normalize_gtin(raw)
            except InvalidGtin:
                continue  # R-Series does not validate these fields; a bad code is dropped
    return None


def _item(obj: Obj, ctx: _Ctx, path: str) -> tuple[Product, Variant]:
    item_id = _required(obj, "itemID", path)
    updated = _time(obj, "timeStamp", path)
    name = _text(obj, "description") or item_id
    price = None
    for i, entry in enumerate(many((_child(obj, "Prices") or {}).get("ItemPrice"))):
        if _text(entry, "useType") == "Default":
            price = _money(entry, "amount", f"{path}.Prices.ItemPrice[{i}]", ctx.currency)
            break
    vendor = _ref_id(obj, "defaultVendorID")
    variant = Variant(
        source=ctx.ref(item_id),
        source_updated_at=updated,
        product_external_id=item_id,
        sku=item_sku(obj) or item_id,
        name=name,
        gtin=_gtin(obj),
        price=price,
        vendor_external_id=vendor,
    )
    product = Product(
        source=ctx.ref(item_id),
        source_updated_at=updated,
        name=name,
        vendor_external_id=vendor,
        variants=(variant,),
    )
    return product, variant


def _item_shop(obj: Obj, ctx: _Ctx, path: str, item: Obj | None) -> InventoryLevel | None:
    """Stock of one item at one shop; ``shopID "0"`` is R-Series' all-shops total: skipped."""
    shop = _ref_id(obj, "shopID")
    if shop is None:
        return None
    item = _child(obj, "Item") or item
    sku = item_sku(item) if item else None
    if sku is None:
        raise PayloadError(
            f"{path}.Item is needed for the SKU (load_relations)", field=f"{path}.Item"
        )
    as_of = _required_time(obj, "timeStamp", path)
    return InventoryLevel(
        source=ctx.ref(_required(obj, "itemShopID", path)),
        source_updated_at=as_of,
        sku=sku,
        location_external_id=shop,
        on_hand=_decimal(obj, "qoh", path),
        as_of=as_of,
    )


def _tender(obj: Obj, ctx: _Ctx, path: str) -> Tender:
    kind = _text(_child(obj, "PaymentType") or {}, "type")
    return Tender(
        type=_TENDERS.get((kind or "").lower(), TenderType.OTHER),
        amount=_money(obj, "amount", path, ctx.currency),
    )


def _sale_payments(obj: Obj, ctx: _Ctx, path: str) -> list[Payment]:
    """Each (not archived) SalePayment of a completed or voided sale as a Payment of its own:
    completed (voided with its sale); a negative amount is money given back (a refund)."""
    if not _flag(obj, "completed") and not _flag(obj, "voided"):
        return []
    sale_id = _required(obj, "saleID", path)
    updated = _time(obj, "timeStamp", path)
    out = []
    for i, p in enumerate(many((_child(obj, "SalePayments") or {}).get("SalePayment"))):
        at = f"{path}.SalePayments.SalePayment[{i}]"
        if _flag(p, "archived") or _ref_id(p, "salePaymentID") is None:
            continue
        amount = _money(p, "amount", at, ctx.currency)
        tip = _money(p, "tipAmount", at, ctx.currency, "0")
        kind = _text(_child(p, "PaymentType") or {}, "type")
        occurred = _time(p, "createTime", at) or updated
        if occurred is None:
            raise PayloadError(f"{at}.createTime is missing", field=f"{at}.createTime")
        out.append(
            Payment(
                source=ctx.ref(_required(p, "salePaymentID", at)),
                source_updated_at=updated or occurred,
                transaction_external_id=sale_id,
                location_external_id=_ref_id(obj, "shopID"),
                employee_external_id=_ref_id(p, "employeeID") or _ref_id(obj, "employeeID"),
                device_external_id=_ref_id(p, "registerID") or _ref_id(obj, "registerID"),
                occurred_at=occurred,
                status=PaymentStatus.VOIDED if _flag(obj, "voided") else PaymentStatus.COMPLETED,
                payment_kind=PaymentKind.REFUND if amount.amount < 0 else PaymentKind.SALE,
                currency=amount.currency,
                amount=Money(amount=abs(amount.amount), currency=amount.currency),
                tip=Money(amount=abs(tip.amount), currency=tip.currency) if tip.amount else None,
                tender_type=_TENDERS.get((kind or "").lower(), TenderType.OTHER),
            )
        )
    return out


def _sale_line(line: Obj, ctx: _Ctx, path: str, sale: Obj, included: bool) -> TransactionLine:
    cur = ctx.currency
    item = _child(line, "Item")
    discounts = []
    line_discount = _money(line, "calcLineDiscount", path, cur, "0")
    if line_discount.amount:
        named = _child(line, "Discount")
        discounts.append(
            Discount(name=_text(named, "name") if named else None, amount=line_discount)
        )
    sale_discount = _money(line, "calcTransactionDiscount", path, cur, "0")
    if sale_discount.amount:
        named = _child(sale, "Discount")
        discounts.append(
            Discount(name=_text(named, "name") if named else None, amount=sale_discount)
        )
    category = _child(sale, "TaxCategory") or {}
    taxes = []
    for n in ("1", "2"):
        amount = _money(line, f"calcTax{n}", path, cur, "0")
        if amount.amount:
            taxes.append(
                Tax(
                    name=_text(category, f"tax{n}Name"),
                    amount=amount,
                    rate=_decimal(line, f"tax{n}Rate", path, "0"),
                    included=included,
                )
            )
    return TransactionLine(
        sku=item_sku(item) if item else None,
        name=_text(item, "description") if item else None,
        quantity=_decimal(line, "unitQuantity", path),
        unit_price=_money(line, "unitPrice", path, cur),
        discounts=tuple(discounts),
        taxes=tuple(taxes),
    )


def _sale(obj: Obj, ctx: _Ctx, path: str) -> Transaction | Refund | None:
    completed, voided = _flag(obj, "completed"), _flag(obj, "voided")
    if not completed and not voided:
        return None  # an open sale or a quote: nothing has happened yet
    sale_id = _required(obj, "saleID", path)
    cur = ctx.currency
    updated = _time(obj, "timeStamp", path)
    occurred = _time(obj, "completeTime", path) or updated
    if occurred is None:
        raise PayloadError(f"{path}.timeStamp is missing", field=f"{path}.timeStamp")
    included = _flag(obj, "isTaxInclusive")
    lines = tuple(
        _sale_line(line, ctx, f"{path}.SaleLines.SaleLine[{i}]", obj, included)
        for i, line in enumerate(many((_child(obj, "SaleLines") or {}).get("SaleLine")))
    )
    total_key = "calcTotal" if _text(obj, "calcTotal") is not None else "total"
    total = _money(obj, total_key, path, cur)
    tenders = tuple(
        _tender(p, ctx, f"{path}.SalePayments.SalePayment[{i}]")
        for i, p in enumerate(many((_child(obj, "SalePayments") or {}).get("SalePayment")))
        if not _flag(p, "archived")
    )
    common: dict[str, Any] = {
        "source": ctx.ref(sale_id),
        "source_updated_at": updated,
        "location_external_id": _ref_id(obj, "shopID"),
        "customer_external_id": _ref_id(obj, "customerID"),
        "employee_external_id": _ref_id(obj, "employeeID"),
        "occurred_at": occurred,
        "currency": cur,
    }
    if total.amount < 0 and not voided:
        refund_lines = tuple(
            RefundLine(
                sku=line.sku,
                name=line.name,
                quantity=abs(line.quantity),
                amount=Money(amount=abs(_line_total(line).amount), currency=cur),
            )
            for line in lines
        )
        return Refund(**common, lines=refund_lines, total=-total)
    txn = Transaction(
        **common,
        status=TransactionStatus.VOIDED if voided else TransactionStatus.COMPLETED,
        lines=lines,
        tenders=tenders,
        total=total,
    )
    return txn.model_copy(update={"issues": reconcile_total(txn)})


def _line_total(line: TransactionLine) -> Money:
    added = [t.amount for t in line.taxes if not t.included]
    return line.net + sum_money(added, line.unit_price.currency)


def _po_status(obj: Obj, lines: tuple[PurchaseOrderLine, ...]) -> PurchaseOrderStatus:
    if _flag(obj, "archived"):
        return PurchaseOrderStatus.CANCELLED
    if _flag(obj, "complete"):
        return PurchaseOrderStatus.RECEIVED
    if any(line.received > 0 for line in lines):
        return PurchaseOrderStatus.PARTIAL
    if _text(obj, "orderedDate"):
        return PurchaseOrderStatus.OPEN
    return PurchaseOrderStatus.DRAFT


def _order(obj: Obj, ctx: _Ctx, path: str) -> PurchaseOrder:
    lines = []
    for i, line in enumerate(many((_child(obj, "OrderLines") or {}).get("OrderLine"))):
        at = f"{path}.OrderLines.OrderLine[{i}]"
        item = _child(line, "Item")
        sku = item_sku(item) if item else None
        if sku is None:
            raise PayloadError(
                f"{at}.Item is needed for the SKU (load_relations)", field=f"{at}.Item"
            )
        lines.append(
            PurchaseOrderLine(
                sku=sku,
                quantity=_decimal(line, "quantity", at),
                received=_decimal(line, "numReceived", at, "0"),
                unit_cost=_money(line, "price", at, ctx.currency) if _text(line, "price") else None,
            )
        )
    arrival = _time(obj, "arrivalDate", path)
    expected: date | None = arrival.date() if arrival else None
    return PurchaseOrder(
        source=ctx.ref(_required(obj, "orderID", path)),
        source_updated_at=_time(obj, "timeStamp", path),
        vendor_external_id=_ref_id(obj, "vendorID"),
        location_external_id=_ref_id(obj, "shopID"),
        status=_po_status(obj, tuple(lines)),
        currency=ctx.currency,
        lines=tuple(lines),
        expected_on=expected,
    )


# -- events ---------------------------------------------------------------------------------


def _summary(record: SourceRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": record.kind, "id": record.id, "external_id": record.external_id}
    if isinstance(record, Transaction | Refund):
        out["location_external_id"] = record.location_external_id
        out["occurred_at"] = iso_utc(record.occurred_at)
        out["currency"] = record.currency
        out["total_amount"] = record.total.amount
        if isinstance(record, Refund):
            out["transaction_external_id"] = record.transaction_external_id
    elif isinstance(record, InventoryLevel):
        out.update(level_summary(record))
    return out


def _created_or_updated(obj: Obj, created: EventType, updated: EventType) -> EventType:
    made = _text(obj, "createTime")
    return created if made is not None and made == _text(obj, "timeStamp") else updated


class _Out:
    def __init__(self, delivery: RawDelivery) -> None:
        self.delivery = delivery
        self.records: list[CanonicalRecord] = []
        self.events: list[Envelope] = []

    def add(self, record: CanonicalRecord, event: EventType | None = None) -> None:
        self.records.append(record)
        if event is None:
            return
        time = (
            record.occurred_at
            if isinstance(record, Transaction | Refund)
            else record.source_updated_at or self.delivery.received_at
        )
        conn = self.delivery.connection_id
        self.events.append(
            Envelope(
                id=envelope_id(conn, self.delivery.event_id, record),
                source=connection_source(PLATFORM, conn),
                type=event.value,
                time=time.astimezone(UTC),
                subject=record.id,
                data=_summary(record),
                platform=PLATFORM,
                connectionid=conn,
            )
        )


def _embedded(obj: Obj, ctx: _Ctx, path: str, out: _Out) -> None:
    """Shop and Customer loaded with a sale are records too (no event of their own)."""
    shop = _child(obj, "Shop")
    if shop is not None:
        out.add(_shop(shop, ctx, f"{path}.Shop"))
    customer = _child(obj, "Customer")
    if customer is not None:
        out.add(_customer(customer, ctx, f"{path}.Customer"))


def _one(entity: str, obj: Obj, ctx: _Ctx, path: str, out: _Out) -> None:
    if entity == SALE:
        _embedded(obj, ctx, path, out)
        sale = _sale(obj, ctx, path)
        if isinstance(sale, Refund):
            out.add(sale, EventType.REFUND_CREATED)
        elif sale is not None:
            completed = sale.status is TransactionStatus.COMPLETED
            # a voided sale withdraws what it added to sales and demand
            out.add(sale, EventType.SALE_COMPLETED if completed else EventType.SALE_VOIDED)
        for payment in _sale_payments(obj, ctx, path):
            out.add(payment)  # no event of its own: the sale's stands for it
    elif entity == ITEM:
        product, variant = _item(obj, ctx, path)
        out.add(
            product, _created_or_updated(obj, EventType.PRODUCT_CREATED, EventType.PRODUCT_UPDATED)
        )
        out.add(variant)
        for i, shop in enumerate(many((_child(obj, "ItemShops") or {}).get("ItemShop"))):
            level = _item_shop(shop, ctx, f"{path}.ItemShops.ItemShop[{i}]", obj)
            if level is not None:
                out.add(level, EventType.INVENTORY_UPDATED)
    elif entity == ITEM_SHOP:
        level = _item_shop(obj, ctx, path, None)
        if level is not None:
            out.add(level, EventType.INVENTORY_UPDATED)
    elif entity == CUSTOMER:
        event = _created_or_updated(obj, EventType.CUSTOMER_CREATED, EventType.CUSTOMER_UPDATED)
        out.add(_customer(obj, ctx, path), event)
    elif entity == SHOP:
        out.add(_shop(obj, ctx, path), EventType.LOCATION_UPDATED)
    elif entity == VENDOR:
        out.add(_vendor(obj, ctx, path))
    elif entity == EMPLOYEE:
        out.add(_employee(obj, ctx, path))
    elif entity == EMPLOYEE_HOURS:
        out.add(_shift(obj, ctx, path))
    elif entity == ORDER:
        out.add(_order(obj, ctx, path))
    # CREDIT_ACCOUNT: gift cards / store credit have no canonical record yet


_ENTITIES: dict[str, str] = {name.lower(): name for name in ID_FIELDS}


def entity_of(topic: str) -> str:
    """``resource:Sale`` → ``Sale`` (case-insensitive); PayloadError for anything else."""
    if not topic.startswith(RESOURCE_PREFIX):
        raise PayloadError(f"R-Series has no webhook topic {topic!r}", field="topic")
    name = _ENTITIES.get(topic[len(RESOURCE_PREFIX) :].lower())
    if name is None:
        raise PayloadError(f"unknown R-Series resource in topic {topic!r}", field="topic")
    return name


def normalize(delivery: RawDelivery, *, currency: str | None = None) -> NormalizedBatch:
    """One stored R-Series object (or API response) → records + events; ``currency``: the
    connection's (R-Series objects name none)."""
    entity = entity_of(delivery.topic)
    try:
        body = json.loads(delivery.body)
    except ValueError as exc:
        raise PayloadError(f"body is not JSON: {exc}", field="$") from None
    objects = unwrap(body, entity)
    listed = isinstance(body, dict) and isinstance(body.get(entity), list)
    if currency is not None:
        try:
            exponent(currency)
        except ValueError:
            raise PayloadError(
                f"the connection's currency {currency!r} is not an ISO 4217 code",
                field=CURRENCY_FIELD,
            ) from None
    ctx = _Ctx(delivery, currency.upper() if currency else None)
    out = _Out(delivery)
    for i, obj in enumerate(objects):
        path = f"{entity}[{i}]" if listed else entity
        try:
            _one(entity, obj, ctx, path, out)
        except PayloadError:
            raise
        except ValueError as exc:  # a canonical model refused a value (pydantic, money)
            raise PayloadError(f"{path}: {exc}", field=path) from None
    return NormalizedBatch(records=tuple(out.records), events=tuple(out.events))
