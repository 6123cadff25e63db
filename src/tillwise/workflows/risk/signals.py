"""The rules: one documented reason code each, with its evidence, against the store's and the
employee's peers' baselines (:mod:`.baselines`) — the tail of the peer distribution, not fixed
counts.

Every signal gives a weight in [0, 1]: roughly the chance a reviewer would confirm the event on
that reason alone (a prior; reviewers' labels recalibrate it through the supervised model). A
signal is ``base + tail``: a small weight for the fact itself (a refund without a receipt is
usually innocent) combined, as a noisy-OR, with a larger weight that grows with how far the
employee (or register, card, customer, hour) sits in the tail of the store's own distribution.
``tail(z)`` ramps from 0 at z = :data:`Z_LO` to 1 at z = :data:`Z_HI` (robust z-scores among the
employee's peers, see :class:`~.baselines.PeerBook`); quantile tails ramp between two quantiles
of a :class:`~.baselines.TailStat`.

Reason codes
------------
=============================  ===========================================================
``refund_without_receipt``     a refund with no receipt, a receipt never seen (no matching
                               sale), or more refunded than the receipt's sale; weighted by
                               the employee's no-receipt refund rate among peers
``refund_to_other_tender``     money returned to a card not used on the receipt's sale, or
                               to cash / a gift card when the sale was paid by card
``quick_refund_same_employee`` the employee refunds a sale they rang themselves shortly
                               before (:data:`QUICK_REFUND_SECONDS`)
``post_void``                  a sale voided by an employee whose void rate is in the tail
``void_after_tender``          a void after payment was taken (cash can be kept), weighted by
                               amount and the employee's post-void rate
``no_sale_drawer``             the drawer opened without a sale by an employee whose no-sale
                               rate, or count today, is in the tail of the store's
``discount_rate``              a discounted sale by an employee whose discount rate is in the
                               tail, or a discount deeper than the store's usual
``price_override``             a manual price override by an employee whose override rate is
                               in the tail, or a deep cut
``keyed_card``                 a manually keyed card, weighted by the employee's keyed share
``split_tender``               a sale paid several ways (several cards above all), weighted by
                               the employee's split rate
``card_testing``               many small card attempts on one register, or one card used
                               again and again, within minutes (vs the store's usual count);
                               on payment attempts (``tender`` events, declined ones
                               included): many small attempts, or many declines with a high
                               decline share, on one register within 15 min, or one card tried
                               again and again within the hour
``gift_card_burst``            several gift-card purchases within the hour by one employee,
                               register or customer (vs the store's usual count)
``high_value_return``          a refund in the top of the store's refund amounts
``serial_returner``            the customer's returns (recent, decayed) are in the tail of the
                               store's returning customers, and outweigh their purchases
``odd_hour``                   the store is rarely active at this local hour of the week
``anomaly``                    the unsupervised model (:mod:`.models`) finds the event rare
``learned``                    the supervised model trained on reviewers' decisions
``manager_threshold``          a refund, or discounts and manual price overrides together,
                               above the amount the store routes to a manager (set on the
                               scorer; off by default)
=============================  ===========================================================

Payment attempts (``tender`` events) and double counting
-------------------------------------------------------
A payment attempt (``payment.updated``: authorized, captured, completed or failed) is scored on
the attempt-level signals only — ``card_testing`` over the attempt windows (per register, 15
min; per card, 1 h) and ``keyed_card`` — never on the sale-level ones (discounts, overrides,
split tenders, gift cards, odd hours, the anomaly model): those belong to the sale, which is
scored as ``sale.completed`` on its own. ``keyed_card`` fires on an attempt only when it was
declined or names no sale the scorer has seen (a completed attempt of a sale already scored
would repeat the sale's own ``keyed_card``). Attempts feed only the attempt windows and their
store baselines (:attr:`StoreState.attempts`, ``attempt_counts``, ``decline_counts``,
``card_attempt_counts``), never the employees' peer rates, the store's hours, amounts or the
anomaly model's reservoir, so a payment stream beside the sales changes no sale-level baseline.
A payment id seen before (a status change, a redelivery) adds nothing and fires nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .baselines import (
    ANON_NO_RECEIPT,
    CARD_TENDERS,
    DISC_FRAC,
    GIFT_SALES,
    HANDLED,
    KEYED,
    NO_RECEIPT,
    NO_SALES,
    OTHER_TENDER,
    OVERRIDES,
    POST_VOIDS,
    QUICK_REFUNDS,
    REFUNDS,
    SALES,
    SPLITS,
    VOIDS,
    HourOfWeek,
    PeerBook,
    Standing,
    TailStat,
    TimeWindow,
    decay_factor,
)
from .events import RiskEvent

CODES = (
    "refund_without_receipt",
    "refund_to_other_tender",
    "quick_refund_same_employee",
    "post_void",
    "void_after_tender",
    "no_sale_drawer",
    "discount_rate",
    "price_override",
    "keyed_card",
    "split_tender",
    "card_testing",
    "gift_card_burst",
    "high_value_return",
    "serial_returner",
    "odd_hour",
    "anomaly",
    "learned",
    "manager_threshold",
)
RULE_CODES = CODES[:15]

Z_LO, Z_HI = 2.5, 6.0
MIN_COUNT = 3.0  # a peer tail needs this many occurrences (2 count half, 1 nothing)
MIN_SUPPORT = 300.0  # ... and a baseline that has seen this many events (decayed)
MIN_VALUES = 50  # store quantiles from fewer values fall back to a default
QUICK_REFUND_SECONDS = 2 * 3600
CARD_WINDOW_SECONDS = 15 * 60
ATTEMPT_WINDOW_SECONDS = CARD_WINDOW_SECONDS  # payment attempts per register
SMALL_QUANTILE = 0.10  # a card attempt is "small" at or below this quantile of the store's sales
CARD_KEY_WINDOW_SECONDS = 60 * 60
GIFT_WINDOW_SECONDS = 60 * 60
CUSTOMER_HALF_LIFE_DAYS = 30.0
SALE_MEMORY_DAYS = 120  # receipts are matched against the sales of this many days
MIN_STORE_EVENTS = 200  # store-level quantiles are used once the store has this many events
GIFT_CARD = re.compile(
    r"gift[\s_-]*(card|voucher|certificate|cert)|e-?gift|^gift_\d|giftcard", re.IGNORECASE
)
KEYED_METHODS = frozenset({"keyed", "manual", "manually_keyed"})


@dataclass(frozen=True)
class Reason:
    code: str  # one of CODES (documented above)
    weight: float  # 0..1
    evidence: dict[str, Any]
    text: str


def tail(z: float, lo: float = Z_LO, hi: float = Z_HI) -> float:
    if z <= lo:
        return 0.0
    if z >= hi:
        return 1.0
    return (z - lo) / (hi - lo)


def peer_tail(st: Standing | None, min_count: float = MIN_COUNT) -> float:
    """How far into the tail of its peers an employee is (0..1), once the behaviour has been
    seen ``min_count`` times: one odd event is not a pattern."""
    if st is None:
        return 0.0
    mature = ramp(st.support, MIN_SUPPORT / 3.0, MIN_SUPPORT)
    return tail(st.z) * ramp(st.count, min_count / 3.0, min_count) * mature


def ramp(x: float, lo: float, hi: float) -> float:
    if hi <= lo:
        return 1.0 if x >= hi else 0.0
    return 0.0 if x <= lo else 1.0 if x >= hi else (x - lo) / (hi - lo)


def nor(*ws: float) -> float:
    """Noisy-OR: the chance at least one independent reason holds."""
    p = 1.0
    for w in ws:
        p *= 1.0 - min(max(w, 0.0), 1.0)
    return 1.0 - p


def _r(x: float) -> float:
    return round(x, 4)


def _standing_evidence(s: Standing | None) -> dict[str, Any]:
    if s is None:
        return {}
    return {
        "employee_rate": _r(s.raw_rate),
        "peer_median_rate": _r(s.median),
        "z": round(s.z, 2),
        "peers": s.peers,
    }


# -- streaming state ------------------------------------------------------------------------


@dataclass(slots=True)
class SaleMemo:
    """What is remembered of a recent sale: for receipts, tenders and quick refunds."""

    t: float
    employee: str | None
    customer: str | None
    amount: int
    card_keys: tuple[str, ...]
    tender_types: tuple[str, ...]
    refunded: int = 0


@dataclass(slots=True)
class CustomerMemo:
    t: float = 0.0
    returns: float = 0.0  # decayed count
    purchases: float = 0.0
    returned_value: float = 0.0  # decayed, minor units
    bought_value: float = 0.0

    def decay_to(self, t: float) -> None:
        if t > self.t:
            f = decay_factor(t - self.t, CUSTOMER_HALF_LIFE_DAYS)
            self.returns *= f
            self.purchases *= f
            self.returned_value *= f
            self.bought_value *= f
            self.t = t


@dataclass(slots=True)
class EmployeeDay:
    day: int = -1  # local day ordinal
    events: int = 0
    refunds: int = 0
    no_receipt: int = 0
    no_sales: int = 0
    voids: int = 0
    overrides: int = 0
    discounted: int = 0


@dataclass
class StoreState:
    peers: PeerBook = field(default_factory=PeerBook)
    hours: HourOfWeek = field(default_factory=HourOfWeek)
    sale_amounts: TailStat = field(default_factory=TailStat)
    refund_amounts: TailStat = field(default_factory=TailStat)
    disc_fracs: TailStat = field(default_factory=TailStat)  # discounted sales' fraction
    override_cuts: TailStat = field(default_factory=TailStat)  # overrides' price cut fraction
    small_card_counts: TailStat = field(default_factory=TailStat)
    card_reuse_counts: TailStat = field(default_factory=TailStat)
    gift_counts: TailStat = field(default_factory=TailStat)
    returner_counts: TailStat = field(default_factory=TailStat)
    no_sale_day_counts: TailStat = field(default_factory=TailStat)
    no_receipt_day_counts: TailStat = field(default_factory=TailStat)
    registers: dict[str, TimeWindow] = field(default_factory=dict)  # card attempts
    # payment attempts ("r:<register>", "c:<card key>"): value = attempt_value(...)
    attempts: dict[str, TimeWindow] = field(default_factory=dict)
    attempt_counts: TailStat = field(default_factory=TailStat)  # small attempts / reg-window
    decline_counts: TailStat = field(default_factory=TailStat)  # declines / register-window
    card_attempt_counts: TailStat = field(default_factory=TailStat)  # attempts / card-hour
    cards: dict[str, TimeWindow] = field(default_factory=dict)  # a card's uses
    gift: dict[str, TimeWindow] = field(default_factory=dict)  # gift purchases by who/where
    days: dict[str, EmployeeDay] = field(default_factory=dict)
    first_t: float | None = None
    events: int = 0

    def day_of(self, employee: str | None, day: int) -> EmployeeDay | None:
        if employee is None:
            return None
        d = self.days.get(employee)
        if d is None or d.day != day:
            return None
        return d


# -- per-event facts ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Facts:
    """What the signals derive from an event and the remembered sale it names."""

    t: float
    day: int
    disc_frac: float
    keyed: bool
    split: bool
    distinct_cards: int
    gift_lines: int
    small_card: bool
    receipt: SaleMemo | None
    receipt_status: str  # n/a | ok | none | unknown | exceeds
    other_tender: bool
    quick_same_employee: bool
    card_keys: tuple[str, ...]
    declined: bool = False  # a declined payment attempt
    repeat: bool = False  # a payment attempt seen before (status change, redelivery)
    sale_seen: bool = False  # a payment attempt whose sale the scorer has scored


def facts_of(
    e: RiskEvent,
    store: StoreState,
    receipt: SaleMemo | None,
    memory_covers: bool,
    chain_amounts: TailStat | None = None,
    *,
    repeat: bool = False,
    sale_seen: bool = False,
) -> Facts:
    """The event's facts. "Small" card attempts are judged against the store's sale amounts,
    or the whole chain's (``chain_amounts``) while the store has seen too few."""
    t = e.occurred_at.timestamp()
    gross = e.amount + e.discount
    disc_frac = e.discount / gross if gross > 0 and e.discount > 0 else 0.0
    cards = [x for x in e.tenders if x.type == "card"]
    keyed = any((x.entry_method or "").lower() in KEYED_METHODS for x in cards)
    card_keys = tuple(k for k in (x.card_key for x in cards) if k)
    gift_lines = sum(1 for ln in e.lines if GIFT_CARD.search(f"{ln.sku or ''} {ln.name or ''}"))
    amounts = store.sale_amounts if len(store.sale_amounts) >= MIN_VALUES else chain_amounts
    small_card = (
        e.kind in ("sale", "cart", "tender")
        and bool(cards)
        and amounts is not None
        and len(amounts) >= MIN_VALUES
        and e.amount <= amounts.quantile(SMALL_QUANTILE)
    )
    status = "n/a"
    other = False
    quick = False
    if e.kind == "refund":
        if e.receipt_id is None:
            status = "none"
        elif receipt is None:
            status = "unknown" if memory_covers else "ok"
        elif receipt.refunded + e.amount > receipt.amount * 1.001 + 1:
            status = "exceeds"
        else:
            status = "ok"
        if receipt is not None:
            sale_cards = set(receipt.card_keys)
            for x in e.tenders:
                key = x.card_key
                if x.type == "card" and key and sale_cards and key not in sale_cards:
                    other = True
                paid = receipt.tender_types
                # money back in cash or on a gift card for a sale paid only by card
                if x.type in ("cash", "gift_card") and "card" in paid and "cash" not in paid:
                    other = other or x.type not in paid
            quick = (
                e.employee_id is not None
                and receipt.employee == e.employee_id
                and 0 <= t - receipt.t <= QUICK_REFUND_SECONDS
            )
    return Facts(
        t=t,
        day=e.local_day.toordinal(),
        disc_frac=disc_frac,
        keyed=keyed,
        split=len(e.tenders) >= 2,
        distinct_cards=len(set(card_keys)),
        gift_lines=gift_lines,
        small_card=small_card,
        receipt=receipt,
        receipt_status=status,
        other_tender=other,
        quick_same_employee=quick,
        card_keys=card_keys,
        declined=e.declined,
        repeat=repeat,
        sale_seen=sale_seen,
    )


