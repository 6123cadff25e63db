"""Shapes shared by every resource."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, PlainSerializer

from tillwise.domain.money import Money

T = TypeVar("T")


def _quantity(value: Decimal) -> int | str:
    """Whole quantities as JSON integers; fractional ones (weighed goods) as exact strings."""
    return int(value) if value == value.to_integral_value() else str(value)


Quantity = Annotated[Decimal, PlainSerializer(_quantity, return_type=int | str)]


class MoneyPublic(BaseModel):
    amount: int  # minor units
    currency: str

    @classmethod
    def of(cls, money: Money) -> MoneyPublic:
        return cls(amount=money.amount, currency=money.currency)


class ListPublic(BaseModel, Generic[T]):
    data: list[T]
    count: int
    next_after: str | None = None  # pass as ?after= for the next page
