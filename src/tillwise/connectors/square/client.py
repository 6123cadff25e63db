"""The Square API client: the shared :class:`ApiClient` configured for Square.

* base URL ``https://connect.squareup.com`` (``connect.squareupsandbox.com`` when the app's
  ``environment`` is ``sandbox``; a connection's ``config["api_base_url"]`` overrides both);
* ``Square-Version: <YYYY-MM-DD>`` on every request (``config["api_version"]``, else the app's
  ``api_version``, else :data:`DEFAULT_API_VERSION`);
* ``Authorization: Bearer <access token>``; the token is refreshed through ``oauth.refresh``
  (and persisted with ``ctx.save_credentials`` *before* it is used) when it is about to expire
  and once on a 401;
* rate limits: Square publishes no numbers and no rate headers; its one signal is HTTP 429
  with error code ``RATE_LIMITED``. :class:`SquareRateLimiter` backs off per merchant
  (exponential, honouring a ``Retry-After`` if one is ever sent) and holds other requests for
  the same merchant until the cool-down has passed;
* cursor pagination: ``cursor`` in the response, sent back as a query parameter (List*) or in
  the JSON body (Search*, BatchRetrieveInventoryCounts);
* writes carry ``idempotency_key`` in the JSON body; the same body (and key) is sent on every
  retry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tillwise.ports.platform import ConnectionContext, Credentials

from .._http import (
    ApiClient,
    ApiError,
    Refresh,
    RetryPolicy,
    TokenAuth,
    paginate,
    retry_after_seconds,
)

PRODUCTION_URL = "https://connect.squareup.com"
SANDBOX_URL = "https://connect.squareupsandbox.com"
DEFAULT_API_VERSION = "2024-07-17"
VERSION_HEADER = "Square-Version"
REFRESH_MARGIN = timedelta(minutes=5)  # refresh a token this close to its expiry


def base_url(app: Mapping[str, str], config: Mapping[str, Any] | None = None) -> str:
    configured = (config or {}).get("api_base_url")
    if isinstance(configured, str) and configured:
        return configured.rstrip("/")
    return SANDBOX_URL if app.get("environment") == "sandbox" else PRODUCTION_URL


def api_version(app: Mapping[str, str], config: Mapping[str, Any] | None = None) -> str:
    configured = (config or {}).get("api_version")
    if isinstance(configured, str) and configured:
        return configured
    return app.get("api_version") or DEFAULT_API_VERSION


def is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("code") == "RATE_LIMITED" for e in errors
    )


class SquareRateLimiter:
    """Per-key cool-down driven by Square's only signal, 429 ``RATE_LIMITED``."""

    def __init__(
        self,
        *,
        base: float = 1.0,
        cap: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base = base
        self.cap = cap
        self._clock = clock
        self._sleep = sleep
        self._until: dict[str, float] = {}
        self._strikes: dict[str, int] = {}

    async def before(self, key: str) -> None:
        wait = self._until.get(key, 0.0) - self._clock()
        if wait > 0:
            await self._sleep(wait)

    def after(self, key: str, response: httpx.Response) -> float | None:
        if not is_rate_limited(response):
            self._strikes.pop(key, None)
            return None
        strikes = self._strikes.get(key, 0) + 1
        self._strikes[key] = strikes
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is None:
            wait = min(self.cap, self.base * 2 ** (strikes - 1))
        # the client sleeps ``wait`` before its retry; others on this key wait until then too
        self._until[key] = self._clock() + wait
        return wait


class SquareClient:
    """One connection's Square API (``async with SquareClient(ctx, ...) as client``)."""

    def __init__(
        self,
        ctx: ConnectionContext,
        *,
        refresh: Refresh | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: SquareRateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ctx = ctx
        self.token = TokenAuth(
            ctx, refresh, clock=clock, margin=REFRESH_MARGIN, platform_name="Square"
        )
        app = ctx.app or {}
        self.version = api_version(app, ctx.config)
        extra: dict[str, Any] = {"jitter": jitter} if jitter is not None else {}
        self.http = ApiClient(
            base_url=base_url(app, ctx.config),
            headers={VERSION_HEADER: self.version, "Accept": "application/json"},
            auth=self.token.headers,
            refresh_auth=self.token.refresh_on_401 if refresh is not None else None,
            limiter=limiter if limiter is not None else SquareRateLimiter(sleep=sleep),
            limit_key=str(ctx.config.get("merchant_id") or ctx.connection_id),
            retry=retry or RetryPolicy(),
            transport=transport,
            sleep=sleep,
            **extra,
        )

    async def __aenter__(self) -> SquareClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    @property
    def credentials(self) -> Credentials:
        return self.token.credentials

    # -- requests ------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        try:
            resp = await self.http.request(method, path, params=params, json=body)
        except ApiError as exc:
            raise ApiError(
                f"Square {method} {path}: {exc.detail}", status=exc.status, retryable=exc.retryable
            ) from None
        data = resp.json() if resp.content else {}
        if not isinstance(data, dict):
            raise ApiError(f"Square {method} {path} answered with a non-object body")
        return data

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.call("POST", path, body=dict(body))

    async def write(
        self, method: str, path: str, body: Mapping[str, Any], *, idempotency_key: str | None
    ) -> dict[str, Any]:
        """A write; ``idempotency_key`` goes in the body, and retries send the same body."""
        payload = dict(body)
        if idempotency_key is not None:
            payload["idempotency_key"] = idempotency_key
        return await self.call(method, path, body=payload)

    def pages(
        self,
        method: str,
        path: str,
        key: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        cursor: str | None = None,
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        """``(objects under key, next cursor)`` per page; GET sends the cursor as a query
        parameter, POST (Search*) in the body."""

        async def one(cur: str | None) -> tuple[list[dict[str, Any]], str | None]:
            if method == "GET":
                query = dict(params or {})
                if cur:
                    query["cursor"] = cur
                data = await self.call("GET", path, params=query)
            else:
                payload = dict(body or {})
                if cur:
                    payload["cursor"] = cur
                data = await self.call(method, path, body=payload)
            items = data.get(key) or []
            if not isinstance(items, list):
                raise ApiError(f"Square {method} {path}: {key} is not a list")
            nxt = data.get("cursor")
            return [i for i in items if isinstance(i, dict)], (nxt if nxt else None)

        return paginate(one, cursor)
