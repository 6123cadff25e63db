"""Purchase orders (received from the POS, or drafted by replenishment later)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from .ids import SourceRecord
from .money import Money

# the platform of the purchase orders Tillwise itself records: those it sent to the vendor as
# documents, for a POS without a purchase-order API (which never reports them received)
DOCUMENT_PLATFORM = "tillwise"


class PurchaseOrderStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"  # sent to the vendor
    PARTIAL = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class PurchaseOrderLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: Decimal
    received: Decimal = Decimal(0)
    unit_cost: Money | None = None


class PurchaseOrder(SourceRecord):
    kind: str = "purchase_order"
    vendor_external_id: str | None = None
    location_external_id: str | None = None
    status: PurchaseOrderStatus = PurchaseOrderStatus.DRAFT
    currency: str
    lines: tuple[PurchaseOrderLine, ...] = ()
    expected_on: date | None = None
    # what it was ordered under (the proposal id, when Tillwise's); omitted while unset
    reference: str | None = Field(default=None, exclude_if=lambda v: v is None)
