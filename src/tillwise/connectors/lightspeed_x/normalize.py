"""Lightspeed Retail X-Series objects → canonical records + events. Pure: no I/O, no clock.

Two shapes arrive (docs/platforms/lightspeed_x.md):

* webhooks (topics ``sale.update``, ``product.update``, ``inventory.update``,
  ``customer.update``, ``consignment.send``, ``consignment.receive``...): the raw
  ``application/x-www-form-urlencoded`` body, whose field ``payload`` is the object as JSON in
  the API **1.0/0.9** shape (``register_sale_products``, ``totals``, money as 5-decimal
  strings, timestamps ``"2017-12-06 04:53:17"`` in UTC);
* API objects (topics ``resource:<name>``: ``outlets``, ``users``, ``suppliers``,
  ``products``, ``customers``, ``inventory``, ``consignments``, ``sales``, ``shifts``...): the
  API **2.0** shape, one object per delivery — or a whole ``{"data": …}`` response (an object
  or a list of objects), which is read the same way.

Rules:

* ids are UUID strings, kept as sent; the canonical ``sku`` of a Lightspeed product is its
  **product id** — the only key that sale lines, inventory records and consignment lines share
  (the merchant-facing SKU is not on them);
* money is tax-exclusive decimals with up to 5 places, read exactly (``Decimal``, never
  float). Rounding, ``ROUND_HALF_EVEN`` to the currency's minor unit, happens at line level:
  each line's net (``price_total``), discount (``discount_total``) and tax (``tax_total``) is
  rounded once; the line's unit price is ``price + discount`` rounded, and when
  ``unit price × quantity − discount`` does not land on the rounded net, the cent(s) of
  difference are a line discount named ``rounding``. The reported total is
  ``total_price + total_tax`` summed exactly, then rounded. A sale whose rounded lines and taxes
  do not add up to it carries a ``total_mismatch`` issue; nothing is "fixed";
* X-Series objects carry no currency: money is in the connection's configured ``currency``
  (``normalize(..., currency=)``; the pipeline passes the connection's config for webhooks and
  backfilled objects alike). An object with money and no configured currency is refused
  (``PayloadError`` at ``connection.currency``), never guessed;
* a closed sale (``CLOSED``, ``ONACCOUNT_CLOSED``, ``LAYBY_CLOSED``) is a Transaction
  (``sale.completed``) or, when its total is negative, a Refund (``refund.created``); a
  ``VOIDED`` sale is a voided Transaction without an event; open/parked sales yield nothing;
* a ``sale.update`` webhook without ``outlet_id`` (the 1.0 shape names the register only)
  becomes a fetch of the 2.0 sale, which names the outlet: a sale is never stored without its
  location;
* a ``SUPPLIER`` consignment is a PurchaseOrder (lines from its embedded ``products``, which
  backfill and fetch add); transfers, stocktakes and returns have no canonical record yet; a
  consignment-product webhook only names its consignment: it becomes a fetch;
* each payment of a closed or voided sale (``payments`` / ``register_sale_payments``) is also a
  :class:`~tillwise.domain.sales.Payment` (completed, or voided with its sale; a negative amount
  is a refund payment), without an event of its own; X-Series payments carry no card data;
* registers, payment types, taxes, price books: no canonical record (an empty batch).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from tillwise.connectors._normalizing import level_summary
from tillwise.domain.catalog import Product, Variant, Vendor, normalize_gtin
from tillwise.domain.customers import Customer
from tillwise.domain.errors import DomainError, InvalidGtin
from tillwise.domain.events import Envelope, EventType, connection_source
from tillwise.domain.ids import SourceRecord, SourceRef
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location, check_time_zone
from tillwise.domain.money import Money, exponent, sum_money
from tillwise.domain.normalized import CanonicalRecord, Fetch, NormalizedBatch
from tillwise.domain.purchasing import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus
from tillwise.domain.sales import (
    Discount,
    IssueCode,
    Payment,
    PaymentKind,
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
from tillwise.domain.staff import Employee, Shift
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import RESOURCE_PREFIX, PayloadError

PLATFORM = "lightspeed-x"
CURRENCY_FIELD = "connection.currency"  # where a missing/unknown currency is reported
ROUNDING = ROUND_HALF_EVEN

# Envelope ids: uuid5(EVENT_NAMESPACE, "<platform>\x1f<connection>\x1f<delivery event id>
# \x1f<record kind>:<external id>") — one delivery (a whole API response) can carry several.
EVENT_NAMESPACE = uuid.UUID("5c2b7f0e-8d14-4a36-b9e2-71f04c3a8d62")

# resource names (the ``resource:<name>`` topics; also the backfill resources)
OUTLETS = "outlets"
USERS = "users"
SUPPLIERS = "suppliers"
PRODUCTS = "products"
CUSTOMERS = "customers"
INVENTORY = "inventory"
CONSIGNMENTS = "consignments"
SALES = "sales"
SHIFTS = "shifts"
# resources read without a canonical record
IGNORED_RESOURCES = frozenset(
    {"registers", "payment_types", "taxes", "outlet_taxes", "price_books", "consignment_totals"}
)

# webhook topics (the form field ``type``)
SALE_UPDATE = "sale.update"
PRODUCT_UPDATE = "product.update"
INVENTORY_UPDATE = "inventory.update"
CUSTOMER_UPDATE = "customer.update"
CONSIGNMENT_SEND = "consignment.send"
CONSIGNMENT_RECEIVE = "consignment.receive"
CONSIGNMENT_PRODUCT = "consignment.product"  # inferred when ``type`` is missing
WEBHOOK_TOPICS: dict[str, str] = {
    SALE_UPDATE: SALES,
    PRODUCT_UPDATE: PRODUCTS,
    INVENTORY_UPDATE: INVENTORY,
    CUSTOMER_UPDATE: CUSTOMERS,
    CONSIGNMENT_SEND: CONSIGNMENTS,
    CONSIGNMENT_RECEIVE: CONSIGNMENTS,
    CONSIGNMENT_PRODUCT: CONSIGNMENTS,
}

COMPLETED = frozenset({"CLOSED", "ONACCOUNT_CLOSED", "LAYBY_CLOSED"})
VOIDED = frozenset({"VOIDED"})
PO_STATUS: dict[str, PurchaseOrderStatus] = {
    "OPEN": PurchaseOrderStatus.DRAFT,  # created in Lightspeed, not sent to the supplier yet
    "SENT": PurchaseOrderStatus.OPEN,
    "DISPATCHED": PurchaseOrderStatus.OPEN,
    "RECEIVED": PurchaseOrderStatus.RECEIVED,
    "CANCELLED": PurchaseOrderStatus.CANCELLED,
}
GTIN_CODE_TYPES = frozenset({"EAN", "UPC", "GTIN", "ISBN", "JAN"})
COUNTRY_ALIASES = {"UK": "GB"}  # X-Series shows "UK" in 1.0 contact blocks

Json = dict[str, Any]


# -- reading values ----------------------------------------------------------------------------


def loads(raw: bytes | str, path: str = "$") -> Any:
    """JSON with every decimal read exactly (``parse_float=Decimal``)."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"{path} is not valid JSON: {exc}", field=path) from None


