"""Known loss patterns, injected into a stream of generic-shape events, and the evaluation of
flags against their labels. Seeded and deterministic; used by the tests, the benchmark and
``tillwise risk inject``.

Events are generic webhook bodies (``{"event", "created_at", "data"}``, the generic connector's
shapes, ``docs/generic-connector.md``), one per line in a file, in time order.

The injector (:func:`inject`)
-----------------------------
:func:`inject` reads the stream to learn its stores (``location.updated``: time zones), each
store's employees, registers, customers, sales and their typical amounts, then adds or alters
events for each pattern and returns the new stream (time order) and the labels: one per
injected or altered event, ``{"event", "id", "pattern", "case", "store"}`` (``case`` groups the
events of one incident). Each pattern is a dataclass whose fields are its rates, sizes and
timing; ``store``, ``employee`` and ``start`` are drawn from the stream when left ``None``
(stores with at least ``min_employees`` employees; an employee of that store; a start after
``warmup_days`` of the stream). Injected events happen near the chosen employee's own activity
(minutes after one of their real events), so their hours look like that employee's.

=========================  ===================================================================
``refunds_without_sale``   an employee issues refunds with no receipt (or a made-up one) to
                           cash or their own card: ``per_day`` for ``days``, amounts around
                           ``amount_factor`` x the store's median sale
``card_testing``           ``attempts`` small card sales (``amount_range`` in minor units) on
                           one register within ``minutes``, from ``cards`` distinct cards
                           (1 = the same card again and again), ``entry_method``; with
                           ``as_attempts`` the burst is payment attempts (``payment.updated``),
                           ``decline_share`` of them declined (``failed``), the others
                           completed, each with its sale (``sale.completed``, ``sale_id``)
``discount_abuse``         an employee discounts ``share`` of their own sales by ``depth``
                           (``mode`` discount, or ``override``: a line's price cut by hand)
                           for ``days``
``serial_returner``        a customer buys and returns (with the receipt) ``cycles`` times
                           over ``days``, each return ``return_after_days`` after its sale
``post_voids``             an employee voids ``per_day`` of their own completed sales after
                           tender, minutes later, for ``days``
``no_sale_abuse``          an employee opens the drawer without a sale ``per_day`` times for
                           ``days``
``gift_card_burst``        ``count`` gift-card purchases by one employee within ``minutes``
``refund_to_other_card``   an employee refunds ``count`` real card sales of theirs (with the
                           receipt) to another card, within hours of the sale
=========================  ===================================================================

The stream
----------
Any generic-shape stream works. The benchmark, the tests, the CLI fixtures and ``tillwise risk
inject`` take theirs from the simulator POS (``tillwise risk stream --out FILE``:
Online Retail II invoices with the cashiers, registers, tenders and background till events of
its documented, seeded scheme, ``tillwise.connectors.simulator.tills``).
"""

from __future__ import annotations

import hashlib
import math
import random
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

Body = dict[str, Any]
Label = dict[str, str]


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _h(*parts: object) -> int:
    raw = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big")


def _rng(*parts: object) -> random.Random:
    return random.Random(_h(*parts))


def event_time(body: Body) -> datetime:
    """When the event happened: the time its data names, else ``created_at``."""
    data = body.get("data") or {}
    for key in ("voided_at", "opened_at", "overridden_at", "occurred_at"):
        if data.get(key):
            return parse_time(str(data[key]))
    return parse_time(str(body["created_at"]))


