"""The X-Series API 2.0 client: the shared :class:`ApiClient` configured for Lightspeed X.

* base URL ``https://{domain_prefix}.retail.lightspeed.app/api/2.0`` (the connection's
  ``config["domain_prefix"]``; ``config["api_base_url"]`` or the app's ``api_base_url``
  override it — e.g. for a date-versioned ``/api/2026-01`` [UNVERIFIED]);
* ``Authorization: Bearer <access token>``; refreshed through ``oauth.refresh`` when it is about
  to expire and once on a 401, the rotated refresh token persisted with
  ``ctx.save_credentials`` *before* it is used;
* rate limits (per retailer per app, ``300 × registers + 50`` requests / 5 min): the limiter
  reads ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` and, on 429, ``Retry-After`` — an
  HTTP **date** — and holds every request for that retailer until then;
* pagination ``?after=<version>&page_size=…``: the next cursor is the largest ``version`` in the
  page; a page with empty ``data`` is the end.
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

REFRESH_MARGIN = timedelta(minutes=5)
PAGE_SIZE = 200


def store_url(domain_prefix: str) -> str:
    return f"https://{domain_prefix}.retail.lightspeed.app"


def base_url(app: Mapping[str, str], config: Mapping[str, Any]) -> str:
    for value in (config.get("api_base_url"), app.get("api_base_url")):
        if isinstance(value, str) and value:
            return value.rstrip("/")
    prefix = config.get("domain_prefix")
    if not isinstance(prefix, str) or not prefix:
        raise ApiError("the connection has no domain_prefix (config['domain_prefix'])")
    return f"{store_url(prefix)}/api/2.0"


class LightspeedXRateLimiter:
    """Per-retailer hold driven by X-Series' own signals (429 + Retry-After date, and
    ``X-RateLimit-Remaining: 0`` with ``X-RateLimit-Reset``)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        default_wait: float = 5.0,
    ) -> None:
        self._clock = clock
        self._wall = wall_clock
        self._sleep = sleep
        self.default_wait = default_wait
        self._until: dict[str, float] = {}
        self.remaining: dict[str, int] = {}

    async def before(self, key: str) -> None:
        wait = self._until.get(key, 0.0) - self._clock()
        if wait > 0:
            await self._sleep(wait)

    def _reset_wait(self, response: httpx.Response) -> float | None:
        reset = response.headers.get("X-RateLimit-Reset")
        if reset is None:
            return None
        wait = retry_after_seconds(reset, self._wall())
        if wait is not None and wait > 10 * 365 * 86400:  # an epoch timestamp, not seconds
            try:
                wait = max(0.0, float(reset) - self._wall())
            except ValueError:
                return None
        return wait

    def after(self, key: str, response: httpx.Response) -> float | None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is not None and remaining.strip().lstrip("-").isdigit():
            self.remaining[key] = int(remaining)
        if response.status_code != 429:
            if self.remaining.get(key) == 0:
                wait = self._reset_wait(response)
                if wait:
                    self._until[key] = self._clock() + wait
            return None
        wait = retry_after_seconds(response.headers.get("Retry-After"), self._wall())
        if wait is None:
            wait = self._reset_wait(response)
        if wait is None:
            wait = self.default_wait
        self._until[key] = self._clock() + wait
        return wait


class LightspeedXClient:
    """One connection's X-Series API (``async with LightspeedXClient(ctx) as client``)."""

    def __init__(
        self,
        ctx: ConnectionContext,
        *,
        refresh: Refresh | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: LightspeedXRateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.ctx = ctx
        self.token = TokenAuth(
            ctx, refresh, clock=clock, margin=REFRESH_MARGIN, platform_name="X-Series"
        )
        self.page_size = page_size
        extra: dict[str, Any] = {"jitter": jitter} if jitter is not None else {}
        self.http = ApiClient(
            base_url=base_url(ctx.app or {}, ctx.config),
            headers={"Accept": "application/json"},
            auth=self.token.headers,
            refresh_auth=self.token.refresh_on_401 if refresh is not None else None,
            limiter=(
                limiter
                if limiter is not None
                else LightspeedXRateLimiter(sleep=sleep, wall_clock=wall_clock)
            ),
            limit_key=str(ctx.config.get("domain_prefix") or ctx.connection_id),
            retry=retry or RetryPolicy(),
            transport=transport,
            wall_clock=wall_clock,
            sleep=sleep,
            **extra,
        )

    async def __aenter__(self) -> LightspeedXClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    @property
    def credentials(self) -> Credentials:
        return self.token.credentials

    # -- requests --------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """One request; ``data`` of the answer. X-Series documents no idempotency key, so a POST
        (a create) is not sent again after a timeout or a 5xx: the caller looks up what was
        created before it creates again. GET, PUT and DELETE are retried as usual."""
        try:
            resp = await self.http.request(
                method,
                path,
                params=params,
                json=body,
                idempotency_key=idempotency_key,
                replayable=method.upper() != "POST",
            )
        except ApiError as exc:
            raise ApiError(
                f"Lightspeed X {method} {path}: {exc.detail}",
                status=exc.status,
                retryable=exc.retryable,
            ) from None
        if not resp.content:
            return None
        data = resp.json()
        return data.get("data") if isinstance(data, dict) and "data" in data else data

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.call("GET", path, params=params)

    def pages(
        self, path: str, *, params: Mapping[str, Any] | None = None, cursor: str | None = None
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        """``(objects, next cursor)`` per page; the cursor is the largest version seen."""

        async def one(after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            query: dict[str, Any] = {**(params or {}), "page_size": self.page_size}
            if after:
                query["after"] = after
            data = await self.get(path, query)
            if not isinstance(data, list):
                raise ApiError(f"Lightspeed X GET {path}: data is not a list")
            items = [i for i in data if isinstance(i, dict)]
            versions = [int(i["version"]) for i in items if str(i.get("version", "")).isdigit()]
            if not items:
                return [], None
            if not versions:  # an unversioned collection (suppliers): one page
                return items, None
            return items, str(max(versions))

        return paginate(one, cursor)
