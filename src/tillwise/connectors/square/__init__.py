"""The Square connector (docs/platforms/square.md).

``make_connector(app)``: ``app`` is the Square app's settings (``application_id``,
``application_secret``, ``environment`` = production|sandbox, ``api_version``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tillwise.domain.normalized import NormalizedBatch
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import Api, ConnectionContext, OAuth, VerifiedDelivery
from tillwise.ports.writeback import WriteBack

from . import normalize as _normalize
from . import webhooks as _webhooks
from .backfill import SquareApi, make_api
from .normalize import PLATFORM
from .oauth import SquareOAuth
from .writeback import SquareWriteBack


class SquareConnector:
    """Implements :class:`tillwise.ports.platform.Connector` for Square."""

    platform = PLATFORM

    def __init__(self, app: Mapping[str, str] | None = None) -> None:
        self.app: dict[str, str] = dict(app or {})
        self.oauth: OAuth | None = SquareOAuth(self.app)
        self.api: Callable[[ConnectionContext], Api] | None = self._api
        self.writeback: WriteBack | None = SquareWriteBack(self.app)

    def _api(self, ctx: ConnectionContext) -> Api:
        return make_api(ctx, app=self.app)

    def verify(
        self,
        raw_body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime,
        *,
        url: str = "",
    ) -> VerifiedDelivery:
        # Square's message has no timestamp: ``now`` is not used (dedupe is on event_id)
        return _webhooks.verify(raw_body, headers, secrets, url=url)

    def normalize(
        self, delivery: RawDelivery, config: Mapping[str, Any] | None = None
    ) -> NormalizedBatch:
        return _normalize.normalize(delivery)


def make_connector(app: Mapping[str, str]) -> SquareConnector:
    return SquareConnector(app)


__all__ = [
    "PLATFORM",
    "SquareApi",
    "SquareConnector",
    "SquareOAuth",
    "SquareWriteBack",
    "make_connector",
]
