"""The generic connector: the vendor-neutral JSON shape, signed with ``Tillwise-Signature``.

Used by any POS (or script) that can POST JSON, and by the built-in simulator. The shapes are
documented with examples in ``docs/generic-connector.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tillwise.domain.normalized import NormalizedBatch
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import Api, ConnectionContext, OAuth, VerifiedDelivery
from tillwise.ports.writeback import WriteBack

from .._signatures import DEFAULT_TOLERANCE
from . import normalize as _normalize
from . import webhooks as _webhooks
from .normalize import PLATFORM
from .webhooks import EVENT_ID_HEADER
from .writeback import GenericWriteBack


class GenericConnector:
    """Implements :class:`tillwise.ports.platform.Connector` for the generic shape."""

    platform = PLATFORM

    def __init__(
        self, *, tolerance: int = DEFAULT_TOLERANCE, writeback: WriteBack | None = None
    ) -> None:
        self.tolerance = tolerance
        # stock adjustments to the POS's API (docs/generic-connector.md, "Write-back")
        self.writeback: WriteBack | None = (
            writeback if writeback is not None else GenericWriteBack()
        )
        self.oauth: OAuth | None = None  # secrets are entered by hand
        self.api: Callable[[ConnectionContext], Api] | None = None  # webhooks only

    def verify(
        self,
        raw_body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime,
        *,
        url: str = "",
    ) -> VerifiedDelivery:
        return _webhooks.verify(raw_body, headers, secrets, now, tolerance=self.tolerance)

    def normalize(
        self, delivery: RawDelivery, config: Mapping[str, Any] | None = None
    ) -> NormalizedBatch:
        currency = (config or {}).get("currency")
        return _normalize.normalize(delivery, currency if isinstance(currency, str) else None)


connector = GenericConnector()

__all__ = ["EVENT_ID_HEADER", "PLATFORM", "GenericConnector", "GenericWriteBack", "connector"]
