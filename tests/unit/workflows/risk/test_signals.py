"""Each rule fires on its pattern and stays quiet for an ordinary peer doing the same once."""

from __future__ import annotations

from datetime import timedelta

from tillwise.workflows.risk import RiskScorer
from tillwise.workflows.risk.events import LineFact

from .streams import T0, card, cash, codes, normal_days, other, sale

DAYS = 10
END = T0 + timedelta(days=DAYS)  # the pattern happens on the day after the normal trading


def warmed() -> RiskScorer:
    scorer = RiskScorer(first_fit=10**9)  # the anomaly model stays out of these tests
    for e in normal_days(DAYS):
        scorer.assess(e)
    return scorer


def at(hour: float, day: int = 0):  # noqa: ANN201
    return END + timedelta(days=day, hours=hour)


def test_refunds_without_receipt_by_one_cashier_stand_out_and_one_by_a_peer_does_not() -> None:
    s = warmed()
    peer = s.assess(other("refund", "r-peer", at(0.5), "emp-2", amount=2000))
    assert codes(peer).get("refund_without_receipt", 0) < 0.3
    assert peer.decision == "allow"
    last = None
    for k in range(6):
        last = s.assess(other("refund", f"r-{k}", at(1 + k * 0.5), "emp-1", amount=2500))
    assert last is not None
    assert codes(last)["refund_without_receipt"] >= 0.5
    assert last.decision != "allow"
    reason = next(r for r in last.reasons if r.code == "refund_without_receipt")
    assert reason.evidence["receipt"] == "none" and reason.evidence["z"] > 2.5


def test_a_receipt_never_seen_is_a_refund_without_a_matching_sale() -> None:
    s = warmed()
    young = s.score(other("refund", "r-0", at(1), "emp-1", amount=2500, receipt_id="no-such"))
    assert "refund_without_receipt" not in codes(young)  # the sale may predate the stream
    for e in normal_days(21, start=END, per_employee=4):
        s.assess(e)
    a = s.score(
        other("refund", "r-1", at(1, day=22), "emp-1", amount=2500, receipt_id="no-such-sale")
    )
    r = next(r for r in a.reasons if r.code == "refund_without_receipt")
    assert r.evidence["receipt"] == "unknown" and r.weight >= 0.3
    # a receipt that was seen and not yet refunded is fine
    s.assess(sale("s-x", at(1, day=22), "emp-3", 3000, tenders=(card("fp-A", 3000),)))
    ok = s.score(
        other(
            "refund",
            "r-2",
            at(2, day=22),
            "emp-2",
            amount=3000,
            receipt_id="s-x",
            tenders=(card("fp-A", 3000),),
        )
    )
    assert "refund_without_receipt" not in codes(ok)
    # refunding more than the sale is not
    s.assess(
        other(
            "refund",
            "r-3",
            at(2, day=22),
            "emp-2",
            amount=3000,
            receipt_id="s-x",
            tenders=(card("fp-A", 3000),),
        )
    )
    again = s.score(other("refund", "r-4", at(3, day=22), "emp-2", amount=1000, receipt_id="s-x"))
    assert (
        next(r for r in again.reasons if r.code == "refund_without_receipt").evidence["receipt"]
        == "exceeds"
    )


def test_refund_to_another_card_than_the_sale() -> None:
    s = warmed()
    s.assess(sale("s-1", at(1), "emp-3", 4000, tenders=(card("fp-A", 4000),)))
    other_card = s.score(
        other(
            "refund",
            "r-1",
            at(2),
            "emp-2",
            amount=4000,
            receipt_id="s-1",
            tenders=(card("fp-B", 4000, "keyed"),),
        )
    )
    same_card = s.score(
        other(
            "refund",
            "r-2",
            at(2),
            "emp-2",
            amount=4000,
            receipt_id="s-1",
            tenders=(card("fp-A", 4000),),
        )
    )
    assert codes(other_card)["refund_to_other_tender"] >= 0.3
    assert "refund_to_other_tender" not in codes(same_card)