# a payment attempt in a window: its amount and flags packed in one float (exact below 2**50)
_DECLINED, _KEYED, _SMALL = 1, 2, 4


def attempt_value(amount: int, *, declined: bool, keyed: bool, small: bool) -> float:
    flags = (_DECLINED if declined else 0) | (_KEYED if keyed else 0) | (_SMALL if small else 0)
    return float(max(0, amount) * 8 + flags)


def attempt_parts(value: float) -> tuple[int, bool, bool, bool]:
    """(amount, declined, keyed, small) of :func:`attempt_value`."""
    v = int(value)
    return v >> 3, bool(v & _DECLINED), bool(v & _KEYED), bool(v & _SMALL)


def attempt_keys(e: RiskEvent, f: Facts) -> tuple[str | None, str | None]:
    """The attempt windows an attempt belongs to: its register's and its card's."""
    reg = f"r:{e.register_id}" if e.register_id else None
    card = f"c:{f.card_keys[0]}" if f.card_keys else None
    return reg, card


def counter_deltas(e: RiskEvent, f: Facts) -> dict[int, float]:
    """What the event adds to its employee's counters (see :data:`~.baselines.METRICS`)."""
    d: dict[int, float] = {HANDLED: 1.0}
    if e.kind == "sale":
        d[SALES] = 1.0
        if f.disc_frac > 0:
            d[DISC_FRAC] = f.disc_frac
        if e.override_count:
            d[OVERRIDES] = 1.0
        n_cards = sum(1 for x in e.tenders if x.type == "card")
        if n_cards:
            d[CARD_TENDERS] = float(n_cards)
            if f.keyed:
                d[KEYED] = 1.0
        if f.split:
            d[SPLITS] = 1.0
        if f.gift_lines:
            d[GIFT_SALES] = 1.0
    elif e.kind == "refund":
        d[REFUNDS] = 1.0
        if f.receipt_status in ("none", "unknown", "exceeds"):
            d[NO_RECEIPT] = 1.0
            if e.customer_id is None:
                d[ANON_NO_RECEIPT] = 1.0
        if f.quick_same_employee:
            d[QUICK_REFUNDS] = 1.0
        if f.other_tender:
            d[OTHER_TENDER] = 1.0
    elif e.kind == "void":
        d[VOIDS] = 1.0
        if e.after_tender:
            d[POST_VOIDS] = 1.0
    elif e.kind == "no_sale":
        d[NO_SALES] = 1.0
    elif e.kind == "price_override":
        d[OVERRIDES] = 1.0
    return d


