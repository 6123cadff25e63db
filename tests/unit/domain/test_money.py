"""Money: integer minor units of an ISO 4217 currency, exact conversions, nothing lost."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from pydantic import ValidationError

from tillwise.domain.errors import InvalidMoney
from tillwise.domain.money import Money, exponent, sum_money


@pytest.mark.parametrize(("currency", "digits"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3)])
def test_exponent_follows_iso_4217(currency: str, digits: int) -> None:
    assert exponent(currency) == digits


@pytest.mark.parametrize(
    ("value", "currency", "minor", "shown"),
    [
        ("1500", "JPY", 1500, "1500 JPY"),
        ("29.99", "USD", 2999, "29.99 USD"),
        ("0.1", "USD", 10, "0.10 USD"),
        ("1.234", "KWD", 1234, "1.234 KWD"),
        (Decimal("-9.99"), "USD", -999, "-9.99 USD"),
        (7, "usd", 700, "7.00 USD"),
    ],
)
def test_from_decimal_is_exact(
    value: str | Decimal | int, currency: str, minor: int, shown: str
) -> None:
    money = Money.from_decimal(value, currency)
    assert money.amount == minor
    assert str(money) == shown
    assert money.to_decimal() == Decimal(str(value))


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (1988550, "GBP", "£19,885.50"),
        (-300, "USD", "-$3.00"),
        (120000, "JPY", "¥120,000"),
        (1200, "CAD", "CA$12.00"),  # not "$": a reader must not take it for US dollars
        (1234500, "KWD", "1,234.500 KWD"),  # no symbol of its own in English: the code
        (5, "EUR", "€0.05"),
    ],
)
def test_display_writes_money_as_people_read_it(minor: int, currency: str, shown: str) -> None:
    money = Money(amount=minor, currency=currency)
    assert money.display() == shown
    assert str(money).endswith(currency)  # the plain form, for logs and files, is unchanged


def test_floats_are_refused() -> None:
    with pytest.raises(InvalidMoney, match="not floats"):
        Money.from_decimal(29.99, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="integer minor units, not floats"):
        Money(amount=29.99, currency="USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidMoney, match="int or Decimal"):
        Money(amount=999, currency="USD").times(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "currency"), [("29.999", "USD"), ("1500.5", "JPY"), ("1.2345", "KWD")]
)
def test_too_many_decimals_are_refused(value: str, currency: str) -> None:
    with pytest.raises(InvalidMoney, match=f"more than {exponent(currency)} decimal places"):
        Money.from_decimal(value, currency)


def test_too_many_decimals_are_rounded_only_when_asked() -> None:
    assert Money.from_decimal("0.125", "USD", rounding=ROUND_HALF_EVEN).amount == 12
    assert Money.from_decimal("0.135", "USD", rounding=ROUND_HALF_EVEN).amount == 14
    assert Money.from_decimal("0.125", "USD", rounding=ROUND_HALF_UP).amount == 13


@pytest.mark.parametrize("bad", ["abc", "", "NaN", "Infinity"])
def test_non_numbers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidMoney):
        Money.from_decimal(bad, "USD")


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(InvalidMoney, match="unknown ISO 4217 currency code 'XYZ'"):
        Money.from_decimal("1", "XYZ")
    with pytest.raises(ValidationError):
        Money(amount=1, currency="usd")  # codes are upper case


@pytest.mark.parametrize(
    ("amount", "ratios", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (-100, [1, 1, 1], [-33, -33, -34]),
        (1001, [70, 20, 10], [701, 200, 100]),
        (5, [1, 0, 1], [3, 0, 2]),
        (1, [1, 1, 1, 1], [1, 0, 0, 0]),
    ],
)
def test_allocate_keeps_every_minor_unit(amount: int, ratios: list[int], parts: list[int]) -> None:
    allocated = Money(amount=amount, currency="USD").allocate(ratios)
    assert [m.amount for m in allocated] == parts
    assert sum(m.amount for m in allocated) == amount
    assert {m.currency for m in allocated} == {"USD"}


@pytest.mark.parametrize("ratios", [[], [0, 0], [1, -1]])
def test_allocate_refuses_meaningless_ratios(ratios: list[int]) -> None:
    with pytest.raises(InvalidMoney, match="ratios"):
        Money(amount=100, currency="USD").allocate(ratios)


def test_arithmetic_stays_in_one_currency() -> None:
    usd = Money(amount=2999, currency="USD")
    assert usd + Money(amount=1998, currency="USD") == Money(amount=4997, currency="USD")
    assert usd - Money(amount=3000, currency="USD") == Money(amount=-1, currency="USD")
    assert -usd == Money(amount=-2999, currency="USD")
    assert usd.times(Decimal("0.5")) == Money(amount=1500, currency="USD")  # 1499.5 half-even
    assert sum_money([usd, usd], "USD") == Money(amount=5998, currency="USD")
    with pytest.raises(InvalidMoney, match="cannot combine USD with EUR"):
        usd + Money(amount=1, currency="EUR")
    with pytest.raises(InvalidMoney, match="cannot combine"):
        sum_money([usd], "JPY")