def _pence(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


def _card(seed: int, owner: str, which: int) -> tuple[str, str]:
    h = _h(seed, "card", owner, which)
    return f"fp_{h:016x}"[:19], f"{h % 10000:04d}"


def _poisson(r: random.Random, lam: float) -> int:
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def sort_events(events: Iterable[Body]) -> list[Body]:
    """Time order (stable: ties keep their order)."""
    return sorted(events, key=event_time)


# -- what the injector learns from the stream ------------------------------------------------


@dataclass
class StreamIndex:
    stores: dict[str, str] = field(default_factory=dict)  # location id → currency
    zones: dict[str, str] = field(default_factory=dict)
    employees: dict[str, list[str]] = field(default_factory=dict)
    activity: dict[tuple[str, str], list[tuple[datetime, str, str | None]]] = field(
        default_factory=dict
    )  # (store, employee) → [(time, event, register)]
    sales: dict[str, list[Body]] = field(default_factory=dict)  # store → sale bodies
    amounts: dict[str, int] = field(default_factory=dict)  # store → median sale total
    skus: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # (sku, name, price)
    times: dict[str, list[datetime]] = field(default_factory=dict)  # store → event times
    start: datetime | None = None
    end: datetime | None = None
    currency: str = "USD"
    overrides_as_events: bool = False

    @classmethod
    def of(cls, events: Sequence[Body]) -> StreamIndex:
        ix = cls()
        totals: dict[str, list[int]] = defaultdict(list)
        emps: dict[str, dict[str, None]] = defaultdict(dict)
        act: dict[tuple[str, str], list[tuple[datetime, str, str | None]]] = defaultdict(list)
        sales: dict[str, list[Body]] = defaultdict(list)
        skus: dict[str, dict[str, tuple[str, str, str]]] = defaultdict(dict)
        for body in events:
            name = body.get("event")
            data = body.get("data") or {}
            if name == "location.updated":
                ix.zones[str(data["id"])] = str(data.get("time_zone") or "UTC")
                if data.get("currency"):
                    ix.stores[str(data["id"])] = str(data["currency"])
                continue
            if name == "price.overridden":
                ix.overrides_as_events = True
            loc = data.get("location_id")
            if loc is None:
                continue
            loc = str(loc)
            at = event_time(body)
            ix.times.setdefault(loc, []).append(at)
            ix.start = at if ix.start is None or at < ix.start else ix.start
            ix.end = at if ix.end is None or at > ix.end else ix.end
            emp = data.get("employee_id")
            if emp is not None:
                emps[loc][str(emp)] = None
                act[(loc, str(emp))].append((at, str(name), data.get("register_id")))
            if name == "sale.completed":
                money = data.get("total_money") or {}
                totals[loc].append(int(money.get("amount", 0)))
                ix.stores.setdefault(loc, str(money.get("currency") or "USD"))
                sales[loc].append(body)
                for ln in data.get("line_items") or []:
                    if ln.get("sku") and len(skus[loc]) < 2000:
                        skus[loc][str(ln["sku"])] = (
                            str(ln["sku"]),
                            str(ln.get("name") or ln["sku"]),
                            str(ln.get("price")),
                        )
        for ts in ix.times.values():
            ts.sort()
        ix.employees = {k: list(v) for k, v in emps.items()}
        ix.activity = dict(act)
        ix.sales = dict(sales)
        ix.amounts = {k: int(median(v)) for k, v in totals.items() if v}
        ix.skus = {k: list(v.values()) for k, v in skus.items()}
        if ix.stores:
            ix.currency = next(iter(ix.stores.values()))
        return ix


# -- patterns --------------------------------------------------------------------------------


@dataclass
class Pattern(ABC):
    store: str | None = None
    employee: str | None = None
    start: datetime | None = None

    name = "pattern"

    @abstractmethod
    def build(self, ix: StreamIndex, r: random.Random, ctx: _Ctx) -> None:
        """Add this pattern's events (and their labels) to the stream."""


@dataclass
class RefundsWithoutSale(Pattern):
    per_day: float = 3.0
    days: int = 5
    amount_factor: float = 1.0  # x the store's median sale
    amount_sigma: float = 0.5
    receipt: str = "none"  # none | fake | mixed
    tender: str = "cash"  # cash | card (the employee's own card)

    name = "refunds_without_sale"

    def build(self, ix: StreamIndex, r: random.Random, ctx: _Ctx) -> None:
        store, emp, times = ctx.employee_times(self, ix, r, self.days)
        cur = ix.stores.get(store, ix.currency)
        fp, l4 = _card(r.randrange(1 << 30), f"own-{emp}", 0)
        n = _poisson(r, self.per_day * self.days) or 1
        skus = ix.skus.get(store) or [("ITEM", "Item", "1.00")]
        for k, at in enumerate(ctx.near(times, n, r)):
            amount = max(
                100,
                int(
                    ix.amounts.get(store, 2000)
                    * self.amount_factor
                    * math.exp(r.gauss(0, self.amount_sigma))
                ),
            )
            mode = self.receipt if self.receipt != "mixed" else r.choice(["none", "fake"])
            rid = ctx.new_id("R")
            sku, name, _ = r.choice(skus)
            tender: dict[str, Any] = {
                "type": self.tender,
                "amount": {"amount": amount, "currency": cur},
            }
            if self.tender == "card":
                tender.update({"card_fingerprint": fp, "last4": l4, "entry_method": "keyed"})
            data = {
                "id": rid,
                "receipt_transaction_id": ctx.new_id("S") if mode == "fake" else None,
                "location_id": store,
                "customer_id": None,
                "employee_id": emp,
                "register_id": ctx.register_of(ix, store, emp),
                "line_items": [
                    {"sku": sku, "name": name, "quantity": 1, "price": f"{amount / 100:.2f}"}
                ],
                "tenders": [tender],
                "total_money": {"amount": amount, "currency": cur},
            }
            ctx.add({"event": "refund.created", "created_at": iso(at), "data": data}, self, k)


@dataclass
class CardTesting(Pattern):
    attempts: int = 10
    minutes: float = 10.0
    amount_range: tuple[int, int] = (50, 300)  # minor units
    cards: int = 0  # distinct cards; 0 = a new card every attempt
    entry_method: str = "keyed"
    register: str | None = None
    as_attempts: bool = False  # emit payment attempts (mostly declined) instead of sales
    decline_share: float = 0.85  # with as_attempts: the share declined

    name = "card_testing"

    def build(self, ix: StreamIndex, r: random.Random, ctx: _Ctx) -> None:
        store, emp, times = ctx.employee_times(self, ix, r, 1)
        cur = ix.stores.get(store, ix.currency)
        t0 = r.choice(times)
        reg = self.register or ctx.register_of(ix, store, emp)
        skus = ix.skus.get(store) or [("ITEM", "Item", "1.00")]
        salt = r.randrange(1 << 30)
        for k in range(self.attempts):
            at = t0 + timedelta(minutes=self.minutes * k / max(1, self.attempts - 1))
            amount = r.randint(*self.amount_range)
            which = k if self.cards == 0 else k % self.cards
            fp, l4 = _card(salt, "tester", which)
            sku, name, _ = r.choice(skus)
            declined = self.as_attempts and r.random() < self.decline_share
            data = {
                "id": ctx.new_id("S"),
                "location_id": store,
                "employee_id": emp,
                "register_id": reg,
                "line_items": [
                    {"sku": sku, "name": name, "quantity": 1, "price": f"{amount / 100:.2f}"}
                ],
                "tenders": [
                    {
                        "type": "card",
                        "amount": {"amount": amount, "currency": cur},
                        "card_fingerprint": fp,
                        "last4": l4,
                        "entry_method": self.entry_method,
                    }
                ],
                "total_money": {"amount": amount, "currency": cur},
            }
            if not declined:
                ctx.add({"event": "sale.completed", "created_at": iso(at), "data": data}, self, k)
            if self.as_attempts:
                payment = {
                    "id": ctx.new_id("P"),
                    "location_id": store,
                    "sale_id": None if declined else data["id"],
                    "status": "failed" if declined else "completed",
                    "amount": {"amount": amount, "currency": cur},
                    "tender_type": "card",
                    "card_fingerprint": fp,
                    "last4": l4,
                    "entry_method": self.entry_method,
                    "employee_id": emp,
                    "register_id": reg,
                    "occurred_at": iso(at),
                }
                body = {"event": "payment.updated", "created_at": iso(at), "data": payment}
                ctx.add(body, self, k)


@dataclass
class DiscountAbuse(Pattern):
    share: float = 0.5
    depth: tuple[float, float] = (0.3, 0.6)
    days: int = 7
    mode: str = "discount"  # discount | override

    name = "discount_abuse"

    def build(self, ix: StreamIndex, r: random.Random, ctx: _Ctx) -> None:
        store, emp, own = ctx.own_sales(self, ix, r, self.days)
        k = 0
        for body in own:
            if r.random() >= self.share:
                continue
            data = body["data"]
            at = event_time(body)
            cur = data["total_money"]["currency"]
            total = int(data["total_money"]["amount"])
            if total <= 0:
                continue
            cut = r.uniform(*self.depth)
            new = dict(data)
            if self.mode == "override" and data.get("line_items"):
                items = [dict(x) for x in data["line_items"]]
                j = max(
                    range(len(items)),
                    key=lambda i: (
                        Decimal(str(items[i]["price"])) * Decimal(str(items[i]["quantity"]))
                    ),
                )
                old = Decimal(str(items[j]["price"]))
                price = (old * Decimal(str(round(1 - cut, 2)))).quantize(Decimal("0.01"))
                items[j]["original_unit_price"] = str(old)
                items[j]["price"] = str(price)
                off = _pence(old - price) * int(Decimal(str(items[j]["quantity"])))
                new["line_items"] = items
                new["total_money"] = {"amount": max(0, total - off), "currency": cur}
                if ix.overrides_as_events:
                    ctx.add(
                        {
                            "event": "price.overridden",
                            "created_at": body["created_at"],
                            "data": {
                                "id": ctx.new_id("O"),
                                "sale_id": data["id"],
                                "location_id": store,
                                "sku": items[j].get("sku") or "ITEM",
                                "original_price": str(old),
                                "new_price": str(price),
                                "currency": cur,
                                "employee_id": emp,
                                "register_id": data.get("register_id"),
                                "overridden_at": iso(at),
                            },
                        },
                        self,
                        k,
                    )
            else:
                off = int(total * cut)
                new["discounts"] = [
                    *(data.get("discounts") or []),
                    {"name": "manual", "amount": {"amount": off, "currency": cur}},
                ]
                new["total_money"] = {"amount": total - off, "currency": cur}
                new["tenders"] = _rescale(data.get("tenders") or [], total - off)
            ctx.alter(body, {**body, "data": new}, self, k)
            k += 1


def _rescale(tenders: list[dict[str, Any]], total: int) -> list[dict[str, Any]]:
    if not tenders:
        return tenders
    out = [dict(t) for t in tenders]
    paid = sum(int(t["amount"]["amount"]) for t in out) or 1
    left = total
    for i, t in enumerate(out):
        amt = left if i == len(out) - 1 else int(int(t["amount"]["amount"]) * total / paid)
        left -= amt
        t["amount"] = {"amount": amt, "currency": t["amount"]["currency"]}
    return out


@dataclass
class SerialReturner(Pattern):
    cycles: int = 6
    days: int = 30
    return_after_days: tuple[float, float] = (1.0, 5.0)
    amount_factor: float = 1.5

    name = "serial_returner"

    def build(self, ix: StreamIndex, r: random.Random, ctx: _Ctx) -> None:
        store, emp, _ = ctx.employee_times(self, ix, r, self.days)
        cur = ix.stores.get(store, ix.currency)
        start = ctx.start_of(self, ix, r)
        customer = ctx.new_id("C")
        fp, l4 = _card(r.randrange(1 << 30), customer, 0)
        skus = ix.skus.get(store) or [("ITEM", "Item", "1.00")]
        emps = ix.employees.get(store) or [emp]
        for k in range(self.cycles):
            bought = ctx.open_time(
                ix, store, start + timedelta(days=self.days * k / max(1, self.cycles)), r
            )
            back = ctx.open_time(
                ix, store, bought + timedelta(days=r.uniform(*self.return_after_days)), r
            )
            amount = max(
                100,
                int(ix.amounts.get(store, 2000) * self.amount_factor * math.exp(r.gauss(0, 0.4))),
            )
            sku, name, _ = r.choice(skus)
            line = {"sku": sku, "name": name, "quantity": 1, "price": f"{amount / 100:.2f}"}
            card = {
                "type": "card",
                "amount": {"amount": amount, "currency": cur},
                "card_fingerprint": fp,
                "last4": l4,
                "entry_method": "dipped",
            }
            sid = ctx.new_id("S")
            seller = r.choice(emps)
            ctx.add_unlabelled(
                {
                    "event": "sale.completed",
                    "created_at": iso(bought),
                    "data": {
                        "id": sid,
                        "location_id": store,
                        "customer_id": customer,
                        "employee_id": seller,
                        "register_id": ctx.register_of(ix, store, seller),
                        "line_items": [line],
                        "tenders": [card],
                        "total_money": {"amount": amount, "currency": cur},
                    },
                }
            )
            clerk = r.choice(emps)
            ctx.add(
                {
                    "event": "refund.created",
                    "created_at": iso(back),
                    "data": {
                        "id": ctx.new_id("R"),
                        "receipt_transaction_id": sid,
                        "location_id": store,
                        "customer_id": customer,
                        "employee_id": clerk,
                        "register_id": ctx.register_of(ix, store, clerk),
                        "line_items": [{**line, "restock": True}],
                        "tenders": [card],
                        "total_money": {"amount": amount, "currency": cur},
                    },
                },
                self,
                k,
            )


@dataclass
class PostVoids(Pattern):
    per_day: float = 2.0
    days: int = 5

    name = "post_voids"

    def build(self, ix: StreamIndex, r: random.Random, ctx: _Ctx) -> None:
        store, emp, own = ctx.own_sales(self, ix, r, self.days)
        n = min(len(own), _poisson(r, self.per_day * self.days) or 1)
        for k, body in enumerate(sorted(r.sample(own, n), key=event_time)):
            at = event_time(body) + timedelta(minutes=r.uniform(2, 30))
            ctx.add(
                {
                    "event": "sale.voided",
                    "created_at": iso(at),
                    "data": {
                        "id": body["data"]["id"],
                        "location_id": store,
                        "voided_at": iso(at),
                        "after_tender": True,
                        "employee_id": emp,
                        "register_id": body["data"].get("register_id"),
                    },
                },
                self,
                k,
            )
            ctx.touched.add(id(body))


@dataclass
class NoSaleAbuse(Pattern):
    per_day: float = 6.0
    days: int = 5

    name = "no_sale_abuse"

    def build(self, ix: StreamIndex, r: random.Random, ctx: _Ctx) -> None:
        store, emp, times = ctx.employee_times(self, ix, r, self.days)
        n = _poisson(r, self.per_day * self.days) or 1
        for k, at in enumerate(ctx.near(times, n, r)):
            ctx.add(
                {
                    "event": "drawer.opened",
                    "created_at": iso(at),
                    "data": {
                        "id": ctx.new_id("N"),
                        "location_id": store,
                        "opened_at": iso(at),
                        "employee_id": emp,
                        "register_id": ctx.register_of(ix, store, emp),
                    },
                },
                self,
                k,
            )


@dataclass
class GiftCardBurst(Pattern):
    count: int = 6
    minutes: float = 40.0
    value: int = 5000  # minor units per card

    name = "gift_card_burst"

    def build(self, ix: StreamIndex, r: random.Random, ctx: _Ctx) -> None:
        store, emp, times = ctx.employee_times(self, ix, r, 1)
        cur = ix.stores.get(store, ix.currency)
        t0 = r.choice(times)
        for k in range(self.count):
            at = t0 + timedelta(minutes=self.minutes * k / max(1, self.count - 1))
            fp, l4 = _card(r.randrange(1 << 30), "gift", k)
            ctx.add(
                {
                    "event": "sale.completed",
                    "created_at": iso(at),
                    "data": {
                        "id": ctx.new_id("S"),
                        "location_id": store,
                        "employee_id": emp,
                        "register_id": ctx.register_of(ix, store, emp),
                        "line_items": [
                            {
                                "sku": "GIFT-CARD",
                                "name": "Gift card",
                                "quantity": 1,
                                "price": f"{self.value / 100:.2f}",
                            }
                        ],
                        "tenders": [
                            {
                                "type": "card",
                                "amount": {"amount": self.value, "currency": cur},
                                "card_fingerprint": fp,
                                "last4": l4,
                                "entry_method": "keyed",
                            }
                        ],
                        "total_money": {"amount": self.value, "currency": cur},
                    },
                },
                self,
                k,
            )


@dataclass
class RefundToOtherCard(Pattern):
    count: int = 4
    days: int = 5
    within_hours: float = 3.0

    name = "refund_to_other_card"

    def build(self, ix: StreamIndex, r: random.Random, ctx: _Ctx) -> None:
        store, emp, sales = ctx.own_sales(self, ix, r, self.days)
        own = [
            b for b in sales if any(t.get("type") == "card" for t in b["data"].get("tenders") or [])
        ]
        fp, l4 = _card(r.randrange(1 << 30), f"own-{emp}", 1)
        for k, body in enumerate(sorted(r.sample(own, min(self.count, len(own))), key=event_time)):
            data = body["data"]
            at = event_time(body) + timedelta(hours=r.uniform(0.1, self.within_hours))
            amount = int(data["total_money"]["amount"])
            cur = data["total_money"]["currency"]
            ctx.add(
                {
                    "event": "refund.created",
                    "created_at": iso(at),
                    "data": {
                        "id": ctx.new_id("R"),
                        "receipt_transaction_id": data["id"],
                        "location_id": store,
                        "customer_id": data.get("customer_id"),
                        "employee_id": emp,
                        "register_id": data.get("register_id"),
                        "line_items": [
                            {
                                "sku": x.get("sku"),
                                "name": x.get("name"),
                                "quantity": x["quantity"],
                                "price": str(x["price"]),
                            }
                            for x in data.get("line_items") or []
                        ],
                        "tenders": [
                            {
                                "type": "card",
                                "amount": {"amount": amount, "currency": cur},
                                "card_fingerprint": fp,
                                "last4": l4,
                                "entry_method": "keyed",
                            }
                        ],
                        "total_money": {"amount": amount, "currency": cur},
                    },
                },
                self,
                k,
            )
            ctx.touched.add(id(body))


PATTERNS: dict[str, type[Pattern]] = {
    p.name: p
    for p in (
        RefundsWithoutSale,
        CardTesting,
        DiscountAbuse,
        SerialReturner,
        PostVoids,
        NoSaleAbuse,
        GiftCardBurst,
        RefundToOtherCard,
    )
}


class _Ctx:
    """What patterns share while building: new ids, the added/altered events, labels."""

    def __init__(self, seed: int, min_employees: int, warmup_days: float) -> None:
        self.seed = seed
        self.min_employees = min_employees
        self.warmup_days = warmup_days
        self.added: list[Body] = []
        self.altered: dict[int, Body] = {}
        self.touched: set[int] = set()
        self.labels: list[Label] = []
        self.case = ""
        self._n = 0

    def new_id(self, prefix: str) -> str:
        self._n += 1
        return f"inj-{prefix}{self.seed}-{self._n}"

    def _label(self, body: Body, pattern: Pattern, k: int) -> None:
        data = body["data"]
        self.labels.append(
            {
                "event": str(body["event"]),
                "id": str(data["id"]),
                "pattern": pattern.name,
                "case": self.case,
                "store": str(data.get("location_id")),
            }
        )

    def add(self, body: Body, pattern: Pattern, k: int) -> None:
        self.added.append(body)
        self._label(body, pattern, k)

    def add_unlabelled(self, body: Body) -> None:
        self.added.append(body)

    def alter(self, old: Body, new: Body, pattern: Pattern, k: int) -> None:
        self.altered[id(old)] = new
        self.touched.add(id(old))
        self._label(new, pattern, k)

    def pick_store(self, p: Pattern, ix: StreamIndex, r: random.Random) -> str:
        if p.store is None:
            ok = sorted(s for s, e in ix.employees.items() if len(e) >= self.min_employees)
            if not ok:
                ok = sorted(ix.employees)
            if not ok:
                raise ValueError("the stream has no store with employees to inject into")
            # busier stores are likelier, as incidents are
            weights = [len(ix.sales.get(s, [])) + 1 for s in ok]
            p.store = r.choices(ok, weights=weights)[0]
        return p.store

    def start_of(self, p: Pattern, ix: StreamIndex, r: random.Random) -> datetime:
        if p.start is None:
            assert ix.start is not None and ix.end is not None
            lo = ix.start + timedelta(days=self.warmup_days)
            span = max(0.0, (ix.end - lo).total_seconds() - 7 * 86400)
            p.start = lo + timedelta(seconds=r.uniform(0, span))
        return p.start

    def employee_times(
        self, p: Pattern, ix: StreamIndex, r: random.Random, days: float
    ) -> tuple[str, str, list[datetime]]:
        """The store, the employee, and the employee's activity times in the pattern's span
        (the span moves forward to the employee's next activity when they had none)."""
        store = self.pick_store(p, ix, r)
        if p.employee is None:
            emps = sorted(ix.employees.get(store) or [])
            if not emps:
                raise ValueError(f"store {store} has no employees in the stream")
            p.employee = r.choice(emps)
        start = self.start_of(p, ix, r)
        acts = sorted(a[0] for a in ix.activity.get((store, p.employee), []))
        times = [a for a in acts if start <= a < start + timedelta(days=days)]
        if not times:
            later = [a for a in acts if a >= start]
            base = later[0] if later else (acts[-1] if acts else start)
            times = [a for a in acts if base <= a < base + timedelta(days=days)] or [base]
        return store, p.employee, times

    def own_sales(
        self, p: Pattern, ix: StreamIndex, r: random.Random, days: float
    ) -> tuple[str, str, list[Body]]:
        """The store, the employee, and the employee's sales in the pattern's ``days`` from its
        start that no pattern has touched yet (in time order)."""
        store, emp, _ = self.employee_times(p, ix, r, days)
        start = self.start_of(p, ix, r)
        end = start + timedelta(days=days)
        own = [
            b
            for b in ix.sales.get(store, [])
            if b["data"].get("employee_id") == emp
            and start <= event_time(b) < end
            and id(b) not in self.touched
        ]
        return store, emp, own

    def register_of(self, ix: StreamIndex, store: str, emp: str) -> str | None:
        for _, _, reg in ix.activity.get((store, emp), []):
            if reg:
                return str(reg)
        return None

    def open_time(self, ix: StreamIndex, store: str, at: datetime, r: random.Random) -> datetime:
        """The first moment at or after ``at`` when the store is trading (its next event), plus
        a few minutes: injected shoppers come when the shop is open."""
        ts = ix.times.get(store) or []
        i = bisect_left(ts, at)
        base = ts[i] if i < len(ts) else (ts[-1] if ts else at)
        return base + timedelta(minutes=r.uniform(1, 10))

    def near(self, times: list[datetime], n: int, r: random.Random) -> list[datetime]:
        return sorted(r.choice(times) + timedelta(minutes=r.uniform(1, 20)) for _ in range(n))


@dataclass(frozen=True)
class Injection:
    events: list[Body]
    labels: list[Label]


def inject(
    events: Sequence[Body],
    patterns: Sequence[Pattern],
    *,
    seed: int = 0,
    min_employees: int = 3,
    warmup_days: float = 30.0,
) -> Injection:
    """Add the patterns to the stream (module doc). The input is not modified."""
    ix = StreamIndex.of(events)
    ctx = _Ctx(seed, min_employees, warmup_days)
    for n, pattern in enumerate(patterns):
        r = _rng(seed, "pattern", n, pattern.name)
        ctx.case = f"case-{n + 1}-{pattern.name}"
        pattern.build(ix, r, ctx)
    out = [ctx.altered.get(id(b), b) for b in events]
    return Injection(events=sort_events([*out, *ctx.added]), labels=ctx.labels)


def default_patterns(per_kind: int = 3, seed: int = 0, attempt_bursts: int = 0) -> list[Pattern]:
    """``per_kind`` incidents of every pattern, with sizes drawn from modest ranges; then
    ``attempt_bursts`` card-testing bursts sent as payment attempts, mostly declined (drawn
    apart: the other incidents are the same whatever their number)."""
    r = _rng(seed, "defaults")
    out: list[Pattern] = []
    for _ in range(per_kind):
        out += [
            RefundsWithoutSale(
                per_day=r.uniform(1.5, 4),
                days=r.randint(3, 7),
                receipt=r.choice(["none", "fake", "mixed"]),
                tender=r.choice(["cash", "card"]),
            ),
            CardTesting(
                attempts=r.randint(6, 12), minutes=r.uniform(4, 15), cards=r.choice([0, 1, 3])
            ),
            DiscountAbuse(
                share=r.uniform(0.4, 0.8),
                days=r.randint(3, 7),
                mode=r.choice(["discount", "override"]),
            ),
            SerialReturner(cycles=r.randint(5, 8), days=r.randint(20, 40)),
            PostVoids(per_day=r.uniform(1, 3), days=r.randint(3, 6)),
            NoSaleAbuse(per_day=r.uniform(4, 8), days=r.randint(3, 6)),
            GiftCardBurst(count=r.randint(4, 8), minutes=r.uniform(20, 60)),
            RefundToOtherCard(count=r.randint(3, 5), days=r.randint(3, 6)),
        ]
    ra = _rng(seed, "defaults", "attempts")
    for _ in range(attempt_bursts):
        out.append(
            CardTesting(
                attempts=ra.randint(6, 12),
                minutes=ra.uniform(4, 15),
                cards=ra.choice([0, 1, 3]),
                entry_method=ra.choice(["keyed", "keyed", "swiped"]),
                as_attempts=True,
                decline_share=ra.uniform(0.6, 0.95),
            )
        )
    return out


def pattern_from_dict(spec: dict[str, Any]) -> Pattern:
    """``{"pattern": "card_testing", "attempts": 20, ...}`` → the pattern (unknown keys are
    errors)."""
    spec = dict(spec)
    name = spec.pop("pattern", None)
    if name not in PATTERNS:
        raise ValueError(f"unknown pattern {name!r}; expected one of {', '.join(PATTERNS)}")
    cls = PATTERNS[name]
    allowed = {f.name for f in fields(cls)}
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(f"{name}: unknown parameter(s) {', '.join(sorted(unknown))}")
    if isinstance(spec.get("start"), str):
        spec["start"] = parse_time(spec["start"])
    for key in ("amount_range", "depth", "return_after_days"):
        if isinstance(spec.get(key), list):
            spec[key] = tuple(spec[key])
    return cls(**spec)


def pattern_dict(p: Pattern) -> dict[str, Any]:
    out = {"pattern": p.name, **asdict(p)}
    if isinstance(out.get("start"), datetime):
        out["start"] = iso(out["start"])
    return out


# -- evaluation against labels ---------------------------------------------------------------

_ALIASES = {"sale.refunded": "refund.created"}


def label_key(event: str | None, id: str) -> tuple[str, str]:
    return (_ALIASES.get(event or "", event or ""), id)


@dataclass(frozen=True)
class Scored:
    """One scored event, as the evaluation needs it."""

    event: str  # the generic event name
    id: str  # its data's id
    store: str
    week: str  # the store's local ISO week, "2024-W03"
    score: float
    decision: str


@dataclass
class Evaluation:
    capacity: int
    scored: int = 0
    labelled: int = 0  # scored events with a label
    labels_missing: int = 0  # labels naming no scored event (counted as missed)
    flagged: int = 0  # decision review or require_manager
    selected: int = 0  # flags within the capacity of their store-week
    hits: int = 0  # labelled events among the selected
    untouched: int = 0
    untouched_flagged: int = 0
    cases: int = 0
    cases_hit: int = 0
    by_pattern: dict[str, list[int]] = field(default_factory=dict)  # pattern → [hit, total]

    @property
    def precision(self) -> float:
        return self.hits / self.selected if self.selected else 0.0

    @property
    def recall(self) -> float:
        total = self.labelled + self.labels_missing
        return self.hits / total if total else 0.0

    @property
    def case_recall(self) -> float:
        return self.cases_hit / self.cases if self.cases else 0.0

    @property
    def false_flag_rate(self) -> float:
        return self.untouched_flagged / self.untouched if self.untouched else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "capacity_per_store_week": self.capacity,
            "scored": self.scored,
            "labelled": self.labelled,
            "labels_missing": self.labels_missing,
            "flagged": self.flagged,
            "selected": self.selected,
            "hits": self.hits,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "cases": self.cases,
            "case_recall": round(self.case_recall, 4),
            "untouched": self.untouched,
            "untouched_flagged": self.untouched_flagged,
            "false_flag_rate": round(self.false_flag_rate, 5),
            "recall_by_pattern": {
                k: {"hit": v[0], "total": v[1], "recall": round(v[0] / v[1], 4) if v[1] else 0.0}
                for k, v in sorted(self.by_pattern.items())
            },
        }