def test_quick_refund_of_the_employees_own_sale() -> None:
    s = warmed()
    s.assess(sale("s-1", at(1), "emp-1", 4000, tenders=(card("fp-A", 4000),)))
    own = s.score(
        other(
            "refund",
            "r-1",
            at(1.2),
            "emp-1",
            amount=4000,
            receipt_id="s-1",
            tenders=(card("fp-A", 4000),),
        )
    )
    someone_else = s.score(
        other(
            "refund",
            "r-2",
            at(1.2),
            "emp-2",
            amount=4000,
            receipt_id="s-1",
            tenders=(card("fp-A", 4000),),
        )
    )
    next_week = s.score(
        other(
            "refund",
            "r-3",
            at(1, day=7),
            "emp-1",
            amount=4000,
            receipt_id="s-1",
            tenders=(card("fp-A", 4000),),
        )
    )
    assert "quick_refund_same_employee" in codes(own)
    assert "quick_refund_same_employee" not in codes(someone_else)
    assert "quick_refund_same_employee" not in codes(next_week)


def test_void_after_tender_and_an_employees_post_voids() -> None:
    s = warmed()
    before = s.score(other("void", "s-v0", at(1), "emp-2", amount=2000, after_tender=False))
    assert "void_after_tender" not in codes(before)
    after = s.score(other("void", "s-v1", at(1), "emp-2", amount=2000, after_tender=True))
    assert codes(after)["void_after_tender"] >= 0.3
    last = None
    for k in range(8):
        s.assess(sale(f"s-p{k}", at(1 + k * 0.3), "emp-1", 3000))
        last = s.assess(other("void", f"s-p{k}", at(1.1 + k * 0.3), "emp-1", after_tender=True))
    assert last is not None
    assert codes(last)["post_void"] > 0.3 and last.decision != "allow"
    assert last.reasons[0].evidence.get("amount") == 3000 or any(
        r.evidence.get("amount") == 3000 for r in last.reasons
    )  # the void's amount is taken from the sale it voids


def test_no_sale_drawer_opens_tail_of_peers() -> None:
    s = warmed()
    peer = s.assess(other("no_sale", "ns-peer", at(1), "emp-2"))
    assert codes(peer)["no_sale_drawer"] < 0.2
    last = None
    for k in range(10):
        last = s.assess(other("no_sale", f"ns-{k}", at(1 + k * 0.4), "emp-1"))
    assert last is not None and codes(last)["no_sale_drawer"] >= 0.5


def test_discounts_of_an_outlying_employee() -> None:
    s = warmed()
    peer = s.score(sale("s-peer", at(1), "emp-2", 1900, discount=100))
    assert codes(peer).get("discount_rate", 0) < 0.3
    last = None
    for k in range(8):
        last = s.assess(sale(f"s-d{k}", at(1 + k * 0.3), "emp-1", 1400, discount=600))
    assert last is not None and codes(last)["discount_rate"] >= 0.5


def test_manual_price_overrides_of_an_outlying_employee() -> None:
    s = warmed()
    line = (LineFact("SKU-9", 1.0, 1500, original_unit_price=2500),)
    peer = s.assess(
        other(
            "price_override",
            "o-peer",
            at(1),
            "emp-2",
            amount=1500,
            discount=1000,
            override_count=1,
            lines=line,
        )
    )
    assert codes(peer)["price_override"] < 0.5
    last = None
    for k in range(8):
        last = s.assess(
            other(
                "price_override",
                f"o-{k}",
                at(1 + k * 0.3),
                "emp-1",
                amount=1500,
                discount=1000,
                override_count=1,
                lines=line,
            )
        )
    assert last is not None and codes(last)["price_override"] >= 0.5


