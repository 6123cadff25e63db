"""The simulator's till scheme (connectors/simulator/tills.py): cashiers, registers and tenders
on every sale and refund, and the occasional void, post-void, no-sale and price override — at
the documented rates, the same for a seed, different for another."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from tillwise.connectors.simulator.dataset import Invoice, load_invoices
from tillwise.connectors.simulator.replay import SimEvent, build_replay
from tillwise.connectors.simulator.tills import Tills


@pytest.fixture(scope="module")
def invoices() -> list[Invoice]:
    return load_invoices()[:2500]


def _events(invoices: list[Invoice], seed: int = 7) -> list[SimEvent]:
    return [s for s in build_replay(invoices, seed=seed).steps if isinstance(s, SimEvent)]


def test_every_sale_and_refund_has_a_cashier_register_and_tenders(invoices: list[Invoice]) -> None:
    events = _events(invoices)
    cashiers = {e.data["id"] for e in events if e.event == "employee.updated"}
    for e in events:
        if e.event in ("sale.completed", "refund.created"):
            assert e.data["employee_id"] in cashiers
            assert e.data["register_id"].startswith(e.data["location_id"] + ":reg-")
            paid = sum(t["amount"]["amount"] for t in e.data["tenders"])
            assert paid == e.data["total_money"]["amount"]


def test_tenders_follow_the_scheme(invoices: list[Invoice]) -> None:
    sales = [e for e in _events(invoices) if e.event == "sale.completed"]
    kinds = Counter(t["type"] for s in sales for t in s.data["tenders"])
    assert kinds["card"] > kinds["cash"] > 0 and kinds["wallet"] > 0
    split = [s for s in sales if len(s.data["tenders"]) == 2]
    assert 0 < len(split) < 0.06 * len(sales)
    by_customer: dict[str, set[str]] = {}
    for s in sales:
        for t in s.data["tenders"]:
            if t["type"] == "card" and s.data["customer_id"]:
                by_customer.setdefault(s.data["customer_id"], set()).add(t["card_fingerprint"])
    assert all(len(fps) == 1 for fps in by_customer.values())  # one card per customer
    methods = Counter(
        t.get("entry_method") for s in sales for t in s.data["tenders"] if t["type"] == "card"
    )
    assert set(methods) <= {"tapped", "dipped", "swiped", "keyed"} and methods["keyed"] > 0


def test_occasional_till_events_at_the_documented_rates(invoices: list[Invoice]) -> None:
    events = _events(invoices)
    n = len(invoices)
    count = Counter(e.event for e in events)
    assert 0 < count["drawer.opened"] < 0.02 * n
    assert 0 < count["price.overridden"] < 0.02 * n
    voids = [e for e in events if e.event == "sale.voided"]
    assert 0 < len(voids) < 0.012 * n
    post = [v for v in voids if v.data["after_tender"]]
    assert post and all(v.data["id"].startswith("PV") for v in post)
    assert all(v.data["id"].startswith("V") for v in voids if not v.data["after_tender"])
    for e in events:
        if e.event == "price.overridden":
            assert Decimal(e.data["new_price"]) < Decimal(e.data["original_price"])
    refunds = [e for e in events if e.event == "refund.created"]
    assert any(r.data["receipt_transaction_id"] for r in refunds)


def test_same_seed_same_replay_other_seed_other_tills(invoices: list[Invoice]) -> None:
    head = invoices[:300]
    assert [e.body() for e in _events(head)] == [e.body() for e in _events(list(head))]
    a = [e.data.get("employee_id") for e in _events(head, seed=1)]
    b = [e.data.get("employee_id") for e in _events(head, seed=2)]
    assert a != b
    assert Tills(seed=3).chance("x", "y") == Tills(seed=3).chance("x", "y")


def test_declined_attempts_come_at_their_documented_rate_before_a_card_sale() -> None:
    from tillwise.connectors.simulator.tills import DECLINE_RATE, Tills

    tills = Tills()
    card = [{"type": "card", "amount": {"amount": 900, "currency": "GBP"}, "last4": "4242"}]
    cash = [{"type": "cash", "amount": {"amount": 900, "currency": "GBP"}}]
    hits = [k for k in range(20_000) if tills.declined_first(str(k), card) is not None]
    assert 0.5 * DECLINE_RATE * 20_000 < len(hits) < 1.5 * DECLINE_RATE * 20_000
    assert all(tills.declined_first(str(k), cash) is None for k in hits)  # cash is never declined
    assert Tills().declined_first(str(hits[0]), card) == card[0]  # seeded: the same every time