def form_fields(body: bytes) -> tuple[str, dict[str, str], bool]:
    """A webhook body → (the ``payload`` text, the other form fields, whether the body was the
    payload's JSON on its own rather than a form).

    The one reading of a delivery's body: the signature check (``signature_over=payload``)
    signs exactly the text this returns and the normalizer parses exactly that text. A form
    with more than one ``payload`` field is refused: which one counts would be a guess."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("the webhook body is not UTF-8", field="body") from None
    if text.lstrip().startswith("{"):  # the payload's JSON on its own (tillwise inspect)
        return text, {}, True
    fields = parse_qs(text, keep_blank_values=True)
    values = fields.get("payload")
    if not values:
        raise PayloadError("the webhook form has no payload field", field="payload")
    if len(values) > 1:
        raise PayloadError(
            f"the webhook form has {len(values)} payload fields; expected one", field="payload"
        )
    for name, vals in fields.items():
        if name != "payload" and len(vals) > 1:
            raise PayloadError(
                f"the webhook form has {len(vals)} {name} fields; expected one", field=name
            )
    others = {k: v[0] for k, v in fields.items() if k != "payload"}
    return values[0], others, False


def form_payload(body: bytes) -> tuple[Json, dict[str, str]]:
    """A webhook body → (the ``payload`` object, the other form fields)."""
    text, others, _bare = form_fields(body)
    obj = loads(text, "payload")
    if not isinstance(obj, dict):
        raise PayloadError("payload is not a JSON object", field="payload")
    return obj, others


def infer_topic(obj: Json) -> str:
    """The webhook topic when the form has no ``type`` field, from the payload's shape."""
    if "register_sale_products" in obj or "line_items" in obj:
        return SALE_UPDATE
    if "consignment_id" in obj and "product_id" in obj:
        return CONSIGNMENT_PRODUCT
    if "outlet_id" in obj and "product_id" in obj:
        return INVENTORY_UPDATE
    if "customer_code" in obj:
        return CUSTOMER_UPDATE
    if "sku" in obj or "variant_parent_id" in obj or "handle" in obj:
        return PRODUCT_UPDATE
    raise PayloadError(
        "cannot tell which kind of object the webhook payload is (no type field)", field="type"
    )


