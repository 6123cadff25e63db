"""Explanations: the deterministic text a buyer reads next to each proposed line, order and
transfer. The figures come from the worked examples in test_orders.py:

    A-1  2/day, lead 7 + review 2 = 9 days, mean 18, q95 21.3, 80% range 11.2-25.6:
         s = 22, S = 22 + 14 = 36; on hand 5 -> need 31 -> 3 cases of 12 = 36
         cover now 5 / 14 = 0.36 weeks, after 41 / 14 = 2.93 weeks
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tillwise.domain.money import Money
from tillwise.workflows.replenishment.explain import (
    amount,
    explain_line,
    explain_order,
    explain_transfer,
    summarize_line,
    transfer_title,
)
from tillwise.workflows.replenishment.orders import PlannedLine, VendorInfo
from tillwise.workflows.replenishment.policy import (
    Outlook,
    Position,
    StoreStock,
    Transfer,
    plan_transfers,
)

from .test_orders import line_a, line_b, orders, planned

ACCURACY = {"rmsse": 0.812, "wape": 0.423, "coverage_80": 0.78, "windows": 4}


def with_forecast(line: PlannedLine, **forecast: Any) -> PlannedLine:
    outlook = dataclasses.replace(line.outlook, interval_80=(11.2, 25.6))
    facts = {"method": "ADIDA", "model": "tillwise-demand", "version": "1.0"} | forecast
    return dataclasses.replace(line, outlook=outlook, forecast=facts)


def test_a_line_explains_demand_interval_stock_rule_cover_and_accuracy() -> None:
    line = with_forecast(line_a(), accuracy=ACCURACY)
    assert explain_line(line) == (
        "Order 36 units (3 cases of 12). "
        "Expected demand over the next 9 days (7-day lead time + 2-day review) is 18 units "
        "(80% range 11\u201326); to cover it 95% of the time the reorder point is 22, and the "
        "order-up-to level is 36 (about 7 more days of sales). "
        "On hand 5, on order 0: stock position 5. "
        "That is below the reorder point of 22; reaching the order-up-to level of 36 needs "
        "31 units, rounded up to whole cases of 12: 36. "
        "Cover: 0.4 weeks now, 2.9 weeks with this order. "
        "Forecast by ADIDA (model tillwise-demand 1.0); backtested on this item over 4 windows: "
        "WAPE 42%, RMSSE 0.81, 80% range held 78% of the time."
    )


def test_the_summary_gives_the_quantity_stock_and_rule_in_the_full_texts_words() -> None:
    line = with_forecast(line_a(), accuracy=ACCURACY)
    summary = summarize_line(line)
    assert summary == (
        "Order 36 units (3 cases of 12). "
        "On hand 5, on order 0: stock position 5. "
        "That is below the reorder point of 22; reaching the order-up-to level of 36 needs "
        "31 units, rounded up to whole cases of 12: 36."
    )
    full = explain_line(line)
    assert all(sentence in full for sentence in summary.split(". "))
    # a person's adjustment changes the quantity, so the brief names it too
    adjustment = {
        "starts_on": "2026-12-01",
        "ends_on": "2026-12-14",
        "reason": "End-cap display",
        "set_by": "user:bea",
        "factor": 1.5,
        "protection_effect": 1.25,
    }
    adjusted = summarize_line(with_forecast(line_a(), adjustment=adjustment))
    assert "adjusted by user:bea (raised by 50%" in adjusted
    assert "Expected demand" not in adjusted


def test_large_quantities_are_written_with_thousands_separators() -> None:
    line = planned("A-1", on_hand=1406, daily=200.0, q95=2130.0, pack=12)
    assert summarize_line(line) == (
        "Order 2,124 units (177 cases of 12). On hand 1,406, on order 0: stock position 1,406. "
        "That is below the reorder point of 2,130; reaching the order-up-to level of 3,530 "
        "needs 2,124 units."
    )


def test_the_forecast_is_named_in_a_buyers_words_where_the_forecaster_gives_them() -> None:
    plain = "a blend of methods made for irregular demand (TSB and ADIDA)"
    line = with_forecast(line_a(), summary=plain, method="stacked combination (TSB|cap3 0.5)")
    text = explain_line(line)
    assert f"Forecast by {plain} (model tillwise-demand 1.0); not backtested" in text
    assert "cap3" not in text  # the analyst's detail stays in the structured data


def test_holidays_and_events_in_the_period_are_named_with_their_effect() -> None:
    calendar = [
        {"day": "2024-11-29", "name": "Black Friday", "effect": 2.83},
        {"day": "2024-12-02", "name": "the day after Advent Sunday", "effect": 1.1},
        {"day": "2024-12-25", "name": "Christmas Day", "effect": 0.0},
    ]
    text = explain_line(with_forecast(line_a(), accuracy=ACCURACY, calendar=calendar))
    assert (
        "(about 7 more days of sales). That period includes Black Friday on Fri 29 Nov "
        "(2.83\u00d7 a usual day), the day after Advent Sunday on Mon 02 Dec (1.10\u00d7 a usual "
        "day) and Christmas Day on Wed 25 Dec (0.00\u00d7 a usual day), as learned from the "
        "store's sales on earlier occurrences. On hand 5" in text
    )
    assert "That period includes" not in explain_line(with_forecast(line_a(), calendar=[]))


def test_a_buyers_forecast_adjustment_is_named_with_its_effect_on_the_period() -> None:
    base = {
        "starts_on": "2026-12-01",
        "ends_on": "2026-12-14",
        "reason": "End-cap display",
        "set_by": "user:bea",
        "set_at": "2026-11-28T10:00:00+00:00",
    }

    def text(factor: float, effect: float | None) -> str:
        adjustment = {**base, "factor": factor, "protection_effect": effect}
        return explain_line(with_forecast(line_a(), adjustment=adjustment))

    assert (
        "The forecast is adjusted by user:bea (raised by 50%, 01 Dec to 14 Dec 2026: End-cap "
        "display); that makes the period's expected demand 1.25\u00d7 the forecast's."
    ) in text(1.5, 1.25)
    assert "(lowered by 40%, 01 Dec to 14 Dec 2026" in text(0.6, 0.8)
    assert "(no demand expected, 01 Dec to 14 Dec 2026" in text(0, 0.5)
    assert "End-cap display); it does not touch the period." in text(2, 1.0)
    assert "adjusted" not in explain_line(with_forecast(line_a(), adjustment=None))


def test_an_item_never_seen_in_stock_says_its_demand_was_never_measured() -> None:
    text = explain_line(with_forecast(line_a(), accuracy=None, observed_days=0))
    assert text.endswith(
        "It has been out of stock every day since it first sold, so its demand was never "
        "measured: the forecast is what it sold per day over that time, a lower bound. "
        "Forecast by ADIDA (model tillwise-demand 1.0); not backtested on this item "
        "(too little history)."
    )
    assert "never measured" not in explain_line(with_forecast(line_a(), observed_days=30))


def test_the_same_facts_always_give_the_same_text() -> None:
    line = with_forecast(line_a(), accuracy=ACCURACY)
    assert explain_line(line) == explain_line(with_forecast(line_a(), accuracy=dict(ACCURACY)))


def test_a_series_too_short_to_backtest_says_so() -> None:
    text = explain_line(with_forecast(line_a(), accuracy=None))
    assert text.endswith(
        "Forecast by ADIDA (model tillwise-demand 1.0); not backtested on this item "
        "(too little history)."
    )


def test_a_covered_line_says_why_nothing_is_ordered() -> None:
    text = explain_line(line_a(on_hand=1, on_order=36, in_draft=36))
    assert text.startswith("No order.")
    assert "On hand 1, on order 36 (36 of it on the pending draft): stock position 37." in text
    assert "That is at or above the reorder point of 22, so nothing needs ordering now." in text


def test_a_stopped_line_says_reordering_is_stopped() -> None:
    text = explain_line(line_a(stopped=True))
    assert text.startswith("No order.")
    assert "On hand 5, on order 0: stock position 5." in text
    assert (
        "Reordering is stopped for this item at this store, so nothing is ordered (the reorder "
        "point would be 22)." in text
    )


def test_no_demand_says_the_moq_is_not_applied() -> None:
    text = explain_line(planned("N-1", on_hand=0, daily=0.0, q95=0.0, moq=24, pack=12))
    assert text.startswith(
        "No order. No demand is forecast over the next 9 days (7-day lead time + 2-day review)."
    )
    assert (
        "Nothing is ordered; the minimum order quantity of 24 is not applied to an item "
        "nobody is expected to buy." in text
    )


def test_the_moq_and_the_maximum_stock_are_named_when_they_set_the_quantity() -> None:
    moq = explain_line(planned("S-1", on_hand=2, daily=0.3, q95=4.2, review=1, moq=10, pack=4))
    # s 5, S 8: need 6 -> 8 (2 cases of 4) -> MOQ 10 -> 12
    assert (
        "needs 6 units, rounded up to whole cases of 4: 8, raised to reach the minimum order "
        "quantity of 10: 12." in moq
    )
    capped = explain_line(line_a(max_stock=40))
    assert capped.startswith("Order 24 units (2 cases of 12).")
    assert (
        "rounded up to whole cases of 12: 36, capped by the maximum stock of 40 and rounded "
        "down to whole cases: 24." in capped
    )
    blocked = explain_line(line_a(moq=24, pack=6, max_stock=25))
    assert (
        "but the maximum stock of 25 leaves room for only 18 units in whole cases, below the "
        "minimum order quantity of 24, so nothing is ordered; raise the maximum stock or agree "
        "a lower minimum with the vendor." in blocked
    )


def test_an_moq_far_beyond_what_the_item_sells_is_pointed_out_on_the_line_and_the_order() -> None:
    slow = planned("S-9", on_hand=0, daily=0.05, q95=1.2, review=1, moq=24, cost="1.00")
    text = explain_line(slow)
    assert (
        "raised to reach the minimum order quantity of 24: 24. The minimum order quantity buys "
        "68.6 weeks of cover at the forecast rate, more than half a year: agree a lower minimum "
        "with the vendor, or stop reordering the item at this store." in text
    )
    assert slow.payload()["justification"]["policy"]["moq_overstock"] is True
    (order,) = orders([line_a(), slow])
    assert explain_order(order).endswith(
        "1 line is raised to a minimum order quantity that buys more than half a year of "
        "cover: S-9."
    )
    assert line_a().payload()["justification"]["policy"]["moq_overstock"] is False
    assert "half a year" not in explain_order(orders([line_a(), line_b()])[0])


def test_a_merged_line_says_what_was_already_on_the_draft() -> None:
    (day1,) = orders([line_a(), line_b()])
    b = line_b(on_hand=0, on_order=18, in_draft=18, committed=5)  # adds 12 to the draft's 18
    (merged,) = orders([b], existing={"acme": day1.payload()})
    text = explain_line(merged.lines[0])
    assert text.startswith(
        "Order 30 units (5 cases of 6): 18 already on the pending draft and 12 added by this plan."
    )
    assert "On hand 0, on order 18 (18 of it on the pending draft), committed 5: stock " in text


def test_an_order_explains_size_value_arrival_and_the_vendor_minimum() -> None:
    vendors = {
        "acme": VendorInfo(
            "acme", "Acme Foods", None, 7, min_order_value=Money.from_decimal("170.00", "GBP")
        )
    }
    (order,) = orders([line_a(), line_b()], vendors=vendors)  # raised to 60 + 24 (test_orders)
    assert explain_order(order) == (
        "Purchase order to Acme Foods for shop-1: 2 lines, 84 units, expected 2026-11-27 "
        "(7-day lead time). Total £203.40. To reach the vendor's minimum order of "
        "£170.00, A-1, B-2 were raised by whole cases, lowest cover first."
    )
    assert "Raised by 24 units to reach the vendor's minimum order value" in explain_line(
        order.lines[0]
    )


def test_a_held_order_says_why() -> None:
    vendors = {
        "acme": VendorInfo(
            "acme", "Acme Foods", None, 7, min_order_value=Money.from_decimal("500.00", "GBP")
        )
    }
    (order,) = orders([line_a(max_stock=45), line_b(max_stock=25)], vendors=vendors)
    assert explain_order(order).endswith(
        "Held, not proposed: below the vendor's minimum order of £500.00: the order is "
        "worth £126.00, and raising lines by whole cases (within maximum stock and 13 weeks "
        "of cover) reaches only £126.00."
    )


def test_a_merged_order_counts_its_lines() -> None:
    (day1,) = orders([line_a(), line_b()])
    b = line_b(on_hand=0, on_order=18, in_draft=18, committed=5)
    (merged,) = orders([b], existing={"acme": day1.payload()})
    # A-1 36 x 2.95 = 106.20 kept; B-2 30 x 1.10 = 33.00
    assert explain_order(merged) == (
        "Purchase order to Acme Foods for shop-1: 2 lines, 66 units, expected 2026-11-27 "
        "(7-day lead time). Total £139.20. Merged into the pending draft for this vendor: "
        "1 line increased, 0 added, 1 kept unchanged."
    )


def test_a_transfer_explains_both_stores() -> None:
    north = StoreStock("north", Position(on_hand=3), Outlook(2.0, 2, 1, 6.0, 9.2, 0.95))
    south = StoreStock("south", Position(on_hand=60), Outlook(1.0, 2, 1, 3.0, 4.4, 0.95))
    (t,) = plan_transfers("A-1", [north, south])
    # north: s 10, IP 3, cover 3 / 14 = 0.2 weeks; south: S 12, IP 60, 60 / 7 = 8.6 weeks
    assert explain_transfer(t) == (
        "Move 21 units of A-1 from south to north. north is below its reorder point (stock "
        "position 3, reorder point 10; 0.2 weeks of cover); south holds 60, 48 above its own "
        "order-up-to level of 12 (8.6 weeks of cover), and keeps 39 after the move. Moving "
        "stock the chain already owns is quicker than a vendor order."
    )


def test_a_transfer_names_the_item_and_the_stores_where_they_are_known() -> None:
    north = StoreStock("north", Position(on_hand=3), Outlook(2.0, 2, 1, 6.0, 9.2, 0.95))
    south = StoreStock("south", Position(on_hand=60), Outlook(1.0, 2, 1, 3.0, 4.4, 0.95))
    (t,) = plan_transfers("A-1", [north, south])
    stores = {"north": "Leeds", "south": "Brighton"}
    assert transfer_title(t, "Heart Cakestand", stores) == (
        "Move 21 units of Heart Cakestand (A-1) from Brighton to Leeds"
    )
    text = explain_transfer(t, "Heart Cakestand", stores)
    assert text.startswith(
        "Move 21 units of Heart Cakestand (A-1) from Brighton to Leeds. Leeds is"
    )
    assert "Brighton holds 60" in text and "north" not in text
    # a store without a known name keeps its id
    assert transfer_title(t, None, {"north": "Leeds"}) == "Move 21 units of A-1 from south to Leeds"


def test_a_transfer_without_facts_falls_back_to_its_reason() -> None:
    t = Transfer("A-1", "south", "north", 1, "north is short")
    assert explain_transfer(t) == "Move 1 unit of A-1 from south to north. north is short."


def test_demand_figures_read_like_a_buyer_would_say_them() -> None:
    assert [amount(x) for x in (2.4, 4.0, 3.46, 9.96, 18.0, 17.5, 25.6)] == [
        "2.4",
        "4",
        "3.5",
        "10",
        "18",
        "18",
        "26",
    ]
    # a slow seller's demand is small, not nothing
    assert [amount(x) for x in (0.0, 0.04, 0.051, 0.004)] == ["0", "0.04", "0.1", "<0.01"]


def test_an_item_below_its_reorder_point_with_months_of_cover_says_why() -> None:
    # sells 0.01 a day on average, but in rare orders of dozens: s = 30 from the quantile
    lumpy = planned("L-1", on_hand=5, daily=0.01, q95=30.0, review=1)
    assert lumpy.decision.reorder_point == 30 and lumpy.quantity > 0
    text = explain_line(lumpy)
    assert (
        "Cover: 71.4 weeks now at its average rate (it sells in rare large orders, which the "
        "reorder point allows for)" in text
    )
    assert "average rate" not in explain_line(line_a())  # 0.36 weeks: nothing to explain
    t = Transfer(
        sku="L-1",
        from_location="shop-2",
        to_location="shop-1",
        quantity=20,
        reason="excess cover",
        from_position=90,
        from_order_up_to=40,
        from_weeks_of_cover=None,
        to_position=5,
        to_reorder_point=30,
        to_order_up_to=31,
        to_weeks_of_cover=71.4,
    )
    assert "71.4 weeks of cover at its average rate (it sells in rare" in explain_transfer(t)
