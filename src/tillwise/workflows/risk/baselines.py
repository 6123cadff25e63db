"""Baselines the signals compare against: what is normal *for this store* and *among its
employees*, learned from the stream and kept small.

* :class:`PeerBook` — per employee, exponentially decayed counters (half-life
  :data:`HALF_LIFE_DAYS`) of what they did (sales, discounts, refunds without receipt, no-sales,
  voids, keyed cards, ...). A metric is a rate (numerator / denominator). An employee's rate is
  *shrunk* toward the store's pooled rate with :data:`PRIOR_WEIGHT` pseudo-events, so a cashier
  with three transactions is never "in the tail" by luck. The peer distribution is the shrunk
  rates of the store's employees (the whole chain's when the store has fewer than
  :data:`MIN_PEERS`); an employee is in the tail when the robust z-score
  ``(rate - median) / max(1.4826 * MAD, binomial noise, 15 % of the pooled rate)`` is large.
  Medians and MADs are recomputed every few events of the store (not on the scoring path).
* :class:`TailStat` — a bounded reservoir of recent values of one statistic (a store's refund
  amounts, its customers' return counts, its registers' small-card attempts per window, ...)
  with a sorted copy refreshed every few additions: the store's own empirical quantiles.
* :class:`HourOfWeek` — the store's activity by local hour of the week (168 bins).
* :class:`TimeWindow` — the recent occurrences of something (a register's card attempts, a
  card's uses) within a fixed time span, bounded in length.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass, field

HALF_LIFE_DAYS = 14.0
PRIOR_WEIGHT = 20.0  # pseudo-events of the pooled rate added to every employee's own
MIN_PEERS = 4  # fewer employees with data in a store: compare against the whole chain
MIN_DENOMINATOR = 8.0  # an employee counts as a peer once this much activity is seen
REFRESH_EVERY = 20  # store events between recomputations of the peer medians
Z_FLOOR_FRACTION = 0.15  # the z-score's scale is at least this fraction of the pooled rate

# counter slots (decayed sums)
SALES = 0
DISC_FRAC = 1  # sum over sales of discount / (amount + discount)
OVERRIDES = 2  # sales with a manual price override, and price.overridden events
CARD_TENDERS = 3
KEYED = 4
SPLITS = 5
REFUNDS = 6
NO_RECEIPT = 7
QUICK_REFUNDS = 8
OTHER_TENDER = 9
VOIDS = 10
POST_VOIDS = 11
NO_SALES = 12
GIFT_SALES = 13
HANDLED = 14  # every event the employee handled
ANON_NO_RECEIPT = 15  # refunds with neither a receipt nor a customer
N_SLOTS = 16

# metric → (numerator slot, denominator slot)
METRICS: dict[str, tuple[int, int]] = {
    "discount_rate": (DISC_FRAC, SALES),
    "override_rate": (OVERRIDES, HANDLED),
    "keyed_rate": (KEYED, CARD_TENDERS),
    "split_rate": (SPLITS, SALES),
    "refund_rate": (REFUNDS, HANDLED),
    "no_receipt_rate": (NO_RECEIPT, HANDLED),
    "anon_refund_rate": (ANON_NO_RECEIPT, HANDLED),
    "quick_refund_rate": (QUICK_REFUNDS, HANDLED),
    "other_tender_rate": (OTHER_TENDER, HANDLED),
    "void_rate": (VOIDS, HANDLED),
    "post_void_rate": (POST_VOIDS, HANDLED),
    "no_sale_rate": (NO_SALES, HANDLED),
    "gift_rate": (GIFT_SALES, SALES),
}
METRIC_NAMES = tuple(METRICS)


def decay_factor(dt_seconds: float, half_life_days: float = HALF_LIFE_DAYS) -> float:
    if dt_seconds <= 0:
        return 1.0
    return 0.5 ** (dt_seconds / (half_life_days * 86400.0))


@dataclass(slots=True)
class Counters:
    """Decayed sums, decayed lazily to the time of the last update."""

    t: float = 0.0
    v: list[float] = field(default_factory=lambda: [0.0] * N_SLOTS)

    def at(self, t: float) -> list[float]:
        f = decay_factor(t - self.t)
        return self.v if f == 1.0 else [x * f for x in self.v]

    def add(self, t: float, deltas: dict[int, float]) -> None:
        if t > self.t:
            f = decay_factor(t - self.t)
            if f != 1.0:
                self.v = [x * f for x in self.v]
            self.t = t
        for slot, d in deltas.items():
            self.v[slot] += d


@dataclass(frozen=True, slots=True)
class PeerStat:
    pooled: float  # the store's (or chain's) pooled rate
    smoothed: float  # the pooled rate with half an event added: never 0, for the noise floor
    median: float  # median of the peers' shrunk rates
    scale: float  # 1.4826 * MAD of the peers' shrunk rates
    peers: int
    support: float = 0.0  # the pooled denominator (decayed): how much the baseline has seen


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one employee stands on one metric among their peers."""

    metric: str
    rate: float  # shrunk
    raw_rate: float
    count: float  # the numerator, decayed
    median: float
    z: float
    peers: int
    support: float


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return 0.0
    mid = n // 2
    return s[mid] if n % 2 else 0.5 * (s[mid - 1] + s[mid])