def _sub(obj: Json, key: str) -> Json:
    """A nested object, or ``{}``."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _text(obj: Json, key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def _id(obj: Json, key: str, path: str) -> str:
    value = _text(obj, key)
    if value is None:
        raise PayloadError(f"{path}.{key} is missing", field=f"{path}.{key}")
    return value


def _dec(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise PayloadError(f"{path} is not a number", field=path)
    if isinstance(value, float):  # only when a caller parsed without parse_float=Decimal
        value = repr(value)
    try:
        dec = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{path} is not a number: {value!r}", field=path) from None
    if not dec.is_finite():
        raise PayloadError(f"{path} is not a finite number", field=path)
    return dec


def _opt_dec(obj: Json, key: str, path: str) -> Decimal | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return _dec(value, f"{path}.{key}")


def _first_dec(obj: Json, keys: tuple[str, ...], path: str) -> Decimal | None:
    for key in keys:
        value = _opt_dec(obj, key, path)
        if value is not None:
            return value
    return None


def round_money(value: Decimal, currency: str) -> Money:
    """The one rounding rule: half-even to the currency's minor unit."""
    return Money.from_decimal(value, currency, rounding=ROUNDING)


def parse_time(value: Any, path: str) -> datetime:
    """ISO-8601 with offset or ``Z``, or the 0.9/1.0 ``"YYYY-MM-DD HH:MM:SS"`` (UTC) → aware UTC."""
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{path} is not a timestamp", field=path)
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{path} is not an ISO-8601 timestamp: {value!r}", field=path) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _opt_time(obj: Json, key: str, path: str) -> datetime | None:
    value = obj.get(key)
    if value in (None, ""):
        return None
    return parse_time(value, f"{path}.{key}")


def _version(obj: Json, path: str) -> int | None:
    value = obj.get("version")
    if value is None or isinstance(value, dict):  # list responses: {"min", "max"}
        return None
    try:
        return int(str(value))
    except ValueError:
        raise PayloadError(f"{path}.version is not an integer", field=f"{path}.version") from None


def object_version(obj: Json) -> str:
    """What makes this version of an object distinct: ``version``, else ``updated_at``, else a
    digest of its JSON (suppliers carry neither). Used in event ids (dedupe)."""
    version = obj.get("version")
    if version is not None and not isinstance(version, dict):
        return str(version)
    updated = obj.get("updated_at")
    if isinstance(updated, str) and updated:
        return updated
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
    return f"sha256-{digest[:16]}"


def level_external_id(outlet_id: str, product_id: str) -> str:
    """An inventory level's external id: ``<outlet id>:<product id>`` (both shapes have them)."""
    return f"{outlet_id}:{product_id}"


# -- context -------------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, delivery: RawDelivery, currency: str | None) -> None:
        self.delivery = delivery
        self.connection_id = delivery.connection_id
        self._currency = currency

    @property
    def currency(self) -> str:
        """The connection's currency; asked for only by objects that carry money."""
        if self._currency is None:
            raise PayloadError(
                "X-Series objects name no currency and this connection has none configured "
                "(tillwise connections configure <id> currency=<ISO 4217 code>)",
                field=CURRENCY_FIELD,
            )
        return self._currency

    def ref(self, external_id: str) -> SourceRef:
        return SourceRef(
            platform=PLATFORM, connection_id=self.connection_id, external_id=external_id
        )

    def money(self, value: Decimal) -> Money:
        return round_money(value, self.currency)


Out = tuple[tuple[CanonicalRecord, ...], SourceRecord | None, EventType | None]


# -- locations, staff, vendors, customers --------------------------------------------------------


def _location(o: Json, path: str, ctx: _Ctx) -> Out:
    country = _text(o, "physical_country_id")
    if country is not None:
        country = COUNTRY_ALIASES.get(country.upper(), country.upper())
        if len(country) != 2:
            country = None
    zone = _text(o, "time_zone") or "UTC"
    try:
        check_time_zone(zone)
    except DomainError:
        raise PayloadError(
            f"{path}.time_zone {zone!r} is not an IANA zone", field=f"{path}.time_zone"
        ) from None
    loc = Location(
        source=ctx.ref(_id(o, "id", path)),
        source_updated_at=_opt_time(o, "updated_at", path),
        source_version=_version(o, path),
        name=_text(o, "name") or _id(o, "id", path),
        time_zone=zone,
        country_code=country,
        currency=(_text(o, "currency") or "").upper() or None,
    )
    return (loc,), loc, EventType.LOCATION_UPDATED


