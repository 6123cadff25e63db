"""Invoices → the ordered stream of generic webhook events a POS would have sent. Pure.

Deterministic: the same invoices always give the same events, ids and bodies. Order:

1. ``location.updated`` for every store (one per country, see :mod:`.stores`), first;
2. then, invoice by invoice in time order (ties keep file order):

   * ``product.created`` on the first sight of a StockCode (its first seen price, as a
     decimal string, and first seen description);
   * ``customer.created`` on the first sight of a Customer ID (guests have none);
   * ``sale.completed`` for an ordinary invoice: its lines with positive quantity, unit
     prices as decimal strings, ``total_money`` the exact sum in pence;
   * ``refund.created`` for a cancellation (invoice number starting with ``C``): positive
     quantities and amounts, ``transaction_id`` null because the data does not say which
     invoice was cancelled;
   * ``inventory.updated`` after each change of a store's simulated stock (below).

Simulated stock. The data set has no stock figures, so each (store, SKU) starts with an
opening stock derived from the window itself: half (rounded up) of the units that store sells
of that SKU over the whole window — about six weeks of cover for a steady seller, so popular
items run out before the window ends. Sales decrement it, never below zero (selling past zero
leaves it at zero: an out-of-stock is real and is what replenishment is for); cancelled lines
of merchandise are restocked (``restock: true``) and increment it; negative-quantity lines on
ordinary invoices (the data's own stock adjustments: "damaged", "missing", ...) decrement it.
Only merchandise is stocked (StockCodes starting with five digits); postage, fees, manual
lines and discounts are not. Each change emits ``inventory.updated`` with the new
``on_hand`` and a per-level ``version`` (1, 2, ...) so upserts can order them. There are no
purchase orders in the data: when the purchasing workflow exists, its orders will deliver
stock to the store after the vendor's lead time, and the simulator will emit those receipts.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tillwise.domain.money import Money

from .dataset import Invoice, InvoiceLine
from .stores import CURRENCY, Store, store_for

OPENING_COVER_NUMERATOR, OPENING_COVER_DENOMINATOR = 1, 2  # opening = ceil(sold * 1/2)
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


class _Stock:
    """Simulated on-hand per (store, sku): lazily opened, never negative, versioned."""

    def __init__(self, invoices: Sequence[Invoice], stores: dict[str, Store]) -> None:
        sold: dict[tuple[str, str], int] = defaultdict(int)
        for inv in invoices:
            if inv.is_cancellation:
                continue
            for line in inv.lines:
                if line.quantity > 0 and is_merchandise(line.stock_code):
                    sold[(stores[inv.country].id, line.stock_code)] += line.quantity
        self._sold = sold
        self._on_hand: dict[tuple[str, str], int] = {}
        self._version: dict[tuple[str, str], int] = defaultdict(int)

    def level(self, key: tuple[str, str]) -> int:
        if key not in self._on_hand:
            self._on_hand[key] = opening_stock(self._sold.get(key, 0))
        return self._on_hand[key]

    def change(self, key: tuple[str, str], delta: int) -> tuple[int, int] | None:
        """Apply ``delta``; returns (new on_hand, version) or None when nothing changed."""
        old = self.level(key)
        new = max(0, old + delta)
        if new == old:
            return None
        self._on_hand[key] = new
        self._version[key] += 1
        return new, self._version[key]


def build_events(invoices: Sequence[Invoice]) -> list[SimEvent]:
    """The whole replay, in order (see the module docstring)."""
    if not invoices:
        return []
    stores = {country: store_for(country) for country in sorted({i.country for i in invoices})}
    start = min(inv.invoiced_at for inv in invoices)
    events = [
        SimEvent(f"sim:location.updated:{s.id}", "location.updated", start, s.payload())
        for s in sorted(stores.values(), key=lambda s: s.id)
    ]
    stock = _Stock(invoices, stores)
    products: set[str] = set()
    customers: set[str] = set()
    for inv in sorted(invoices, key=lambda i: i.invoiced_at):
        store = stores[inv.country]
        at = inv.invoiced_at
        for line in inv.lines:
            if line.stock_code not in products:
                products.add(line.stock_code)
                events.append(
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
            events.append(
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
                events.append(
                    SimEvent(
                        f"sim:refund.created:{inv.invoice}",
                        "refund.created",
                        at,
                        {
                            "id": inv.invoice,
                            "transaction_id": None,
                            "location_id": store.id,
                            "customer_id": inv.customer_id,
                            "line_items": items,
                            "total_money": {
                                "amount": _pence([(q, line.price) for q, line in lines]),
                                "currency": CURRENCY,
                            },
                        },
                    )
                )
            for q, line in lines:
                if is_merchandise(line.stock_code):
                    deltas[line.stock_code] = deltas.get(line.stock_code, 0) + q
        else:
            sold = [line for line in inv.lines if line.quantity > 0]
            if sold:
                events.append(
                    SimEvent(
                        f"sim:sale.completed:{inv.invoice}",
                        "sale.completed",
                        at,
                        {
                            "id": inv.invoice,
                            "location_id": store.id,
                            "customer_id": inv.customer_id,
                            "line_items": [
                                {
                                    "sku": line.stock_code,
                                    "name": _name(line),
                                    "quantity": line.quantity,
                                    "price": str(line.price),
                                }
                                for line in sold
                            ],
                            "total_money": {
                                "amount": _pence([(x.quantity, x.price) for x in sold]),
                                "currency": CURRENCY,
                            },
                        },
                    )
                )
            for line in inv.lines:  # sales and the data's own negative adjustments
                if line.quantity != 0 and is_merchandise(line.stock_code):
                    delta = -abs(line.quantity)
                    deltas[line.stock_code] = deltas.get(line.stock_code, 0) + delta
        for sku, delta in deltas.items():
            changed = stock.change((store.id, sku), delta)
            if changed is None:
                continue
            on_hand, version = changed
            events.append(
                SimEvent(
                    f"sim:inventory.updated:{store.id}:{sku}:v{version}",
                    "inventory.updated",
                    at,
                    {
                        "sku": sku,
                        "location_id": store.id,
                        "on_hand": on_hand,
                        "updated_at": iso_utc(at),
                        "version": version,
                    },
                )
            )
    return events
