"""The simulated POS's vendors and purchase orders: who supplies each SKU, on what terms, and
the orders Tillwise sends it, delivered after the vendor's lead time on the replay's clock.

Vendors. The data set names no suppliers, so the simulator assigns every stocked SKU (five-digit
StockCode) to one of a handful of vendors by a stable hash of the SKU (SHA-256, not
``hash()``: the same on every run and machine). The vendors are fixed:

=============================  ======  =========  ==============  =============================
vendor                         id      lead time  minimum order   minimum quantity per SKU
=============================  ======  =========  ==============  =============================
Hearth & Home Gifts Ltd        ven-01  2 days     £50.00          none
Paper Lantern Supplies         ven-02  3 days     £75.00          one case
Kitchen & Table Wholesale      ven-03  5 days     £100.00         none
Vintage Style Imports          ven-04  7 days     £150.00         two cases
Party & Craft Direct           ven-05  10 days    £120.00         one case
Far East Homewares             ven-06  14 days    £250.00         two cases
=============================  ======  =========  ==============  =============================

Per SKU (a ``vendor.updated`` item), derived from the window itself:

* ``case_pack``: the quantity the SKU is most often sold in (the data is a wholesaler's, whose
  customers buy in the packs it ships in: 6, 12, 24, ...); ties go to the larger pack; 1 when
  the most common quantity is above 48 (loose stock);
* ``moq``: 0, one or two case packs, by vendor (table);
* ``unit_cost``: 60 % of the SKU's first seen price (a 40 % gross margin), rounded half-even to
  the penny and at least £0.01.

The vendors go out as ``vendor.updated`` right after the stores, before any sale.

Purchase orders. ``POST /purchase-orders`` (the generic write-back contract) books an order;
it is delivered when the POS's clock (the replay's simulated time; after the replay it runs
on at the replay speed while an order or a transfer is on its way, else at real time, so
orders are dated near the replay's end as the plans that made them) passes ``ordered at +
the vendor's lead time`` — or, when the order asks for a later day (``expected_on``, the
store's), that day at the same time: a vendor does not deliver before the day it was asked
for. Each line's stock
is added at the store and reported with ``inventory.updated`` (``reason: receipt``), and the
order's status is reported with ``purchase_order.updated`` (``open`` when booked, ``received``
when delivered). Its ``expected_on`` is the store's local day of that moment (the store's
``time_zone``, as every store-local day), not the UTC one: a store east of UTC would otherwise
get its delivery the day after the order said.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tillwise.domain.errors import InvalidTimeZone
from tillwise.domain.locations import check_time_zone

from .dataset import Invoice
from .replay import SimEvent, is_merchandise, iso_utc
from .stores import CURRENCY

MAX_PACK = 48
COST_SHARE = Decimal("0.60")
PENNY = Decimal("0.01")


@dataclass(frozen=True)
class SimVendor:
    id: str
    name: str
    email: str
    lead_time_days: int
    min_order_pence: int
    moq_cases: int  # minimum order quantity per SKU, in case packs


VENDORS: tuple[SimVendor, ...] = (
    SimVendor("ven-01", "Hearth & Home Gifts Ltd", "orders@hearth-home.example", 2, 5_000, 0),
    SimVendor("ven-02", "Paper Lantern Supplies", "orders@paper-lantern.example", 3, 7_500, 1),
    SimVendor("ven-03", "Kitchen & Table Wholesale", "orders@kitchen-table.example", 5, 10_000, 0),
    SimVendor("ven-04", "Vintage Style Imports", "orders@vintage-style.example", 7, 15_000, 2),
    SimVendor("ven-05", "Party & Craft Direct", "orders@party-craft.example", 10, 12_000, 1),
    SimVendor("ven-06", "Far East Homewares", "orders@far-east.example", 14, 25_000, 2),
)
VENDORS_BY_ID = {v.id: v for v in VENDORS}


def vendor_of(sku: str) -> SimVendor:
    """The vendor of a SKU: stable across runs and machines."""
    digest = hashlib.sha256(f"vendor\x1f{sku}".encode()).digest()
    return VENDORS[int.from_bytes(digest[:8], "big") % len(VENDORS)]


def case_pack(quantities: Sequence[int]) -> int:
    """The most common positive quantity (ties: the larger), 1 above :data:`MAX_PACK`."""
    counts = Counter(q for q in quantities if q > 0)
    if not counts:
        return 1
    pack = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    return pack if pack <= MAX_PACK else 1


def unit_cost(price: Decimal) -> Decimal:
    return max(PENNY, (price * COST_SHARE).quantize(PENNY, rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class Terms:
    sku: str
    vendor: SimVendor
    case_pack: int
    moq: int
    unit_cost: Decimal


def supply_terms(invoices: Sequence[Invoice]) -> dict[str, Terms]:
    """Terms of every stocked SKU that the window sells (see the module docstring)."""
    quantities: dict[str, list[int]] = defaultdict(list)
    first_price: dict[str, Decimal] = {}
    for inv in sorted(invoices, key=lambda i: i.invoiced_at):
        if inv.is_cancellation:
            continue
        for line in inv.lines:
            if line.quantity > 0 and is_merchandise(line.stock_code):
                quantities[line.stock_code].append(line.quantity)
                first_price.setdefault(line.stock_code, line.price)
    out = {}
    for sku in sorted(quantities):
        vendor = vendor_of(sku)
        pack = case_pack(quantities[sku])
        out[sku] = Terms(sku, vendor, pack, vendor.moq_cases * pack, unit_cost(first_price[sku]))
    return out


def vendor_events(invoices: Sequence[Invoice], at: datetime) -> list[SimEvent]:
    """One ``vendor.updated`` per vendor with the SKUs it supplies (vendors without any are
    still announced)."""
    terms = supply_terms(invoices)
    items: dict[str, list[dict[str, Any]]] = {v.id: [] for v in VENDORS}
    for t in terms.values():
        items[t.vendor.id].append(
            {"sku": t.sku, "unit_cost": str(t.unit_cost), "case_pack": t.case_pack, "moq": t.moq}
        )
    return [
        SimEvent(
            f"sim:vendor.updated:{v.id}",
            "vendor.updated",
            at,
            {
                "id": v.id,
                "name": v.name,
                "email": v.email,
                "lead_time_days": v.lead_time_days,
                "currency": CURRENCY,
                "min_order_value": {"amount": v.min_order_pence, "currency": CURRENCY},
                "items": items[v.id],
            },
        )
        for v in VENDORS
    ]


# -- orders ------------------------------------------------------------------------------------


class OrderLineIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    sku: str = Field(min_length=1, max_length=255, strict=True)
    name: str | None = None
    quantity: StrictInt = Field(gt=0, le=1_000_000)
    unit_cost: str | None = Field(default=None, max_length=32)


class OrderIn(BaseModel):
    """``POST /purchase-orders`` body."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    reference: str = Field(min_length=1, max_length=255, strict=True)
    vendor_id: str = Field(min_length=1, max_length=255, strict=True)
    location_id: str = Field(min_length=1, max_length=255, strict=True)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    expected_on: str | None = None
    notes: str | None = Field(default=None, max_length=2000)
    lines: list[OrderLineIn] = Field(min_length=1, max_length=1000)