def split_name(display: str | None) -> tuple[str | None, str | None]:
    """``"API User"`` → ``("API", "User")``; one word → ``(word, None)``."""
    if not display:
        return None, None
    first, _, rest = display.strip().partition(" ")
    return first or None, rest.strip() or None


def _user(o: Json, path: str, ctx: _Ctx) -> Out:
    first, last = split_name(_text(o, "display_name") or _text(o, "username"))
    outlets = o.get("restricted_outlet_ids") or []
    if not outlets and _text(o, "restricted_outlet_id"):
        outlets = [o["restricted_outlet_id"]]
    emp = Employee(
        source=ctx.ref(_id(o, "id", path)),
        source_updated_at=_opt_time(o, "updated_at", path),
        source_version=_version(o, path),
        first_name=first,
        last_name=last,
        email=_text(o, "email"),
        role=_text(o, "account_type"),
        active=o.get("enabled", True) is not False and o.get("deleted_at") in (None, ""),
        location_external_ids=tuple(str(x) for x in outlets if x),
    )
    return (emp,), None, None


def _shift(o: Json, path: str, ctx: _Ctx) -> Out:
    start = _opt_time(o, "time_in", path) or _opt_time(o, "start_time", path)
    if start is None:
        raise PayloadError(f"{path}.time_in is missing", field=f"{path}.time_in")
    try:
        shift = Shift(
            source=ctx.ref(_id(o, "id", path)),
            source_updated_at=_opt_time(o, "updated_at", path),
            source_version=_version(o, path),
            employee_external_id=_id(o, "user_id", path),
            location_external_id=_text(o, "outlet_id"),
            starts_at=start,
            ends_at=_opt_time(o, "time_out", path) or _opt_time(o, "end_time", path),
        )
    except ValueError as exc:
        raise PayloadError(f"{path}: {exc}", field=f"{path}.time_out") from None
    return (shift,), None, None


def _supplier(o: Json, path: str, ctx: _Ctx) -> Out:
    vendor = Vendor(
        source=ctx.ref(_id(o, "id", path)),
        source_updated_at=_opt_time(o, "updated_at", path),
        source_version=_version(o, path),
        name=_text(o, "name") or _id(o, "id", path),
        email=_text(o, "email"),
    )
    return (vendor,), None, None


def _customer(o: Json, path: str, ctx: _Ctx) -> Out:
    contact = _sub(o, "contact")
    country = _text(o, "physical_country_id") or _text(contact, "physical_country_id")
    if country is not None:
        country = COUNTRY_ALIASES.get(country.upper(), country.upper())
    cust = Customer(
        source=ctx.ref(_id(o, "id", path)),
        source_updated_at=_opt_time(o, "updated_at", path),
        source_version=_version(o, path),
        email=_text(o, "email"),
        phone=_text(o, "phone") or _text(o, "mobile"),
        first_name=_text(o, "first_name"),
        last_name=_text(o, "last_name"),
        country_code=country,
        # X-Series has only an opt-out flag (do_not_email); not opting out is not consent
        accepts_marketing=False,
    )
    return (cust,), cust, EventType.CUSTOMER_UPDATED


# -- catalog and stock ---------------------------------------------------------------------------


def _gtin(o: Json) -> str | None:
    for code in o.get("product_codes") or []:
        if not isinstance(code, dict):
            continue
        if str(code.get("type", "")).upper() in GTIN_CODE_TYPES and code.get("code"):
            try:
                return normalize_gtin(str(code["code"]))
            except InvalidGtin:
                continue
    return None


def _retail_price(o: Json, path: str) -> Decimal | None:
    """Tax-exclusive retail price: 2.0 ``price_excluding_tax``; 1.0 the BASE price-book entry."""
    value = _opt_dec(o, "price_excluding_tax", path)
    if value is not None:
        return value
    for i, entry in enumerate(o.get("price_book_entries") or []):
        if isinstance(entry, dict) and entry.get("type") == "BASE" and not entry.get("min_units"):
            return _opt_dec(entry, "price", f"{path}.price_book_entries[{i}]")
    return _opt_dec(o, "price", path)


