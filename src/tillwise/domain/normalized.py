"""What a connector's normalizer returns for one delivery: canonical records plus events."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .catalog import Product, Variant, Vendor
from .customers import Customer
from .events import Envelope
from .inventory import InventoryLevel, InventoryMovement
from .locations import Location
from .purchasing import PurchaseOrder
from .sales import Payment, Refund, Transaction
from .staff import Employee, Shift
from .till import TillEvent

CanonicalRecord = (
    Location
    | Product
    | Variant
    | Vendor
    | Customer
    | Transaction
    | Refund
    | Payment
    | InventoryLevel
    | InventoryMovement
    | PurchaseOrder
    | Employee
    | Shift
    | TillEvent
)


class NormalizedBatch(BaseModel):
    """Records to upsert and events to publish, from one POS delivery, in one transaction."""

    model_config = ConfigDict(frozen=True)

    records: tuple[CanonicalRecord, ...] = ()
    events: tuple[Envelope, ...] = ()
    # Objects the delivery only named (Clover notifications, Square order summaries): the
    # pipeline fetches them from the platform's API into the inbox as ``resource:<name>``.
    fetches: tuple[Fetch, ...] = ()


class Fetch(BaseModel):
    model_config = ConfigDict(frozen=True)

    resource: str
    ids: tuple[str, ...]
