"""Lightspeed Retail X-Series (formerly Vend): webhooks, API 2.0 backfill, OAuth, write-back.

Setup, money rules and every unverified assumption: ``docs/platforms/lightspeed_x.md``.
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
from .backfill import LightspeedXApi, make_api
from .normalize import PLATFORM
from .oauth import LightspeedXOAuth
from .writeback import LightspeedXWriteBack


class LightspeedXConnector:
    """Implements :class:`tillwise.ports.platform.Connector` for X-Series.

    ``app`` keys read: ``client_id``, ``client_secret`` (OAuth; the secret also signs
    webhooks), and optionally ``signature_over`` (``body`` | ``payload``: what the webhook HMAC
    covers [UNVERIFIED], default ``body``), ``currency`` (the currency a new connection is
    installed with; deliveries are normalized with their connection's configured one),
    ``oauth_base_url``, ``api_base_url``."""

    platform = PLATFORM

    def __init__(self, app: Mapping[str, str] | None = None) -> None:
        self.app = dict(app or {})
        self.signature_over = (self.app.get("signature_over") or "body").strip().lower()
        if self.signature_over not in _webhooks.SIGNATURE_OVER:
            raise ValueError(
                f"lightspeed_x signature_over must be one of {_webhooks.SIGNATURE_OVER}, "
                f"not {self.signature_over!r}"
            )
        self.oauth: OAuth | None = LightspeedXOAuth(self.app)
        self.writeback: WriteBack | None = LightspeedXWriteBack(self.app)
        self.api: Callable[[ConnectionContext], Api] | None = self._api

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
        # the scheme has no timestamp: ``now`` is unused (dedupe is on the event id)
        keys = [s for s in secrets if s] or [self.app.get("client_secret", "")]
        return _webhooks.verify(raw_body, headers, keys, signature_over=self.signature_over)

    def normalize(
        self, delivery: RawDelivery, config: Mapping[str, Any] | None = None
    ) -> NormalizedBatch:
        return _normalize.normalize(delivery, currency=connection_currency(config))


def make_connector(app: Mapping[str, str]) -> LightspeedXConnector:
    return LightspeedXConnector(app)


__all__ = [
    "PLATFORM",
    "LightspeedXApi",
    "LightspeedXConnector",
    "LightspeedXOAuth",
    "LightspeedXWriteBack",
    "make_connector",
]
