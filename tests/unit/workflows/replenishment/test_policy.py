"""Inventory policy: worked examples a buyer can check by hand.

The running example (the module docstring's policy): a SKU selling 2 a day, a vendor with a
7-day lead time, nightly planning but reviewed every 2 days here, 95% service.
Protection period 7 + 2 = 9 days; the forecast says 18 units on average over those 9 days and
21.3 units at the 95% quantile:

    reorder point  s = ceil(21.3)                       = 22
    order-up-to    S = 22 + ceil(2.0 * max(2, 7) = 14)  = 36
"""

from __future__ import annotations

import itertools
import math

import pytest

from tillwise.workflows.replenishment.policy import (
    Decision,
    Outlook,
    Position,
    StoreStock,
    Terms,
    Transfer,
    abc_classes,
    decide,
    excess,
    order_up_to,
    plan_transfers,
    reorder_point,
    weeks_of_cover,
)


def outlook(
    daily_mean: float = 2.0,
    quantile: float = 21.3,
    *,
    mean: float | None = None,
    lead: int = 7,
    review: int = 2,
    **kw: object,
) -> Outlook:
    protection_mean = daily_mean * (lead + review) if mean is None else mean
    return Outlook(
        daily_mean=daily_mean,
        lead_time_days=lead,
        review_period_days=review,
        protection_mean=protection_mean,
        protection_quantile=quantile,
        service_level=0.95,
        **kw,  # type: ignore[arg-type]
    )


def terms(**kw: object) -> Terms:
    base: dict[str, object] = {"vendor_external_id": "acme", "lead_time_days": 7}
    base.update(kw)
    return Terms(**base)  # type: ignore[arg-type]


# -- reorder point, order-up-to, weeks of cover -----------------------------------------------


def test_reorder_point_is_the_protection_quantile_rounded_up_to_whole_units() -> None:
    assert reorder_point(outlook(quantile=21.3)) == 22  # ceil(21.3)
    assert reorder_point(outlook(quantile=22.0)) == 22
    # float noise from summing daily quantiles must not buy an extra unit
    assert reorder_point(outlook(quantile=22.000000000004)) == 22
    assert reorder_point(outlook(daily_mean=0.0, quantile=0.0)) == 0


def test_order_up_to_adds_one_order_cycle_of_mean_demand_above_the_reorder_point() -> None:
    # nightly review: cycle = max(1, 7) = 7 days -> 22 + ceil(2.0 * 7) = 36
    assert order_up_to(outlook(review=1)) == 36
    # fortnightly review: the review period is longer than the cycle -> 22 + ceil(2.0 * 14) = 50
    assert order_up_to(outlook(review=14)) == 50
    # cycle_days=0 gives the textbook S = s + mean demand over R: 22 + ceil(2.0 * 2) = 26
    assert order_up_to(outlook(cycle_days=0)) == 26
    # 0.3 a day over 7 days = 2.1 -> 3 more units: 22 + 3 = 25
    assert order_up_to(outlook(daily_mean=0.3)) == 25


def test_weeks_of_cover_is_position_over_weekly_demand() -> None:
    assert weeks_of_cover(28, 2.0) == pytest.approx(2.0)  # 28 / (7 * 2)
    assert weeks_of_cover(5, 2.0) == pytest.approx(5 / 14)
    assert weeks_of_cover(5, 0.0) is None  # no demand: cover is not a number of weeks


def test_inventory_position_is_on_hand_plus_on_order_minus_committed() -> None:
    assert Position(on_hand=5, on_order=12, committed=3).inventory_position == 14  # 5 + 12 - 3


# -- decide -------------------------------------------------------------------------------------


