"""Sales keep what the POS reported; disagreements become reconciliation issues."""

from __future__ import annotations

from decimal import Decimal

from tests.factories import make, reference_sale
from tillwise.domain.money import Money
from tillwise.domain.sales import (
    Discount,
    IssueCode,
    Tax,
    Transaction,
    TransactionLine,
    reconcile_total,
)


def usd(amount: int) -> Money:
    return Money(amount=amount, currency="USD")


def test_reference_sale_total_mismatch_is_flagged_and_the_data_kept() -> None:
    # given the reference sale: 29.99 × 1 + 9.99 × 2 = 49.97 USD, reported as 4987 minor units
    sale = make(Transaction, "txn_abc123")
    assert sale.computed_total() == Money.from_decimal("49.97", "USD")

    # when it is reconciled
    [issue] = reconcile_total(sale)

    # then one total_mismatch issue says by how much, and the reported total stays as sent
    assert issue.code is IssueCode.TOTAL_MISMATCH
    assert issue.difference == usd(-10)
    assert issue.detail == (
        "reported total 49.87 USD differs from the lines' total 49.97 USD by -0.10 USD"
    )
    assert reference_sale().total == usd(4987)
    assert reference_sale().issues == (issue,)


def test_a_consistent_sale_has_no_issue() -> None:
    assert reconcile_total(make(Transaction, total=usd(4997))) == ()


def test_computed_total_applies_discounts_and_only_added_taxes() -> None:
    line = TransactionLine(
        sku="A",
        quantity=Decimal(3),
        unit_price=usd(1000),
        discounts=(Discount(amount=usd(500)),),
        taxes=(Tax(amount=usd(200), rate=Decimal("0.08")),),
    )
    vat_line = TransactionLine(
        sku="B",
        quantity=Decimal("0.5"),
        unit_price=usd(999),  # weighed: 499.5 → 500
        taxes=(Tax(amount=usd(83), included=True),),
    )
    sale = make(
        Transaction,
        lines=(line, vat_line),
        discounts=(Discount(amount=usd(100)),),
        taxes=(Tax(amount=usd(50)),),
        total=usd(3150),
    )
    # 3000 - 500 + 500 - 100 + 200 + 50 (the included VAT is already in the price)
    assert sale.computed_total() == usd(3150)
    assert reconcile_total(sale) == ()