# -- the signals ----------------------------------------------------------------------------


def evaluate(
    e: RiskEvent,
    f: Facts,
    s: StoreState,
    customer: CustomerMemo | None,
) -> list[Reason]:
    """Every rule that fires on ``e`` (score time: reads the state, changes nothing)."""
    out: list[Reason] = []
    ev: dict[str, Any]
    peers = s.peers
    emp = e.employee_id
    t = f.t
    today = s.day_of(emp, f.day)
    mature = s.events >= MIN_STORE_EVENTS
    kind = e.kind
    if kind == "tender":
        return _attempt_signals(e, f, s)

    if kind == "refund":
        # refund_without_receipt
        if f.receipt_status in ("none", "unknown", "exceeds"):
            st = peers.standing(emp, "no_receipt_rate", t, (1.0, 1.0))
            base = {"none": 0.10, "unknown": 0.30, "exceeds": 0.35}[f.receipt_status]
            tw = peer_tail(st)
            if len(s.refund_amounts) >= MIN_VALUES:  # the larger, the likelier it matters
                base = nor(base, 0.2 * ramp(s.refund_amounts.rank(e.amount), 0.6, 0.98))
            if any(x.type == "cash" for x in e.tenders):  # money out of the drawer
                base = nor(base, 0.05)
            if e.customer_id is None:  # nobody to give the money back to: the classic
                base = nor(base, 0.10)
                anon = peers.standing(emp, "anon_refund_rate", t, (1.0, 1.0))
                if peer_tail(anon) > tw:
                    st, tw = anon, peer_tail(anon)
            day_n = (today.no_receipt if today else 0) + 1
            day_w = 0.0
            if mature and e.customer_id is None:
                q = max(2.0, s.no_receipt_day_counts.quantile(0.99, 2.0, MIN_VALUES))
                day_w = 0.8 * ramp(day_n, q, q + 3.0)
            w = nor(base, 0.9 * tw, day_w)
            label = {
                "none": "without a receipt",
                "unknown": f"naming receipt {e.receipt_id}, a sale never seen",
                "exceeds": f"exceeding what remains of sale {e.receipt_id}",
            }[f.receipt_status]
            ev = {
                "receipt": f.receipt_status,
                "receipt_id": e.receipt_id,
                "today": day_n,
            }
            ev.update(_standing_evidence(st))
            out.append(
                Reason(
                    "refund_without_receipt",
                    w,
                    ev,
                    f"refund {label}; employee's no-receipt refunds today: {day_n}",
                )
            )
        if f.other_tender:
            st = peers.standing(emp, "other_tender_rate", t, (1.0, 1.0))
            w = nor(0.30, 0.8 * peer_tail(st))
            ev = {"refund_tenders": [x.type for x in e.tenders]}
            if f.receipt is not None:
                ev["sale_tenders"] = list(f.receipt.tender_types)
            ev.update(_standing_evidence(st))
            out.append(
                Reason(
                    "refund_to_other_tender",
                    w,
                    ev,
                    "refund paid to a different tender or card than the sale",
                )
            )
        if f.quick_same_employee and f.receipt is not None:
            st = peers.standing(emp, "quick_refund_rate", t, (1.0, 1.0))
            minutes = (t - f.receipt.t) / 60.0
            w = nor(0.25, 0.85 * peer_tail(st))
            ev = {"minutes_after_sale": round(minutes, 1), "sale_id": e.receipt_id}
            ev.update(_standing_evidence(st))
            out.append(
                Reason(
                    "quick_refund_same_employee",
                    w,
                    ev,
                    f"refund of the employee's own sale {minutes:.0f} min after it",
                )
            )
        # high_value_return
        if len(s.refund_amounts) >= 30:
            q = s.refund_amounts.rank(e.amount)
            if q >= 0.98:
                sale_q = s.sale_amounts.rank(e.amount) if len(s.sale_amounts) else 0.5
                w = 0.35 * ramp(q, 0.98, 0.999) + 0.1 * ramp(sale_q, 0.95, 0.999)
                out.append(
                    Reason(
                        "high_value_return",
                        w,
                        {
                            "amount": e.amount,
                            "refund_quantile": _r(q),
                            "store_p99": s.refund_amounts.quantile(0.99),
                        },
                        f"refund larger than {q:.1%} of the store's refunds",
                    )
                )
        # serial_returner
        if customer is not None and e.customer_id is not None:
            n = customer.returns + 1.0
            value = customer.returned_value + e.amount
            share = min(1.0, value / customer.bought_value) if customer.bought_value > 0 else 1.0
            q = max(2.0, s.returner_counts.quantile(0.9, 3.0, MIN_VALUES))
            w = 0.85 * ramp(n, q, q + 2.0) * ramp(share, 0.5, 0.9)
            if w > 0:
                out.append(
                    Reason(
                        "serial_returner",
                        w,
                        {
                            "customer_returns": _r(n),
                            "returned_share_of_value": _r(share),
                            "store_p90_returns": _r(q),
                        },
                        f"customer's {n:.0f} recent returns take back {share:.0%} of what "
                        "they bought",
                    )
                )

    if kind == "void":
        st = peers.standing(emp, "void_rate", t, (1.0, 1.0))
        tw = peer_tail(st)
        if tw > 0:
            ev = _standing_evidence(st)
            out.append(
                Reason(
                    "post_void", 0.85 * tw, ev, "a voided sale by an employee who voids unusually"
                )
            )
        if e.after_tender:
            st2 = peers.standing(emp, "post_void_rate", t, (1.0, 1.0))
            amt_q = s.sale_amounts.rank(e.amount) if e.amount and len(s.sale_amounts) else 0.5
            w = nor(0.40, 0.25 * ramp(amt_q, 0.5, 0.95), 0.85 * peer_tail(st2))
            ev = {"amount": e.amount, "amount_quantile": _r(amt_q)}
            ev.update(_standing_evidence(st2))
            out.append(Reason("void_after_tender", w, ev, "sale voided after payment was taken"))

    if kind == "no_sale":
        st = peers.standing(emp, "no_sale_rate", t, (1.0, 1.0))
        day_n = (today.no_sales if today else 0) + 1
        day_w = 0.0
        if mature:
            q = max(2.0, s.no_sale_day_counts.quantile(0.99, 3.0, MIN_VALUES))
            day_w = 0.8 * ramp(day_n, q, q + 2.0)
        w = nor(0.03, 0.85 * peer_tail(st), day_w)
        ev = {"no_sales_today": day_n}
        ev.update(_standing_evidence(st))
        out.append(Reason("no_sale_drawer", w, ev, f"drawer opened without a sale ({day_n} today)"))

    if kind in ("sale", "cart") and f.disc_frac > 0:
        st = peers.standing(emp, "discount_rate", t, (f.disc_frac, 1.0))
        deep = 0.0
        if len(s.disc_fracs) >= MIN_VALUES:
            deep = 0.5 * ramp(s.disc_fracs.rank(f.disc_frac), 0.95, 0.995)
        w = nor(deep, 0.9 * peer_tail(st, 1.0) * ramp(f.disc_frac, 0.0, 0.05))
        if w > 0:
            ev = {"discount": e.discount, "discount_share": _r(f.disc_frac)}
            ev.update(_standing_evidence(st))
            out.append(
                Reason(
                    "discount_rate", w, ev, f"{f.disc_frac:.0%} discount by an outlying employee"
                )
            )

    if e.override_count and kind in ("sale", "cart", "price_override"):
        st = peers.standing(emp, "override_rate", t, (1.0, 1.0))
        cut = 0.0
        for ln in e.lines:
            if ln.original_unit_price and ln.original_unit_price > 0:
                cut = max(cut, 1.0 - ln.unit_price / ln.original_unit_price)
        deep = 0.0
        if len(s.override_cuts) >= MIN_VALUES:
            deep = 0.5 * ramp(s.override_cuts.rank(cut), 0.95, 0.995)
        w = nor(0.03, deep, 0.85 * peer_tail(st))
        ev = {"overrides": e.override_count, "price_cut": _r(cut)}
        ev.update(_standing_evidence(st))
        out.append(Reason("price_override", w, ev, f"price overridden by hand ({cut:.0%} off)"))

    if kind in ("sale", "cart") and f.keyed:
        st = peers.standing(emp, "keyed_rate", t, (1.0, 1.0))
        w = nor(0.05, 0.75 * peer_tail(st))
        ev = _standing_evidence(st)
        out.append(Reason("keyed_card", w, ev, "card number keyed in by hand"))

    if kind in ("sale", "cart") and f.split:
        st = peers.standing(emp, "split_rate", t, (1.0, 1.0))
        base = 0.10 if f.distinct_cards >= 2 else 0.02
        w = nor(base, 0.6 * peer_tail(st))
        ev = {"tenders": len(e.tenders), "cards": f.distinct_cards}
        ev.update(_standing_evidence(st))
        out.append(Reason("split_tender", w, ev, f"paid with {len(e.tenders)} tenders"))

    if kind in ("sale", "cart") and (f.card_keys or f.small_card):
        w, ev = _card_testing(e, f, s)
        if w > 0:
            out.append(
                Reason(
                    "card_testing",
                    w,
                    ev,
                    f"{ev['attempts']} small card attempts on the register in "
                    f"{CARD_WINDOW_SECONDS // 60} min, card used {ev['card_uses']} times",
                )
            )

    if kind in ("sale", "cart") and f.gift_lines:
        n = 1 + max(
            (len(s.gift[k].recent(t)) if k in s.gift else 0 for k in _gift_keys(e)),
            default=0,
        )
        q = max(1.0, s.gift_counts.quantile(0.99, 1.0, MIN_VALUES))
        w = nor(0.03, 0.85 * ramp(n, q, q + 2.0))
        out.append(
            Reason(
                "gift_card_burst",
                w,
                {"gift_purchases_last_hour": n, "store_p99": q},
                f"{n} gift-card purchases within the hour",
            )
        )

    if mature and s.hours.total >= 300:
        share = s.hours.share(e.local_weekday, e.local_hour)
        if share < 0.15:
            w = 0.35 * ramp(0.15 - share, 0.0, 0.14)
            out.append(
                Reason(
                    "odd_hour",
                    w,
                    {
                        "local_hour": e.local_hour,
                        "local_weekday": e.local_weekday,
                        "activity_vs_average_hour": _r(share),
                    },
                    f"at {e.local_hour:02d}:00 local, an hour the store is rarely active",
                )
            )
    return out


