"""The Clover connector: unsigned "doorbell" webhooks (``X-Clover-Auth``), fetch-on-notify,
REST v3 backfill with ``limit``/``offset``, OAuth v2 with single-use refresh tokens, and
write-back of stock adjustments and customer notes. See ``docs/platforms/clover.md``."""

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
from tillwise.ports.writeback import WriteBack, WriteBackError, WriteTarget

from . import normalize as _normalize
from . import webhooks as _webhooks
from .backfill import CloverApi
from .client import APP_CONCURRENCY, TOKEN_CONCURRENCY, CloverRateLimiter, CloverSession
from .normalize import PLATFORM
from .oauth import CloverOAuth
from .writeback import CloverWriteBack, SessionFor


def _cap(app: Mapping[str, str], key: str, default: int) -> int:
    """A concurrency cap from the app settings (Clover's documented value by default)."""
    value = app.get(key)
    if value is None or str(value).strip() == "":
        return default
    try:
        cap = int(str(value))
    except ValueError:
        raise ValueError(
            f"Clover app setting {key} must be a whole number, not {value!r}"
        ) from None
    if cap < 1:
        raise ValueError(f"Clover app setting {key} must be at least 1, not {cap}")
    return cap


class CloverConnector:
    """Implements :class:`tillwise.ports.platform.Connector` for Clover."""

    platform = PLATFORM

    def __init__(self, app: Mapping[str, str] | None = None) -> None:
        self.app: dict[str, str] = dict(app or {})
        if "client_id" not in self.app and self.app.get("app_id"):
            self.app["client_id"] = self.app["app_id"]
        if "client_secret" not in self.app and self.app.get("app_secret"):
            self.app["client_secret"] = self.app["app_secret"]
        # one limiter for the whole app: a bucket per merchant token plus the app's bucket
        self.limiter = CloverRateLimiter(
            token_concurrency=_cap(self.app, "max_concurrent_per_token", TOKEN_CONCURRENCY),
            app_concurrency=_cap(self.app, "max_concurrent_per_app", APP_CONCURRENCY),
        )
        self.clover_oauth = CloverOAuth(self.app)
        self.oauth: OAuth | None = self.clover_oauth
        self.api: Callable[[ConnectionContext], Api] | None = self.make_api
        # governance passes the connection's context in WriteTarget.context
        self.writeback: WriteBack | None = CloverWriteBack(session_for=self._session_for_target)

    def session(self, ctx: ConnectionContext, **options: Any) -> CloverSession:
        app = {**self.app, **dict(ctx.app)}
        ctx = ConnectionContext(
            connection_id=ctx.connection_id,
            platform=ctx.platform,
            config=ctx.config,
            credentials=ctx.credentials,
            save_credentials=ctx.save_credentials,
            app=app,
        )
        options.setdefault("limiter", self.limiter)
        return CloverSession(ctx, oauth=CloverOAuth(app), **options)

    async def _session_for_target(self, target: WriteTarget) -> CloverSession:
        if target.context is None:
            raise WriteBackError(
                f"connection {target.connection_id} has no OAuth context to write with"
            )
        return self.session(target.context)

    def use_sessions(self, session_for: SessionFor) -> None:
        """Give write-back its way to a connection's session (the composition root owns the
        credentials; :class:`~tillwise.ports.writeback.WriteTarget` carries none)."""
        self.writeback = CloverWriteBack(session_for=session_for)

    def make_api(self, ctx: ConnectionContext) -> Api:
        return CloverApi(self.session(ctx))

    def verify(
        self,
        raw_body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime,
        *,
        url: str = "",
    ) -> VerifiedDelivery:
        return _webhooks.verify(raw_body, headers, secrets)

    def normalize(
        self, delivery: RawDelivery, config: Mapping[str, Any] | None = None
    ) -> NormalizedBatch:
        return _normalize.normalize(delivery, currency=connection_currency(config))


def make_connector(app: Mapping[str, str]) -> CloverConnector:
    return CloverConnector(app)


__all__ = [
    "PLATFORM",
    "CloverApi",
    "CloverConnector",
    "CloverOAuth",
    "CloverRateLimiter",
    "CloverSession",
    "CloverWriteBack",
    "make_connector",
]
