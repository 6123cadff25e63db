"""The loss-prevention additions to the generic shape: registers, tenders with fingerprint and
entry method, price overrides on lines, receipts and tenders on refunds, voids, no-sales, price
overrides and employees (docs/generic-connector.md, "Till events")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tillwise.connectors.generic import connector
from tillwise.domain.sales import Refund, Transaction, TransactionStatus
from tillwise.domain.till import TillEvent
from tillwise.ports.platform import PayloadError

from ._fixtures import PAYLOADS
from .test_generic_golden import _deliver

NEW_SHAPES = (
    "sale_completed_till",
    "refund_with_receipt",
    "sale_voided",
    "sale_voided_bare",
    "drawer_opened",
    "price_overridden",
    "employee_updated",
    "payment_updated",
)


def _body(case: str, **data: Any) -> bytes:
    obj = json.loads((PAYLOADS / f"{case}.json").read_text())
    obj["data"].update(data)
    for key in [k for k, v in data.items() if v is None]:
        del obj["data"][key]
    return json.dumps(obj).encode()


def test_every_new_shape_has_a_golden() -> None:
    for case in NEW_SHAPES:
        assert (PAYLOADS / f"{case}.expected.json").exists(), case


def test_a_sale_keeps_register_tenders_and_the_overridden_price() -> None:
    [txn] = connector.normalize(_deliver(_body("sale_completed_till"), "c")).records
    assert isinstance(txn, Transaction)
    assert txn.register_external_id == "reg_2"
    card = txn.tenders[0]
    assert (card.card_fingerprint, card.card_last4, card.entry_method) == (
        "fp_9f2c",
        "4242",
        "keyed",
    )
    mug = txn.lines[0]
    assert mug.unit_price.amount == 600
    assert mug.original_unit_price is not None and mug.original_unit_price.amount == 1000


def test_a_refund_names_its_receipt_and_where_the_money_went() -> None:
    [refund] = connector.normalize(_deliver(_body("refund_with_receipt"), "c")).records
    assert isinstance(refund, Refund)
    assert refund.transaction_external_id == "txn_till_001"  # receipt_transaction_id, the alias
    assert [t.card_fingerprint for t in refund.tenders] == ["fp_other"]


def test_receipt_and_transaction_id_must_agree() -> None:
    body = _body("refund_with_receipt", transaction_id="txn_other")
    with pytest.raises(PayloadError) as err:
        connector.normalize(_deliver(body, "c"))
    assert err.value.field == "data.receipt_transaction_id"


def test_a_void_with_contents_is_the_voided_sale() -> None:
    batch = connector.normalize(_deliver(_body("sale_voided"), "c"))
    [txn] = batch.records
    assert isinstance(txn, Transaction)
    assert txn.status is TransactionStatus.VOIDED and txn.voided_after_tender
    assert batch.events[0].type == "sale.voided" and batch.events[0].subject == txn.id


def test_a_bare_void_is_an_event_about_the_sale() -> None:
    sale = connector.normalize(_deliver(_body("sale_completed_till"), "c")).records[0]
    batch = connector.normalize(_deliver(_body("sale_voided_bare"), "c"))
    assert batch.records == ()
    [event] = batch.events
    assert event.subject == sale.id
    assert event.data["after_tender"] is False and event.data["register_external_id"] == "reg_2"


def test_a_void_with_lines_needs_its_total() -> None:
    body = _body("sale_voided", total_money=None)
    with pytest.raises(PayloadError) as err:
        connector.normalize(_deliver(body, "c"))
    assert err.value.field == "data.total_money"


def test_an_override_without_currency_takes_the_connections() -> None:
    body = _body("price_overridden", currency=None)
    with pytest.raises(PayloadError) as err:
        connector.normalize(_deliver(body, "c"))
    assert err.value.field == "data.currency"
    [event] = connector.normalize(_deliver(body, "c"), {"currency": "GBP"}).records
    assert isinstance(event, TillEvent)
    assert event.new_price is not None and event.new_price.currency == "GBP"


@pytest.mark.parametrize(
    ("case", "data", "field"),
    [
        ("price_overridden", {"new_price": "6.001"}, "data.new_price"),
        ("price_overridden", {"overridden_at": "2024-03-02T16:44:30"}, "data.overridden_at"),
        ("drawer_opened", {"opened_at": None}, "data.opened_at"),
        (
            "sale_completed_till",
            {
                "tenders": [
                    {"amount": {"amount": 1, "currency": "USD"}, "entry_method": "telepathy"}
                ]
            },
            "data.tenders.0.entry_method",
        ),
    ],
)
def test_bad_till_fields_are_named(case: str, data: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as err:
        connector.normalize(_deliver(_body(case, **data), "c"))
    assert err.value.field == field.replace(".0.", "[0].")


def test_a_payment_attempt_is_the_canonical_payment() -> None:
    from tillwise.domain.sales import EntryMethod, Payment, PaymentStatus

    batch = connector.normalize(_deliver(_body("payment_updated"), "c"))
    [payment] = batch.records
    assert isinstance(payment, Payment)
    assert payment.status is PaymentStatus.FAILED and payment.amount.amount == 150
    assert payment.entry_method is EntryMethod.KEYED
    assert (payment.device_external_id, payment.transaction_external_id) == (
        "reg_2",
        "txn_till_001",
    )
    assert batch.events[0].type == "payment.updated" and batch.events[0].subject == payment.id
    no_sale = connector.normalize(_deliver(_body("payment_updated", sale_id=None), "c"))
    assert no_sale.records[0].transaction_external_id is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "declined"}, "data.status"),
        ({"amount": {"amount": -5, "currency": "USD"}}, "data.amount"),
        ({"occurred_at": None}, "data.occurred_at"),
        ({"entry_method": "telepathy"}, "data.entry_method"),
    ],
)
def test_a_bad_payment_attempt_names_its_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as err:
        connector.normalize(_deliver(_body("payment_updated", **change), "c"))
    assert err.value.field == field
