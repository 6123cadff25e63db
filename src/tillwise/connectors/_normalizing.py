"""What normalizing one delivery yields, built up piece by piece: canonical records, canonical
events, and the objects it only names (to fetch). One builder for every platform normalizer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tillwise.domain.events import Envelope
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.normalized import CanonicalRecord, Fetch, NormalizedBatch
from tillwise.domain.sales import Payment


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def payment_summary(p: Payment) -> dict[str, Any]:
    """A ``payment.updated`` event's data, the same for every platform."""
    return {
        "kind": p.kind,
        "id": p.id,
        "external_id": p.external_id,
        "transaction_external_id": p.transaction_external_id,
        "location_external_id": p.location_external_id,
        "occurred_at": _iso(p.occurred_at),
        "status": p.status.value,
        "payment_kind": p.payment_kind.value,
        "tender_type": p.tender_type.value,
        "currency": p.currency,
        "amount": p.amount.amount,
    }


def level_summary(level: InventoryLevel) -> dict[str, Any]:
    """An ``inventory.updated`` event's data about its level, the same for every platform: the
    level and how fresh the POS says it is (``as_of``, its ``version`` where it has one), so a
    report delivered late or out of order is known for the older one it is."""
    return {
        "sku": level.sku,
        "location_external_id": level.location_external_id,
        "on_hand": str(level.on_hand),
        "as_of": _iso(level.as_of),
        "version": level.source_version,
    }


@dataclass
class Output:
    records: list[CanonicalRecord] = field(default_factory=list)
    events: list[Envelope] = field(default_factory=list)
    fetches: list[Fetch] = field(default_factory=list)

    def add(self, other: Output) -> None:
        self.records += other.records
        self.events += other.events
        for f in other.fetches:
            self.fetch(f.resource, *f.ids)

    def fetch(self, resource: str, *ids: str) -> None:
        """Name objects to fetch; ids of one resource are merged into one request."""
        for i, f in enumerate(self.fetches):
            if f.resource == resource:
                merged = f.ids + tuple(x for x in ids if x not in f.ids)
                self.fetches[i] = Fetch(resource=resource, ids=merged)
                return
        self.fetches.append(Fetch(resource=resource, ids=tuple(dict.fromkeys(ids))))

    def batch(self) -> NormalizedBatch:
        return NormalizedBatch(
            records=tuple(self.records), events=tuple(self.events), fetches=tuple(self.fetches)
        )