def test_below_the_reorder_point_the_need_is_rounded_up_to_whole_cases() -> None:
    d = decide(Position(on_hand=5), outlook(), terms(case_pack=12))
    # IP 5 < s 22: need S - IP = 36 - 5 = 31 -> ceil(31 / 12) = 3 cases = 36
    assert d == Decision(
        quantity=36,
        rule="rounded_to_pack",
        reorder_point=22,
        order_up_to=36,
        inventory_position=5,
        weeks_of_cover=pytest.approx(5 / 14),  # type: ignore[arg-type]
        steps=("need:36-5=31", "rounded_to_pack:31->36"),
        need=31,
        weeks_of_cover_after=pytest.approx(41 / 14),  # type: ignore[arg-type]
    )


def test_at_the_reorder_point_nothing_is_ordered() -> None:
    d = decide(Position(on_hand=10, on_order=12), outlook(), terms(case_pack=12))
    # IP 10 + 12 = 22 = s: covered
    assert (d.quantity, d.rule, d.inventory_position) == (0, "covered", 22)


def test_a_need_that_is_already_whole_cases_is_ordered_as_is() -> None:
    d = decide(Position(on_hand=12), outlook(), terms(case_pack=12))
    # 36 - 12 = 24 = 2 cases exactly
    assert (d.quantity, d.rule, d.steps) == (24, "order_up_to", ("need:36-12=24",))


def test_committed_units_are_not_available() -> None:
    d = decide(Position(on_hand=25, committed=6), outlook(), terms())
    # IP 25 - 6 = 19 < 22: need 36 - 19 = 17, pack 1
    assert (d.quantity, d.rule, d.inventory_position) == (17, "order_up_to", 19)


def test_no_demand_never_copies_the_moq_into_an_order() -> None:
    # the failure case: MOQ 24 ordered for an item nobody buys
    nothing = outlook(daily_mean=0.0, quantile=0.0, mean=0.0)
    for on_hand in (0, 3):
        d = decide(Position(on_hand=on_hand), nothing, terms(moq=24, case_pack=12))
        assert (d.quantity, d.rule) == (0, "no_demand")
        assert d.weeks_of_cover is None
        assert (d.reorder_point, d.order_up_to) == (0, 0)


def test_a_stopped_item_orders_nothing_but_keeps_its_reorder_point_and_cover() -> None:
    # 5 on hand is far below s = 22 and the vendor's MOQ is 48: still nothing is ordered
    d = decide(Position(on_hand=5), outlook(), terms(moq=48, case_pack=12), stopped=True)
    assert (d.quantity, d.rule, d.steps) == (0, "stopped", ("stopped:ip=5",))
    assert (d.reorder_point, d.order_up_to) == (22, 36)
    assert d.weeks_of_cover == pytest.approx(5 / 14)


def test_customer_orders_committed_beyond_stock_are_covered_even_without_forecast_demand() -> None:
    nothing = outlook(daily_mean=0.0, quantile=0.0, mean=0.0)
    d = decide(Position(on_hand=0, committed=3), nothing, terms(moq=6, case_pack=6))
    # IP -3 < s 0: need 0 - (-3) = 3, one case of 6 (also the MOQ)
    assert (d.quantity, d.rule) == (6, "rounded_to_pack")


def test_a_small_need_is_raised_to_the_moq_in_whole_cases() -> None:
    slow = outlook(daily_mean=0.3, quantile=4.2, review=1)
    # s = ceil(4.2) = 5; S = 5 + ceil(0.3 * 7 = 2.1) = 8
    d = decide(Position(on_hand=2), slow, terms(moq=10, case_pack=4))
    # need 8 - 2 = 6 -> 2 cases = 8 -> below MOQ 10 -> smallest multiple of 4 >= 10 = 12
    assert (d.quantity, d.rule) == (12, "raised_to_moq")
    assert d.steps == ("need:8-2=6", "rounded_to_pack:6->8", "raised_to_moq:8->12")


def test_the_line_already_on_the_pending_draft_counts_towards_the_moq() -> None:
    slow = outlook(daily_mean=0.3, quantile=4.2, review=1)  # s 5, S 8 (as above)
    position = Position(on_hand=0, on_order=4, in_draft=4)  # the draft already holds 4
    d = decide(position, slow, terms(moq=10, case_pack=4))
    # need 8 - 4 = 4 (one case); the merged draft line must reach 10: 10 - 4 = 6 -> 8
    # (without the draft line counting, it would be raised to 12: 16 on the line)
    assert (d.quantity, d.rule) == (8, "raised_to_moq")