@dataclass
class Order:
    id: str
    request: OrderIn
    ordered_at: datetime  # POS (simulated) time
    due_at: datetime
    lead_time_days: int
    time_zone: str = "UTC"  # the store's: its expected day is a local day
    status: str = "open"
    version: int = 1

    @property
    def expected_on(self) -> str:
        """The store's local day of delivery (YYYY-MM-DD)."""
        return self.due_at.astimezone(zone(self.time_zone)).date().isoformat()

    def event(self, at: datetime) -> SimEvent:
        """``purchase_order.updated`` for the order's current status."""
        received = self.status == "received"
        return SimEvent(
            f"sim:purchase_order.updated:{self.id}:v{self.version}",
            "purchase_order.updated",
            at,
            {
                "id": self.id,
                "reference": self.request.reference,
                "vendor_id": self.request.vendor_id,
                "location_id": self.request.location_id,
                "status": self.status,
                "currency": self.request.currency,
                "expected_on": self.expected_on,
                "lines": [
                    {
                        "sku": ln.sku,
                        "quantity": ln.quantity,
                        "received": ln.quantity if received else 0,
                        **({"unit_cost": ln.unit_cost} if ln.unit_cost else {}),
                    }
                    for ln in self.request.lines
                ],
                "updated_at": iso_utc(at),
                "version": self.version,
            },
        )

    def answer(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.request.reference,
            "status": self.status,
            "lead_time_days": self.lead_time_days,
            "ordered_at": iso_utc(self.ordered_at),
            "expected_at": iso_utc(self.due_at),
        }


@dataclass
class OrderBook:
    """Orders booked and not yet delivered. Thread-safe."""

    orders: dict[str, Order] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def book(self, order_id: str, request: OrderIn, now: datetime, time_zone: str = "UTC") -> Order:
        """Book an order for a store whose time zone is ``time_zone``."""
        vendor = VENDORS_BY_ID.get(request.vendor_id)
        local_now = now.astimezone(zone(time_zone))
        asked = _days_until(request.expected_on, local_now)
        if vendor is not None:  # by its lead time, not before the day the order asks for
            lead = max(vendor.lead_time_days, asked or 0)
        else:  # a vendor this POS does not know: the day asked for, else in a week
            lead = 7 if asked is None else max(1, asked)
        # days on the store's clock: the same time of day ``lead`` days on, across a DST change
        due = (local_now + timedelta(days=lead)).astimezone(now.tzinfo)
        order = Order(order_id, request, now, due, lead, time_zone)
        with self._lock:
            self.orders[order_id] = order
        return order

    def due(self, now: datetime) -> list[Order]:
        """Orders whose time has come, marked received (each is returned once)."""
        with self._lock:
            out = []
            for order in sorted(self.orders.values(), key=lambda o: (o.due_at, o.id)):
                if order.status == "open" and order.due_at <= now:
                    order.status, order.version = "received", order.version + 1
                    out.append(order)
            return out

    def open_orders(self) -> list[Order]:
        with self._lock:
            return [o for o in self.orders.values() if o.status == "open"]


def zone(name: str) -> ZoneInfo:
    """A store's time zone (UTC when the name is not one)."""
    try:
        return ZoneInfo(check_time_zone(name))
    except InvalidTimeZone:
        return ZoneInfo("UTC")


def _days_until(expected_on: str | None, now: datetime) -> int | None:
    """Days from ``now``'s date (the store's) to the day an order asks for; None: none asked
    (or not a date)."""
    if not expected_on:
        return None
    try:
        return (datetime.fromisoformat(expected_on).date() - now.date()).days
    except ValueError:
        return None
