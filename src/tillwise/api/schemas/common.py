"""Shapes shared by every resource."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from tillwise.domain.money import MAX_AMOUNT, Money

T = TypeVar("T")


def _quantity(value: Decimal) -> int | str:
    """Whole quantities as JSON integers; fractional ones (weighed goods) as exact strings."""
    return int(value) if value == value.to_integral_value() else str(value)


Quantity = Annotated[Decimal, PlainSerializer(_quantity, return_type=int | str)]

# An amount a person enters (a cost, a minimum order, a threshold): 0 up to MAX_AMOUNT.
Amount = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]


class RequestBody(BaseModel):
    """What a client sends: a key the route does not know is refused (422 naming it), never
    ignored — a misspelt ``edits`` must not approve the unedited proposal."""

    model_config = ConfigDict(extra="forbid")


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
