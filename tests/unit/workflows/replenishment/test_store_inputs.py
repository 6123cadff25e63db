"""What a store's plan reads: its history's last day, what it has on order."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tillwise.ports.repositories import DemandDay, StockOuts
from tillwise.workflows.replenishment.planner import (
    StoreInputs,
    Supply,
    first_day,
    history_for,
    position_of,
)
from tillwise.workflows.replenishment.policy import Outlook, Terms, decide

# s = ceil(11.0) = 11, S = 11 + ceil(0.1 x 7) = 12; MOQ 12, pack 1
OUTLOOK = Outlook(
    daily_mean=0.1,
    lead_time_days=7,
    review_period_days=1,
    protection_mean=0.8,
    protection_quantile=11.0,
    service_level=0.95,
)
TERMS = Terms(vendor_external_id="v", lead_time_days=7, moq=12)


def _store(
    draft_currency: str = "USD",
    demand: list[DemandDay] | None = None,
    connection_last_sale: date | None = None,
) -> StoreInputs:
    """A store in USD (no location, no costs) with a pending draft of 10 units of X from v;
    ``connection_last_sale``: its connection's last day with a sale (default: its own)."""
    draft = {"currency": draft_currency, "lines": [{"sku": "X", "quantity": 10}]}
    supply = Supply(on_order={"X": 10}, drafts={"v": ("p-1", draft)}, in_draft={("v", "X"): 10})
    return StoreInputs(
        connection_id="c",
        location_external_id="s",
        location=None,
        demand=demand or [],
        stock_outs=StockOuts(),
        levels={},
        names={},
        vendors={},
        variant_vendor={},
        supply=supply,
        others={},
        connection_last_sale=connection_last_sale
        or max((d.day for d in demand or []), default=None),
    )


@pytest.mark.parametrize(
    ("currency", "in_draft", "quantity"),
    [
        # the draft takes the new line: 2 more make its 10 reach S = 12 and the MOQ together
        ("USD", 10, 2),
        # a draft in euros takes no new line: the new order stands alone and meets the MOQ alone
        ("EUR", 0, 12),
    ],
)
def test_a_draft_in_another_currency_stays_on_order_but_does_not_meet_the_moq(
    currency: str, in_draft: int, quantity: int
) -> None:
    store = _store(currency)
    assert store.currency == "USD"
    position = position_of("X", Decimal(0), None, store.supply, "v")
    assert (position.on_order, position.in_draft) == (10, in_draft)
    assert ("v" in store.supply.drafts) is (in_draft > 0)
    assert decide(position, OUTLOOK, TERMS).quantity == quantity


TODAY = date(2024, 5, 16)


def _sold(*days_ago: int) -> list[DemandDay]:
    return [DemandDay("X", TODAY - timedelta(days=d), Decimal(2), Decimal(0)) for d in days_ago]


@pytest.mark.parametrize(
    ("days_ago", "last_day"),
    [
        # sold until the day before yesterday: yesterday is a day without a sale, not left out
        (range(2, 16), TODAY - timedelta(days=1)),
        # sold today too: today is not over, the history ends yesterday
        (range(0, 16), TODAY - timedelta(days=1)),
        # quiet for three weeks: still a trading store, its quiet days are zeros
        (range(22, 40), TODAY - timedelta(days=1)),
        # sales replayed from long ago (the demo's): the history ends on their last day
        (range(60, 80), TODAY - timedelta(days=60)),
    ],
)
def test_the_history_ends_yesterday_while_the_store_trades(days_ago: range, last_day: date) -> None:
    frame = history_for(_store(demand=_sold(*days_ago)), TODAY)
    assert frame["ds"].max().date() == last_day
    since_last_sale = frame[frame["ds"].dt.date > TODAY - timedelta(days=min(days_ago))]
    assert (since_last_sale["y"] == 0).all()


@pytest.mark.parametrize(
    ("connection_last_sale", "last_day"),
    [
        # replayed: the other stores sold until 30 days later than this one (the demo's small
        # countries) — its history runs to the data's last day, its silent month as zeros
        (TODAY - timedelta(days=30), TODAY - timedelta(days=30)),
        # live: the others sold yesterday; this store, silent for 60 days, is not replayed data
        # but a store not selling now — its history runs to yesterday
        (TODAY - timedelta(days=1), TODAY - timedelta(days=1)),
    ],
)
def test_a_store_that_stopped_selling_before_the_others_is_planned_from_the_same_day(
    connection_last_sale: date, last_day: date
) -> None:
    store = _store(demand=_sold(*range(60, 80)), connection_last_sale=connection_last_sale)
    frame = history_for(store, TODAY)
    assert frame["ds"].max().date() == last_day
    assert (frame[frame["ds"].dt.date > TODAY - timedelta(days=60)]["y"] == 0).all()
    assert first_day(TODAY, last_day) == min(last_day + timedelta(days=1), TODAY)


@pytest.mark.parametrize(
    ("history_end", "day"),
    [
        (None, TODAY),  # nothing sold yet
        (TODAY - timedelta(days=1), TODAY),
        (TODAY - timedelta(days=15), TODAY),  # a plan from a quiet fortnight ago: still today
        (TODAY - timedelta(days=60), TODAY - timedelta(days=59)),  # replayed: its next day
    ],
)
def test_plans_forecast_and_order_from_today_unless_the_history_is_long_past(
    history_end: date | None, day: date
) -> None:
    assert first_day(TODAY, history_end) == day
