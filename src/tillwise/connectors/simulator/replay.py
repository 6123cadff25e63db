"""Invoices → the ordered steps of the replay: the webhooks a POS would have sent. Pure.

Deterministic: the same invoices always give the same steps, ids and bodies. A step is either a
finished :class:`SimEvent` or a :class:`StockChange`, which the live POS
(:class:`~tillwise.connectors.simulator.pos.SimulatorPos`) applies to its stock *when the step
is sent* and reports as ``inventory.updated`` — so a write-back made mid-replay is kept, and
later levels follow from it. :func:`build_events` plays the steps on a fresh, untouched stock
(the stream when nobody adjusts anything). Order:

1. ``location.updated`` for every store (one per country, see :mod:`.stores`), first;
2. ``vendor.updated`` for every vendor with the SKUs it supplies and their terms (see
   :mod:`.purchasing`), then ``employee.updated`` for every store's cashiers (:mod:`.tills`);
3. then, invoice by invoice in time order (ties keep file order):

   * ``product.created`` on the first sight of a StockCode (its first seen price, as a
     decimal string, and first seen description);
   * ``customer.created`` on the first sight of a Customer ID (guests have none);
   * ``sale.completed`` for an ordinary invoice: its lines with positive quantity, unit
     prices as decimal strings, ``total_money`` the exact sum in pence;
   * ``refund.created`` for a cancellation (invoice number starting with ``C``): positive
     quantities and amounts, ``transaction_id`` null because the data does not say which
     invoice was cancelled (``receipt_transaction_id``: the customer's latest earlier
     invoice with one of the SKUs, see :mod:`.tills`);
   * the till's facts of each sale and refund — cashier, register, tenders, now and then a
     price override, a void, a post-void or a no-sale — by the seeded scheme of :mod:`.tills`;
   * a stock change per SKU the invoice moves (below): ``inventory.updated`` with the new
     level, and now and then an ``inventory.counted`` (cycle counts, below).

Simulated stock. The data set has no stock figures, so each (store, SKU) starts with an
opening stock derived from the window itself: half (rounded up) of the units that store sells
of that SKU over the whole window — about six weeks of cover for a steady seller, so popular
items run out before the window ends. Sales decrement it, never below zero (selling past zero
leaves it at zero: an out-of-stock is real and is what replenishment is for); cancelled lines
of merchandise are restocked (``restock: true``) and increment it; negative-quantity lines on
ordinary invoices (the data's own stock adjustments: "damaged", "missing", ...) decrement it.
Only merchandise is stocked (StockCodes starting with five digits); postage, fees, manual
lines and discounts are not. Each change emits ``inventory.updated`` with the new
``on_hand`` and a per-level ``version`` (1, 2, ...; a write-back to the POS takes a version
too) so upserts can order them. There are no
purchase orders in the data: the orders Tillwise sends the live POS deliver stock to the store
after the vendor's lead time (:mod:`.purchasing`), reported as ``inventory.updated`` with
``reason: receipt``.

Cycle counts. Stores count their shelves now and then, and a count finds less than the book
says (shrinkage: theft, damage, mis-scans). About one stock change in :data:`COUNT_ONE_IN` is
followed by a count of that SKU at that store, chosen by a stable hash of (store, SKU,
invoice) — no random generator — which also fixes what the count finds: 0 to 3 units fewer
than the POS's on-hand at that moment (never below zero). The count is sent as
``inventory.counted`` right after the change's ``inventory.updated``; the POS's book is not
changed by it (that is what an approved stock adjustment does).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tillwise.domain.money import Money

from .dataset import Invoice, InvoiceLine
from .stores import CURRENCY, Store, store_for
from .tills import DEFAULT_SEED, Tills, later

OPENING_COVER_NUMERATOR, OPENING_COVER_DENOMINATOR = 1, 2  # opening = ceil(sold * 1/2)
COUNT_ONE_IN = 400  # about one stock change in 400 is followed by a cycle count
MAX_SHRINK = 3  # a count finds 0..3 units fewer than the book
_MERCHANDISE = re.compile(r"^\d{5}")


@dataclass(frozen=True)
class SimEvent:
    """One webhook the simulated POS sends."""

    event_id: str  # sent as Tillwise-Event-Id (deterministic: re-runs are deduplicated)
    event: str  # generic event name
    at: datetime  # simulated time (UTC), also the payload's created_at
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        return {"event": self.event, "created_at": iso_utc(self.at), "data": self.data}

    def body(self) -> bytes:
        return json.dumps(self.payload(), separators=(",", ":"), ensure_ascii=False).encode()


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def is_merchandise(stock_code: str) -> bool:
    """Stocked goods have five-digit StockCodes (``85123A``); POST, DOT, M, D, ... do not."""
    return bool(_MERCHANDISE.match(stock_code))


def opening_stock(units_sold: int) -> int:
    n, d = OPENING_COVER_NUMERATOR, OPENING_COVER_DENOMINATOR
    return -(-units_sold * n // d)  # ceil


def _pence(lines: Sequence[tuple[int, Decimal]]) -> int:
    total = sum((Decimal(q) * p for q, p in lines), Decimal(0))
    return Money.from_decimal(total, CURRENCY).amount


def _name(line: InvoiceLine) -> str:
    return (line.description or "").strip() or line.stock_code


@dataclass(frozen=True)
class StockChange:
    """One invoice's change of one SKU's stock at one store, applied by the POS when sent."""

    location_id: str
    sku: str
    delta: int  # units: negative for sales and the data's own adjustments
    at: datetime  # simulated time (UTC)
    cause: str  # the invoice number
    count_shrink: int | None = None  # a cycle count follows, finding this many units fewer

    @property
    def count_id(self) -> str:
        return f"count:{self.location_id}:{self.sku}:{self.cause}"


Step = SimEvent | StockChange
StockKey = tuple[str, str]  # (location id, sku)


@dataclass(frozen=True)
class Replay:
    """The steps in order, and each stocked (store, SKU)'s opening stock."""

    steps: list[Step]
    opening: dict[StockKey, int] = field(default_factory=dict)


