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


MAX_KEY_LENGTH = 255  # the inbox's event_id and topic columns


class InvalidDelivery(ValueError):
    """A delivery whose key cannot be stored as it is (the inbox refuses it before queueing, so
    it fails alone and nothing is written); ``field`` names the part: ``event_id`` or ``topic``."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def check_key(delivery: RawDelivery) -> None:
    """Raise :class:`InvalidDelivery` unless the event id and topic are storable text: non-empty,
    at most 255 characters, valid UTF-8 (no lone surrogates) and without NUL characters."""
    for name, value in (("event_id", delivery.event_id), ("topic", delivery.topic)):
        if not isinstance(value, str) or not value:
            raise InvalidDelivery(name, f"the delivery's {name} is empty")
        if len(value) > MAX_KEY_LENGTH:
            raise InvalidDelivery(
                name, f"the delivery's {name} is {len(value)} characters; at most {MAX_KEY_LENGTH}"
            )
        if "\x00" in value:
            raise InvalidDelivery(name, f"the delivery's {name} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidDelivery(
                name, f"the delivery's {name} is not valid Unicode (a lone surrogate)"
            ) from None


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
        same transaction; a duplicate (platform, connection_id, event_id) changes nothing. A
        delivery whose key fails :func:`check_key` raises :class:`InvalidDelivery`."""
        ...

    def get(self, delivery_id: int) -> StoredDelivery | None: ...

    async def close(self) -> None: ...
