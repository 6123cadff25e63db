"""The canonical event: a CloudEvents 1.0 envelope, and the catalogue of event types.

Type names are past tense ("sale.completed"). ``source`` is a URI-reference naming the platform
connection (``/tillwise/connections/<platform>/<connection_id>``), ``subject`` the canonical id
of the record the event is about.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EventType(StrEnum):
    SALE_COMPLETED = "sale.completed"
    REFUND_CREATED = "refund.created"
    SALE_VOIDED = "sale.voided"  # subject: the (voided) Transaction
    DRAWER_OPENED = "drawer.opened"  # a no-sale; subject: the TillEvent (event "no_sale")
    PRICE_OVERRIDDEN = "price.overridden"  # subject: the TillEvent (event "price_override")
    PAYMENT_UPDATED = "payment.updated"  # a payment was seen, or its status changed
    INVENTORY_UPDATED = "inventory.updated"
    INVENTORY_COUNTED = "inventory.counted"  # a physical count at a store (no record changes)
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"
    LOCATION_UPDATED = "location.updated"
    VENDOR_UPDATED = "vendor.updated"  # a vendor and its supply terms
    PURCHASE_ORDER_UPDATED = "purchase_order.updated"  # a PO's status (open, received, ...)
    EMPLOYEE_UPDATED = "employee.updated"  # a member of staff (a cashier)


class Envelope(BaseModel):
    """CloudEvents 1.0 (required: id, source, specversion, type; optional: time, subject,
    datacontenttype, data) plus two extension attributes naming the connection."""

    model_config = ConfigDict(frozen=True)

    specversion: str = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime | None = None
    subject: str | None = None
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)
    # extensions (CloudEvents: lower-case alphanumerics)
    platform: str
    connectionid: str

    @field_validator("time")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("event time must be timezone-aware")
        return v


def connection_source(platform: str, connection_id: str) -> str:
    return f"/tillwise/connections/{platform}/{connection_id}"
