"""The inbox: raw POS deliveries stored durably and idempotently before the POS gets its 2xx."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class RawDelivery:
    """One webhook delivery exactly as received (body bytes untouched)."""

    platform: str
    connection_id: str
    event_id: str  # the platform's idempotency key for this delivery
    topic: str  # the platform's event type, e.g. "sale.completed"
    body: bytes
    received_at: datetime
    headers: dict[str, str] = field(default_factory=dict)  # non-secret headers worth keeping


@dataclass(frozen=True)
class StoredDelivery:
    id: int
    delivery: RawDelivery


@dataclass(frozen=True)
class AcceptResult:
    delivery_id: int
    duplicate: bool  # True: (platform, connection, event id) was already stored; nothing changed


class Inbox(Protocol):
    async def accept(self, delivery: RawDelivery) -> AcceptResult:
        """Store the delivery durably (committed and fsync'd) and queue it for processing in the
        same transaction; a duplicate (platform, connection_id, event_id) changes nothing."""
        ...

    def get(self, delivery_id: int) -> StoredDelivery | None: ...

    async def close(self) -> None: ...
