"""The generic JSON shapes (documented with examples in ``docs/generic-connector.md``).

Every delivery is one JSON object ``{"event": ..., "created_at": ..., "data": {...}}``.
Conventions:

* ``*_money`` / ``amount`` objects are ``{"amount": <integer minor units>, "currency": "USD"}``;
* ``price`` fields are **decimal major units** (``29.99`` or ``"29.99"``); the body is parsed
  with ``parse_float=Decimal`` so a price never passes through a binary float;
* ids may be strings or integers and are kept as strings;
* unknown fields are ignored (forward compatible); missing required fields are errors that
  name the JSON path (``data.line_items[1].price``).

:func:`parse_body` is shared by ``verify`` (reject bad input before it is stored) and
``normalize`` (pure mapping of an already-accepted body).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, cast

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictInt,
    ValidationError,
    field_validator,
)

from tillwise.domain.catalog import normalize_gtin
from tillwise.domain.errors import DomainError
from tillwise.domain.inventory import MovementReason
from tillwise.domain.locations import check_time_zone
from tillwise.domain.money import Money, exponent
from tillwise.ports.platform import PayloadError


class GenericEvent(StrEnum):
    """Every ``event`` value the generic connector accepts."""

    SALE_COMPLETED = "sale.completed"
    SALE_REFUNDED = "sale.refunded"  # alias of refund.created
    REFUND_CREATED = "refund.created"
    INVENTORY_UPDATED = "inventory.updated"
    INVENTORY_COUNTED = "inventory.counted"
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"
    LOCATION_UPDATED = "location.updated"
    VENDOR_UPDATED = "vendor.updated"
    PURCHASE_ORDER_UPDATED = "purchase_order.updated"
    EMPLOYEE_UPDATED = "employee.updated"
    SALE_VOIDED = "sale.voided"
    DRAWER_OPENED = "drawer.opened"  # a no-sale
    PRICE_OVERRIDDEN = "price.overridden"
    PAYMENT_UPDATED = "payment.updated"  # a payment attempt (declined ones too)


# -- field types -----------------------------------------------------------------------------


def _no_float(v: Any) -> Any:
    if isinstance(v, float):
        raise ValueError("must be a decimal number or string, not a binary float")
    if isinstance(v, bool):
        raise ValueError("must be a number, not a boolean")
    return v


Id = Annotated[str, Field(min_length=1, max_length=255)]
DecimalValue = Annotated[Decimal, BeforeValidator(_no_float), Field(allow_inf_nan=False)]
MinorUnits = Annotated[int, Strict()]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


def _iso_currency(code: str) -> str:
    exponent(code)  # InvalidMoney (a ValueError) for codes that are not ISO 4217
    return code


CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(_iso_currency)]


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)


class MoneyIn(_Shape):
    amount: MinorUnits
    currency: CurrencyCode

    def to_money(self) -> Money:
        return Money(amount=self.amount, currency=self.currency)


class DiscountIn(_Shape):
    name: str | None = None
    amount: MoneyIn


class TaxIn(_Shape):
    name: str | None = None
    amount: MoneyIn
    rate: DecimalValue | None = None  # 0.2 for 20 %
    included: bool = False  # True when the tax is inside the prices (VAT-inclusive)


class TenderKind(StrEnum):
    CARD = "card"
    CASH = "cash"
    GIFT_CARD = "gift_card"
    WALLET = "wallet"
    OTHER = "other"


class EntryMethodIn(StrEnum):
    KEYED = "keyed"
    SWIPED = "swiped"
    DIPPED = "dipped"
    TAPPED = "tapped"
    ONLINE = "online"


class TenderIn(_Shape):
    type: TenderKind = TenderKind.OTHER
    amount: MoneyIn
    last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    card_fingerprint: str | None = Field(default=None, min_length=1, max_length=255)
    entry_method: EntryMethodIn | None = None


class _Freshness(_Shape):
    updated_at: AwareDatetime | None = None
    version: int | None = Field(default=None, ge=0)


# -- sales and refunds -----------------------------------------------------------------------


class SaleLineIn(_Shape):
    sku: Id | None = None
    name: str | None = None
    quantity: DecimalValue
    price: DecimalValue  # unit price, decimal major units
    discounts: list[DiscountIn] = []
    taxes: list[TaxIn] = []
    # the price before a manual override (decimal major units); ``price`` is what was charged
    original_unit_price: DecimalValue | None = None


class SaleData(_Freshness):
    id: Id
    location_id: Id
    customer_id: Id | None = None
    employee_id: Id | None = None
    register_id: Id | None = None
    line_items: list[SaleLineIn] = []
    discounts: list[DiscountIn] = []  # order-level
    taxes: list[TaxIn] = []  # order-level
    tenders: list[TenderIn] = []
    total_money: MoneyIn


class VoidData(_Freshness):
    """``sale.voided``: a sale cancelled at the till. With the sale's contents
    (``total_money`` and lines, as in ``sale.completed``) it becomes the voided sale's record;
    without them only the event is published (its subject: the sale's canonical id)."""

    id: Id
    location_id: Id
    voided_at: AwareDatetime
    after_tender: bool = False  # a post-void: payment had been taken
    occurred_at: AwareDatetime | None = None  # when the sale was rung (default: voided_at)
    customer_id: Id | None = None
    employee_id: Id | None = None
    register_id: Id | None = None
    line_items: list[SaleLineIn] = []
    discounts: list[DiscountIn] = []
    taxes: list[TaxIn] = []
    tenders: list[TenderIn] = []
    total_money: MoneyIn | None = None
    reason: str | None = Field(default=None, max_length=255)


class DrawerOpenedData(_Shape):
    """``drawer.opened``: the cash drawer opened without a sale (a no-sale)."""

    id: Id
    location_id: Id
    opened_at: AwareDatetime
    employee_id: Id | None = None
    register_id: Id | None = None
    reason: str | None = Field(default=None, max_length=255)


class PriceOverriddenData(_Shape):
    """``price.overridden``: a cashier changed a SKU's unit price by hand."""

    id: Id
    location_id: Id
    sku: Id
    original_price: DecimalValue = Field(ge=0)  # unit price before, decimal major units
    new_price: DecimalValue = Field(ge=0)  # unit price charged
    currency: CurrencyCode | None = None  # default: the store's
    overridden_at: AwareDatetime
    sale_id: Id | None = None
    employee_id: Id | None = None
    register_id: Id | None = None
    reason: str | None = Field(default=None, max_length=255)


class PaymentStatusIn(StrEnum):
    AUTHORIZED = "authorized"
    COMPLETED = "completed"
    FAILED = "failed"  # declined or errored: no money moved
    VOIDED = "voided"  # an authorization cancelled before capture
    REFUNDED = "refunded"


class PaymentData(_Freshness):
    """``payment.updated``: one payment attempt at a till, declined ones included (card testing
    shows first as many small declined attempts that never become sales). ``sale_id`` is the
    sale it pays, when there is one."""

    id: Id
    location_id: Id
    sale_id: Id | None = None
    status: PaymentStatusIn
    amount: MoneyIn
    tender_type: TenderKind = TenderKind.CARD
    last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    card_fingerprint: str | None = Field(default=None, min_length=1, max_length=255)
    card_brand: str | None = Field(default=None, max_length=64)
    entry_method: EntryMethodIn | None = None
    employee_id: Id | None = None
    register_id: Id | None = None
    occurred_at: AwareDatetime

    @field_validator("amount")
    @classmethod
    def _positive(cls, v: MoneyIn) -> MoneyIn:
        if v.amount < 0:
            raise ValueError("a payment amount is positive")
        return v


class RefundLineIn(_Shape):
    sku: Id | None = None
    name: str | None = None
    quantity: DecimalValue = Field(gt=0)
    price: DecimalValue = Field(ge=0)  # unit price refunded, decimal major units
    restock: bool = False


class RefundData(_Freshness):
    id: Id
    transaction_id: Id | None = None  # the sale refunded (the receipt), when the POS knows it
    receipt_transaction_id: Id | None = None  # alias of transaction_id
    location_id: Id
    customer_id: Id | None = None
    employee_id: Id | None = None
    register_id: Id | None = None
    line_items: list[RefundLineIn] = []
    tenders: list[TenderIn] = []  # where the money went back to
    total_money: MoneyIn
    reason: str | None = None

    @property
    def receipt_id(self) -> str | None:
        return self.transaction_id or self.receipt_transaction_id

    @field_validator("total_money")
    @classmethod
    def _positive(cls, v: MoneyIn) -> MoneyIn:
        if v.amount < 0:
            raise ValueError("a refund total is the positive amount given back")
        return v


# -- stock, customers, catalog, locations ----------------------------------------------------


class InventoryData(_Freshness):
    sku: Id
    location_id: Id
    on_hand: DecimalValue
    available: DecimalValue | None = None
    max_stock: DecimalValue | None = Field(default=None, ge=0)  # the store's shelf limit
    reason: MovementReason | None = None  # why it changed (e.g. "receipt" from a PO)

    @property
    def id(self) -> str:
        """The external id of the level: ``<location_id>:<sku>``."""
        return f"{self.location_id}:{self.sku}"


class CountData(_Shape):
    """A physical cycle count of one SKU at one store: what was on the shelf, not the book."""

    sku: Id
    location_id: Id
    counted: DecimalValue = Field(ge=0)
    counted_at: AwareDatetime
    count_id: Id

    @property
    def id(self) -> str:
        """The count's own id (``count_id``): a count is an occurrence, not a record."""
        return self.count_id

    @property
    def level_id(self) -> str:
        """The external id of the level counted: ``<location_id>:<sku>``."""
        return f"{self.location_id}:{self.sku}"


class CustomerData(_Freshness):
    id: Id
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    country_code: CountryCode | None = None
    accepts_marketing: bool = False


def _gtin(v: str | None) -> str | None:
    if v in (None, ""):
        return None
    normalize_gtin(v)  # InvalidGtin (a ValueError) names what is wrong
    return v


class VariantIn(_Shape):
    id: Id | None = None  # default: "<product id>:<sku>"
    sku: Id
    name: str | None = None  # default: the product's name
    price: DecimalValue | None = None
    gtin: str | None = None

    @field_validator("gtin")
    @classmethod
    def _valid_gtin(cls, v: str | None) -> str | None:
        return _gtin(v)


class ProductData(_Freshness):
    id: Id
    name: str = Field(min_length=1)
    vendor_id: Id | None = None
    currency: CurrencyCode | None = None
    variants: list[VariantIn] = []
    # the single-SKU form (instead of variants)
    sku: Id | None = None
    price: DecimalValue | None = None
    gtin: str | None = None

    @field_validator("gtin")
    @classmethod
    def _valid_gtin(cls, v: str | None) -> str | None:
        return _gtin(v)

    def variant_list(self) -> list[VariantIn]:
        if self.variants:
            return list(self.variants)
        if self.sku is not None:
            return [VariantIn(sku=self.sku, price=self.price, gtin=self.gtin)]
        return []


class LocationData(_Freshness):
    id: Id
    name: str = Field(min_length=1)
    time_zone: str = "UTC"
    country_code: CountryCode | None = None
    currency: CurrencyCode | None = None

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_time_zone(v)


class EmployeeData(_Freshness):
    """``employee.updated``: a member of staff (cashiers are named by ``employee_id``)."""

    id: Id
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    role: str | None = Field(default=None, max_length=64)
    active: bool = True
    location_ids: list[Id] = []


# -- purchasing ------------------------------------------------------------------------------


class VendorItemIn(_Shape):
    sku: Id
    unit_cost: DecimalValue | None = Field(default=None, ge=0)  # decimal major units
    case_pack: StrictInt = Field(default=1, ge=1)
    moq: StrictInt = Field(default=0, ge=0)
    vendor_sku: str | None = None


class VendorData(_Freshness):
    id: Id
    name: str = Field(min_length=1)
    email: str | None = None
    lead_time_days: StrictInt | None = Field(default=None, ge=0, le=365)
    currency: CurrencyCode | None = None
    min_order_value: MoneyIn | None = None
    items: list[VendorItemIn] = []


class PurchaseOrderStatusIn(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class PurchaseOrderLineIn(_Shape):
    sku: Id
    quantity: DecimalValue = Field(gt=0)
    received: DecimalValue = Field(default=Decimal(0), ge=0)
    unit_cost: DecimalValue | None = Field(default=None, ge=0)


class PurchaseOrderData(_Freshness):
    id: Id
    vendor_id: Id | None = None
    location_id: Id | None = None
    status: PurchaseOrderStatusIn
    currency: CurrencyCode
    lines: list[PurchaseOrderLineIn] = []
    expected_on: date | None = None
    reference: str | None = Field(default=None, max_length=255)


# -- deliveries ------------------------------------------------------------------------------


class _Delivery(_Shape):
    event: GenericEvent
    created_at: AwareDatetime


class SaleCompleted(_Delivery):
    data: SaleData


class RefundCreated(_Delivery):
    data: RefundData


class InventoryUpdated(_Delivery):
    data: InventoryData


class InventoryCounted(_Delivery):
    data: CountData


class CustomerChanged(_Delivery):
    data: CustomerData


class ProductChanged(_Delivery):
    data: ProductData


class LocationUpdated(_Delivery):
    data: LocationData


class VendorUpdated(_Delivery):
    data: VendorData


class PurchaseOrderUpdated(_Delivery):
    data: PurchaseOrderData


class EmployeeUpdated(_Delivery):
    data: EmployeeData


class SaleVoided(_Delivery):
    data: VoidData


class DrawerOpened(_Delivery):
    data: DrawerOpenedData


class PriceOverridden(_Delivery):
    data: PriceOverriddenData


class PaymentUpdated(_Delivery):
    data: PaymentData


GenericPayload = (
    SaleCompleted
    | RefundCreated
    | InventoryUpdated
    | InventoryCounted
    | CustomerChanged
    | ProductChanged
    | LocationUpdated
    | VendorUpdated
    | PurchaseOrderUpdated
    | EmployeeUpdated
    | SaleVoided
    | DrawerOpened
    | PriceOverridden
    | PaymentUpdated
)

SHAPES: dict[GenericEvent, type[_Delivery]] = {
    GenericEvent.SALE_COMPLETED: SaleCompleted,
    GenericEvent.SALE_REFUNDED: RefundCreated,
    GenericEvent.REFUND_CREATED: RefundCreated,
    GenericEvent.INVENTORY_UPDATED: InventoryUpdated,
    GenericEvent.INVENTORY_COUNTED: InventoryCounted,
    GenericEvent.CUSTOMER_CREATED: CustomerChanged,
    GenericEvent.CUSTOMER_UPDATED: CustomerChanged,
    GenericEvent.PRODUCT_CREATED: ProductChanged,
    GenericEvent.PRODUCT_UPDATED: ProductChanged,
    GenericEvent.LOCATION_UPDATED: LocationUpdated,
    GenericEvent.VENDOR_UPDATED: VendorUpdated,
    GenericEvent.PURCHASE_ORDER_UPDATED: PurchaseOrderUpdated,
    GenericEvent.EMPLOYEE_UPDATED: EmployeeUpdated,
    GenericEvent.SALE_VOIDED: SaleVoided,
    GenericEvent.DRAWER_OPENED: DrawerOpened,
    GenericEvent.PRICE_OVERRIDDEN: PriceOverridden,
    GenericEvent.PAYMENT_UPDATED: PaymentUpdated,
}


@dataclass(frozen=True)
class ParsedBody:
    payload: GenericPayload
    created_at_raw: str  # as sent, for the default idempotency key

    @property
    def event(self) -> GenericEvent:
        return self.payload.event

    @property
    def record_id(self) -> str:
        """``data.id`` (inventory levels: ``<location_id>:<sku>``; counts: ``count_id``)."""
        return self.payload.data.id

    @property
    def created_at(self) -> datetime:
        return self.payload.created_at


# -- parsing ---------------------------------------------------------------------------------


def json_path(loc: tuple[int | str, ...]) -> str:
    """``("data", "line_items", 1, "price")`` → ``"data.line_items[1].price"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def load_json(raw: bytes) -> Any:
    """JSON with exact decimals: ``29.99`` becomes ``Decimal("29.99")``, never a float."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PayloadError(f"body is not valid JSON: {exc}", field="body") from exc


def _from_validation_error(exc: ValidationError) -> PayloadError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    path = json_path(tuple(first["loc"])) or "body"
    detail = f"{path}: {first['msg']}"
    if len(errors) > 1:
        others = ", ".join(json_path(tuple(e["loc"])) or "body" for e in errors[1:4])
        more = f" (and {len(errors) - 1} more: {others}{', ...' if len(errors) > 4 else ''})"
        detail += more
    return PayloadError(detail, field=path)


@dataclass(frozen=True)
class DeliveryHead:
    """What the webhook endpoint needs before storing a delivery: its event and identity."""

    event: GenericEvent
    record_id: str
    created_at_raw: str


def _event_of(obj: Any) -> GenericEvent:
    if not isinstance(obj, dict):
        raise PayloadError("body must be a JSON object", field="body")
    name = obj.get("event")
    if name in (None, ""):
        raise PayloadError("event is missing", field="event")
    try:
        return GenericEvent(name) if isinstance(name, str) else _unknown_event(name)
    except ValueError:
        return _unknown_event(name)


def _unknown_event(name: Any) -> GenericEvent:
    known = ", ".join(e.value for e in GenericEvent)
    raise PayloadError(f"unknown event {name!r}; expected one of: {known}", field="event")


_HEAD_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_head(raw: bytes) -> DeliveryHead:
    """The cheap check done before the 2xx: well-formed JSON, a known ``event``, a ``data``
    object naming its record, and ``created_at``. The full shape is validated by
    :func:`parse_body` when the delivery is normalized (after it is safely stored); an error
    there parks the delivery as a dead letter naming the JSON path."""
    try:
        # json.loads(raw, parse_constant=...) without building a decoder per call
        obj = _HEAD_DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PayloadError(f"body is not valid JSON: {exc}", field="body") from exc
    event = _event_of(obj)
    data = obj.get("data")
    if not isinstance(data, dict):
        raise PayloadError("data must be a JSON object", field="data")
    if event is GenericEvent.INVENTORY_UPDATED:
        parts = [data.get("location_id"), data.get("sku")]
        names = ["data.location_id", "data.sku"]
    elif event is GenericEvent.INVENTORY_COUNTED:
        parts, names = [data.get("count_id")], ["data.count_id"]
    else:
        parts, names = [data.get("id")], ["data.id"]
    for value, name in zip(parts, names, strict=True):
        if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
            raise PayloadError(f"{name} is missing or not a string", field=name)
    created_at = obj.get("created_at")
    if not isinstance(created_at, str) or not created_at:
        raise PayloadError("created_at is missing", field="created_at")
    return DeliveryHead(
        event=event, record_id=":".join(str(p) for p in parts), created_at_raw=created_at
    )


def parse_body(raw: bytes) -> ParsedBody:
    """Parse and validate one generic delivery body; :class:`PayloadError` names the field."""
    obj = load_json(raw)
    event = _event_of(obj)
    try:
        payload = cast(GenericPayload, SHAPES[event].model_validate(obj))
    except ValidationError as exc:
        raise _from_validation_error(exc) from exc
    _check_amounts(payload)
    return ParsedBody(payload=payload, created_at_raw=str(obj["created_at"]))


# -- cross-field checks with exact paths -----------------------------------------------------


def _check_price(value: Decimal, currency: str, path: str) -> None:
    try:
        Money.from_decimal(value, currency)
    except DomainError as exc:
        raise PayloadError(f"{path}: {exc}", field=path) from exc


def _check_currency(m: MoneyIn, currency: str, path: str) -> None:
    if m.currency != currency:
        raise PayloadError(
            f"{path}.currency: {m.currency} differs from the total's currency {currency}",
            field=f"{path}.currency",
        )


def _check_amounts(payload: GenericPayload) -> None:
    data = payload.data
    if isinstance(data, VoidData) and data.total_money is None:
        if data.line_items or data.tenders or data.discounts or data.taxes:
            raise PayloadError(
                "data.total_money: required when the void carries the sale's contents",
                field="data.total_money",
            )
    elif isinstance(data, PriceOverriddenData):
        if data.currency is not None:
            _check_price(data.original_price, data.currency, "data.original_price")
            _check_price(data.new_price, data.currency, "data.new_price")
    elif isinstance(data, SaleData | RefundData | VoidData):
        if data.total_money is None:  # pragma: no cover - a bare void is handled above
            return
        cur = data.total_money.currency
        lines: Sequence[SaleLineIn | RefundLineIn] = data.line_items
        for i, line in enumerate(lines):
            base = f"data.line_items[{i}]"
            _check_price(line.price, cur, f"{base}.price")
            if isinstance(line, SaleLineIn):
                if line.original_unit_price is not None:
                    _check_price(line.original_unit_price, cur, f"{base}.original_unit_price")
                for j, d in enumerate(line.discounts):
                    _check_currency(d.amount, cur, f"{base}.discounts[{j}].amount")
                for j, t in enumerate(line.taxes):
                    _check_currency(t.amount, cur, f"{base}.taxes[{j}].amount")
        if isinstance(data, SaleData | VoidData):
            for j, d in enumerate(data.discounts):
                _check_currency(d.amount, cur, f"data.discounts[{j}].amount")
            for j, t in enumerate(data.taxes):
                _check_currency(t.amount, cur, f"data.taxes[{j}].amount")
        for j, tender in enumerate(data.tenders):
            _check_currency(tender.amount, cur, f"data.tenders[{j}].amount")
        if isinstance(data, RefundData):
            same = data.transaction_id == data.receipt_transaction_id
            if data.transaction_id and data.receipt_transaction_id and not same:
                raise PayloadError(
                    "data.receipt_transaction_id: differs from data.transaction_id (its alias)",
                    field="data.receipt_transaction_id",
                )
    elif isinstance(data, VendorData):
        costed = [(f"data.items[{i}].unit_cost", x.unit_cost) for i, x in enumerate(data.items)]
        if data.min_order_value is not None and data.currency is not None:
            _check_currency(data.min_order_value, data.currency, "data.min_order_value")
        for path, cost in costed:
            if cost is None:
                continue
            if data.currency is None:
                raise PayloadError(
                    "data.currency: required when a unit cost is given", field="data.currency"
                )
            _check_price(cost, data.currency, path)
    elif isinstance(data, PurchaseOrderData):
        for i, po_line in enumerate(data.lines):
            if po_line.unit_cost is not None:
                _check_price(po_line.unit_cost, data.currency, f"data.lines[{i}].unit_cost")
    elif isinstance(data, ProductData):
        single = data.sku is not None or data.price is not None or bool(data.gtin)
        if data.variants and single:
            raise PayloadError(
                "data.variants: give either variants or a single sku/price/gtin, not both",
                field="data.variants",
            )
        if data.sku is None and (data.price is not None or data.gtin):
            raise PayloadError("data.sku: a single-SKU product needs a sku", field="data.sku")
        priced = [(f"data.variants[{i}].price", v.price) for i, v in enumerate(data.variants)]
        priced.append(("data.price", data.price))
        for path, price in priced:
            if price is None:
                continue
            if data.currency is None:
                raise PayloadError(
                    "data.currency: required when a price is given", field="data.currency"
                )
            _check_price(price, data.currency, path)