def _product(o: Json, path: str, ctx: _Ctx) -> Out:
    pid = _id(o, "id", path)
    parent = _text(o, "variant_parent_id")
    supplier = _sub(o, "supplier")
    vendor = _text(o, "supplier_id") or _text(supplier, "id")
    updated = _opt_time(o, "updated_at", path)
    version = _version(o, path)
    price = _retail_price(o, path)
    variant = Variant(
        source=ctx.ref(pid),
        source_updated_at=updated,
        source_version=version,
        product_external_id=parent or pid,
        sku=pid,
        name=_text(o, "variant_name") or _text(o, "name") or pid,
        gtin=_gtin(o),
        price=ctx.money(price) if price is not None else None,
        vendor_external_id=vendor,
    )
    if parent is not None:  # a variant of a family: the family product is its own object
        return (variant,), variant, EventType.PRODUCT_UPDATED
    product = Product(
        source=ctx.ref(pid),
        source_updated_at=updated,
        source_version=version,
        name=_text(o, "base_name") or _text(o, "name") or pid,
        vendor_external_id=vendor,
        variants=(variant,),
    )
    return (product, variant), product, EventType.PRODUCT_UPDATED


def _inventory(o: Json, path: str, ctx: _Ctx) -> Out:
    outlet = _text(o, "outlet_id")
    if outlet is None and isinstance(o.get("outlet"), dict):
        outlet = _text(o["outlet"], "id")
    if outlet is None:
        raise PayloadError(f"{path}.outlet_id is missing", field=f"{path}.outlet_id")
    product = _id(o, "product_id", path)
    on_hand = _first_dec(o, ("inventory_level", "current_amount", "count"), path)
    if on_hand is None:
        raise PayloadError(
            f"{path}.inventory_level (or count) is missing", field=f"{path}.inventory_level"
        )
    updated = _opt_time(o, "updated_at", path)
    level = InventoryLevel(
        source=ctx.ref(level_external_id(outlet, product)),
        source_updated_at=updated,
        source_version=_version(o, path),
        sku=product,
        location_external_id=outlet,
        on_hand=on_hand,
        available=None,
        # inventory records carry no time: the level is as of the delivery
        as_of=updated or ctx.delivery.received_at.astimezone(UTC),
    )
    return (level,), level, EventType.INVENTORY_UPDATED


# -- purchase orders -----------------------------------------------------------------------------


def _consignment(o: Json, path: str, ctx: _Ctx) -> Out:
    if str(o.get("type") or "").upper() != "SUPPLIER":
        return (), None, None  # transfers, stocktakes, returns: no canonical record yet
    status_raw = str(o.get("status") or "OPEN").upper()
    lines: list[PurchaseOrderLine] = []
    for i, p in enumerate(o.get("products") or []):
        at = f"{path}.products[{i}]"
        if not isinstance(p, dict):
            raise PayloadError(f"{at} is not an object", field=at)
        ordered = _opt_dec(p, "count", at)
        if ordered is None:
            continue  # a line without an ordered count (received-only bookkeeping)
        cost = _opt_dec(p, "cost", at)
        lines.append(
            PurchaseOrderLine(
                sku=_id(p, "product_id", at),
                quantity=ordered,
                received=_opt_dec(p, "received", at) or Decimal(0),
                unit_cost=ctx.money(cost) if cost is not None else None,
            )
        )
    status = PO_STATUS.get(status_raw, PurchaseOrderStatus.OPEN)
    if status == PurchaseOrderStatus.OPEN and any(ln.received > 0 for ln in lines):
        status = PurchaseOrderStatus.PARTIAL
    due = _opt_time(o, "due_at", path)
    po = PurchaseOrder(
        source=ctx.ref(_id(o, "id", path)),
        source_updated_at=_opt_time(o, "updated_at", path),
        source_version=_version(o, path),
        vendor_external_id=_text(o, "supplier_id"),
        location_external_id=_text(o, "outlet_id"),
        status=status,
        currency=ctx.currency,
        lines=tuple(lines),
        expected_on=due.date() if due else None,
    )
    return (po,), None, None


# -- sales ---------------------------------------------------------------------------------------


def tender_type(payment: Json) -> TenderType:
    """Lightspeed payment type ids 1 = cash, 3 = credit card [names as a fallback]."""
    nested = _sub(payment, "payment_type")
    type_id = _text(payment, "payment_type_id") or _text(nested, "id")
    names = " ".join(
        filter(
            None,
            [
                _text(payment, "name"),
                _text(nested, "name"),
                _text(_sub(payment, "retailer_payment_type"), "name"),
            ],
        )
    ).lower()
    if "gift" in names:
        return TenderType.GIFT_CARD
    if type_id == "1" or "cash" in names:
        return TenderType.CASH
    if type_id == "3" or any(w in names for w in ("card", "eftpos", "credit", "debit")):
        return TenderType.CARD
    return TenderType.OTHER


