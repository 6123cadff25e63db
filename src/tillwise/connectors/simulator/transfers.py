"""Stock transfers between the simulated POS's stores: out of the source at once, into the
destination after :data:`TRANSIT_DAYS` on the POS's clock.

``POST /transfers`` (the generic write-back contract, ``docs/generic-connector.md``) books a
shipment: the source's stock falls at once by what it has (never below zero: ``moved`` can be
less than ``quantity``; nothing to move is refused) and is reported with ``inventory.updated``
(``reason: transfer_out``); when the POS's clock (the replay's simulated time, running on at the
replay speed after the replay ends) passes ``shipped at + TRANSIT_DAYS`` the units arrive at the
destination, reported with ``inventory.updated`` (``reason: transfer_in``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

from .replay import iso_utc

TRANSIT_DAYS = 1  # a van between two stores of the same merchant: next day


class TransferIn(BaseModel):
    """``POST /transfers`` body."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    reference: str = Field(min_length=1, max_length=255, strict=True)
    sku: str = Field(min_length=1, max_length=255, strict=True)
    from_location_id: str = Field(min_length=1, max_length=255, strict=True)
    to_location_id: str = Field(min_length=1, max_length=255, strict=True)
    quantity: StrictInt = Field(gt=0, le=1_000_000)

    @field_validator("to_location_id")
    @classmethod
    def _two_stores(cls, v: str, info: ValidationInfo) -> str:
        if v == info.data.get("from_location_id"):
            raise ValueError("must differ from from_location_id")
        return v


@dataclass
class Shipment:
    id: str
    request: TransferIn
    moved: int  # what left the source (at most the quantity asked)
    shipped_at: datetime  # POS (simulated) time
    due_at: datetime
    status: str = "in_transit"

    def answer(self) -> dict[str, Any]:
        r = self.request
        return {
            "id": self.id,
            "reference": r.reference,
            "sku": r.sku,
            "from_location_id": r.from_location_id,
            "to_location_id": r.to_location_id,
            "quantity": r.quantity,
            "moved": self.moved,
            "status": self.status,
            "transit_days": TRANSIT_DAYS,
            "shipped_at": iso_utc(self.shipped_at),
            "expected_at": iso_utc(self.due_at),
        }


@dataclass
class ShipmentBook:
    """Shipments booked and not yet arrived. Thread-safe."""

    shipments: dict[str, Shipment] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def book(self, shipment_id: str, request: TransferIn, moved: int, now: datetime) -> Shipment:
        shipment = Shipment(shipment_id, request, moved, now, now + timedelta(days=TRANSIT_DAYS))
        with self._lock:
            self.shipments[shipment_id] = shipment
        return shipment

    def in_transit(self) -> bool:
        with self._lock:
            return any(s.status == "in_transit" for s in self.shipments.values())

    def due(self, now: datetime) -> list[Shipment]:
        """Shipments whose time has come, marked arrived (each is returned once)."""
        with self._lock:
            out = []
            for s in sorted(self.shipments.values(), key=lambda s: (s.due_at, s.id)):
                if s.status == "in_transit" and s.due_at <= now:
                    s.status = "arrived"
                    out.append(s)
            return out
