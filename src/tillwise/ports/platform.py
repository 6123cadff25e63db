"""What every platform connector provides to the spine: verify a delivery, normalize it.

Errors (each carries a stable ``code`` and the ``field`` at fault, for problem details):

    ConnectorError
    ├── SignatureError        missing, malformed, wrong or stale signature   → 401
    └── PayloadError          body is not the documented shape                → 400/422
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tillwise.domain.normalized import NormalizedBatch

from .inbox import RawDelivery
from .writeback import WriteBack


class ConnectorError(Exception):
    code = "connector_error"
    status = 400

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class SignatureError(ConnectorError):
    code = "invalid_signature"
    status = 401


class PayloadError(ConnectorError):
    code = "invalid_payload"
    status = 422


@dataclass(frozen=True)
class VerifiedDelivery:
    """What a verified webhook tells the inbox: its idempotency key and the platform topic."""

    event_id: str
    topic: str


class Connector(Protocol):
    platform: str
    writeback: WriteBack | None  # None: this platform cannot be written to (yet)

    def verify(
        self,
        raw_body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime,
    ) -> VerifiedDelivery:
        """Check the signature on the raw bytes (constant time, any of ``secrets`` for rotation),
        then parse just enough to name the delivery. Raises SignatureError / PayloadError."""
        ...

    def normalize(self, delivery: RawDelivery) -> NormalizedBatch:
        """Pure: platform payload → canonical records + canonical events."""
        ...
