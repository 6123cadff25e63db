"""The risk scorer: rules + anomaly model + supervised model → a score, a decision, reasons.

Combining. Every rule (:mod:`.signals`) and the anomaly model give a weight in [0, 1], read as
the chance a reviewer confirms the event on that reason alone; the rule score is their
noisy-OR, ``1 - prod(1 - w_i)`` (two weak reasons together outweigh either). Once reviewers'
labels have trained the supervised model, its calibrated probability ``p`` is blended in:
``score = (1 - a) * rules + a * p`` with ``a = n / (n + 100)`` for ``n`` labels, capped at 0.7
(the rules keep a voice however many labels there are). The decision: ``require_manager`` at or
above ``manager_threshold``, ``review`` at or above ``review_threshold``, else ``allow``; a
refund, or a sale, cart or price override taking more off (discounts and manual price overrides
together) than the amounts set on the scorer (off by default), is routed to a manager whatever
its score. An override is put before a manager once: what the price-override events of a sale
routed is not counted again when the sale completes, and overrides a routed sale carried are not
routed again by their own events arriving after it (:attr:`RiskScorer.overrides_routed`).

Cost. :meth:`RiskScorer.score` only reads precomputed state: dictionary lookups, the peers'
cached medians (recomputed every few events of a store by :meth:`~RiskScorer.observe`), a
forest walked as numpy arrays, one dot product. Fits happen in ``observe`` (the isolation
forest every ``refit_every`` events, in a few hundred milliseconds) and in :meth:`learn`.
Measured (``bench/risk.py``, ``docs/risk.md``): about 100 µs of CPU per ``score``, 160-420 µs
per ``assess`` on the event path, refits included.

Observing is once per event: the keys of the events observed (``max_remembered`` of them) are
kept, so an event handled again — redelivered, or retried after its transaction rolled back —
changes no baseline a second time.

State is bounded: sales remembered for receipts (``max_sales``, at most
:data:`~.signals.SALE_MEMORY_DAYS` days), customers (``max_customers``), windows of minutes for
registers and cards, today's counts per employee, reservoirs of a few thousand values per
statistic, the keys of the events observed. :meth:`snapshot` / :meth:`restore` persist all of
it as a versioned JSON document (:mod:`.snapshot`: no pickle, so a stored snapshot cannot run
code; ``restore`` validates it and raises :class:`~.snapshot.SnapshotError` for anything it
cannot trust).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import snapshot
from .baselines import PeerBook, PeerStat, TailStat, TimeWindow, chain_stats
from .events import RiskEvent
from .models import AnomalyModel, SupervisedModel, features, supervised_vector
from .signals import (
    CARD_KEY_WINDOW_SECONDS,
    CARD_WINDOW_SECONDS,
    GIFT_WINDOW_SECONDS,
    SALE_MEMORY_DAYS,
    CustomerMemo,
    EmployeeDay,
    Facts,
    Reason,
    SaleMemo,
    StoreState,
    _gift_keys,
    attempt_keys,
    attempt_parts,
    attempt_value,
    counter_deltas,
    evaluate,
    facts_of,
    nor,
)

MODEL = "tillwise-risk"
RULES_VERSION = "1"
DECISIONS = ("allow", "review", "require_manager")
_SWEEP_EVERY = 5000
_CHAIN_EVERY = 500
_MEMORY_COVERS_SECONDS = 30 * 86400  # a receipt never seen counts as unknown after this


@dataclass(frozen=True)
class Assessment:
    event_id: str
    store: str
    score: float  # 0..1
    decision: str  # allow | review | require_manager
    reasons: tuple[Reason, ...]
    model: str
    version: str
    # the supervised model's input as it was when scored: stored with the score, and what a
    # reviewer's label of the event trains on (never rebuilt from later state)
    features: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "store": self.store,
            "score": round(self.score, 4),
            "decision": self.decision,
            "reasons": [
                {
                    "code": r.code,
                    "weight": round(r.weight, 4),
                    "evidence": r.evidence,
                    "text": r.text,
                }
                for r in self.reasons
            ],
            "model": self.model,
            "version": self.version,
        }


_EMPTY = StoreState()


def _sale_key(store: str, sale_id: str) -> tuple[str, str]:
    """Where a sale is remembered: its connection (``store`` is ``<connection>:<location>``)
    and its id."""
    return (store.partition(":")[0], sale_id)


def _routing_key(event: RiskEvent) -> tuple[str, str] | None:
    """The sale whose overrides ``event`` carries: a sale itself, or the sale a price override
    names (``None`` when it names none)."""
    if event.kind == "sale":
        return _sale_key(event.store, event.id)
    if event.kind == "price_override" and event.receipt_id is not None:
        return _sale_key(event.store, event.receipt_id)
    return None


def _overridden(event: RiskEvent) -> int:
    """What manual price overrides took off ``event``'s lines, minor units."""
    return round(
        sum(
            max(0, ln.original_unit_price - ln.unit_price) * ln.quantity
            for ln in event.lines
            if ln.original_unit_price is not None
        )
    )


