"""What happens at the tills: cashiers, registers, tenders, and the occasional void, no-sale
and price override — a documented, seeded scheme laid over the real invoices.

Online Retail II says nothing about who rang a sale up or how it was paid, so the simulator
assigns it, deterministically: every choice is a stable hash (SHA-256) of the seed, what is
being chosen and the invoice (no random generator, so a replay is the same for a seed on any
machine; ``seed`` defaults to :data:`DEFAULT_SEED`).

* **Cashiers**: each store has ``2 + invoices // 400`` cashiers (at most 8), ids
  ``<store id>:emp-<n>``, announced with ``employee.updated`` (role ``cashier``) right after the
  vendors. Each invoice is rung up by one of them (hash of the invoice).
* **Registers**: ``max(1, cashiers // 2)`` per store, ``<store id>:reg-<n>``, by hash.
* **Tenders** by invoice size: under £20, cash 60 % / card 40 %; from £20, card 85 % / wallet
  10 % / cash 5 %; 2 % of invoices are paid by gift card instead, and 3 % of card sales are split
  (half on the card, the rest cash). A card's fingerprint is fixed per customer
  (``fp_`` + 12 hex digits of a hash of the customer; a guest's card is new every time), its
  last 4 digits from the same hash. Entry method: contactless (``tapped``) for card payments
  up to £45 70 % of the time, else ``dipped`` 85 %, ``swiped`` 12 %, ``keyed`` 3 %.
* **Refunds** (cancellations): rung up like sales (cashier, register). The receipt
  (``receipt_transaction_id``) is the customer's latest earlier invoice at that store that sold
  one of the refunded SKUs (none for guests, or when there is none); the money goes back the
  way it came: the receipt's card, else cash.
* **Price overrides**: in 1 % of invoices one line (by hash; merchandise only) is sold 20 %
  under the list price (rounded down to the penny), the line keeping ``original_unit_price``;
  the sale's total follows, and a ``price.overridden`` precedes the sale.
* **Voids**: 0.5 % of invoices are also rung up and voided before tender (a ``sale.voided`` of a
  copy with id ``V<invoice>``, no payment, no stock moved); 0.2 % are rung up, paid and voided
  after tender (a post-void: ``sale.completed`` then ``sale.voided`` of ``PV<invoice>``, two
  minutes later, moving no stock). The real invoice itself is never voided.
* **No-sales**: 1 % of invoices are followed by a ``drawer.opened`` (``NS<invoice>``) by the
  same cashier at the same register, one minute later.
* **Declined attempts**: 1 % of invoices paid by card (or wallet) are preceded, one minute
  earlier, by a declined attempt of the same card for the same amount at the same till — a
  ``payment.updated`` (``PD<invoice>``, status ``failed``, ``sale_id`` none: it paid nothing),
  as a card refused once and tried again is; the sale's own successful payment is not sent
  apart (its tenders are on the sale).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from .dataset import Invoice

DEFAULT_SEED = 7
CASHIERS_PER_INVOICES = 400
MIN_CASHIERS, MAX_CASHIERS = 2, 8
SMALL_SALE = 2000  # pence: below it, cash is likelier
CONTACTLESS_LIMIT = 4500  # pence
GIFT_CARD_RATE = 0.02
SPLIT_RATE = 0.03
OVERRIDE_RATE = 0.01  # of invoices (one line each)
OVERRIDE_CUT = Decimal("0.20")
VOID_RATE = 0.005
POST_VOID_RATE = 0.002
NO_SALE_RATE = 0.01
DECLINE_RATE = 0.01  # of card- or wallet-paid invoices: one declined attempt first
FIRST_NAMES = ("Alex", "Sam", "Jo", "Priya", "Tom", "Maya", "Chris", "Nia")
LAST_NAMES = ("Smith", "Jones", "Patel", "Brown", "Taylor", "Khan", "Evans", "Wilson")


@dataclass(frozen=True)
class Till:
    employee_id: str
    register_id: str


@dataclass
class Tills:
    """The seeded till scheme for one replay (see the module docstring)."""

    seed: int = DEFAULT_SEED
    cashiers: dict[str, int] = field(default_factory=dict)  # store id → how many
    # (store id, customer) → earlier invoices: (invoice, skus, tenders)
    history: dict[tuple[str, str], list[tuple[str, frozenset[str], list[dict[str, Any]]]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    # -- hashing ----------------------------------------------------------------------------

    def _digest(self, purpose: str, key: str) -> bytes:
        return hashlib.sha256(f"{self.seed}\x1f{purpose}\x1f{key}".encode()).digest()

    def chance(self, purpose: str, key: str) -> float:
        """A stable number in [0, 1) for ``purpose`` and ``key``."""
        return int.from_bytes(self._digest(purpose, key)[:8], "big") / 2**64

    def pick(self, purpose: str, key: str, n: int) -> int:
        return int.from_bytes(self._digest(purpose, key)[:8], "big") % n

    # -- staff -------------------------------------------------------------------------------

    def plan_staff(self, invoices: Sequence[Invoice], store_of: dict[str, str]) -> None:
        per_store: dict[str, int] = defaultdict(int)
        for inv in invoices:
            per_store[store_of[inv.country]] += 1
        for store, n in sorted(per_store.items()):
            self.cashiers[store] = max(
                MIN_CASHIERS, min(MAX_CASHIERS, MIN_CASHIERS + n // CASHIERS_PER_INVOICES)
            )

    def employees(self) -> list[dict[str, Any]]:
        """The ``employee.updated`` data of every cashier."""
        out = []
        for store, n in sorted(self.cashiers.items()):
            for k in range(1, n + 1):
                eid = f"{store}:emp-{k}"
                out.append(
                    {
                        "id": eid,
                        "first_name": FIRST_NAMES[self.pick("first", eid, len(FIRST_NAMES))],
                        "last_name": LAST_NAMES[self.pick("last", eid, len(LAST_NAMES))],
                        "role": "cashier",
                        "location_ids": [store],
                    }
                )
        return out

    def till(self, store: str, invoice: str) -> Till:
        n = self.cashiers.get(store, MIN_CASHIERS)
        k = self.pick("cashier", invoice, n) + 1
        r = self.pick("register", invoice, max(1, n // 2)) + 1
        return Till(f"{store}:emp-{k}", f"{store}:reg-{r}")

    # -- tenders -----------------------------------------------------------------------------

    def card(self, customer: str | None, invoice: str) -> dict[str, str]:
        who = f"customer:{customer}" if customer else f"guest:{invoice}"
        digest = self._digest("card", who)
        last4 = f"{int.from_bytes(digest[8:12], 'big') % 10_000:04d}"
        return {"card_fingerprint": f"fp_{digest.hex()[:12]}", "last4": last4}

    def entry(self, invoice: str, amount: int) -> str:
        if amount <= CONTACTLESS_LIMIT and self.chance("tap", invoice) < 0.7:
            return "tapped"
        x = self.chance("entry", invoice)
        return "dipped" if x < 0.85 else "swiped" if x < 0.97 else "keyed"

    def tenders(self, invoice: str, customer: str | None, total: int) -> list[dict[str, Any]]:
        def money(amount: int) -> dict[str, Any]:
            return {"amount": amount, "currency": "GBP"}

        if total <= 0:
            return []
        if self.chance("gift", invoice) < GIFT_CARD_RATE:
            return [{"type": "gift_card", "amount": money(total)}]
        x = self.chance("tender", invoice)
        if total < SMALL_SALE:
            kind = "cash" if x < 0.6 else "card"
        else:
            kind = "card" if x < 0.85 else "wallet" if x < 0.95 else "cash"
        if kind == "cash":
            return [{"type": "cash", "amount": money(total)}]
        card = {**self.card(customer, invoice), "entry_method": self.entry(invoice, total)}
        if kind == "card" and total >= 200 and self.chance("split", invoice) < SPLIT_RATE:
            part = total // 2
            return [
                {"type": "card", "amount": money(part), **card},
                {"type": "cash", "amount": money(total - part)},
            ]
        return [{"type": kind, "amount": money(total), **card}]

    # -- overrides, receipts ----------------------------------------------------------------

    def override(self, invoice: str, index: int, lines: int, price: Decimal) -> Decimal | None:
        """The overridden unit price of line ``index`` of ``lines``, or None."""
        if price <= 0 or self.chance("override", invoice) >= OVERRIDE_RATE:
            return None
        if self.pick("override_line", invoice, lines) != index:
            return None
        cut = (price * (1 - OVERRIDE_CUT)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        return cut if cut < price else None

    def remember_sale(
        self, store: str, customer: str | None, invoice: str, skus: frozenset[str], tenders: list
    ) -> None:
        if customer:
            seen = self.history[(store, customer)]
            seen.append((invoice, skus, tenders))
            del seen[:-20]

    def receipt(
        self, store: str, customer: str | None, skus: frozenset[str]
    ) -> tuple[str | None, list[dict[str, Any]]]:
        """The customer's latest earlier invoice here selling one of ``skus`` and its tenders."""
        if not customer:
            return None, []
        for invoice, sold, tenders in reversed(self.history.get((store, customer), [])):
            if sold & skus:
                return invoice, tenders
        return None, []

    def refund_tenders(self, tenders: list[dict[str, Any]], total: int) -> list[dict[str, Any]]:
        card = next((t for t in tenders if t.get("type") == "card"), None)
        money = {"amount": total, "currency": "GBP"}
        if card is None or total <= 0:
            return [{"type": "cash", "amount": money}] if total > 0 else []
        keep: dict[str, Any] = {k: card[k] for k in ("card_fingerprint", "last4") if k in card}
        return [{"type": "card", "amount": money, **keep}]

    # -- occasional till events ---------------------------------------------------------------

    def voids(self, invoice: str) -> tuple[bool, bool]:
        """(a pre-tender void copy, a post-void copy) for this invoice."""
        return (
            self.chance("void", invoice) < VOID_RATE,
            self.chance("post_void", invoice) < POST_VOID_RATE,
        )

    def no_sale(self, invoice: str) -> bool:
        return self.chance("no_sale", invoice) < NO_SALE_RATE

    def declined_first(self, invoice: str, tenders: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The tender a declined attempt was made with before the sale, or None."""
        paid = [t for t in tenders if t.get("type") in ("card", "wallet")]
        if not paid or self.chance("declined", invoice) >= DECLINE_RATE:
            return None
        return paid[0]


def later(at: datetime, minutes: int) -> datetime:
    return at + timedelta(minutes=minutes)