def _gift_keys(e: RiskEvent) -> list[str]:
    keys = []
    if e.employee_id:
        keys.append(f"e:{e.employee_id}")
    if e.register_id:
        keys.append(f"r:{e.register_id}")
    if e.customer_id:
        keys.append(f"c:{e.customer_id}")
    return keys


def _card_testing(e: RiskEvent, f: Facts, s: StoreState) -> tuple[float, dict[str, Any]]:
    t = f.t
    attempts = 1 if f.small_card else 0
    keyed = 1.0 if f.keyed else 0.0
    fps: set[str] = set(f.card_keys)
    reg = s.registers.get(e.register_id or "")
    if reg is not None and f.small_card:
        for _, was_keyed, key in reg.recent(t, CARD_WINDOW_SECONDS):
            attempts += 1
            keyed += was_keyed
            if key:
                fps.add(key)
    keyed_share = keyed / attempts if attempts else 0.0
    uses = 1
    for k in f.card_keys:
        window = s.cards.get(k)
        if window is not None:
            uses = max(uses, 1 + len(window.recent(t)))
    q_att = max(2.0, s.small_card_counts.quantile(0.995, 3.0, MIN_VALUES))
    q_use = max(2.0, s.card_reuse_counts.quantile(0.995, 3.0, MIN_VALUES))
    # testers key in numbers they hold no card for: keyed attempts weigh double
    burst = ramp(attempts, q_att, q_att + 3.0) * (0.5 + 0.5 * keyed_share)
    w = nor(
        0.9 * burst if f.small_card else 0.0,
        0.8 * ramp(uses, q_use, q_use + 3.0) * (0.5 + 0.5 * keyed_share),
    )
    ev: dict[str, Any] = {
        "attempts": attempts,
        "keyed_share": _r(keyed_share),
        "distinct_cards": len(fps),
        "card_uses": uses,
        "store_p995_attempts": q_att,
        "store_p995_card_uses": q_use,
    }
    return w, ev