class _SaleLine:
    """One sale line read exactly; rounding happens in :meth:`canonical`."""

    def __init__(self, li: Json, path: str) -> None:
        self.sku = _text(li, "product_id")
        self.quantity = _dec(li.get("quantity"), f"{path}.quantity")
        unit = _first_dec(li, ("price", "unit_price"), path) or Decimal(0)
        unit_discount = _first_dec(li, ("discount", "unit_discount"), path) or Decimal(0)
        unit_tax = _first_dec(li, ("tax", "unit_tax"), path) or Decimal(0)
        self.list_unit = unit + unit_discount
        net = _first_dec(li, ("price_total", "total_price"), path)
        self.net = net if net is not None else unit * self.quantity
        disc = _first_dec(li, ("discount_total", "total_discount"), path)
        self.discount = disc if disc is not None else unit_discount * self.quantity
        tax = _first_dec(li, ("tax_total", "total_tax"), path)
        self.tax = tax if tax is not None else unit_tax * self.quantity
        self.is_return = li.get("is_return") is True or self.quantity < 0

    def canonical(self, ctx: _Ctx) -> TransactionLine:
        unit_price = ctx.money(self.list_unit)
        net = ctx.money(self.net)
        discounts: list[Discount] = []
        if self.discount != 0:
            discounts.append(Discount(name="discount", amount=ctx.money(self.discount)))
        drift = unit_price.times(self.quantity) - sum_money(
            [d.amount for d in discounts], ctx.currency
        )
        if drift != net:
            discounts.append(Discount(name="rounding", amount=drift - net))
        taxes = (Tax(amount=ctx.money(self.tax)),) if self.tax != 0 else ()
        return TransactionLine(
            sku=self.sku,
            quantity=self.quantity,
            unit_price=unit_price,
            discounts=tuple(discounts),
            taxes=taxes,
        )


def _sale_totals(o: Json, path: str) -> Decimal:
    totals = o.get("totals") if isinstance(o.get("totals"), dict) else None
    src, at = (totals, f"{path}.totals") if totals is not None else (o, path)
    price = _opt_dec(src, "total_price", at)
    if price is None:
        raise PayloadError(f"{at}.total_price is missing", field=f"{at}.total_price")
    return price + (_opt_dec(src, "total_tax", at) or Decimal(0))


def _sale(o: Json, path: str, ctx: _Ctx) -> Out:
    status = str(o.get("status") or "").upper()
    if status not in COMPLETED and status not in VOIDED:
        return (), None, None  # parked, on account, lay-by, awaiting...: not a sale yet
    sid = _id(o, "id", path)
    cur = ctx.currency
    key = "line_items" if "line_items" in o else "register_sale_products"
    raw_lines = o.get(key) or []
    if not isinstance(raw_lines, list):
        raise PayloadError(f"{path}.{key} is not a list", field=f"{path}.{key}")
    lines = []
    for i, li in enumerate(raw_lines):
        if not isinstance(li, dict):
            raise PayloadError(f"{path}.{key}[{i}] is not an object", field=f"{path}.{key}[{i}]")
        lines.append(_SaleLine(li, f"{path}.{key}[{i}]"))
    reported = ctx.money(_sale_totals(o, path))
    occurred = _opt_time(o, "sale_date", path) or _opt_time(o, "created_at", path)
    if occurred is None:
        raise PayloadError(f"{path}.sale_date is missing", field=f"{path}.sale_date")
    pay_key = "payments" if "payments" in o else "register_sale_payments"
    tenders = []
    for i, p in enumerate(o.get(pay_key) or []):
        at = f"{path}.{pay_key}[{i}]"
        if not isinstance(p, dict):
            raise PayloadError(f"{at} is not an object", field=at)
        tenders.append(
            Tender(type=tender_type(p), amount=ctx.money(_dec(p.get("amount"), f"{at}.amount")))
        )
    common: dict[str, Any] = {
        "source": ctx.ref(sid),
        "source_updated_at": _opt_time(o, "updated_at", path),
        "source_version": _version(o, path),
        "location_external_id": _text(o, "outlet_id"),
        "customer_external_id": _text(o, "customer_id"),
        "employee_external_id": _text(o, "user_id"),
        "occurred_at": occurred,
        "currency": cur,
    }
    payments = _sale_payments(o, path, pay_key, ctx, common, voided=status in VOIDED)
    if status in COMPLETED and reported.amount < 0:
        refund = _refund(o, lines, reported, common, ctx)
        return (refund, *payments), refund, EventType.REFUND_CREATED
    adjustments = []
    for i, adj in enumerate(o.get("adjustments") or []):
        at = f"{path}.adjustments[{i}]"
        if not isinstance(adj, dict):
            raise PayloadError(f"{at} is not an object", field=at)
        adjustments.append(
            TransactionLine(
                name=_text(adj, "name") or _text(adj, "type"),
                quantity=Decimal(1),
                unit_price=ctx.money(_dec(adj.get("value"), f"{at}.value")),
            )
        )
    txn = Transaction(
        **common,
        status=TransactionStatus.VOIDED if status in VOIDED else TransactionStatus.COMPLETED,
        lines=(*(line.canonical(ctx) for line in lines), *adjustments),
        tenders=tuple(tenders),
        total=reported,
    )
    txn = txn.model_copy(update={"issues": reconcile_total(txn)})
    if txn.status == TransactionStatus.VOIDED:
        return (txn, *payments), None, None
    return (txn, *payments), txn, EventType.SALE_COMPLETED