def evaluate_flags(
    scored: Sequence[Scored], labels: Sequence[Label], capacity: int = 20
) -> Evaluation:
    """Precision and recall when reviewers look at the ``capacity`` highest-scored flags
    (decision ``review`` or ``require_manager``) of every store-week. A case (a label's
    ``case``, else the label itself) is caught when any of its events is selected. The false-flag
    rate is the share of unlabelled events flagged."""
    wanted: dict[tuple[str, str], list[Label]] = defaultdict(list)
    by_id: dict[str, list[Label]] = defaultdict(list)
    for lab in labels:
        if lab.get("event"):
            wanted[label_key(lab.get("event"), str(lab["id"]))].append(lab)
        else:
            by_id[str(lab["id"])].append(lab)
    ev = Evaluation(capacity=capacity)
    groups: dict[tuple[str, str], list[Scored]] = defaultdict(list)
    matched: dict[int, list[Label]] = {}
    seen: set[int] = set()
    for i, s in enumerate(scored):
        ev.scored += 1
        labs = wanted.get(label_key(s.event, s.id), []) + by_id.get(s.id, [])
        if labs:
            matched[i] = labs
            for lab in labs:
                seen.add(id(lab))
        else:
            ev.untouched += 1
        if s.decision != "allow":
            ev.flagged += 1
            groups[(s.store, s.week)].append(s)
            if not labs:
                ev.untouched_flagged += 1
    index = {id(s): i for i, s in enumerate(scored)}
    selected: set[int] = set()
    for flags in groups.values():
        flags.sort(key=lambda s: -s.score)
        for s in flags[:capacity]:
            selected.add(index[id(s)])
    ev.selected = len(selected)
    case_total: set[str] = set()
    case_hit: set[str] = set()
    for lab in labels:
        case = str(lab.get("case") or f"{lab.get('event')}:{lab['id']}")
        case_total.add(case)
        pat = str(lab.get("pattern") or "unknown")
        ev.by_pattern.setdefault(pat, [0, 0])[1] += 1
        if id(lab) not in seen:
            ev.labels_missing += 1
    for i, labs in matched.items():
        ev.labelled += 1
        if i in selected:
            ev.hits += 1
            for lab in labs:
                case_hit.add(str(lab.get("case") or f"{lab.get('event')}:{lab['id']}"))
                ev.by_pattern[str(lab.get("pattern") or "unknown")][0] += 1
    ev.cases = len(case_total)
    ev.cases_hit = len(case_hit)
    return ev
