"""Lightspeed Retail R-Series (formerly Merchant OS): an API-driven connector.

R-Series has no webhooks for retail data, so :meth:`LightspeedRConnector.verify` refuses every
POST; data arrives through the API (:mod:`.backfill`: backfill and the ``timeStamp``
reconciliation sweep) as ``resource:<Entity>`` deliveries that :mod:`.normalize` reads.
Setup and every unverified assumption: ``docs/platforms/lightspeed_r.md``.
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
from .backfill import LightspeedRApi
from .normalize import PLATFORM
from .oauth import LightspeedROAuth
from .writeback import LightspeedRWriteBack


class LightspeedRConnector:
    """Implements :class:`tillwise.ports.platform.Connector` for R-Series.

    ``app`` keys read: ``client_id``, ``client_secret`` (OAuth), and optionally ``currency``
    (the currency a new connection is installed with; deliveries are normalized with their
    connection's configured one), ``oauth_base_url``,
    ``api_base_url`` (the [UNVERIFIED] endpoints, overridable)."""

    platform = PLATFORM

    def __init__(self, app: Mapping[str, str] | None = None) -> None:
        self.app = dict(app or {})
        self.oauth: OAuth | None = LightspeedROAuth(self.app)
        self.writeback: WriteBack | None = LightspeedRWriteBack(self.app)
        self.api: Callable[[ConnectionContext], Api] | None = self._api

    def _api(self, ctx: ConnectionContext) -> Api:
        return LightspeedRApi(ctx, app=self.app)

    def verify(
        self,
        raw_body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime,
        *,
        url: str = "",
    ) -> VerifiedDelivery:
        return _webhooks.verify(raw_body, headers, secrets, now, url=url)

    def normalize(
        self, delivery: RawDelivery, config: Mapping[str, Any] | None = None
    ) -> NormalizedBatch:
        return _normalize.normalize(delivery, currency=connection_currency(config))


def make_connector(app: Mapping[str, str]) -> LightspeedRConnector:
    return LightspeedRConnector(app)


__all__ = ["PLATFORM", "LightspeedRConnector", "make_connector"]