def test_an_moq_that_buys_more_than_half_a_year_is_ordered_and_pointed_out() -> None:
    # sells 0.05 a day (0.35 a week): s = ceil(1.2) = 2, S = 2 + ceil(0.05 * 7 = 0.35) = 3
    slow = outlook(daily_mean=0.05, quantile=1.2, review=1)
    d = decide(Position(on_hand=0), slow, terms(moq=24))
    # need 3 -> MOQ 24: still ordered (the store would run out), 24 / 0.35 = 68.6 weeks
    assert (d.quantity, d.rule) == (24, "raised_to_moq")
    assert d.weeks_of_cover_after == pytest.approx(68.57, abs=0.01)
    assert d.moq_overstock
    # the same MOQ on an item selling 0.3 a day buys 11.4 weeks: nothing to point out
    usual = decide(
        Position(on_hand=0), outlook(daily_mean=0.3, quantile=4.2, review=1), terms(moq=24)
    )
    assert (usual.quantity, usual.rule) == (24, "raised_to_moq") and not usual.moq_overstock
    # a year of cover reached without an MOQ raise is the buyer's order-up-to level, not the MOQ
    assert not decide(Position(on_hand=0), slow, terms(case_pack=24)).moq_overstock


def test_a_capped_quantity_is_still_whole_cases_rounded_down_under_the_maximum() -> None:
    # the failure case: pack multiple ignored when a maximum is set
    d = decide(Position(on_hand=5), outlook(), terms(case_pack=12, max_stock=40))
    # need 31 -> 36; 5 + 36 = 41 > 40: room 35 -> floor(35 / 12) = 2 cases = 24
    assert (d.quantity, d.rule) == (24, "capped_by_max")
    assert d.quantity % 12 == 0 and d.inventory_position + d.quantity <= 40
    assert d.steps[-1] == "capped_by_max:36->24"


def test_when_the_maximum_leaves_less_than_the_moq_nothing_is_ordered_and_it_says_so() -> None:
    d = decide(Position(on_hand=5), outlook(), terms(case_pack=6, moq=24, max_stock=25))
    # need 31 -> 36 (>= MOQ 24); room 25 - 5 = 20 -> 3 cases = 18 < MOQ 24
    assert (d.quantity, d.rule) == (0, "max_below_moq")


def test_when_the_maximum_leaves_less_than_a_case_nothing_is_ordered() -> None:
    d = decide(Position(on_hand=5), outlook(), terms(case_pack=12, max_stock=15))
    # room 15 - 5 = 10 < one case of 12
    assert (d.quantity, d.rule) == (0, "max_below_pack")


def test_at_the_maximum_stock_nothing_is_ordered_even_below_the_reorder_point() -> None:
    d = decide(Position(on_hand=20), outlook(), terms(max_stock=20))
    assert (d.quantity, d.rule) == (0, "at_max_stock")  # IP 20 < s 22 but 20 >= max 20


def test_the_next_night_the_pending_order_covers_the_same_shortfall() -> None:
    # the failure case: the same shortfall proposed every day
    day1 = decide(Position(on_hand=5), outlook(), terms(case_pack=12))
    assert day1.quantity == 36
    # night 2: 2 more sold; the 36 on the pending draft count as on order
    pending = Position(on_hand=3, on_order=36, in_draft=36)
    day2 = decide(pending, outlook(), terms(case_pack=12))
    assert (day2.quantity, day2.rule, day2.inventory_position) == (0, "covered", 39)
    # night 3: approved and sent, now an open purchase order: still covered
    approved = Position(on_hand=1, on_order=36)
    assert decide(approved, outlook(), terms(case_pack=12)).quantity == 0  # IP 37 >= 22