def count_shrink(location_id: str, sku: str, cause: str) -> int | None:
    """Whether a cycle count follows this change, and what it finds (units fewer than the book):
    ``None`` for no count. Stable across runs and machines (SHA-256, not ``hash()``)."""
    digest = hashlib.sha256(f"{location_id}\x1f{sku}\x1f{cause}".encode()).digest()
    if int.from_bytes(digest[:8], "big") % COUNT_ONE_IN:
        return None
    return digest[8] % (MAX_SHRINK + 1)


def opening_levels(invoices: Sequence[Invoice], stores: dict[str, Store]) -> dict[StockKey, int]:
    """Opening stock per (store, SKU) sold in the window (see the module docstring)."""
    sold: dict[StockKey, int] = defaultdict(int)
    for inv in invoices:
        if inv.is_cancellation:
            continue
        for line in inv.lines:
            if line.quantity > 0 and is_merchandise(line.stock_code):
                sold[(stores[inv.country].id, line.stock_code)] += line.quantity
    return {key: opening_stock(units) for key, units in sorted(sold.items())}


def build_replay(invoices: Sequence[Invoice], *, seed: int = DEFAULT_SEED) -> Replay:
    """The whole replay, in order (see the module docstring); ``seed`` fixes the till scheme."""
    if not invoices:
        return Replay(steps=[])
    stores = {country: store_for(country) for country in sorted({i.country for i in invoices})}
    start = min(inv.invoiced_at for inv in invoices)
    from .purchasing import vendor_events  # it builds on this module's events

    steps: list[Step] = [
        SimEvent(f"sim:location.updated:{s.id}", "location.updated", start, s.payload())
        for s in sorted(stores.values(), key=lambda s: s.id)
    ]
    steps += vendor_events(invoices, start)
    tills = Tills(seed=seed)
    tills.plan_staff(invoices, {c: s.id for c, s in stores.items()})
    steps += [
        SimEvent(f"sim:employee.updated:{e['id']}", "employee.updated", start, e)
        for e in tills.employees()
    ]
    products: set[str] = set()
    customers: set[str] = set()
    for inv in sorted(invoices, key=lambda i: i.invoiced_at):
        store = stores[inv.country]
        at = inv.invoiced_at
        for line in inv.lines:
            if line.stock_code not in products:
                products.add(line.stock_code)
                steps.append(
                    SimEvent(
                        f"sim:product.created:{line.stock_code}",
                        "product.created",
                        at,
                        {
                            "id": line.stock_code,
                            "name": _name(line),
                            "sku": line.stock_code,
                            "price": str(line.price),
                            "currency": CURRENCY,
                        },
                    )
                )
        if inv.customer_id and inv.customer_id not in customers:
            customers.add(inv.customer_id)
            steps.append(
                SimEvent(
                    f"sim:customer.created:{inv.customer_id}",
                    "customer.created",
                    at,
                    {"id": inv.customer_id, "country_code": store.country_code},
                )
            )
        deltas: dict[str, int] = {}  # sku → change, in order of first appearance
        if inv.is_cancellation:
            lines = [(abs(line.quantity), line) for line in inv.lines if line.quantity != 0]
            items = [
                {
                    "sku": line.stock_code,
                    "name": _name(line),
                    "quantity": q,
                    "price": str(line.price),
                    "restock": is_merchandise(line.stock_code),
                }
                for q, line in lines
            ]
            if items:
                total = _pence([(q, line.price) for q, line in lines])
                till = tills.till(store.id, inv.invoice)
                receipt, paid = tills.receipt(
                    store.id, inv.customer_id, frozenset(line.stock_code for _q, line in lines)
                )
                steps.append(
                    SimEvent(
                        f"sim:refund.created:{inv.invoice}",
                        "refund.created",
                        at,
                        {
                            "id": inv.invoice,
                            "transaction_id": None,
                            "receipt_transaction_id": receipt,
                            "location_id": store.id,
                            "customer_id": inv.customer_id,
                            "employee_id": till.employee_id,
                            "register_id": till.register_id,
                            "line_items": items,
                            "tenders": tills.refund_tenders(paid, total),
                            "total_money": {"amount": total, "currency": CURRENCY},
                        },
                    )
                )
            for q, line in lines:
                if is_merchandise(line.stock_code):
                    deltas[line.stock_code] = deltas.get(line.stock_code, 0) + q
        else:
            sold = [line for line in inv.lines if line.quantity > 0]
            if sold:
                steps += _sale_steps(inv, sold, store, tills)
            for line in inv.lines:  # sales and the data's own negative adjustments
                if line.quantity != 0 and is_merchandise(line.stock_code):
                    delta = -abs(line.quantity)
                    deltas[line.stock_code] = deltas.get(line.stock_code, 0) + delta
        for sku, delta in deltas.items():
            if delta == 0:
                continue
            steps.append(
                StockChange(
                    location_id=store.id,
                    sku=sku,
                    delta=delta,
                    at=at,
                    cause=inv.invoice,
                    count_shrink=count_shrink(store.id, sku, inv.invoice),
                )
            )
    return Replay(steps=steps, opening=opening_levels(invoices, stores))