def _sale_payments(
    o: Json, path: str, pay_key: str, ctx: _Ctx, common: dict[str, Any], *, voided: bool
) -> tuple[Payment, ...]:
    """Each payment of a closed or voided sale as a Payment of its own (no event: the sale's
    event stands for them). A negative amount is money given back (a return)."""
    out = []
    for i, p in enumerate(o.get(pay_key) or []):
        at = f"{path}.{pay_key}[{i}]"
        if not isinstance(p, dict) or not _text(p, "id"):
            continue  # the tenders loop above refused non-objects; an id-less one is not kept
        amount = ctx.money(_dec(p.get("amount"), f"{at}.amount"))
        out.append(
            Payment(
                source=ctx.ref(_id(p, "id", at)),
                source_updated_at=common["source_updated_at"],
                source_version=common["source_version"],
                transaction_external_id=common["source"].external_id,
                location_external_id=_text(p, "outlet_id") or common["location_external_id"],
                employee_external_id=common["employee_external_id"],
                device_external_id=_text(p, "register_id") or _text(o, "register_id"),
                occurred_at=_opt_time(p, "payment_date", at) or common["occurred_at"],
                status=PaymentStatus.VOIDED if voided else PaymentStatus.COMPLETED,
                payment_kind=PaymentKind.REFUND if amount.amount < 0 else PaymentKind.SALE,
                currency=amount.currency,
                amount=Money(amount=abs(amount.amount), currency=amount.currency),
                tender_type=tender_type(p),
            )
        )
    return tuple(out)


def _refund(
    o: Json, lines: list[_SaleLine], reported: Money, common: dict[str, Any], ctx: _Ctx
) -> Refund:
    cur = ctx.currency
    refund_lines = tuple(
        RefundLine(
            sku=line.sku,
            quantity=-line.quantity,
            amount=-(ctx.money(line.net) + ctx.money(line.tax)),
        )
        for line in lines
        if line.is_return
    )
    total = -reported
    issues: tuple[ReconciliationIssue, ...] = ()
    computed = sum_money([ln.amount for ln in refund_lines], cur)
    if refund_lines and computed != total:
        diff = total - computed
        issues = (
            ReconciliationIssue(
                code=IssueCode.TOTAL_MISMATCH,
                detail=(
                    f"reported refund total {total} differs from the returned lines' total "
                    f"{computed} by {diff}"
                ),
                difference=diff,
            ),
        )
    return Refund(
        **common,
        transaction_external_id=_text(o, "return_for"),
        lines=refund_lines,
        total=total,
        reason=_text(o, "note"),
        issues=issues,
    )


# -- dispatch ------------------------------------------------------------------------------------

Handler = Callable[[Json, str, _Ctx], Out]
HANDLERS: dict[str, Handler] = {
    OUTLETS: _location,
    USERS: _user,
    SHIFTS: _shift,
    SUPPLIERS: _supplier,
    CUSTOMERS: _customer,
    PRODUCTS: _product,
    INVENTORY: _inventory,
    CONSIGNMENTS: _consignment,
    SALES: _sale,
}
# singular spellings (fetch-on-notify, older names) → the resource
ALIASES = {
    "outlet": OUTLETS,
    "user": USERS,
    "shift": SHIFTS,
    "supplier": SUPPLIERS,
    "customer": CUSTOMERS,
    "product": PRODUCTS,
    "consignment": CONSIGNMENTS,
    "sale": SALES,
}


def resource_of(topic: str) -> str:
    name = topic[len(RESOURCE_PREFIX) :] if topic.startswith(RESOURCE_PREFIX) else topic
    return ALIASES.get(name, name)