def test_quantities_are_always_whole_cases_within_the_maximum_and_never_below_the_moq() -> None:
    # the failure case: fractional quantities; a grid of awkward inputs
    means = (0.0, 0.07, 0.3, 1.55, 2.0, 13.7)
    quantiles = (0.0, 0.4, 3.7, 21.3, 95.05)
    packs = (1, 6, 12)
    moqs = (0, 5, 24)
    maxima = (None, 15, 40, 100)
    on_hands = (-3, 0, 5, 30)
    for mean, q, pack, moq, maximum, on_hand in itertools.product(
        means, quantiles, packs, moqs, maxima, on_hands
    ):
        o = outlook(daily_mean=mean, quantile=q, mean=mean * 9)
        d = decide(Position(on_hand=on_hand), o, terms(case_pack=pack, moq=moq, max_stock=maximum))
        case = (mean, q, pack, moq, maximum, on_hand, d)
        assert type(d.quantity) is int, case
        assert d.quantity >= 0 and d.quantity % pack == 0, case
        if d.quantity:
            assert d.quantity >= moq, case
            assert d.inventory_position < d.reorder_point, case
            if maximum is not None:
                assert on_hand + d.quantity <= maximum, case
            # never more than whole cases, the MOQ and the need allow
            assert d.quantity <= max(math.ceil(d.need / pack), math.ceil(moq / pack)) * pack
        if o.has_demand is False and on_hand >= 0:
            assert d.rule == "no_demand", case


def test_inputs_that_are_not_whole_units_or_finite_demand_are_refused() -> None:
    with pytest.raises(TypeError, match="on_hand"):
        Position(on_hand=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="case_pack"):
        terms(case_pack=0)
    with pytest.raises(ValueError, match="protection_quantile"):
        outlook(quantile=float("nan"))
    with pytest.raises(ValueError, match="part of on_order"):
        Position(on_hand=0, on_order=0, in_draft=5)


def test_the_outlook_and_the_terms_must_agree_on_the_lead_time() -> None:
    with pytest.raises(ValueError, match="7-day lead time"):
        decide(Position(on_hand=5), outlook(lead=7), terms(lead_time_days=5))


# -- transfers ----------------------------------------------------------------------------------

# A receiver selling 2 a day, 2-day lead time, nightly review: P = 3 days, 95% quantile 9.2
#   s = 10, S = 10 + ceil(2 * 7) = 24
# Givers selling 1 a day, same periods, 95% quantile 4.4: s = 5, S = 5 + ceil(1 * 7) = 12


def needy(on_hand: int, loc: str = "north") -> StoreStock:
    o = outlook(daily_mean=2.0, quantile=9.2, lead=2, review=1)
    return StoreStock(loc, Position(on_hand=on_hand), o)


def stocked(position: Position, loc: str, daily_mean: float = 1.0) -> StoreStock:
    quantile = 4.4 if daily_mean else 0.0
    return StoreStock(
        loc, position, outlook(daily_mean=daily_mean, quantile=quantile, lead=2, review=1)
    )


def test_a_store_with_excess_cover_sends_what_the_needy_store_lacks() -> None:
    transfers = plan_transfers("A-1", [needy(3), stocked(Position(on_hand=60), "south")])
    # north: IP 3 < s 10, needs S - IP = 24 - 3 = 21
    # south: IP 60 > S 12, cover 60 / 7 = 8.6 weeks > 4: can spare 60 - 12 = 48
    assert [(t.from_location, t.to_location, t.quantity) for t in transfers] == [
        ("south", "north", 21)
    ]
    t = transfers[0]
    assert t.payload()["sku"] == "A-1" and t.payload()["quantity"] == 21
    assert (t.from_position, t.from_order_up_to, t.to_position, t.to_reorder_point) == (
        60,
        12,
        3,
        10,
    )


