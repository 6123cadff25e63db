"""The Clover REST v3 client for one connection: regional host, bearer token (refreshed
through OAuth v2 with single-use refresh tokens), Clover's rate-limit signals, and
``limit``/``offset`` pagination over ``{"elements": [...]}`` lists.

Rate limits (docs.clover.com/docs/api-usage-rate-limits): 16 requests/s per token and 50/s
per app, and at most 5 concurrent requests per token and 10 per app — enforced client-side:
the limiter's :class:`~tillwise.connectors._http.ConcurrencyLimiter` holds a slot per request
on the wire, keyed like the pacing (configurable: ``max_concurrent_per_token`` /
``max_concurrent_per_app`` app settings). A 429 names the limit it hit:
``X-RateLimit-tokenLimit`` (this merchant's token: slow only this connection) or
``X-RateLimit-crossTokenLimit`` (the app across all merchants: slow every connection).
:class:`CloverRateLimiter` is shared by all connections of the app (one per connector) and
keeps a bucket per merchant plus one for the app; throttled, it backs off 1 s, 2 s, 4 s…
(Clover's advice) unless ``Retry-After`` says otherwise.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tillwise.ports.platform import ConnectionContext, Credentials

from .._http import (
    ApiClient,
    ApiError,
    ConcurrencyLimiter,
    Refresher,
    RetryPolicy,
    TokenAuth,
    paginate,
    retry_after_seconds,
)

# REST hosts by region [partly UNVERIFIED]; ``api_base_url`` in the app or connection config wins
API_HOSTS: dict[str, str] = {
    "na": "https://api.clover.com",
    "us": "https://api.clover.com",
    "eu": "https://api.eu.clover.com",
    "la": "https://api.la.clover.com",
    "sandbox": "https://apisandbox.dev.clover.com",
}
APP_KEY = "app"
TOKEN_HEADER = "x-ratelimit-tokenlimit"
CROSS_TOKEN_HEADER = "x-ratelimit-crosstokenlimit"
# [UNVERIFIED] name of the app-wide concurrency 429's header (a third-party summary, not Clover)
CROSS_TOKEN_CONCURRENT_HEADER = "x-ratelimit-crosstokenconcurrentlimit"
APP_HEADERS = frozenset({CROSS_TOKEN_HEADER, CROSS_TOKEN_CONCURRENT_HEADER})
DEFAULT_PAGE_SIZE = 100  # Clover accepts up to 1000 [UNVERIFIED]
REFRESH_MARGIN = timedelta(seconds=60)
TOKEN_CONCURRENCY = 5  # concurrent requests per token (merchant)
APP_CONCURRENCY = 10  # concurrent requests per app, across merchants


def api_base_url(app: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> str:
    config = config or {}
    explicit = config.get("api_base_url") or app.get("api_base_url")
    if explicit:
        return str(explicit).rstrip("/")
    region = str(config.get("region") or app.get("region") or "na").lower()
    if region not in API_HOSTS:
        raise ValueError(f"unknown Clover region {region!r} (na, eu, la, sandbox)")
    return API_HOSTS[region]


class CloverRateLimiter:
    """Keyed pacing (per merchant token and per app) driven by Clover's 429 headers, and the
    concurrent-request caps (``concurrency``, same keys) the app's clients share."""

    def __init__(
        self,
        *,
        token_rps: float = 16.0,
        app_rps: float = 50.0,
        token_concurrency: int | None = TOKEN_CONCURRENCY,
        app_concurrency: int | None = APP_CONCURRENCY,
        base: float = 1.0,
        cap: float = 32.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.token_interval = 1.0 / token_rps
        self.app_interval = 1.0 / app_rps
        self.base, self.cap = base, cap
        self.concurrency = ConcurrencyLimiter(per_key=token_concurrency, total=app_concurrency)
        self.clock, self.sleep = clock, sleep
        self._next: dict[str, float] = {}  # earliest start of the next request, per bucket
        self._paused: dict[str, float] = {}  # throttled until, per bucket
        self._strikes: dict[str, int] = {}  # consecutive 429s, per bucket

    def paused_until(self, key: str) -> float:
        return max(self._paused.get(key, 0.0), self._paused.get(APP_KEY, 0.0))

    async def before(self, key: str) -> None:
        now = self.clock()
        start = max(
            now,
            self.paused_until(key),
            self._next.get(key, 0.0),
            self._next.get(APP_KEY, 0.0),
        )
        self._next[key] = start + self.token_interval
        self._next[APP_KEY] = start + self.app_interval
        if start > now:
            await self.sleep(start - now)

    def after(self, key: str, response: httpx.Response) -> float | None:
        if response.status_code != 429:
            self._strikes[key] = 0
            return None
        names = {name.lower() for name in response.headers}
        scope = APP_KEY if names & APP_HEADERS else key
        strikes = self._strikes.get(scope, 0) + 1
        self._strikes[scope] = strikes
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is None:
            wait = min(self.cap, self.base * 2 ** (strikes - 1))
        self._paused[scope] = max(self._paused.get(scope, 0.0), self.clock() + wait)
        return wait


class CloverSession:
    """Authenticated REST calls for one connection (merchant)."""

    def __init__(
        self,
        ctx: ConnectionContext,
        *,
        oauth: Refresher | None,
        limiter: CloverRateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry: RetryPolicy | None = None,
    ) -> None:
        merchant = ctx.config.get("merchant_id")
        if not merchant:
            raise ValueError("a Clover connection needs config['merchant_id']")
        self.ctx = ctx
        self.merchant_id = str(merchant)
        self._oauth = oauth
        self._transport = transport

        async def refresh(c: ConnectionContext) -> Credentials:
            assert oauth is not None
            return await oauth.refresh(c, transport=transport)

        # single-use refresh tokens: one refresh at a time, saved before anything uses it
        self.token = TokenAuth(
            ctx,
            refresh if oauth is not None else None,
            clock=now,
            margin=REFRESH_MARGIN,
            platform_name="Clover",
        )
        self.client = ApiClient(
            base_url=api_base_url(ctx.app, ctx.config),
            headers={"Accept": "application/json"},
            auth=self.token.headers,
            refresh_auth=self.token.refresh_on_401 if oauth is not None else None,
            limiter=limiter,
            limit_key=self.merchant_id,
            concurrency=limiter.concurrency if limiter is not None else None,
            transport=transport,
            sleep=sleep,
            jitter=jitter,
            retry=retry or RetryPolicy(),
        )

    @property
    def merchant_path(self) -> str:
        return f"/v3/merchants/{self.merchant_id}"

    @property
    def credentials(self) -> Credentials:
        return self.token.credentials

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.client.get_json(f"{self.merchant_path}{path}", params=params)

    async def list_page(
        self, path: str, params: Mapping[str, Any], offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        body = await self.get(path, {**params, "limit": limit, "offset": offset})
        elements = body.get("elements") if isinstance(body, dict) else None
        if not isinstance(elements, list):
            raise ApiError(f"GET {path}: the response has no 'elements' list", status=200)
        nxt = str(offset + len(elements)) if len(elements) >= limit else None
        return elements, nxt

    def pages(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Any:
        """``(elements, next offset)`` pages from ``cursor`` (an offset) on."""

        async def fetch(cur: str | None) -> tuple[list[dict[str, Any]], str | None]:
            return await self.list_page(path, params, int(cur or 0), limit)

        return paginate(fetch, cursor)

    async def aclose(self) -> None:
        await self.client.aclose()
