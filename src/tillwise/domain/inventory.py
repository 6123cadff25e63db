"""Stock: levels per SKU and location, and the movements that change them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from .ids import SourceRecord


class InventoryLevel(SourceRecord):
    """On-hand quantity of one SKU at one location, as of ``as_of``."""

    kind: str = "inventory_level"
    sku: str
    location_external_id: str
    on_hand: Decimal
    available: Decimal | None = None
    as_of: datetime
    # the store's shelf limit for the SKU, when the POS has one (omitted while unset)
    max_stock: Decimal | None = Field(default=None, exclude_if=lambda v: v is None)


class MovementReason(StrEnum):
    SALE = "sale"
    RETURN = "return"
    RECEIPT = "receipt"  # from a purchase order
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    COUNT = "count"  # stock-take correction
    SHRINK = "shrink"
    ADJUSTMENT = "adjustment"


class InventoryMovement(SourceRecord):
    kind: str = "inventory_movement"
    sku: str
    location_external_id: str
    delta: Decimal
    reason: MovementReason
    occurred_at: datetime