def test_a_giver_is_never_left_below_its_own_order_up_to_level() -> None:
    stores = [
        needy(3),
        stocked(Position(on_hand=30), "east"),  # cover 30 / 7 = 4.3 weeks, spare 30 - 12 = 18
        stocked(Position(on_hand=5), "depot", daily_mean=0.0),  # no demand: S 0, spare 5
    ]
    transfers = plan_transfers("A-1", stores)
    # dead stock moves first (unlimited cover): 5 from depot; then 21 - 5 = 16 from east,
    # which keeps 30 - 16 = 14 >= its S of 12
    assert [(t.from_location, t.quantity) for t in transfers] == [("depot", 5), ("east", 16)]


def test_stock_only_on_order_or_committed_cannot_be_sent() -> None:
    giver = stocked(Position(on_hand=20, on_order=50, committed=4), "south")
    transfers = plan_transfers("A-1", [needy(3), giver])
    # south: IP 20 + 50 - 4 = 66, spare by position 66 - 12 = 54, but only 20 - 4 = 16 free on
    # the shelf, of which it keeps its reorder point (5) until its delivery comes: 11
    assert [t.quantity for t in transfers] == [11]


def test_a_store_above_its_level_only_thanks_to_a_delivery_on_its_way_keeps_its_shelf() -> None:
    # south: 30 on hand, 500 on order (IP 530, S 12): it keeps s = 5 and gives 25
    giver = stocked(Position(on_hand=30, on_order=500), "south")
    assert [t.quantity for t in plan_transfers("A-1", [needy(3), giver])] == [21]
    assert excess(giver.position, giver.outlook) == 25
    # with 5 on hand it has nothing to give
    giver = stocked(Position(on_hand=5, on_order=500), "south")
    assert plan_transfers("A-1", [needy(3), giver]) == []


def test_a_transfer_stops_at_the_receivers_maximum_stock() -> None:
    giver = stocked(Position(on_hand=60), "south")
    # north needs S - IP = 24 - 3 = 21, but its shelf holds 15: 12 more fit
    north = StoreStock("north", Position(on_hand=3), needy(3).outlook, max_stock=15)
    assert [t.quantity for t in plan_transfers("A-1", [north, giver])] == [12]
    # a shelf already full takes nothing
    full = StoreStock("north", Position(on_hand=3), needy(3).outlook, max_stock=3)
    assert plan_transfers("A-1", [full, giver]) == []


def test_a_store_without_enough_cover_keeps_its_stock() -> None:
    # south: IP 25 > S 12, but cover 25 / 7 = 3.6 weeks is not above 4
    assert plan_transfers("A-1", [needy(3), stocked(Position(on_hand=25), "south")]) == []
    # with a 3-week threshold it gives all it can spare, 25 - 12 = 13, of the 21 needed
    transfers = plan_transfers(
        "A-1", [needy(3), stocked(Position(on_hand=25), "south")], min_excess_weeks=3.0
    )
    assert [t.quantity for t in transfers] == [13]


def test_the_most_urgent_store_is_served_first() -> None:
    slow = StoreStock(
        "west", Position(on_hand=2), outlook(daily_mean=1.0, quantile=4.4, lead=2, review=1)
    )
    giver = stocked(Position(on_hand=37), "south")  # cover 5.3 weeks, spare 37 - 12 = 25
    transfers = plan_transfers("A-1", [slow, needy(3), giver])
    # north: cover 3 / 14 = 0.21 weeks, needs 21; west: cover 2 / 7 = 0.29 weeks, needs 12 - 2 = 10
    assert [(t.to_location, t.quantity) for t in transfers] == [("north", 21), ("west", 4)]


def test_no_transfers_when_nobody_needs_or_nobody_can_give() -> None:
    assert plan_transfers("A-1", [needy(30), stocked(Position(on_hand=60), "south")]) == []
    assert plan_transfers("A-1", [needy(3), needy(2, "west")]) == []
    assert plan_transfers("A-1", []) == []


