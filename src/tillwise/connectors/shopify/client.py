"""The Shopify Admin API client: the shared :class:`ApiClient` configured for Shopify.

* base URL ``https://{shop}`` (``config["shop"]``; ``config["api_base_url"]`` overrides it),
  REST under ``/admin/api/{version}/…json``, GraphQL at ``/admin/api/{version}/graphql.json``;
  the version is ``config["api_version"]``, else the app's ``api_version``, else 2026-10 (the
  stable version of October 2026, supported to October 2027; Shopify answers a retired version
  with the oldest one it still supports, so an old default would change under the client);
* ``X-Shopify-Access-Token: <token>``; expiring offline tokens are refreshed through
  ``oauth.refresh`` (persisted with ``ctx.save_credentials`` before use) shortly before they
  expire and once on a 401;
* rate limits, per shop: REST's leaky bucket header ``X-Shopify-Shop-Api-Call-Limit: 32/40``
  (when the bucket is nearly full the next request waits for it to drain at ``leak_rate`` per
  second) and 429 + ``Retry-After``; GraphQL's ``extensions.cost.throttleStatus`` — a
  ``THROTTLED`` error (HTTP 200) waits ``(requestedQueryCost − currentlyAvailable) /
  restoreRate`` seconds and is retried;
* pagination: REST ``Link: <…page_info=…>; rel="next"`` (the cursor is the ``page_info``
  value; later pages send only ``page_info`` and ``limit``), GraphQL
  ``pageInfo { hasNextPage endCursor }``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tillwise.ports.platform import ConnectionContext, Credentials

from .._http import (
    ApiClient,
    ApiError,
    Refresh,
    RetryPolicy,
    TokenAuth,
    link_next,
    paginate,
    retry_after_seconds,
)

DEFAULT_API_VERSION = "2026-10"
TOKEN_HEADER = "X-Shopify-Access-Token"
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
REFRESH_MARGIN = timedelta(minutes=5)
PAGE_LIMIT = 250


def api_version(app: Mapping[str, str], config: Mapping[str, Any]) -> str:
    configured = config.get("api_version")
    if isinstance(configured, str) and configured:
        return configured
    return app.get("api_version") or DEFAULT_API_VERSION


def base_url(config: Mapping[str, Any]) -> str:
    configured = config.get("api_base_url")
    if isinstance(configured, str) and configured:
        return configured.rstrip("/")
    shop = config.get("shop")
    if not isinstance(shop, str) or not shop:
        raise ApiError("the Shopify connection has no shop domain in its config")
    return f"https://{shop}"


def throttle_wait(body: Any) -> float | None:
    """Seconds to wait for a GraphQL response refused with ``THROTTLED`` (None: not throttled)."""
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    throttled = isinstance(errors, list) and any(
        isinstance(e, dict)
        and isinstance(e.get("extensions"), dict)
        and e["extensions"].get("code") == "THROTTLED"
        for e in errors
    )
    if not throttled:
        return None
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        requested = float(cost.get("requestedQueryCost", 0))
        available = float(status.get("currentlyAvailable", 0))
        restore = float(status.get("restoreRate", 50))
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, requested - available) / restore if restore > 0 else 1.0


class ShopifyRateLimiter:
    """Per-shop waits from Shopify's own signals (REST call-limit header, 429, GraphQL cost)."""

    def __init__(
        self,
        *,
        leak_rate: float = 2.0,  # REST requests drained per second (Standard plan) [per plan]
        headroom: int = 2,  # keep this many REST calls free in the bucket
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.leak_rate = leak_rate
        self.headroom = headroom
        self._clock = clock
        self._sleep = sleep
        self._until: dict[str, float] = {}

    async def before(self, key: str) -> None:
        wait = self._until.get(key, 0.0) - self._clock()
        if wait > 0:
            await self._sleep(wait)

    def _hold(self, key: str, seconds: float) -> None:
        self._until[key] = max(self._until.get(key, 0.0), self._clock() + seconds)

    def after(self, key: str, response: httpx.Response) -> float | None:
        if response.status_code == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            wait = 1.0 if wait is None else wait
            self._hold(key, wait)
            return wait
        used_limit = response.headers.get(CALL_LIMIT_HEADER)
        if used_limit:
            used, _, limit = used_limit.partition("/")
            try:
                over = int(used) - (int(limit) - self.headroom)
            except ValueError:
                over = -1
            if over >= 0:  # nearly full: let it drain before the next request
                self._hold(key, (over + 1) / self.leak_rate)
        if response.headers.get("content-type", "").startswith("application/json") and (
            response.request.url.path.endswith("/graphql.json")
        ):
            try:
                body = response.json()
            except ValueError:
                return None
            wait = throttle_wait(body)
            if wait is not None:
                self._hold(key, wait)
                return wait
        return None


class ShopifyClient:
    """One shop's Admin API (``async with ShopifyClient(ctx, ...) as client``)."""

    def __init__(
        self,
        ctx: ConnectionContext,
        *,
        refresh: Refresh | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: ShopifyRateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ctx = ctx
        self.token = TokenAuth(
            ctx,
            refresh,
            clock=clock,
            margin=REFRESH_MARGIN,
            header=TOKEN_HEADER,
            scheme="",
            platform_name="Shopify",
        )
        self.version = api_version(ctx.app or {}, ctx.config)
        self.prefix = f"/admin/api/{self.version}"
        extra: dict[str, Any] = {"jitter": jitter} if jitter is not None else {}
        self.http = ApiClient(
            base_url=base_url(ctx.config),
            headers={"Accept": "application/json"},
            auth=self.token.headers,
            refresh_auth=self.token.refresh_on_401 if refresh is not None else None,
            limiter=limiter if limiter is not None else ShopifyRateLimiter(sleep=sleep),
            limit_key=str(ctx.config.get("shop") or ctx.connection_id),
            retry=retry or RetryPolicy(),
            transport=transport,
            sleep=sleep,
            **extra,
        )

    async def __aenter__(self) -> ShopifyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    @property
    def credentials(self) -> Credentials:
        return self.token.credentials

    # -- REST ----------------------------------------------------------------------------

    def rest_path(self, resource_path: str) -> str:
        return f"{self.prefix}/{resource_path.lstrip('/')}"

    async def rest(
        self,
        method: str,
        resource_path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        path = self.rest_path(resource_path)
        try:
            return await self.http.request(
                method, path, params=params, json=body, idempotency_key=idempotency_key
            )
        except ApiError as exc:
            raise ApiError(
                f"Shopify {method} {path}: {exc.detail}", status=exc.status, retryable=exc.retryable
            ) from None

    def rest_pages(
        self,
        resource_path: str,
        key: str,
        *,
        params: Mapping[str, Any] | None = None,
        cursor: str | None = None,
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        """``(objects under key, next page_info)`` per page, following the ``Link`` header."""

        async def one(page_info: str | None) -> tuple[list[dict[str, Any]], str | None]:
            query: dict[str, Any] = {"limit": PAGE_LIMIT}
            if page_info:
                query["page_info"] = page_info  # no other filters alongside page_info
            else:
                query.update(params or {})
            resp = await self.rest("GET", resource_path, params=query)
            data = json.loads(resp.content) if resp.content else {}
            items = data.get(key) if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise ApiError(f"Shopify GET {resource_path}: {key} is not a list")
            nxt = link_next(resp.headers.get("Link"))
            next_info = parse_qs(urlsplit(nxt).query).get("page_info", [None])[0] if nxt else None
            return [i for i in items if isinstance(i, dict)], next_info

        return paginate(one, cursor)

    # -- GraphQL -------------------------------------------------------------------------

    async def graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        replayable: bool = True,
    ) -> dict[str, Any]:
        path = self.rest_path("graphql.json")
        try:
            resp = await self.http.request(
                "POST",
                path,
                json={"query": query, "variables": dict(variables or {})},
                idempotency_key=idempotency_key,
                replayable=replayable,
            )
        except ApiError as exc:
            raise ApiError(
                f"Shopify GraphQL: {exc.detail}", status=exc.status, retryable=exc.retryable
            ) from None
        body = resp.json()
        if not isinstance(body, dict):
            raise ApiError("Shopify GraphQL answered with a non-object body")
        errors = body.get("errors")
        if errors:
            first = errors[0] if isinstance(errors, list) and errors else errors
            message = first.get("message") if isinstance(first, dict) else str(first)
            raise ApiError(f"Shopify GraphQL: {message}", status=resp.status_code)
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def graphql_pages(
        self,
        query: str,
        connection: str,
        *,
        variables: Mapping[str, Any] | None = None,
        cursor: str | None = None,
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        """``(nodes of data.<connection>, endCursor when hasNextPage)`` per page; the query
        takes ``$first`` and ``$after``."""

        async def one(after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            data = await self.graphql(query, {**dict(variables or {}), "after": after})
            conn = data.get(connection) or {}
            nodes = conn.get("nodes")
            if nodes is None:
                nodes = [e.get("node") for e in conn.get("edges") or [] if isinstance(e, dict)]
            info = conn.get("pageInfo") or {}
            nxt = info.get("endCursor") if info.get("hasNextPage") else None
            return [n for n in nodes if isinstance(n, dict)], nxt

        return paginate(one, cursor)
