"""The loss-pattern injector over the simulator POS's stream: seeded, labelled, general."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.risk.make_fixtures import invoices
from tillwise.connectors.simulator.export import webhook_bodies
from tillwise.workflows.risk.injector import (
    CardTesting,
    DiscountAbuse,
    RefundsWithoutSale,
    Scored,
    default_patterns,
    evaluate_flags,
    event_time,
    inject,
    pattern_from_dict,
)

EMPLOYEE = "store-united-kingdom:emp-1"  # the simulator's ids


@pytest.fixture(scope="module")
def stream() -> list[dict]:
    return webhook_bodies(invoices(), seed=1)


def test_the_simulator_stream_has_staff_registers_tenders_and_receipts(stream: list[dict]) -> None:
    assert stream[0]["event"] == "location.updated"
    times = [b["created_at"] for b in stream]
    assert times == sorted(times)  # send order is time order
    sales = [b["data"] for b in stream if b["event"] == "sale.completed"]
    assert all(s["employee_id"] and s["register_id"] and s["tenders"] for s in sales)
    assert (
        sum(t["amount"]["amount"] for t in sales[0]["tenders"]) == sales[0]["total_money"]["amount"]
    )
    refunds = [b["data"] for b in stream if b["event"] == "refund.created"]
    assert refunds and all(r["receipt_transaction_id"] for r in refunds)  # all matchable here
    kinds = {b["event"] for b in stream}
    assert {"drawer.opened", "sale.voided", "price.overridden"} <= kinds  # the background
    assert webhook_bodies(invoices(), seed=1) == stream  # seeded
    assert webhook_bodies(invoices(), seed=2) != stream
    assert len(webhook_bodies(invoices(), seed=1, limit=50)) == 50


def test_injection_is_seeded_labelled_and_leaves_the_input_alone(stream: list[dict]) -> None:
    before = copy.deepcopy(stream)
    patterns = default_patterns(1, seed=3)
    a = inject(stream, patterns, seed=3)
    assert stream == before
    b = inject(stream, default_patterns(1, seed=3), seed=3)
    assert json.dumps(a.events) == json.dumps(b.events) and a.labels == b.labels
    names = {lab["pattern"] for lab in a.labels}
    assert {"refunds_without_sale", "card_testing", "discount_abuse", "serial_returner"} <= names
    ids = {(x["event"], str(x["data"].get("id"))) for x in a.events}
    assert all((lab["event"], lab["id"]) in ids for lab in a.labels)
    assert [event_time(x) for x in a.events] == sorted(event_time(x) for x in a.events)


def test_pattern_parameters_are_honoured(stream: list[dict]) -> None:
    start = datetime(2024, 1, 20, 10, tzinfo=UTC)
    burst = CardTesting(attempts=9, minutes=6, amount_range=(40, 90), cards=1, start=start)
    result = inject(stream, [burst], seed=0)
    events = [
        x for x in result.events if x["data"].get("id") in {lab["id"] for lab in result.labels}
    ]
    assert len(events) == 9
    times = [event_time(x) for x in events]
    assert max(times) - min(times) <= timedelta(minutes=6)
    assert {x["data"]["tenders"][0]["card_fingerprint"] for x in events}.__len__() == 1
    assert all(40 <= x["data"]["total_money"]["amount"] <= 90 for x in events)
    refunds = inject(
        stream,
        [RefundsWithoutSale(per_day=4, days=3, receipt="fake", employee=EMPLOYEE)],
        seed=0,
    )
    assert refunds.labels
    assert all(
        x["data"]["employee_id"] == EMPLOYEE
        for x in refunds.events
        if x["data"].get("id") in {lab["id"] for lab in refunds.labels}
    )
    abuse = inject(
        stream, [DiscountAbuse(share=1.0, depth=(0.5, 0.5), days=5, start=start)], seed=0
    )
    altered = [
        x
        for x in abuse.events
        if x["event"] == "sale.completed" and x["data"]["id"] in {lab["id"] for lab in abuse.labels}
    ]
    assert altered and all(x["data"]["discounts"] for x in altered)


def test_patterns_from_json_and_their_errors() -> None:
    p = pattern_from_dict({"pattern": "card_testing", "attempts": 20, "amount_range": [1, 5]})
    assert isinstance(p, CardTesting) and p.attempts == 20 and p.amount_range == (1, 5)
    with pytest.raises(ValueError, match="unknown pattern"):
        pattern_from_dict({"pattern": "nope"})
    with pytest.raises(ValueError, match="unknown parameter"):
        pattern_from_dict({"pattern": "card_testing", "size": 3})


def test_precision_and_recall_at_a_capacity() -> None:
    scored = [
        Scored("sale.completed", f"s{k}", "st", "2024-W01", k / 100, "review") for k in range(30)
    ]
    scored.append(Scored("sale.completed", "quiet", "st", "2024-W01", 0.1, "allow"))
    labels = [
        {"event": "sale.completed", "id": "s29", "pattern": "p", "case": "a"},
        {"event": "sale.completed", "id": "s0", "pattern": "p", "case": "a"},
        {"event": "sale.refunded", "id": "missing", "pattern": "q", "case": "b"},
    ]
    ev = evaluate_flags(scored, labels, capacity=10)
    assert ev.selected == 10 and ev.hits == 1
    assert ev.precision == pytest.approx(0.1)
    assert ev.recall == pytest.approx(1 / 3)  # s0 ranked too low; "missing" never scored
    assert ev.case_recall == pytest.approx(0.5)
    assert ev.untouched == 29 and ev.untouched_flagged == 28


def test_card_testing_as_payment_attempts_mostly_declined(stream: list[dict]) -> None:
    p = CardTesting(attempts=12, minutes=8, cards=0, as_attempts=True, decline_share=0.8)
    out = inject(stream, [p], seed=3)
    payments = [
        b for b in out.events if b["event"] == "payment.updated" and "inj-" in b["data"]["id"]
    ]
    assert len(payments) == 12
    failed = [b for b in payments if b["data"]["status"] == "failed"]
    assert len(failed) > len(payments) / 2 and all(b["data"]["sale_id"] is None for b in failed)
    sales = {b["data"]["id"] for b in out.events if b["event"] == "sale.completed"}
    done = [b["data"] for b in payments if b["data"]["status"] == "completed"]
    assert all(d["sale_id"] in sales for d in done)  # a completed attempt pays its sale
    assert len({d["data"]["register_id"] for d in payments}) == 1
    labelled = {(x["event"], x["id"]) for x in out.labels}
    assert all(("payment.updated", b["data"]["id"]) in labelled for b in payments)
    assert len(out.labels) == 12 + len(done)
    assert [event_time(b) for b in out.events] == sorted(event_time(b) for b in out.events)
    # the default is unchanged: sales only
    plain = inject(stream, [CardTesting(attempts=5)], seed=3)
    assert {x["event"] for x in plain.labels} == {"sale.completed"}
