"""Till events that are not sales: a drawer opened without a sale (no-sale) and a cashier's manual
price override. Loss prevention scores them beside sales, refunds and voids."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import model_validator

from .ids import SourceRecord
from .money import Money

TillEventKind = Literal["no_sale", "price_override"]


class TillEvent(SourceRecord):
    """One thing a cashier did at a register that is not itself a sale.

    ``event`` is ``no_sale`` (the cash drawer opened with no sale; ``reason`` as keyed, if any)
    or ``price_override`` (``sku`` sold at ``new_price`` instead of ``original_price``, per unit,
    within ``transaction_external_id`` when the POS says which sale)."""

    kind: str = "till_event"
    event: TillEventKind
    location_external_id: str | None = None
    employee_external_id: str | None = None
    register_external_id: str | None = None
    occurred_at: datetime
    transaction_external_id: str | None = None
    sku: str | None = None
    original_price: Money | None = None
    new_price: Money | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _prices(self) -> TillEvent:
        if self.event == "price_override":
            if self.original_price is None or self.new_price is None:
                raise ValueError("a price override needs original_price and new_price")
            if self.original_price.currency != self.new_price.currency:
                raise ValueError("original_price and new_price must be in one currency")
        return self