def _summary(record: SourceRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": record.kind, "id": record.id, "external_id": record.external_id}
    if isinstance(record, Transaction | Refund):
        out["location_external_id"] = record.location_external_id
        out["occurred_at"] = record.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        out["currency"] = record.currency
        out["total_amount"] = record.total.amount
        if isinstance(record, Refund):
            out["transaction_external_id"] = record.transaction_external_id
    elif isinstance(record, InventoryLevel):
        out.update(level_summary(record))
    return out


def envelope_id(connection_id: str, event_id: str, record: SourceRecord) -> str:
    key = f"{PLATFORM}\x1f{connection_id}\x1f{event_id}\x1f{record.kind}:{record.external_id}"
    return str(uuid.uuid5(EVENT_NAMESPACE, key))


def _event_time(record: SourceRecord, delivery: RawDelivery) -> datetime:
    if isinstance(record, Transaction | Refund):
        return record.occurred_at
    if record.source_updated_at is not None:
        return record.source_updated_at
    return delivery.received_at.astimezone(UTC)


def _objects(body: Any) -> list[tuple[Json, str]]:
    """One object, or a ``{"data": object | [objects]}`` response → (object, JSON path)."""
    if isinstance(body, dict) and "data" in body and set(body) <= {"data", "version"}:
        data = body["data"]
        if isinstance(data, list):
            out = []
            for i, item in enumerate(data):
                if not isinstance(item, dict):
                    raise PayloadError(f"$.data[{i}] is not an object", field=f"$.data[{i}]")
                out.append((item, f"$.data[{i}]"))
            return out
        if isinstance(data, dict):
            return [(data, "$.data")]
        raise PayloadError("$.data is neither an object nor a list", field="$.data")
    if isinstance(body, dict):
        return [(body, "$")]
    raise PayloadError("the body is not a JSON object", field="$")


def normalize(delivery: RawDelivery, *, currency: str | None = None) -> NormalizedBatch:
    """One stored delivery (webhook form or ``resource:<name>`` JSON) → records + events;
    ``currency``: the connection's (X-Series objects name none)."""
    if delivery.topic.startswith(RESOURCE_PREFIX):
        body: Any = loads(delivery.body)
        resource = resource_of(delivery.topic)
        prefix = "$"
    else:
        obj, fields = form_payload(delivery.body)
        topic = delivery.topic or fields.get("type") or infer_topic(obj)
        if topic not in WEBHOOK_TOPICS:
            return NormalizedBatch()  # a webhook type without a canonical record
        resource = WEBHOOK_TOPICS[topic]
        if resource == CONSIGNMENTS and "consignment_id" in obj:
            # one consignment line: fetch the whole consignment (header + lines)
            cid = _id(obj, "consignment_id", "payload")
            return NormalizedBatch(fetches=(Fetch(resource=CONSIGNMENTS, ids=(cid,)),))
        if resource == SALES and _text(obj, "outlet_id") is None:
            # an API 1.0 sale names its register, not its outlet: fetch the 2.0 sale (both)
            sid = _id(obj, "id", "payload")
            return NormalizedBatch(fetches=(Fetch(resource=SALES, ids=(sid,)),))
        body, prefix = obj, "payload"
    if resource in IGNORED_RESOURCES:
        return NormalizedBatch()
    handler = HANDLERS.get(resource)
    if handler is None:
        raise PayloadError(
            f"lightspeed-x has no normalizer for topic {delivery.topic!r}", field="topic"
        )
    if currency is not None:
        try:
            exponent(currency)
        except DomainError:
            raise PayloadError(
                f"the connection's currency {currency!r} is not an ISO 4217 code",
                field=CURRENCY_FIELD,
            ) from None
    ctx = _Ctx(delivery, currency.upper() if currency else None)
    records: list[CanonicalRecord] = []
    events: list[Envelope] = []
    for obj, path in _objects(body):
        if prefix == "payload":
            path = "payload"
        try:
            recs, subject, event_type = handler(obj, path, ctx)
        except DomainError as exc:  # money, GTIN or zone the domain refuses
            raise PayloadError(f"{path}: {exc}", field=path) from None
        records.extend(recs)
        if subject is not None and event_type is not None:
            events.append(
                Envelope(
                    id=envelope_id(delivery.connection_id, delivery.event_id, subject),
                    source=connection_source(PLATFORM, delivery.connection_id),
                    type=event_type.value,
                    time=_event_time(subject, delivery),
                    subject=subject.id,
                    data=_summary(subject),
                    platform=PLATFORM,
                    connectionid=delivery.connection_id,
                )
            )
    return NormalizedBatch(records=tuple(records), events=tuple(events))