def test_transfers_smaller_than_the_minimum_are_not_proposed() -> None:
    # south: IP 15 + 40 - 7 = 48 (6.9 weeks), but only 15 - 7 = 8 free on the shelf, of which
    # it keeps its reorder point (5) while stock is on order: 3
    giver = stocked(Position(on_hand=15, on_order=40, committed=7), "south")
    assert plan_transfers("A-1", [needy(3), giver], min_quantity=4) == []
    assert [t.quantity for t in plan_transfers("A-1", [needy(3), giver])] == [3]


# -- overstock ----------------------------------------------------------------------------------

# the givers' item above: 1 a day, s = 5, S = 12


def test_overstock_is_free_stock_beyond_the_order_up_to_level_with_over_four_weeks_of_cover() -> (
    None
):
    o = stocked(Position(on_hand=0), "x").outlook
    # 60 on hand: 8.6 weeks of cover, 60 - 12 = 48 beyond S
    assert excess(Position(on_hand=60), o) == 48
    # 25 on hand is above S but lasts 3.6 weeks: not overstock; with a 3-week threshold, 13
    assert excess(Position(on_hand=25), o) == 0
    assert excess(Position(on_hand=25), o, min_excess_weeks=3.0) == 13
    # at or below S, and a negative level: none
    assert excess(Position(on_hand=12), o) == excess(Position(on_hand=-4), o) == 0
    # what is only on order is not on the shelf: IP 20 + 50 - 4 = 66, but only 20 - 4 = 16
    # free, and while the delivery is on its way the shelf keeps its reorder point (5): 11
    assert excess(Position(on_hand=20, on_order=50, committed=4), o) == 11
    # committed units (an outgoing transfer proposed) are not overstock any more: IP 60 - 20
    # = 40 (5.7 weeks), 28 beyond S; committing 40 leaves 20, 2.9 weeks: none
    assert excess(Position(on_hand=60, committed=20), o) == 28
    assert excess(Position(on_hand=60, committed=40), o) == 0


def test_an_item_nobody_is_expected_to_buy_is_overstocked_by_all_its_free_stock() -> None:
    dead = stocked(Position(on_hand=0), "x", daily_mean=0.0).outlook
    assert (reorder_point(dead), order_up_to(dead)) == (0, 0)
    assert excess(Position(on_hand=5), dead) == 5
    assert excess(Position(on_hand=5, committed=2), dead) == 3
    assert excess(Position(on_hand=0), dead) == 0


def test_what_a_store_can_give_is_its_overstock() -> None:
    for position, spare in ((Position(on_hand=60), 48), (Position(on_hand=30), 18)):
        giver = stocked(position, "south")
        # north lacks 124 (S 24, IP -100: customer orders beyond stock): more than any can give
        [t] = plan_transfers("A-1", [needy(-100), giver])
        assert t.quantity == excess(position, giver.outlook) == spare


def test_a_store_listed_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="twice"):
        plan_transfers("A-1", [needy(3), needy(4)])


def test_transfer_payload_has_the_proposal_keys() -> None:
    t = Transfer("A-1", "south", "north", 21, "north is below its reorder point")
    payload = t.payload()
    assert {k: payload[k] for k in ("sku", "from_location", "to_location", "quantity")} == {
        "sku": "A-1",
        "from_location": "south",
        "to_location": "north",
        "quantity": 21,
    }


def test_abc_classes_by_cumulative_share_of_value() -> None:
    # worked example, total 100: a+b reach 80 (A), c and d reach 96 (B: d crosses 95), e after
    values = {"a": 50.0, "b": 30.0, "c": 10.0, "d": 6.0, "e": 4.0, "f": 0.0, "g": -1.0}
    assert abc_classes(values) == {
        "a": "A",
        "b": "A",
        "c": "B",
        "d": "B",
        "e": "C",
        "f": "C",  # no value: never worth the top service level
        "g": "C",
    }
    assert abc_classes({"x": 99.0, "y": 1.0}) == {"x": "A", "y": "C"}  # y starts at 99 %
    assert abc_classes({"x": 0.0}) == {"x": "C"} and abc_classes({}) == {}
