"""The Shopify connector, incl. Shopify POS (docs/platforms/shopify.md).

``make_connector(app)``: ``app`` is the Shopify app's settings (``client_id``,
``client_secret``, ``api_version``; optional ``scopes`` comma-separated, ``expiring`` "1"/"0").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tillwise.domain.normalized import NormalizedBatch
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import (
    Api,
    ConnectionContext,
    OAuth,
    VerifiedDelivery,
    connection_currency,
)
from tillwise.ports.writeback import WriteBack

from . import normalize as _normalize
from . import webhooks as _webhooks
from .backfill import ShopifyApi, make_api
from .normalize import PLATFORM
from .oauth import ShopifyOAuth
from .writeback import ShopifyWriteBack


class ShopifyConnector:
    """Implements :class:`tillwise.ports.platform.Connector` for Shopify."""

    platform = PLATFORM

    def __init__(self, app: Mapping[str, str] | None = None) -> None:
        self.app: dict[str, str] = dict(app or {})
        self.oauth: OAuth | None = ShopifyOAuth(self.app)
        self.api: Callable[[ConnectionContext], Api] | None = self._api
        self.writeback: WriteBack | None = ShopifyWriteBack(self.app)

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
        # no time window: Shopify retries with the original payload for 4 hours
        return _webhooks.verify(raw_body, headers, secrets)

    def normalize(
        self, delivery: RawDelivery, config: Mapping[str, Any] | None = None
    ) -> NormalizedBatch:
        return _normalize.normalize(delivery, currency=connection_currency(config))


def make_connector(app: Mapping[str, str]) -> ShopifyConnector:
    return ShopifyConnector(app)


__all__ = [
    "PLATFORM",
    "ShopifyApi",
    "ShopifyConnector",
    "ShopifyOAuth",
    "ShopifyWriteBack",
    "make_connector",
]
