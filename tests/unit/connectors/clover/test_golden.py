"""Golden tests: each Clover corpus payload → canonical JSON written by hand in
tests/fixtures/payloads/clover/*.expected.json (from the documented semantics)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tillwise.connectors.clover import make_connector
from tillwise.domain.money import Money
from tillwise.domain.sales import EntryMethod, Payment, PaymentStatus, Transaction
from tillwise.ports.platform import PayloadError

from .._coverage import assert_corpus_covered
from ._golden import AUTH, PAYLOADS, RECEIVED, batch_key, delivery, patched, resolve

connector = make_connector({})
CASES = sorted(p.name.removesuffix(".expected.json") for p in PAYLOADS.glob("*.expected.json"))


def test_every_corpus_payload_has_a_golden() -> None:
    assert_corpus_covered(PAYLOADS, {}, at_least=6)  # every Clover corpus file is a stored kind
    assert {"order_1_paid", "order_400_paid"} <= set(CASES)


def _body(case: str, expected: dict[str, Any]) -> bytes:
    if "source" in expected:
        return patched(expected["source"], expected["patch"])
    return (PAYLOADS / f"{case}.json").read_bytes()


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    expected = json.loads((PAYLOADS / f"{case}.expected.json").read_text())
    body = _body(case, expected)
    conn, topic = expected["connection_id"], expected["topic"]
    if topic.startswith("resource:"):
        event_id = expected["event_id"]
    else:  # a webhook: the event id and topic come from verify
        headers = {} if topic == "verification" else {"X-Clover-Auth": AUTH}
        verified = connector.verify(body, headers, [AUTH], RECEIVED)
        assert verified.topic == topic
        want_id = expected.get("event_id") or batch_key(expected["event_id_keys"])
        assert verified.event_id == want_id
        assert verified.reply == expected.get("reply")
        event_id = verified.event_id
    want = resolve({k: expected[k] for k in ("records", "events", "fetches")}, conn, event_id)
    got = connector.normalize(delivery(body, topic, event_id, conn)).model_dump(mode="json")
    assert got == want


def test_paid_order_400_keeps_one_line_per_unit_and_order_level_tax() -> None:
    body = patched("api__order_expanded_400_lineitems__sdk_test_400.json", {"paymentState": "PAID"})
    batch = connector.normalize(delivery(body, "resource:orders", "YCA2DNWJ6H9KY:1"))
    txn = batch.records[0]
    assert isinstance(txn, Transaction)
    assert len(txn.lines) == 400
    assert sum(t.amount.amount for t in txn.taxes) == 124971
    assert txn.computed_total() == txn.total and txn.issues == ()


@pytest.mark.parametrize(("state", "sale"), [("locked", True), ("paid", True), ("open", False)])
def test_without_a_payment_state_the_order_state_says_whether_it_is_a_sale(
    state: str, sale: bool
) -> None:
    body = patched("api__order_expanded_lineitems_taxrates__sdk_test_1.json", {"state": state})
    batch = connector.normalize(delivery(body, "resource:orders", "x:1"))
    assert [r.kind for r in batch.records] == (["transaction"] if sale else [])
    assert [e.type for e in batch.events] == (["sale.completed"] if sale else [])


def test_total_disagreeing_with_lines_is_flagged_not_fixed() -> None:
    body = patched(
        "api__order_expanded_lineitems_taxrates__sdk_test_1.json",
        {"paymentState": "PAID", "total": 1500},
    )
    [txn, *_] = connector.normalize(delivery(body, "resource:orders", "x:1")).records
    assert isinstance(txn, Transaction)
    assert txn.total.amount == 1500
    [issue] = txn.issues
    assert issue.difference is not None and issue.difference.amount == -45


def test_order_with_payments_discounts_refunds_and_unit_qty() -> None:
    order = {
        "id": "ORDER00000001",
        "href": "https://api.clover.com/v3/merchants/MERCHANT00001/orders/ORDER00000001",
        "currency": "USD",
        "total": 980,
        "paymentState": "PARTIALLY_REFUNDED",
        "createdTime": 1700000000000,
        "modifiedTime": 1700000100000,
        "customers": {"elements": [{"id": "CUSTOMER00001"}]},
        "lineItems": {
            "elements": [
                {
                    "id": "LI1",
                    "item": {"id": "ITEM000000001"},
                    "name": "Coffee beans",
                    "price": 2000,
                    "unitQty": 500,
                    "discounts": {"elements": [{"name": "10%", "percentage": 10}]},
                    "taxRates": {"elements": [{"id": "T1", "name": "VAT", "rate": 2000000}]},
                }
            ]
        },
        "discounts": {"elements": [{"name": "Loyalty", "amount": -100}]},
        "payments": {
            "elements": [
                {
                    "id": "PAY1",
                    "amount": 980,
                    "tipAmount": 100,
                    "result": "SUCCESS",
                    "tender": {"labelKey": "com.clover.tender.credit_card"},
                    "cardTransaction": {"last4": "4242", "entryType": "EMV_CONTACT"},
                },
                {"id": "PAY0", "amount": 1080, "result": "FAIL", "tender": {}},
            ]
        },
        "refunds": {"elements": [{"id": "REF1", "amount": 500, "createdTime": 1700000200000}]},
    }
    batch = connector.normalize(
        delivery(json.dumps(order).encode(), "resource:orders", "ORDER00000001:1700000100000")
    )
    txn, paid, failed, refund = batch.records
    assert isinstance(txn, Transaction)
    [line] = txn.lines
    assert str(line.quantity) == "0.5" and line.net.amount == 900  # 1000 less 10 %
    assert [t.amount.amount for t in txn.taxes] == [180]  # 20 % of 900
    assert txn.discounts[0].amount.amount == 100
    assert txn.total.amount == 980 and txn.issues == ()  # 900 - 100 + 180
    [tender] = txn.tenders  # the failed payment is no tender; the tip is not in the amount
    assert (tender.type.value, tender.amount.amount, tender.card_last4) == ("card", 980, "4242")
    assert txn.location_external_id == "MERCHANT00001"
    assert txn.customer_external_id == "CUSTOMER00001"
    assert refund.kind == "refund" and refund.total.amount == 500
    # expanded payments are Payment records (no events): amount = amount + tip, tip apart
    assert isinstance(paid, Payment) and isinstance(failed, Payment)
    assert (paid.status, paid.amount.amount, paid.tip) == (
        PaymentStatus.COMPLETED,
        1080,
        Money(amount=100, currency="USD"),
    )
    assert (paid.entry_method, paid.card_last4) == (EntryMethod.DIPPED, "4242")
    assert paid.occurred_at == txn.occurred_at  # no createdTime: the order's
    assert (failed.status, failed.amount.amount) == (PaymentStatus.FAILED, 1080)
    assert [e.type for e in batch.events] == ["sale.completed", "refund.created"]


@pytest.mark.parametrize(
    ("topic", "body", "field"),
    [
        ("resource:orders", b"[1]", "$"),
        ("resource:orders", b"not json", "$"),
        ("resource:orders", b'{"id": "A", "paymentState": "PAID", "createdTime": 1}', "$.total"),
        ("resource:customers", b'{"firstName": "x"}', "$.id"),
        (
            "notification",
            b'{"merchants": {"M": [{"objectId": "O1", "type": "CREATE", "ts": 1}]}}',
            "merchants.M[0].objectId",
        ),
    ],
)
def test_bad_shapes_name_the_json_path(topic: str, body: bytes, field: str) -> None:
    with pytest.raises(PayloadError) as err:
        connector.normalize(delivery(body, topic, "e"))
    assert err.value.field == field


def test_other_kinds_normalize_to_nothing() -> None:
    note = {
        "appId": "APP",
        "merchants": {
            "M1": [
                {"objectId": "A:APP", "type": "UPDATE", "ts": 1},
                {"objectId": "O:GONE", "type": "DELETE", "ts": 2},
                {"objectId": "IC:CAT", "type": "CREATE", "ts": 3},
            ]
        },
    }
    batch = connector.normalize(delivery(json.dumps(note).encode(), "notification", "e"))
    assert batch.records == () and batch.fetches == () and batch.events == ()
    assert connector.normalize(delivery(b"{}", "resource:tenders", "e")).records == ()


def test_notification_across_merchants_groups_fetches_by_resource() -> None:
    note = {
        "merchants": {
            "M1": [
                {"objectId": "O:A", "type": "UPDATE", "ts": 1},
                {"objectId": "P:B", "type": "CREATE", "ts": 2},
                {"objectId": "O:A", "type": "UPDATE", "ts": 3},
            ],
            "M2": [
                {"objectId": "C:C", "type": "CREATE", "ts": 4},
                {"objectId": "I:D", "type": "UPDATE", "ts": 5},
            ],
        }
    }
    batch = connector.normalize(delivery(json.dumps(note).encode(), "notification", "e"))
    assert {f.resource: f.ids for f in batch.fetches} == {
        "orders": ("M1/A",),
        "payments": ("M1/B",),
        "customers": ("M2/C",),
        "items": ("M2/D",),
    }