class RiskScorer:
    """Scores till events as they arrive; learns its baselines from the same stream."""

    def __init__(
        self,
        *,
        review_threshold: float = 0.5,
        manager_threshold: float = 0.8,
        manager_refund_amount: int | None = None,
        manager_discount_amount: int | None = None,
        seed: int = 0,
        first_fit: int = 2000,
        refit_every: int = 20000,
        max_sales: int = 200_000,
        max_customers: int = 200_000,
        max_remembered: int = 50_000,
    ) -> None:
        if not 0.0 < review_threshold <= manager_threshold <= 1.0:
            raise ValueError("need 0 < review_threshold <= manager_threshold <= 1")
        self.review_threshold = review_threshold
        self.manager_threshold = manager_threshold
        self.manager_refund_amount = manager_refund_amount
        self.manager_discount_amount = manager_discount_amount
        self.seed = seed
        self.max_sales = max_sales
        self.max_customers = max_customers
        self.max_remembered = max_remembered
        self.stores: dict[str, StoreState] = {}
        self.chain_amounts = TailStat(size=5000)  # every store's sale amounts
        # (connection id, sale id) → the sale, in insertion (≈ time) order: sale ids are unique
        # per connection (one POS account), so a receipt is found at whichever store it is returned
        self.sales: dict[tuple[str, str], SaleMemo] = {}
        self.customers: dict[tuple[str, str], CustomerMemo] = {}
        self.chain: dict[str, PeerStat] | None = None
        self.anomaly = AnomalyModel(seed=seed, first_fit=first_fit, refit_every=refit_every)
        self.supervised = SupervisedModel()
        self.observed: dict[str, float] = {}  # event key → its time: what has been observed
        # (connection id, sale id) → (time, override amount its price-override events routed
        # to a manager, override amount its routed sale covers that no such event has used)
        self.overrides_routed: dict[tuple[str, str], tuple[float, int, int]] = {}
        self.events = 0

    # -- public API ---------------------------------------------------------------------------

    @property
    def version(self) -> str:
        return f"rules-{RULES_VERSION}.if-{self.anomaly.version}.sup-{self.supervised.version}"

    def score(self, event: RiskEvent) -> Assessment:
        """Score ``event`` against the current baselines (changes no baseline)."""
        return self._score(event)[0]

    def observe(self, event: RiskEvent) -> None:
        """Learn from ``event``: baselines, windows, remembered sales, the anomaly model."""
        event, facts, _ = self._prepare(event)
        self._observe(event, facts, self._features(event, facts), flagged=False)

    def assess(self, event: RiskEvent) -> Assessment:
        """The event path: score, then observe (an event observed before is scored only)."""
        assessment, event, facts, x = self._score(event)
        self._observe(event, facts, x, flagged=assessment.decision != "allow")
        return assessment

    def learn(self, labels: Sequence[tuple[Sequence[float], bool]]) -> None:
        """Reviewers' decisions → the supervised model, once there are enough of each kind.
        Each label is the event's :attr:`Assessment.features` as stored with its score and
        whether the loss was confirmed. Only those stored vectors are trained on: the current
        state already holds the event and what came after it (a refund re-scored after it was
        observed "exceeds" what remains of its own sale), features a score never sees."""
        ys = [bool(y) for _, y in labels]
        if SupervisedModel.enough(ys):
            xs = np.vstack([np.asarray(v, dtype=float) for v, _ in labels])
            self.supervised.fit(xs, np.array(ys, dtype=int), seed=self.seed)

    def refit(self) -> None:
        """Refit the anomaly model now from the reservoir (``observe`` does it periodically)."""
        if self.anomaly.reservoir:
            self.anomaly.fit()

    def snapshot(self) -> bytes:
        """All the state, as a versioned JSON document (:mod:`.snapshot`)."""
        return snapshot.dump(self)

    @classmethod
    def restore(cls, data: bytes) -> RiskScorer:
        """The scorer a :meth:`snapshot` saved; :class:`~.snapshot.SnapshotError` (a
        ``ValueError``) when ``data`` is damaged, tampered with or of another version."""
        return snapshot.load(data, cls)

    def decide(self, score: float) -> str:
        if score >= self.manager_threshold:
            return "require_manager"
        if score >= self.review_threshold:
            return "review"
        return "allow"

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _key(event: RiskEvent) -> str:
        return f"{event.store}\x1f{event.kind}\x1f{event.id}"

    def _prepare(self, event: RiskEvent) -> tuple[RiskEvent, Facts, StoreState]:
        store = self.stores.get(event.store, _EMPTY)
        receipt: SaleMemo | None = None
        if event.kind == "refund" and event.receipt_id is not None:
            receipt = self.sales.get(_sale_key(event.store, event.receipt_id))
        elif event.kind == "void":
            memo = self.sales.get(_sale_key(event.store, event.id))
            if memo is not None and event.amount == 0:
                event = replace(event, amount=memo.amount)
        t = event.occurred_at.timestamp()
        covers = store.first_t is not None and t - store.first_t >= _MEMORY_COVERS_SECONDS
        repeat = sale_seen = False
        if event.kind == "tender":
            repeat = self._key(event) in self.observed
            sale_seen = event.receipt_id is not None and (
                _sale_key(event.store, event.receipt_id) in self.sales
            )
        facts = facts_of(
            event, store, receipt, covers, self.chain_amounts, repeat=repeat, sale_seen=sale_seen
        )
        return event, facts, store

    def _features(self, event: RiskEvent, facts: Facts) -> np.ndarray:
        store = self.stores.get(event.store, _EMPTY)
        median = store.sale_amounts.quantile(0.5, default=float(event.amount))
        share = store.hours.share(event.local_weekday, event.local_hour)
        return features(event, facts, store.day_of(event.employee_id, facts.day), median, share)

    def _score(self, event: RiskEvent) -> tuple[Assessment, RiskEvent, Facts, np.ndarray]:
        event, facts, store = self._prepare(event)
        customer = None
        if event.kind == "refund" and event.customer_id is not None:
            customer = self.customers.get((event.store, event.customer_id))
            if customer is not None:
                customer = CustomerMemo(
                    customer.t,
                    customer.returns,
                    customer.purchases,
                    customer.returned_value,
                    customer.bought_value,
                )
                customer.decay_to(facts.t)
        reasons = evaluate(event, facts, store, customer)
        x = self._features(event, facts)
        # a payment attempt carries attempt-level reasons only (signals module doc)
        aw, aq = self.anomaly.weight(x) if event.kind != "tender" else (0.0, 0.5)
        if aw > 0:
            reasons.append(
                Reason(
                    "anomaly",
                    aw,
                    {"quantile": round(aq, 5), "model_version": self.anomaly.version},
                    "unusual for this store (isolation forest)",
                )
            )
        score = nor(*(r.weight for r in reasons))
        weights = {r.code: r.weight for r in reasons}
        v = supervised_vector(x, weights, aq)
        if self.supervised.fitted:
            p = self.supervised.predict(v)
            n = self.supervised.n_labels
            a = min(0.7, n / (n + 100.0))
            score = (1.0 - a) * score + a * p
            if p >= 0.5:
                reasons.append(
                    Reason(
                        "learned",
                        p,
                        {"probability": round(p, 4), "labels": n, "blend": round(a, 3)},
                        "like events reviewers confirmed before",
                    )
                )
        score = min(1.0, max(0.0, score))
        decision = self.decide(score)
        manager = self._manager_rule(event)
        if manager is not None:
            reasons.append(manager)
            decision = "require_manager"
        reasons.sort(key=lambda r: -r.weight)
        kept = tuple(r for r in reasons if r.weight >= 0.01 or r.code == "manager_threshold")
        return (
            Assessment(
                event_id=event.id,
                store=event.store,
                score=score,
                decision=decision,
                reasons=kept,
                model=MODEL,
                version=self.version,
                features=tuple(float(f) for f in v),
            ),
            event,
            facts,
            x,
        )

    def _manager_rule(self, event: RiskEvent) -> Reason | None:
        limit = self.manager_refund_amount
        if limit is not None and event.kind == "refund" and event.amount >= limit:
            return Reason(
                "manager_threshold",
                0.0,
                {"amount": event.amount, "limit": limit},
                "refund above the amount a manager must approve",
            )
        limit = self.manager_discount_amount
        if limit is None or event.kind not in ("sale", "cart", "price_override"):
            return None
        # a price cut by hand takes money off like a discount does: both count toward the limit
        overridden = _overridden(event)
        routed = self.overrides_routed.get(_routing_key(event) or ("", ""))
        if routed is not None:  # overrides already before a manager are not counted again
            _, by_events, covered = routed
            overridden = max(0, overridden - (by_events if event.kind == "sale" else covered))
        # a price override event's discount is its own cut, already counted from its line
        discount = 0 if event.kind == "price_override" else event.discount
        if discount + overridden < limit:
            return None
        return Reason(
            "manager_threshold",
            0.0,
            {"discount": discount, "overrides": overridden, "limit": limit},
            "discounts and price overrides above the amount a manager must approve",
        )

    def _observe(self, e: RiskEvent, f: Facts, x: np.ndarray, *, flagged: bool) -> None:
        """Learn from ``e``. A flagged event still counts for its employee, customer, card and
        register (their own history is the evidence), but not for the store's distributions of
        burst counts (small card attempts, card reuse, gift cards, no-sales and no-receipt
        refunds per employee-day, returns per customer) nor for the anomaly model's reservoir,
        so an attack does not become the store's normal. Amounts and discount depths count
        always (large samples; what is large is the store's whole distribution)."""
        if e.kind == "cart":
            return  # a cart is scored before tender; the sale arrives later as an event
        key = self._key(e)
        if key in self.observed:
            return  # observed before: redelivered, or retried after a rollback
        self.observed[key] = f.t
        if len(self.observed) > self.max_remembered:
            del self.observed[next(iter(self.observed))]
        s = self.stores.get(e.store)
        if s is None:
            s = self.stores[e.store] = StoreState()
        if e.kind == "tender":
            self._observe_attempt(e, f, s, flagged=flagged)
            return
        self._route_overrides(e, f.t)
        t = f.t
        self.events += 1
        s.events += 1
        if s.first_t is None or t < s.first_t:
            s.first_t = t
        s.hours.add(e.local_weekday, e.local_hour)
        if e.employee_id is not None:
            s.peers.add(e.employee_id, t, counter_deltas(e, f))
            d = s.days.get(e.employee_id)
            if d is None or f.day > d.day:
                d = s.days[e.employee_id] = EmployeeDay(day=f.day)
            if d.day == f.day:
                d.events += 1
            else:
                d = None  # a late event of an earlier day: today's counts are not its day's
        else:
            d = None
        kind = e.kind
        if kind == "sale":
            if e.amount > 0:  # what a sale usually costs (free ones say nothing about it)
                s.sale_amounts.add(float(e.amount))
                self.chain_amounts.add(float(e.amount))
            if f.disc_frac > 0:
                s.disc_fracs.add(f.disc_frac)
                if d is not None:
                    d.discounted += 1
            if d is not None and e.override_count:
                d.overrides += 1
            self._remember_sale(e, f)
            if f.small_card and e.register_id is not None:
                w = s.registers.get(e.register_id)
                if w is None:
                    w = s.registers[e.register_id] = TimeWindow(CARD_WINDOW_SECONDS)
                if not flagged:
                    s.small_card_counts.add(float(1 + len(w.recent(t))))
                w.add(t, 1.0 if f.keyed else 0.0, f.card_keys[0] if f.card_keys else None)
            for k in set(f.card_keys):
                w = s.cards.get(k)
                if w is None:
                    w = s.cards[k] = TimeWindow(CARD_KEY_WINDOW_SECONDS, maxlen=64)
                if not flagged:
                    s.card_reuse_counts.add(float(1 + len(w.recent(t))))
                w.add(t)
            if f.gift_lines:
                n = 0
                for k in _gift_keys(e):
                    w = s.gift.get(k)
                    if w is None:
                        w = s.gift[k] = TimeWindow(GIFT_WINDOW_SECONDS, maxlen=128)
                    n = max(n, len(w.recent(t)))
                    w.add(t)
                if not flagged:
                    s.gift_counts.add(float(n + 1))
            if e.customer_id is not None:
                c = self._customer(e.store, e.customer_id, t)
                c.purchases += 1.0
                c.bought_value += e.amount
        elif kind == "refund":
            s.refund_amounts.add(float(e.amount))
            if f.receipt is not None:
                f.receipt.refunded += e.amount
            if d is not None:
                d.refunds += 1
                if f.receipt_status in ("none", "unknown", "exceeds"):
                    d.no_receipt += 1
                    if not flagged:
                        s.no_receipt_day_counts.add(float(d.no_receipt))
            if e.customer_id is not None:
                c = self._customer(e.store, e.customer_id, t)
                c.returns += 1.0
                c.returned_value += e.amount
                if not flagged:
                    s.returner_counts.add(c.returns)
        elif kind == "void":
            memo = self.sales.get(_sale_key(e.store, e.id))
            if memo is not None:
                memo.refunded = memo.amount  # nothing of a voided sale can be refunded
            if d is not None:
                d.voids += 1
        elif kind == "no_sale":
            if d is not None:
                d.no_sales += 1
                if not flagged:
                    s.no_sale_day_counts.add(float(d.no_sales))
        elif kind == "price_override":
            if d is not None:
                d.overrides += 1
            for ln in e.lines:
                if ln.original_unit_price:
                    s.override_cuts.add(1.0 - ln.unit_price / ln.original_unit_price)
        if kind == "sale" and e.override_count:
            for ln in e.lines:
                if ln.original_unit_price:
                    s.override_cuts.add(1.0 - ln.unit_price / ln.original_unit_price)
        # baselines
        if self.chain is None or self.events % _CHAIN_EVERY == 0:
            self.chain = chain_stats(list(self._books()), t)
        if s.peers.due():
            s.peers.refresh(t, self.chain)
        if not flagged and self.anomaly.add(x):
            self.anomaly.fit()
        if self.events % _SWEEP_EVERY == 0:
            self._sweep(t)

    def _observe_attempt(self, e: RiskEvent, f: Facts, s: StoreState, *, flagged: bool) -> None:
        """A payment attempt feeds only the attempt windows and their store baselines (counts
        per register-window and card-hour, from unflagged attempts)."""
        t = f.t
        value = attempt_value(e.amount, declined=f.declined, keyed=f.keyed, small=f.small_card)
        reg_key, card_key = attempt_keys(e, f)
        if reg_key is not None:
            w = s.attempts.get(reg_key)
            if w is None:
                w = s.attempts[reg_key] = TimeWindow(CARD_WINDOW_SECONDS)
            recent = w.recent(t)
            if not flagged:
                if f.small_card:
                    small = 1 + sum(1 for _, v, _ in recent if attempt_parts(v)[3])
                    s.attempt_counts.add(float(small))
                if f.declined:
                    declines = 1 + sum(1 for _, v, _ in recent if attempt_parts(v)[1])
                    s.decline_counts.add(float(declines))
            w.add(t, value, f.card_keys[0] if f.card_keys else None)
        if card_key is not None:
            w = s.attempts.get(card_key)
            if w is None:
                w = s.attempts[card_key] = TimeWindow(CARD_KEY_WINDOW_SECONDS, maxlen=64)
            if not flagged:
                s.card_attempt_counts.add(float(1 + len(w.recent(t))))
            w.add(t, value)

    def _books(self) -> list[PeerBook]:
        return [s.peers for s in self.stores.values()]

    def _customer(self, store: str, customer: str, t: float) -> CustomerMemo:
        key = (store, customer)
        c = self.customers.pop(key, None)
        if c is None:
            c = CustomerMemo(t=t)
        c.decay_to(t)
        self.customers[key] = c  # moves to the end: least recently seen are evicted first
        if len(self.customers) > self.max_customers:
            del self.customers[next(iter(self.customers))]
        return c

    def _remember_sale(self, e: RiskEvent, f: Facts) -> None:
        self.sales[_sale_key(e.store, e.id)] = SaleMemo(
            t=f.t,
            employee=e.employee_id,
            customer=e.customer_id,
            amount=e.amount,
            card_keys=f.card_keys,
            tender_types=tuple(x.type for x in e.tenders),
        )
        if len(self.sales) > self.max_sales:
            del self.sales[next(iter(self.sales))]

    def _route_overrides(self, e: RiskEvent, t: float) -> None:
        """Note which overrides of a sale are before a manager (see the module docstring):
        called as ``e`` is observed, when :meth:`_manager_rule` still sees what it scored."""
        key = _routing_key(e)
        if key is None or e.kind not in ("sale", "price_override"):
            return
        routed = self._manager_rule(e) is not None  # as scored: before the entry changes
        _, by_events, covered = self.overrides_routed.pop(key, (t, 0, 0))
        if e.kind == "sale":
            if routed:  # the sale's case covers every override on it not routed before
                covered = max(0, _overridden(e) - by_events)
        else:
            cut = _overridden(e)
            used = min(cut, covered)
            covered -= used
            if routed:
                by_events += cut - used
        if by_events or covered:
            self.overrides_routed[key] = (t, by_events, covered)
            if len(self.overrides_routed) > self.max_sales:
                del self.overrides_routed[next(iter(self.overrides_routed))]

    def _sweep(self, t: float) -> None:
        """Drop what has aged out: old sales and their overrides' routing, empty windows."""
        cut = t - SALE_MEMORY_DAYS * 86400.0
        for memory in (self.sales, self.overrides_routed):
            while memory:
                key = next(iter(memory))
                at = memory[key]
                if (at.t if isinstance(at, SaleMemo) else at[0]) >= cut:
                    break
                del memory[key]
        for s in self.stores.values():
            for windows in (s.registers, s.cards, s.gift, s.attempts):
                for k in [k for k, w in windows.items() if not w.recent(t)]:
                    del windows[k]
