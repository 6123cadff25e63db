"""Normalizer rules beyond the corpus: rounding, refunds, voids, bad shapes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from tillwise.connectors.lightspeed_x import make_connector
from tillwise.domain.normalized import Fetch
from tillwise.domain.sales import IssueCode, Refund, Transaction, TransactionStatus
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import PayloadError

from ._golden import CONNECTION, FIXTURES, RECEIVED, form_body

connector = make_connector({})
CONFIG = {"currency": "NZD"}  # the connection's (X-Series objects name no currency)


def _sale(**changes: Any) -> dict[str, Any]:
    sale = json.loads((FIXTURES / "api2__get_sales__sale_id__200.json").read_text())["data"]
    sale.update(changes)
    return sale


def _run(obj: Any, topic: str = "resource:sales", config: Any = CONFIG) -> Any:
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return connector.normalize(
        RawDelivery("lightspeed-x", CONNECTION, "e:1", topic, body, RECEIVED), config
    )


def _line(price: str, qty: str, tax: str, **extra: Any) -> dict[str, Any]:
    line = {"product_id": "p1", "quantity": qty, "price": price, "tax": tax, "discount": "0"}
    line.update(extra)
    return line


def test_three_tax_inclusive_8_dollar_items_keep_their_24_dollar_total() -> None:
    # 8.00 incl. 15 % GST = 6.95652 + 1.04348: 3 units → 20.86956 + 3.13044 = 24.00
    sale = _sale(
        line_items=[_line("6.95652", "3", "1.04348", price_total="20.86956", tax_total="3.13044")],
        adjustments=[],
        total_price="20.86956",
        total_tax="3.13044",
    )
    txn, *_payments = _run(sale).records
    assert isinstance(txn, Transaction)
    (line,) = txn.lines
    assert line.unit_price.amount == 696 and line.quantity == 3
    # 6.96 × 3 = 20.88 but the line is 20.87: one cent of rounding, named
    assert [(d.name, d.amount.amount) for d in line.discounts] == [("rounding", 1)]
    assert line.net.amount == 2087 and line.taxes[0].amount.amount == 313
    assert txn.total.amount == 2400 and txn.issues == ()


def test_when_line_rounding_disagrees_with_the_reported_total_it_is_flagged() -> None:
    # each line rounds half-even down (1.005 → 1.00, 0.005 → 0.00), the total 1.01 does not
    sale = _sale(
        line_items=[_line("1.005", "1", "0.005")],
        adjustments=[],
        payments=[],
        total_price="1.005",
        total_tax="0.005",
    )
    (txn,) = _run(sale).records
    assert txn.total.amount == 101
    (issue,) = txn.issues
    assert issue.code == IssueCode.TOTAL_MISMATCH and issue.difference.amount == 1


def test_a_discount_is_kept_beside_the_list_price() -> None:
    sale = _sale(
        line_items=[_line("90", "2", "13.5", discount="10")],
        adjustments=[],
        total_price="180",
        total_tax="27",
    )
    txn, *_payments = _run(sale).records
    (line,) = txn.lines
    assert line.unit_price.amount == 10000
    assert [(d.name, d.amount.amount) for d in line.discounts] == [("discount", 2000)]
    assert line.net.amount == 18000 and txn.issues == ()


def test_a_closed_return_sale_is_a_refund_of_the_original() -> None:
    ret = json.loads((FIXTURES / "api2__put_sales__sale_id_actions_return__200.json").read_text())
    sale = dict(ret["data"], status="CLOSED")
    batch = _run(sale)
    (refund,) = batch.records
    assert isinstance(refund, Refund)
    assert refund.transaction_external_id == "b8ca3a65-0183-11e4-fbb5-39f7fce5e39b"
    assert refund.total.amount == 23000  # 200 + 30 tax given back
    assert [(ln.sku, ln.quantity, ln.amount.amount) for ln in refund.lines] == [
        ("188a87aa-06fe-11e4-a0f5-b8ca3a64f8f4", Decimal(1), 23000),
        ("188a87aa-06fe-11e4-a0f5-b8ca3a64f8f4", Decimal(1), 0),
    ]
    assert refund.issues == ()
    assert [e.type for e in batch.events] == ["refund.created"]


def test_a_voided_sale_is_recorded_without_an_event_and_a_parked_one_not_at_all() -> None:
    voided = _run(_sale(status="VOIDED"))
    assert [r.status for r in voided.records if isinstance(r, Transaction)] == [
        TransactionStatus.VOIDED
    ]
    assert voided.events == ()
    assert _run(_sale(status="LAYBY")) == _run(_sale(status="SAVED")) == type(voided)()


def test_a_sale_webhook_without_an_outlet_asks_for_the_2_0_sale_instead_of_storing_it() -> None:
    webhook = json.loads((FIXTURES / "webhook__sale_update__docs_example.json").read_text())
    assert "outlet_id" not in webhook and webhook["register_id"]  # the real 1.0 shape
    batch = _run(form_body("webhook__sale_update__docs_example.json"), "sale.update")
    assert batch.records == () and batch.events == ()
    assert batch.fetches == (Fetch(resource="sales", ids=(webhook["id"],)),)
    # one that names its outlet is stored as it is, with its location
    with_outlet = urlencode({"payload": json.dumps({**webhook, "outlet_id": "o1"})}).encode()
    txn, *payments = _run(with_outlet, "sale.update").records
    assert isinstance(txn, Transaction) and txn.total.amount == 7300 and txn.issues == ()
    assert {r.location_external_id for r in (txn, *payments)} == {"o1"}


def test_money_is_in_the_connections_configured_currency() -> None:
    txn, *payments = _run(_sale(), config={"currency": "aud"}).records
    assert txn.currency == "AUD" and txn.total.currency == "AUD"
    assert {p.currency for p in payments} == {"AUD"}


def test_without_a_configured_currency_money_is_refused_but_other_objects_are_kept() -> None:
    with pytest.raises(PayloadError) as err:
        _run(_sale(), config={})
    assert err.value.field == "connection.currency"
    [customer] = _run({"id": "c1", "first_name": "Ada"}, "resource:customers", config=None).records
    assert customer.kind == "customer"


@pytest.mark.parametrize(
    ("obj", "topic", "field"),
    [
        (
            _sale(line_items=[{"product_id": "p", "quantity": "x"}]),
            "resource:sales",
            "$.line_items[0].quantity",
        ),
        (_sale(total_price=None, totals=None), "resource:sales", "$.total_price"),
        ({"id": "i", "product_id": "p", "inventory_level": 1}, "resource:inventory", "$.outlet_id"),
        ({"id": "o", "name": "X", "time_zone": "Mars/Base"}, "resource:outlets", "$.time_zone"),
        ({"id": "s", "user_id": "u"}, "resource:shifts", "$.time_in"),
        ({"data": [1]}, "resource:customers", "$.data[0]"),
        (b"[1]", "resource:customers", "$"),
        (b"{", "resource:customers", "$"),
        ({"id": "x"}, "resource:gift_cards", "topic"),
    ],
)
def test_bad_shapes_are_payload_errors_naming_the_path(obj: Any, topic: str, field: str) -> None:
    with pytest.raises(PayloadError) as err:
        _run(obj, topic)
    assert err.value.field == field


def test_an_unknown_configured_currency_is_named() -> None:
    with pytest.raises(PayloadError) as err:
        _run({"id": "x"}, "resource:customers", config={"currency": "XXX"})
    assert err.value.field == "connection.currency"


def test_unknown_webhook_types_are_an_empty_batch() -> None:
    body = b"type=register_closure.update&payload=%7B%22id%22%3A%22r%22%7D"
    assert _run(body, "register_closure.update").records == ()