def _sale_steps(
    inv: Invoice, sold: Sequence[InvoiceLine], store: Store, tills: Tills
) -> list[Step]:
    """The sale's events: its price overrides, the sale, and the till events after it."""
    at = inv.invoiced_at
    till = tills.till(store.id, inv.invoice)
    who = {"employee_id": till.employee_id, "register_id": till.register_id}
    items: list[dict[str, Any]] = []
    charged: list[tuple[int, Decimal]] = []
    steps: list[Step] = []
    for i, line in enumerate(sold):
        item: dict[str, Any] = {
            "sku": line.stock_code,
            "name": _name(line),
            "quantity": line.quantity,
            "price": str(line.price),
        }
        price = line.price
        stocked = is_merchandise(line.stock_code)
        cut = tills.override(inv.invoice, i, len(sold), line.price) if stocked else None
        if cut is not None:
            price = cut
            item["price"], item["original_unit_price"] = str(cut), str(line.price)
            steps.append(
                SimEvent(
                    f"sim:price.overridden:{inv.invoice}:{i}",
                    "price.overridden",
                    at,
                    {
                        "id": f"OV{inv.invoice}-{i}",
                        "sale_id": inv.invoice,
                        "sku": line.stock_code,
                        "original_price": str(line.price),
                        "new_price": str(cut),
                        "currency": CURRENCY,
                        "location_id": store.id,
                        "overridden_at": iso_utc(at),
                        **who,
                    },
                )
            )
        items.append(item)
        charged.append((line.quantity, price))
    total = _pence(charged)
    tenders = tills.tenders(inv.invoice, inv.customer_id, total)
    sale: dict[str, Any] = {
        "id": inv.invoice,
        "location_id": store.id,
        "customer_id": inv.customer_id,
        **who,
        "line_items": items,
        "tenders": tenders,
        "total_money": {"amount": total, "currency": CURRENCY},
    }
    declined = tills.declined_first(inv.invoice, tenders)
    if declined is not None:  # the card was refused once before the sale went through
        tried = later(at, -1)
        attempt = {
            "id": f"PD{inv.invoice}",
            "location_id": store.id,
            "status": "failed",
            "amount": declined["amount"],
            "tender_type": declined["type"],
            "card_fingerprint": declined.get("card_fingerprint"),
            "last4": declined.get("last4"),
            "entry_method": declined.get("entry_method"),
            **who,
            "occurred_at": iso_utc(tried),
        }
        steps.append(
            SimEvent(f"sim:payment.updated:PD{inv.invoice}", "payment.updated", at, attempt)
        )
    steps.append(SimEvent(f"sim:sale.completed:{inv.invoice}", "sale.completed", at, sale))
    tills.remember_sale(
        store.id, inv.customer_id, inv.invoice, frozenset(x["sku"] for x in items), tenders
    )
    void, post_void = tills.voids(inv.invoice)
    if void:  # the same cart rung up again and voided before payment (a second till event)
        copy = {
            **sale,
            "id": f"V{inv.invoice}",
            "tenders": [],
            "voided_at": iso_utc(later(at, 1)),
            "after_tender": False,
            "occurred_at": iso_utc(at),
        }
        steps.append(SimEvent(f"sim:sale.voided:V{inv.invoice}", "sale.voided", at, copy))
    if post_void:  # rung up, paid, then voided after tender
        paid = {**sale, "id": f"PV{inv.invoice}"}
        steps.append(SimEvent(f"sim:sale.completed:PV{inv.invoice}", "sale.completed", at, paid))
        voided = {
            **paid,
            "voided_at": iso_utc(later(at, 2)),
            "after_tender": True,
            "occurred_at": iso_utc(at),
        }
        steps.append(SimEvent(f"sim:sale.voided:PV{inv.invoice}", "sale.voided", at, voided))
    if tills.no_sale(inv.invoice):
        steps.append(
            SimEvent(
                f"sim:drawer.opened:NS{inv.invoice}",
                "drawer.opened",
                at,
                {
                    "id": f"NS{inv.invoice}",
                    "location_id": store.id,
                    "opened_at": iso_utc(later(at, 1)),
                    **who,
                },
            )
        )
    return steps


def build_events(invoices: Sequence[Invoice]) -> list[SimEvent]:
    """The replay's events when nobody adjusts the stock: its steps played, in order, on a
    fresh stock (the live POS sends exactly these until a write-back changes a level)."""
    from .pos import play_offline  # the stock lives with the POS, which imports this module

    return play_offline(build_replay(invoices))