# -- payment attempts -----------------------------------------------------------------------


def _attempt_signals(e: RiskEvent, f: Facts, s: StoreState) -> list[Reason]:
    """The attempt-level signals of a payment attempt (module doc: no sale-level ones)."""
    if f.repeat:
        return []  # scored when it was first seen
    out: list[Reason] = []
    w, ev = _attempt_testing(e, f, s)
    if w > 0:
        out.append(
            Reason(
                "card_testing",
                w,
                ev,
                f"{ev['attempts']} card attempts ({ev['declines']} declined, "
                f"{ev['small_attempts']} small) on the register in "
                f"{ev['window_minutes']} min; card tried {ev['card_attempts']} times in the hour",
            )
        )
    if f.keyed and (e.declined or not f.sale_seen):
        st = s.peers.standing(e.employee_id, "keyed_rate", f.t, (1.0, 1.0))
        w = nor(0.08 if e.declined else 0.05, 0.75 * peer_tail(st))
        ev2: dict[str, Any] = {"attempt": True, "declined": e.declined}
        ev2.update(_standing_evidence(st))
        out.append(Reason("keyed_card", w, ev2, "card number keyed in by hand (payment attempt)"))
    return out


def _attempt_testing(e: RiskEvent, f: Facts, s: StoreState) -> tuple[float, dict[str, Any]]:
    """Card testing over payment attempts: on the register within :data:`ATTEMPT_WINDOW_SECONDS`
    (small attempts, or declines when they are a high share of the attempts), and on the card
    within :data:`CARD_KEY_WINDOW_SECONDS` (tried again and again), each against the store's
    p99.5 of the same count. This attempt is counted in."""
    t = f.t
    reg_key, card_key = attempt_keys(e, f)
    n, declines, small, keyed = 1, int(f.declined), int(f.small_card), int(f.keyed)
    amounts = [e.amount]
    cards: set[str] = set(f.card_keys)
    reg = s.attempts.get(reg_key) if reg_key else None
    if reg is not None:
        for _, v, key in reg.recent(t, ATTEMPT_WINDOW_SECONDS):
            amount, was_declined, was_keyed, was_small = attempt_parts(v)
            n += 1
            declines += was_declined
            small += was_small
            keyed += was_keyed
            amounts.append(amount)
            if key:
                cards.add(key)
    card_n, card_declines = 1, int(f.declined)
    win = s.attempts.get(card_key) if card_key else None
    if win is not None:
        for _, v, _ in win.recent(t, CARD_KEY_WINDOW_SECONDS):
            card_n += 1
            card_declines += attempt_parts(v)[1]
    share = declines / n
    keyed_share = keyed / n
    q_att = max(3.0, s.attempt_counts.quantile(0.995, 5.0, MIN_VALUES))
    q_dec = max(2.0, s.decline_counts.quantile(0.995, 2.0, MIN_VALUES))
    q_card = max(2.0, s.card_attempt_counts.quantile(0.995, 3.0, MIN_VALUES))
    boost = 0.5 + 0.5 * max(keyed_share, share)
    burst = ramp(small, q_att, q_att + 3.0) * boost if f.small_card or f.declined else 0.0
    declined_burst = ramp(declines, q_dec, q_dec + 3.0) * ramp(share, 0.2, 0.5)
    card_share = card_declines / card_n
    again = ramp(card_n, q_card, q_card + 3.0) * (0.5 + 0.5 * max(keyed_share, card_share))
    w = nor(0.9 * burst, 0.9 * declined_burst, 0.8 * again)
    ev: dict[str, Any] = {
        "attempts": n,
        "declines": declines,
        "decline_share": _r(share),
        "small_attempts": small,
        "amounts": sorted(amounts)[:20],
        "window_minutes": ATTEMPT_WINDOW_SECONDS // 60,
        "register_id": e.register_id,
        "distinct_cards": len(cards),
        "keyed_share": _r(keyed_share),
        "card_attempts": card_n,
        "card_declines": card_declines,
        "store_p995_attempts": q_att,
        "store_p995_declines": q_dec,
        "store_p995_card_attempts": q_card,
    }
    return w, ev