def test_keyed_cards_and_split_tenders_of_an_outlying_employee() -> None:
    s = warmed()
    peer = s.score(sale("s-peer", at(1), "emp-2", 3000, tenders=(card("fp-k", 3000, "keyed"),)))
    assert codes(peer)["keyed_card"] < 0.2
    split = (card("fp-1", 1000), card("fp-2", 1000), cash(1000))
    peer_split = s.score(sale("s-peer2", at(1), "emp-2", 3000, tenders=split))
    assert codes(peer_split)["split_tender"] < 0.2
    last_keyed = last_split = None
    for k in range(10):
        last_keyed = s.assess(
            sale(
                f"s-k{k}",
                at(1 + k * 0.2),
                "emp-1",
                3000,
                tenders=(card(f"fp-k{k}", 3000, "keyed"),),
            )
        )
        last_split = s.assess(sale(f"s-s{k}", at(1.1 + k * 0.2), "emp-1", 3000, tenders=split))
    assert last_keyed is not None and last_split is not None
    assert codes(last_keyed)["keyed_card"] >= 0.4
    assert codes(last_split)["split_tender"] >= 0.3


def test_card_testing_burst_on_one_register() -> None:
    s = warmed()
    one = s.score(
        sale(
            "s-small", at(1), "emp-3", 100, register="reg-X", tenders=(card("fp-t0", 100, "keyed"),)
        )
    )
    assert codes(one).get("card_testing", 0) < 0.2
    last = None
    for k in range(8):
        last = s.assess(
            sale(
                f"s-t{k}",
                at(1) + timedelta(minutes=k),
                "emp-3",
                100 + k,
                register="reg-X",
                tenders=(card(f"fp-t{k}", 100 + k, "keyed"),),
            )
        )
    assert last is not None
    assert codes(last)["card_testing"] >= 0.5
    ev = next(r for r in last.reasons if r.code == "card_testing").evidence
    assert ev["attempts"] == 8 and ev["distinct_cards"] == 8


def test_gift_card_purchase_burst() -> None:
    s = warmed()
    gift = (LineFact("GIFT-CARD", 1.0, 5000, name="Gift card"),)
    first = s.assess(sale("g-0", at(1), "emp-4", 5000, lines=gift))
    assert codes(first)["gift_card_burst"] < 0.2
    last = None
    for k in range(1, 5):
        last = s.assess(sale(f"g-{k}", at(1) + timedelta(minutes=8 * k), "emp-4", 5000, lines=gift))
    assert last is not None and codes(last)["gift_card_burst"] >= 0.5


def test_high_value_return() -> None:
    s = warmed()
    for k in range(40):  # ordinary returns with receipts
        s.assess(
            other(
                "refund",
                f"r-n{k}",
                at(1 + k * 0.1),
                f"emp-{k % 6 + 1}",
                amount=1000 + 50 * k,
                receipt_id=f"{'conn:store-1'}-s{k + 1}",
            )
        )
    normal = s.score(other("refund", "r-a", at(6), "emp-2", amount=1500, receipt_id="x"))
    huge = s.score(other("refund", "r-b", at(6), "emp-2", amount=90000, receipt_id="x"))
    assert "high_value_return" not in codes(normal)
    assert codes(huge)["high_value_return"] > 0.2


def test_serial_returner() -> None:
    s = warmed()
    once = None
    for k in range(6):
        day = at(1, day=k * 3)
        s.assess(
            sale(f"c-s{k}", day, "emp-2", 3000, customer="cust-9", tenders=(card("fp-c9", 3000),))
        )
        once = s.assess(
            other(
                "refund",
                f"c-r{k}",
                day + timedelta(days=1),
                "emp-3",
                amount=3000,
                receipt_id=f"c-s{k}",
                customer_id="cust-9",
                tenders=(card("fp-c9", 3000),),
            )
        )
    assert once is not None and codes(once)["serial_returner"] >= 0.5
    s.assess(sale("o-s", at(2), "emp-2", 3000, customer="cust-1"))
    s.assess(sale("o-s2", at(3), "emp-2", 3000, customer="cust-1"))
    one = s.score(
        other("refund", "o-r", at(4), "emp-3", amount=1000, receipt_id="o-s", customer_id="cust-1")
    )
    assert "serial_returner" not in codes(one)


def test_odd_hour_for_this_store() -> None:
    s = warmed()
    night = s.score(sale("n-1", END.replace(hour=3), "emp-1", 2000))
    day = s.score(sale("n-2", END.replace(hour=11), "emp-1", 2000))
    assert codes(night)["odd_hour"] > 0.2
    assert "odd_hour" not in codes(day)
