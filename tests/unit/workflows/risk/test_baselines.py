"""Baselines flag the tail of the peer distribution, not a fixed count."""

from __future__ import annotations

from datetime import timedelta

from tillwise.workflows.risk import RiskScorer
from tillwise.workflows.risk.baselines import HANDLED, NO_SALES, PeerBook, TailStat

from .streams import EMPLOYEES, T0, codes, normal_days, other


def store_with_no_sales(store: str, per_day: int, days: int = 10) -> RiskScorer:
    """Every employee opens the drawer ``per_day`` times a day besides their sales."""
    s = RiskScorer(first_fit=10**9)
    events = list(normal_days(days, store=store))
    for d in range(days):
        for j, emp in enumerate(EMPLOYEES):
            for k in range(per_day):
                at = T0 + timedelta(days=d, minutes=30 + k * (400 // max(1, per_day)) + j)
                events.append(other("no_sale", f"ns-{d}-{j}-{k}", at, emp, store=store))
    for e in sorted(events, key=lambda e: e.occurred_at):
        s.assess(e)
    return s


def ten_no_sales(s: RiskScorer, store: str, employee: str, day: int = 10) -> float:
    last = None
    for k in range(10):
        at = T0 + timedelta(days=day, hours=1 + k * 0.5)
        last = s.assess(other("no_sale", f"x-{k}", at, employee, store=store))
    assert last is not None
    return codes(last)["no_sale_drawer"]


def test_the_same_count_is_normal_in_one_store_and_the_tail_in_another() -> None:
    busy = store_with_no_sales("c:busy", per_day=10)
    quiet = store_with_no_sales("c:quiet", per_day=1)
    assert ten_no_sales(busy, "c:busy", "emp-1") < 0.3  # what everyone there does
    assert ten_no_sales(quiet, "c:quiet", "emp-1") >= 0.5  # far above the peers


def test_far_above_busy_peers_is_still_the_tail() -> None:
    busy = store_with_no_sales("c:busy", per_day=10)
    last = None
    for k in range(40):
        at = T0 + timedelta(days=10, hours=1 + k * 0.1)
        last = busy.assess(other("no_sale", f"y-{k}", at, "emp-1", store="c:busy"))
    assert last is not None and codes(last)["no_sale_drawer"] >= 0.5


def test_few_events_are_shrunk_toward_the_store() -> None:
    book = PeerBook()
    t = 0.0
    for j in range(6):
        for _ in range(100):
            book.add(f"e{j}", t, {HANDLED: 1.0})
        book.add(f"e{j}", t, {NO_SALES: 2.0, HANDLED: 2.0})  # about 2 % of what they do
    book.add("new", t, {NO_SALES: 1.0, HANDLED: 1.0})  # one event, and it is a no-sale
    book.refresh(t)
    new = book.standing("new", "no_sale_rate", t)
    assert new is not None
    assert new.raw_rate == 1.0
    assert new.rate < 0.1  # shrunk: one event says little
    veteran = book.standing("e0", "no_sale_rate", t)
    assert veteran is not None and abs(veteran.z) < 1.0


def test_tail_stat_quantiles_and_ranks() -> None:
    ts = TailStat(size=100)
    for x in range(1000):
        ts.add(float(x))
    assert len(ts) == 100  # bounded: the last 100
    assert ts.quantile(0.0) == 900.0 and ts.quantile(0.99) == 999.0
    assert ts.rank(950.0) == 0.505
    assert TailStat().quantile(0.5, default=7.0) == 7.0
    few = TailStat()
    few.add(1.0)
    assert few.quantile(0.5, 3.0, min_values=50) == 3.0
