"""Draft purchase orders: grouping, merging into the pending draft, vendor minimums, payload.

Worked lines (all GBP, store "shop-1", planned on 2026-11-20):

    A-1  Acme, 2/day, lead 7 + review 2, q95 21.3: s 22, S 22 + 14 = 36; on hand 5
         need 36 - 5 = 31 -> 3 cases of 12 = 36 @ 2.95 = 106.20
    B-2  Acme, 1/day, lead 7 + review 2, q95 13.6: s 14, S 14 + 7 = 21; on hand 4
         need 21 - 4 = 17 -> 3 cases of 6 = 18 @ 1.10 = 19.80
    C-3  Bolt, 0.5/day, lead 3 + review 2, q95 5.1: s 6, S 6 + ceil(3.5) = 10; on hand 1
         need 9, pack 1 -> 9, unit cost unknown
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from tillwise.connectors._po_documents import Order, to_csv
from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal
from tillwise.workflows.replenishment.orders import (
    DraftOrder,
    PlannedLine,
    VendorInfo,
    draft_orders,
    unorderable,
)
from tillwise.workflows.replenishment.policy import Outlook, Position, Terms, decide

TODAY = date(2026, 11, 20)
STORE = "shop-1"
ACME = VendorInfo("acme", "Acme Foods", "orders@acme.example", 7)
BOLT = VendorInfo("bolt", "Bolt Supplies", None, 3)
VENDORS = {"acme": ACME, "bolt": BOLT}


def gbp(text: str) -> Money:
    return Money.from_decimal(text, "GBP")


def planned(
    sku: str,
    *,
    on_hand: int,
    daily: float,
    q95: float,
    vendor: str | None = "acme",
    lead: int = 7,
    review: int = 2,
    pack: int = 1,
    moq: int = 0,
    max_stock: int | None = None,
    cost: str | None = None,
    on_order: int = 0,
    in_draft: int = 0,
    committed: int = 0,
    stopped: bool = False,
) -> PlannedLine:
    outlook = Outlook(daily, lead, review, daily * (lead + review), q95, 0.95)
    unit_cost = None if cost is None else gbp(cost)
    terms = Terms(vendor, lead, moq=moq, case_pack=pack, max_stock=max_stock, unit_cost=unit_cost)
    position = Position(on_hand, on_order=on_order, committed=committed, in_draft=in_draft)
    decision = decide(position, outlook, terms, stopped=stopped)
    return PlannedLine(
        sku=sku,
        name=f"Item {sku}",
        quantity=decision.quantity,
        unit_cost=unit_cost,
        decision=decision,
        outlook=outlook,
        terms=terms,
        position=position,
        forecast={"method": "ADIDA", "model": "tillwise-demand", "version": "1", "accuracy": None},
    )


def line_a(**kw: Any) -> PlannedLine:
    args: dict[str, Any] = {"on_hand": 5, "daily": 2.0, "q95": 21.3, "pack": 12, "cost": "2.95"}
    return planned("A-1", **(args | kw))


def line_b(**kw: Any) -> PlannedLine:
    args: dict[str, Any] = {"on_hand": 4, "daily": 1.0, "q95": 13.6, "pack": 6, "cost": "1.10"}
    return planned("B-2", **(args | kw))


def line_c(**kw: Any) -> PlannedLine:
    args: dict[str, Any] = {"on_hand": 1, "daily": 0.5, "q95": 5.1, "vendor": "bolt", "lead": 3}
    return planned("C-3", **(args | kw))


def orders(lines: list[PlannedLine], **kw: Any) -> list[DraftOrder]:
    return draft_orders(
        lines,
        kw.pop("vendors", VENDORS),
        currency="GBP",
        today=TODAY,
        location_external_id=STORE,
        **kw,
    )


def quantities(order: DraftOrder) -> dict[str, int]:
    return {row["sku"]: row["quantity"] for row in order.payload()["lines"]}


# -- grouping, dates, value ---------------------------------------------------------------------


def test_lines_are_grouped_per_vendor_with_receipt_dates_from_lead_times() -> None:
    covered = planned("D-4", on_hand=40, daily=2.0, q95=21.3, cost="3.00")  # IP 40 >= s 22
    result = orders([line_b(), covered, line_a(), line_c()])
    assert [(o.vendor.external_id, quantities(o)) for o in result] == [
        ("acme", {"A-1": 36, "B-2": 18}),  # D-4 is covered: not on the order
        ("bolt", {"C-3": 9}),
    ]
    acme, bolt = result
    assert acme.expected_on == date(2026, 11, 27)  # 20 Nov + 7 days
    assert bolt.expected_on == date(2026, 11, 23)  # 20 Nov + 3 days
    assert acme.held is None and acme.merged is False


def test_order_value_is_exact_in_minor_units_and_unknown_when_a_cost_is() -> None:
    acme, bolt = orders([line_a(), line_b(), line_c()])
    # 36 x 2.95 = 106.20; 18 x 1.10 = 19.80; total 126.00
    assert acme.value() == Money(amount=12600, currency="GBP")
    assert bolt.value() is None  # C-3 has no unit cost
    assert bolt.unknown_costs() == ["C-3"]


def test_a_vendor_with_nothing_to_order_gets_no_order() -> None:
    covered = planned("D-4", on_hand=40, daily=2.0, q95=21.3, cost="3.00")
    assert orders([covered]) == []


def test_lines_without_a_known_vendor_are_left_out_and_listed() -> None:
    orphan = planned("E-5", on_hand=0, daily=1.0, q95=13.6, vendor=None)
    unknown = planned("F-6", on_hand=0, daily=1.0, q95=13.6, vendor="nobody")
    assert [o.vendor.external_id for o in orders([orphan, unknown, line_a()])] == ["acme"]
    assert [ln.sku for ln in unorderable([orphan, unknown, line_a()], VENDORS)] == ["E-5", "F-6"]


# -- payload --------------------------------------------------------------------------------------


def test_the_payload_is_json_and_reads_as_a_purchase_order_document() -> None:
    (acme,) = orders([line_a(), line_b()])
    payload = acme.payload()
    json.dumps(payload)  # structured data only
    assert payload["vendor"] == {
        "external_id": "acme",
        "name": "Acme Foods",
        "email": "orders@acme.example",
    }
    assert (payload["location_external_id"], payload["currency"], payload["expected_on"]) == (
        STORE,
        "GBP",
        "2026-11-27",
    )
    assert payload["value"] == "126.00"
    first = payload["lines"][0]
    assert (first["sku"], first["quantity"], first["unit_cost"], first["line_total"]) == (
        "A-1",
        36,
        "2.95",
        "106.20",
    )
    # what the connector's PO-document write-back makes of it
    proposal = Proposal(
        id="0f1e2d3c-0000-0000-0000-000000000000",
        kind="draft_purchase_order",
        workflow="replenishment",
        connection_id="con_sim",
        location_external_id=STORE,
        created_at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        summary="PO",
        payload=payload,
    )
    document = Order.from_proposal(proposal)
    assert [(ln.sku, ln.quantity, ln.unit_cost) for ln in document.lines] == [
        ("A-1", Decimal(36), Decimal("2.95")),
        ("B-2", Decimal(18), Decimal("1.10")),
    ]
    assert document.total() == Decimal("126.00")
    assert document.expected_on == date(2026, 11, 27)
    assert "Deliver to shop-1 by 2026-11-27" in document.notes  # nothing internal for the vendor
    assert "126.00" in to_csv(document)


def test_the_store_is_named_for_the_vendor_and_the_buyer_where_its_name_is_known() -> None:
    (acme,) = orders([line_a(), line_b()], location_name="Leeds Briggate")
    payload = acme.payload()
    assert payload["notes"].startswith("Deliver to Leeds Briggate by 2026-11-27.")
    assert payload["explanation"].startswith("Purchase order to Acme Foods for Leeds Briggate:")
    assert payload["location_external_id"] == STORE  # the id stays what write-back uses


def test_each_line_carries_its_justification_as_structured_data() -> None:
    (acme,) = orders([line_a()])
    justification = acme.payload()["lines"][0]["justification"]
    assert justification["rule"] == "rounded_to_pack"
    assert justification["forecast"] == {
        "method": "ADIDA",
        "model": "tillwise-demand",
        "version": "1",
        "accuracy": None,
    }
    policy = justification["policy"]
    assert {k: policy[k] for k in ("on_hand", "on_order", "committed", "inventory_position")} == {
        "on_hand": 5,
        "on_order": 0,
        "committed": 0,
        "inventory_position": 5,
    }
    assert (policy["lead_time_days"], policy["review_period_days"], policy["moq"]) == (7, 2, 0)
    assert (policy["case_pack"], policy["reorder_point"], policy["order_up_to"]) == (12, 22, 36)
    assert (policy["need"], policy["service_level"], policy["protection_days"]) == (31, 0.95, 9)
    assert policy["steps"] == ["need:36-5=31", "rounded_to_pack:31->36"]
    assert policy["weeks_of_cover"] == 0.36  # 5 / 14
    assert policy["weeks_of_cover_after"] == 2.93  # 41 / 14
    assert justification["text"].startswith("Order 36 units (3 cases of 12).")


# -- merging into the pending draft ----------------------------------------------------------


def test_the_next_night_the_pending_draft_is_neither_doubled_nor_dropped() -> None:
    # the failure case "orders proposed every day for the same shortfall", end to end
    (day1,) = orders([line_a(), line_b()])
    pending = day1.payload()  # not yet approved
    # night 2: 4 of A-1 and 1 of B-2 sold; the planner counts the draft's 36 and 18 as on order
    a = line_a(on_hand=1, on_order=36, in_draft=36)  # IP 37 >= s 22: covered
    b = line_b(on_hand=3, on_order=18, in_draft=18)  # IP 21 >= s 14: covered
    assert (a.quantity, b.quantity) == (0, 0)
    # nothing new: no order to propose, the pending draft (36 and 18) stands as it is
    assert orders([a, b], existing={"acme": pending}) == []


def test_a_merge_adds_to_the_draft_line_and_keeps_every_other_line() -> None:
    (day1,) = orders([line_a(), line_b()])
    pending = day1.payload()
    # a buyer added a line by hand to the pending draft
    pending["lines"].append(
        {"sku": "Z-9", "name": "Hand-added", "quantity": 5, "unit_cost": "3.00"}
    )
    # night 2: A-1 covered by its draft line; B-2: a customer reserved 5
    a = line_a(on_hand=1, on_order=36, in_draft=36)  # IP 37: covered, adds 0
    b = line_b(on_hand=0, on_order=18, in_draft=18, committed=5)
    # B-2: IP 0 + 18 - 5 = 13 < s 14: need 21 - 13 = 8 -> 2 cases = 12 on top of the draft's 18
    f = planned("F-6", on_hand=2, daily=1.0, q95=13.6, pack=6, cost="0.50")
    # F-6: new SKU, need 21 - 2 = 19 -> 4 cases = 24
    (merged,) = orders([a, b, f], existing={"acme": pending})
    assert merged.merged is True
    assert quantities(merged) == {"A-1": 36, "B-2": 30, "F-6": 24, "Z-9": 5}  # 18 + 12 = 30
    rows = {row["sku"]: row for row in merged.payload()["lines"]}
    assert rows["A-1"] == pending["lines"][0]  # untouched, with its night-1 justification
    assert rows["Z-9"] == pending["lines"][2]
    assert rows["B-2"]["already_in_draft"] == 18
    assert rows["B-2"]["justification"]["policy"]["decided_quantity"] == 12
    # 36 x 2.95 + 30 x 1.10 + 24 x 0.50 + 5 x 3.00 = 106.20 + 33.00 + 12.00 + 15.00 = 166.20
    assert merged.value() == gbp("166.20")
    assert merged.payload()["value"] == "166.20"


def test_a_draft_priced_in_another_currency_is_not_merged_into() -> None:
    # a pending draft in euros (the store's currency has changed since): 10 x 9.00 EUR
    pending = {
        "currency": "EUR",
        "lines": [{"sku": "B-2", "quantity": 10, "unit_cost": "9.00"}],
    }
    b = line_b(on_hand=0, on_order=10, in_draft=10)  # IP 10 < s 14: 11 more -> 2 cases = 12
    (order,) = orders([b], existing={"acme": pending})
    # then the new units make an order of their own, in pounds, worth only what it orders
    assert order.merged is False
    assert quantities(order) == {"B-2": 12}
    assert order.payload()["currency"] == "GBP"
    assert order.value() == gbp("13.20")  # 12 x 1.10, never the euro lines counted as pounds


def test_a_draft_line_with_a_fraction_is_refused_not_rounded() -> None:
    pending = {"lines": [{"sku": "B-2", "quantity": "2.5", "unit_cost": "1.10"}]}
    with pytest.raises(ValueError, match="whole units"):
        orders([line_b()], existing={"acme": pending})


# -- vendor minimum order value ----------------------------------------------------------------


def with_minimum(amount: str) -> dict[str, VendorInfo]:
    return {"acme": VendorInfo("acme", "Acme Foods", None, 7, min_order_value=gbp(amount))}


def test_below_the_vendor_minimum_the_least_covered_line_is_raised_a_case_at_a_time() -> None:
    (order,) = orders([line_a(), line_b()], vendors=with_minimum("170.00"))
    # worth 126.00, 44.00 short. Cover after ordering: A-1 41 / 14 = 2.93 wk, B-2 22 / 7 = 3.14 wk
    #   A-1 +12 (35.40) -> 161.40; A-1 now 53 / 14 = 3.79 wk
    #   B-2 +6  (6.60)  -> 168.00; B-2 now 28 / 7 = 4.00 wk
    #   A-1 +12 (35.40) -> 203.40 >= 170.00
    assert quantities(order) == {"A-1": 60, "B-2": 24}
    assert order.value() == gbp("203.40")
    assert order.held is None
    assert order.raised_for_minimum == ("A-1", "B-2")
    a = order.lines[0]
    assert a.decision.rule == "raised_for_vendor_minimum"
    assert a.decision.steps[-1] == "raised_for_vendor_minimum:+24"


def test_a_stopped_item_is_never_raised_to_reach_the_vendor_minimum() -> None:
    # the example above, with reordering of A-1 stopped: only B-2 can be raised, a case of 6 at
    # 6.60 until its cover passes 13 weeks (13 x 7 = 91 units), which stays short of 170.00
    (order,) = orders([line_a(stopped=True), line_b()], vendors=with_minimum("170.00"))
    assert order.held is not None and "170.00" in order.held
    assert quantities(order)["B-2"] == 18  # what it needs, not raised: the order is held
    assert "A-1" not in quantities(order)
    # and with a reachable minimum, B-2 is raised and A-1 stays out
    (order,) = orders([line_a(stopped=True), line_b()], vendors=with_minimum("30.00"))
    assert order.held is None and quantities(order) == {"B-2": 30}
    assert order.raised_for_minimum == ("B-2",)


def test_a_covered_item_of_the_vendor_can_fill_the_minimum_from_its_moq() -> None:
    # G-7: 1/day, lead 7 + review 1, q95 12.4: s 13, S 20; on hand 8 -> need 12 -> 2 cases of 6
    g = planned("G-7", on_hand=8, daily=1.0, q95=12.4, review=1, pack=6, cost="2.00")
    # H-8: 3/day, q95 31.2: s 32, S 32 + 21 = 53; on hand 40 -> covered (cover 40 / 21 = 1.90 wk)
    h = planned("H-8", on_hand=40, daily=3.0, q95=31.2, review=1, pack=12, moq=24, cost="1.00")
    assert (g.quantity, h.quantity) == (12, 0)
    (order,) = orders([g, h], vendors=with_minimum("50.00"))
    # worth 12 x 2.00 = 24.00, 26.00 short. G-7 cover after: 20 / 7 = 2.86 wk
    #   H-8 (1.90 wk) first step reaches its MOQ: +24 (24.00) -> 48.00; H-8 now 64 / 21 = 3.05 wk
    #   G-7 (2.86 wk) +6 (12.00) -> 60.00 >= 50.00
    assert quantities(order) == {"G-7": 18, "H-8": 24}
    assert order.value() == gbp("60.00")
    # and H-8's reason says it was covered and ordered only to fill the minimum
    [h_row] = [r for r in order.payload()["lines"] if r["sku"] == "H-8"]
    text = h_row["justification"]["text"]
    assert "at or above the reorder point of 32, so nothing needs ordering now" in text
    assert "Raised by 24 units to reach the vendor's minimum order value" in text
    assert "below the reorder point" not in text


def test_a_minimum_out_of_reach_within_maximum_stock_holds_the_order() -> None:
    a = line_a(max_stock=45)  # 5 + 36 = 41: one more case (53) would pass 45
    b = line_b(max_stock=25)  # 4 + 18 = 22: one more case (28) would pass 25
    (order,) = orders([a, b], vendors=with_minimum("500.00"))
    assert order.held == (
        "below the vendor's minimum order of £500.00: the order is worth £126.00, and "
        "raising lines by whole cases (within maximum stock and 13 weeks of cover) reaches "
        "only £126.00"
    )
    assert quantities(order) == {"A-1": 36, "B-2": 18}  # what is needed, not a raised guess
    assert order.payload()["held"] == order.held


def test_raising_for_a_minimum_stops_at_the_cover_limit() -> None:
    (order,) = orders([line_a(), line_b()], vendors=with_minimum("10000.00"))
    # 13 weeks: A-1 up to 13 x 14 = 182 -> 41 + 11 x 12 = 173; B-2 up to 91 -> 22 + 11 x 6 = 88
    # added 11 x 35.40 + 11 x 6.60 = 462.00 -> 588.00, far below 10000.00: held
    assert order.held is not None and order.held.endswith("reaches only £588.00")


def test_with_an_unknown_cost_the_minimum_cannot_be_checked_and_nothing_is_raised() -> None:
    (order,) = orders([line_a(cost=None), line_b()], vendors=with_minimum("170.00"))
    assert order.held is None and order.value() is None
    assert quantities(order) == {"A-1": 36, "B-2": 18}
    assert "could not be checked" in order.payload()["explanation"]


# -- errors ---------------------------------------------------------------------------------------


def test_one_store_per_call_and_one_currency() -> None:
    with pytest.raises(ValueError, match="location_external_id"):
        draft_orders([line_a()], VENDORS, currency="GBP", today=TODAY)
    with pytest.raises(ValueError, match="unit cost in GBP"):
        draft_orders([line_a()], VENDORS, currency="EUR", today=TODAY, location_external_id=STORE)