def _peer_stat(rates: list[float], num: float, den: float) -> PeerStat:
    med = _median(rates)
    mad = _median([abs(r - med) for r in rates])
    return PeerStat(
        pooled=num / den if den > 0 else 0.0,
        smoothed=(num + 0.5) / (den + 1.0),
        median=med,
        scale=1.4826 * mad,
        peers=len(rates),
        support=den,
    )


@dataclass
class PeerBook:
    """One store's employees: decayed counters and, cached, the peer distribution per metric."""

    employees: dict[str, Counters] = field(default_factory=dict)
    stats: dict[str, PeerStat] = field(default_factory=dict)
    since_refresh: int = 0

    def add(self, employee: str, t: float, deltas: dict[int, float]) -> None:
        c = self.employees.get(employee)
        if c is None:
            c = self.employees[employee] = Counters(t=t)
        c.add(t, deltas)
        self.since_refresh += 1

    def due(self) -> bool:
        return self.since_refresh >= REFRESH_EVERY or not self.stats

    def snapshot_rates(
        self, t: float
    ) -> tuple[dict[str, list[float]], dict[str, tuple[float, float]]]:
        """Per metric, the shrunk rates of employees with enough activity, and the summed
        numerators and denominators."""
        now = {e: c.at(t) for e, c in self.employees.items()}
        sums: dict[str, tuple[float, float]] = {}
        rates: dict[str, list[float]] = {}
        for name, (num, den) in METRICS.items():
            n_sum = sum(v[num] for v in now.values())
            d_sum = sum(v[den] for v in now.values())
            p = n_sum / d_sum if d_sum > 0 else 0.0
            sums[name] = (n_sum, d_sum)
            rates[name] = [
                (v[num] + PRIOR_WEIGHT * p) / (v[den] + PRIOR_WEIGHT)
                for v in now.values()
                if v[den] >= MIN_DENOMINATOR
            ]
        return rates, sums

    def refresh(self, t: float, chain: dict[str, PeerStat] | None = None) -> None:
        rates, sums = self.snapshot_rates(t)
        stats: dict[str, PeerStat] = {}
        for name in METRICS:
            own = _peer_stat(rates[name], *sums[name])
            if len(rates[name]) >= MIN_PEERS or chain is None or name not in chain:
                stats[name] = own
            else:  # too few peers here: the chain's distribution
                stats[name] = chain[name]
        self.stats = stats
        self.since_refresh = 0

    def standing(
        self, employee: str | None, metric: str, t: float, extra: tuple[float, float] = (0.0, 0.0)
    ) -> Standing | None:
        """The employee's standing on ``metric``, counting ``extra`` (numerator, denominator)
        for the event being scored. ``None`` when nothing is known yet."""
        if employee is None:
            return None
        stat = self.stats.get(metric)
        if stat is None or stat.peers == 0:
            return None
        c = self.employees.get(employee)
        num_slot, den_slot = METRICS[metric]
        v = c.at(t) if c is not None else None
        num = (v[num_slot] if v else 0.0) + extra[0]
        den = (v[den_slot] if v else 0.0) + extra[1]
        p = stat.pooled
        rate = (num + PRIOR_WEIGHT * p) / (den + PRIOR_WEIGHT)
        center = stat.median if stat.scale > 0 else max(stat.median, p)
        q = max(stat.smoothed, p)
        noise = math.sqrt(q * (1.0 - min(q, 0.5)) / (den + PRIOR_WEIGHT))
        scale = max(stat.scale, noise, Z_FLOOR_FRACTION * q)
        return Standing(
            metric=metric,
            rate=rate,
            raw_rate=num / den if den > 0 else 0.0,
            count=num,
            median=center,
            z=(rate - center) / scale,
            peers=stat.peers,
            support=stat.support,
        )


