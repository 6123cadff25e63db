"""Square normalization rules beyond the corpus goldens: states, errors with their JSON path,
and the same object arriving by webhook or from the API."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fakes.square import corpus
from tillwise.connectors.square.normalize import normalize, parse_time
from tillwise.domain.sales import IssueCode, Transaction, TransactionStatus
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import PayloadError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _deliver(body: Any, topic: str, event_id: str = "evt-1") -> RawDelivery:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawDelivery(
        platform="square",
        connection_id="con_sq",
        event_id=event_id,
        topic=topic,
        body=raw,
        received_at=NOW,
    )


def _paid_order() -> dict[str, Any]:
    return copy.deepcopy(corpus("api__pay_order_response.json")["order"])


def test_a_cancelled_order_is_a_voided_transaction_that_withdraws_its_sale() -> None:
    order = _paid_order()
    order["state"] = "CANCELED"
    batch = normalize(_deliver(order, "resource:orders"))
    [txn] = batch.records
    assert isinstance(txn, Transaction) and txn.status is TransactionStatus.VOIDED
    assert [(e.type, e.subject) for e in batch.events] == [("sale.voided", txn.id)]


def test_a_tip_in_the_total_is_kept_and_flagged_not_fixed() -> None:
    order = _paid_order()
    order["total_money"] = {"amount": 2300, "currency": "USD"}  # 3.00 tip, no canonical field
    [txn] = normalize(_deliver(order, "resource:orders")).records
    assert isinstance(txn, Transaction) and txn.total.amount == 2300
    [issue] = txn.issues
    assert issue.code is IssueCode.TOTAL_MISMATCH
    assert issue.difference is not None and issue.difference.amount == 300


def test_zero_decimal_currency_and_decimal_quantities() -> None:
    order = _paid_order()
    order["tenders"] = []
    order["total_money"] = {"amount": 1500, "currency": "JPY"}
    order["line_items"] = [
        {
            "name": "Rice (kg)",
            "quantity": "1.5",
            "base_price_money": {"amount": 1000, "currency": "JPY"},
        }
    ]
    [txn] = normalize(_deliver(order, "resource:orders")).records
    assert isinstance(txn, Transaction)
    assert str(txn.lines[0].quantity) == "1.5" and txn.lines[0].unit_price.amount == 1000
    assert txn.total.currency == "JPY" and txn.issues == ()


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda o: o["total_money"].update(amount=20.0), "$.total_money.amount"),
        (lambda o: o["line_items"][1].update(quantity=2), "$.line_items[1].quantity"),
        (
            lambda o: o["line_items"][0]["base_price_money"].update(currency="EUR"),
            "$.line_items[0].base_price_money.currency",
        ),
        (lambda o: o.update(closed_at="yesterday"), "$.closed_at"),
        (lambda o: o["tenders"][0].pop("amount_money"), "$.tenders[0].amount_money"),
        (lambda o: o.update(line_items="none"), "$.line_items"),
    ],
)
def test_bad_orders_name_the_json_path(mutate: Any, field: str) -> None:
    order = _paid_order()
    mutate(order)
    with pytest.raises(PayloadError) as err:
        normalize(_deliver(order, "resource:orders"))
    assert err.value.field == field


def test_a_webhook_missing_its_object_names_the_path() -> None:
    body = corpus("webhook__refund_created_event.json")
    del body["data"]["object"]["refund"]
    with pytest.raises(PayloadError) as err:
        normalize(_deliver(body, "refund.created"))
    assert err.value.field == "$.data.object.refund"


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]"])
def test_a_body_that_is_not_a_json_object(raw: bytes) -> None:
    with pytest.raises(PayloadError) as err:
        normalize(_deliver(raw, "payment.created"))
    assert err.value.field == "$"


def test_unknown_topics_and_resources_are_empty() -> None:
    body = corpus("webhook__refund_created_event.json")
    assert normalize(_deliver(body, "invoice.published")).model_dump() == {
        "records": (),
        "events": (),
        "fetches": (),
    }
    assert normalize(_deliver({"id": "x"}, "resource:gift_cards")).records == ()


def test_rejected_refunds_store_nothing() -> None:
    refund = corpus("api__get_payment_refund_response.json")["refund"]
    refund["status"] = "REJECTED"
    assert normalize(_deliver(refund, "resource:refunds")).records == ()


@pytest.mark.parametrize(
    ("topic", "key", "resource", "fixture"),
    [
        ("refund.created", "refund", "refunds", "webhook__refund_created_event.json"),
        ("customer.created", "customer", "customers", "webhook__customer_created_event.json"),
        ("vendor.updated", "vendor", "vendors", "webhook__vendor_updated_event.json"),
        (
            "labor.timecard.updated",
            "timecard",
            "timecards",
            "webhook__labor_timecard_updated_event.json",
        ),
    ],
)
def test_webhook_snapshot_and_api_object_give_the_same_records(
    topic: str, key: str, resource: str, fixture: str
) -> None:
    body = corpus(fixture)
    pushed = normalize(_deliver(body, topic)).records
    fetched = normalize(_deliver(body["data"]["object"][key], f"resource:{resource}")).records
    assert pushed and pushed == fetched


def test_inventory_webhook_keeps_only_in_stock_counts() -> None:
    body = corpus("webhook__inventory_count_updated_event.json")
    counts = body["data"]["object"]["inventory_counts"]
    counts.append({**counts[0], "state": "SOLD", "quantity": "3"})
    counts.append({**counts[0], "location_id": "OTHER", "quantity": "2.5"})
    batch = normalize(_deliver(body, "inventory.count.updated", "evt-inv"))
    assert [(r.location_external_id, str(r.on_hand)) for r in batch.records] == [
        ("YYQR03DGCTXA4", "10"),
        ("OTHER", "2.5"),
    ]
    assert len({e.id for e in batch.events}) == 2  # one event per level, distinct ids


def test_stock_adjustments_become_movements() -> None:
    adj = corpus("api__retrieve_inventory_adjustment_response.json")["adjustment"]
    adj["occurred_at"] = "2016-11-16T23:44:22.837Z"  # the corpus has hour 25
    [move] = normalize(_deliver(adj, "resource:inventory_adjustments")).records
    assert move.kind == "inventory_movement"
    assert (str(move.delta), move.reason.value) == ("-7", "sale")
    adj.update(from_state="NONE", to_state="IN_STOCK")
    [receipt] = normalize(_deliver(adj, "resource:inventory_adjustments")).records
    assert (str(receipt.delta), receipt.reason.value) == ("7", "receipt")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-10-29T17:26:16.808603647Z", datetime(2019, 10, 29, 17, 26, 16, 808603, tzinfo=UTC)),
        ("2019-01-21T03:11:00-05:00", datetime(2019, 1, 21, 8, 11, tzinfo=UTC)),
        ("2016-11-16T22:25:24Z", datetime(2016, 11, 16, 22, 25, 24, tzinfo=UTC)),
    ],
)
def test_rfc3339_times(value: str, expected: datetime) -> None:
    assert parse_time(value, "$.t") == expected


@pytest.mark.parametrize(
    "value", ["2016-11-16T25:44:22.837Z", "2016-11-16 22:25:24", 1573000000, None]
)
def test_bad_times_are_payload_errors(value: Any) -> None:
    with pytest.raises(PayloadError) as err:
        parse_time(value, "$.t")
    assert err.value.field == "$.t"


def test_normalize_is_deterministic_and_event_ids_depend_on_the_delivery() -> None:
    body = corpus("webhook__refund_created_event.json")
    a = normalize(_deliver(body, "refund.created", "evt-a"))
    assert a == normalize(_deliver(body, "refund.created", "evt-a"))
    b = normalize(_deliver(body, "refund.created", "evt-b"))
    assert a.records == b.records and a.events[0].id != b.events[0].id