def chain_stats(books: list[PeerBook], t: float) -> dict[str, PeerStat]:
    """The peer distribution over every store's employees (for stores with few of their own)."""
    all_rates: dict[str, list[float]] = {m: [] for m in METRICS}
    nums = dict.fromkeys(METRICS, 0.0)
    dens = dict.fromkeys(METRICS, 0.0)
    for book in books:
        for c in book.employees.values():
            v = c.at(t)
            for name, (num, den) in METRICS.items():
                nums[name] += v[num]
                dens[name] += v[den]
    pooled = {m: (nums[m] / dens[m] if dens[m] > 0 else 0.0) for m in METRICS}
    for book in books:
        for c in book.employees.values():
            v = c.at(t)
            for name, (num, den) in METRICS.items():
                if v[den] >= MIN_DENOMINATOR:
                    p = pooled[name]
                    all_rates[name].append((v[num] + PRIOR_WEIGHT * p) / (v[den] + PRIOR_WEIGHT))
    return {m: _peer_stat(all_rates[m], nums[m], dens[m]) for m in METRICS}


class TailStat:
    """Recent values of one statistic (bounded) and their empirical distribution."""

    __slots__ = ("_pending", "_sorted", "values")

    def __init__(self, size: int = 2000) -> None:
        self.values: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []
        self._pending = 0

    def add(self, x: float) -> None:
        self.values.append(x)
        self._pending += 1
        if self._pending >= max(10, len(self._sorted) // 20):
            self._sorted = sorted(self.values)
            self._pending = 0

    def __len__(self) -> int:
        return len(self._sorted)

    def quantile(self, q: float, default: float = 0.0, min_values: int = 1) -> float:
        """The ``q`` quantile of the recent values; ``default`` until ``min_values`` are seen."""
        s = self._sorted
        if len(s) < max(1, min_values):
            return default
        i = min(len(s) - 1, max(0, int(q * len(s))))
        return s[i]

    def rank(self, x: float) -> float:
        """Share of the recent values strictly below ``x`` (ties count half)."""
        s = self._sorted
        if not s:
            return 0.5
        lo = bisect_left(s, x)
        hi = bisect_right(s, x)
        return (lo + 0.5 * (hi - lo)) / len(s)


class HourOfWeek:
    """The store's events by local (weekday, hour); how rare an hour is for it."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0.0] * 168
        self.total = 0.0

    def add(self, weekday: int, hour: int) -> None:
        self.counts[weekday * 24 + hour] += 1.0
        self.total += 1.0

    def share(self, weekday: int, hour: int) -> float:
        """Smoothed share of the store's activity in this hour (neighbours count half), as a
        multiple of a flat week (1.0 = as busy as the average hour)."""
        if self.total <= 0:
            return 1.0
        i = weekday * 24 + hour
        c = self.counts
        smooth = c[i] + 0.25 * (c[(i - 1) % 168] + c[(i + 1) % 168])
        return (smooth / 1.5) / (self.total / 168.0)


class TimeWindow:
    """Times (and a value and key) of recent occurrences within ``span`` seconds."""

    __slots__ = ("items", "span")

    def __init__(self, span: float, maxlen: int = 512) -> None:
        self.span = span
        self.items: deque[tuple[float, float, str | None]] = deque(maxlen=maxlen)

    def prune(self, t: float) -> None:
        cut = t - self.span
        items = self.items
        while items and items[0][0] < cut:
            items.popleft()

    def add(self, t: float, value: float = 0.0, key: str | None = None) -> None:
        self.prune(t)
        self.items.append((t, value, key))

    def recent(self, t: float, span: float | None = None) -> list[tuple[float, float, str | None]]:
        cut = t - (self.span if span is None else span)
        return [x for x in self.items if cut <= x[0] <= t]
