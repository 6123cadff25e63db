"""The R-Series API client for one connection: base URL, bearer token, leaky bucket, refresh.

* Base URL ``https://api.lightspeedapp.com/API/V3/Account/{account_id}`` [UNVERIFIED path:
  ``api_base_url`` in the connection config or the app settings overrides it; ``{account_id}``
  is filled from the connection config's ``account_id``].
* Auth: ``Authorization: Bearer <access token>``. Access tokens live about an hour; when the
  stored one is expired (or the API answers 401) the client refreshes through
  :meth:`LightspeedROAuth.refresh` and **persists the rotated pair with**
  ``ctx.save_credentials`` **before using it** (the old refresh token is dead from then on).
* Rate limit: a leaky bucket per account (:class:`BucketLimiter`): a GET costs 1 unit, a
  PUT/POST/DELETE 10; before sending, the client waits until the request's cost fits in the
  bucket, and it learns the real level and size from ``X-LS-API-Bucket-Level: <level>/<size>``
  and the drip rate from ``X-LS-API-Drip-Rate`` on every response. A 429 waits until the bucket
  has drained enough (or ``Retry-After`` when sent).
* Pagination: :meth:`RSeriesClient.pages` follows ``@attributes.next`` (V3 cursor URLs), or
  ``offset``/``limit`` when a response has no ``next`` (older accounts).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tillwise.ports.platform import ConnectionContext, Credentials

from .._http import ApiClient, ApiError, Refresh, RetryPolicy, TokenAuth, paginate
from .normalize import many

DEFAULT_API_BASE_URL = "https://api.lightspeedapp.com/API/V3/Account/{account_id}"
BUCKET_HEADER = "X-LS-API-Bucket-Level"
DRIP_HEADER = "X-LS-API-Drip-Rate"
READ_COST = 1.0
WRITE_COST = 10.0
DEFAULT_BUCKET_SIZE = 60.0
DEFAULT_DRIP_RATE = 1.0  # units per second
PAGE_LIMIT = 100  # R-Series' maximum
REFRESH_MARGIN = timedelta(seconds=60)
OFFSET_PREFIX = "offset:"


@dataclass
class _Bucket:
    level: float = 0.0
    size: float = DEFAULT_BUCKET_SIZE
    drip: float = DEFAULT_DRIP_RATE
    at: float = 0.0


@dataclass
class BucketLimiter:
    """R-Series' leaky bucket, kept per account. Keys are ``<account>#<cost>``: the
    :class:`~tillwise.connectors._http.RateLimiter` protocol does not pass the request, so the
    client uses one key per cost (reads and writes) on the same account bucket."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    @staticmethod
    def _split(key: str) -> tuple[str, float]:
        account, _, cost = key.rpartition("#")
        try:
            return account, float(cost)
        except ValueError:
            return key, READ_COST

    def _bucket(self, account: str) -> _Bucket:
        bucket = self._buckets.get(account)
        if bucket is None:
            bucket = self._buckets[account] = _Bucket(at=self.clock())
        return bucket

    def _drain(self, bucket: _Bucket) -> None:
        now = self.clock()
        bucket.level = max(0.0, bucket.level - (now - bucket.at) * bucket.drip)
        bucket.at = now

    def level(self, account: str) -> float:
        bucket = self._bucket(account)
        self._drain(bucket)
        return bucket.level

    async def before(self, key: str) -> None:
        account, cost = self._split(key)
        bucket = self._bucket(account)
        self._drain(bucket)
        overflow = bucket.level + cost - bucket.size
        if overflow > 0:
            await self.sleep(overflow / bucket.drip)
            self._drain(bucket)
        bucket.level += cost  # reserved now; the response's header corrects it

    def after(self, key: str, response: httpx.Response) -> float | None:
        account, cost = self._split(key)
        bucket = self._bucket(account)
        self._drain(bucket)
        drip = response.headers.get(DRIP_HEADER)
        if drip:
            try:
                value = float(drip)
            except ValueError:
                value = 0.0
            if value > 0:
                bucket.drip = value
        reported = response.headers.get(BUCKET_HEADER)
        if reported and "/" in reported:
            level, _, size = reported.partition("/")
            try:
                bucket.level, bucket.size = float(level), float(size)
            except ValueError:
                pass
        if response.status_code != 429:
            return None
        if response.headers.get("Retry-After"):
            return None  # the server said how long: _http honours Retry-After
        bucket.level = max(bucket.level, bucket.size)  # full, whatever the headers said
        return max(bucket.level + cost - bucket.size, cost) / bucket.drip


def api_base_url(ctx: ConnectionContext, app: Mapping[str, str]) -> str:
    account = ctx.config.get("account_id")
    if not account:
        raise ApiError(f"connection {ctx.connection_id} has no account_id in its config")
    template = str(
        ctx.config.get("api_base_url") or app.get("api_base_url") or DEFAULT_API_BASE_URL
    )
    return template.format(account_id=account).rstrip("/")


class RSeriesClient:
    """One connection's R-Series API (reads and writes), sharing one bucket per account."""

    def __init__(
        self,
        ctx: ConnectionContext,
        *,
        app: Mapping[str, str] | None = None,
        refresh: Refresh | None = None,
        limiter: BucketLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry: RetryPolicy | None = None,
    ) -> None:
        self.ctx = ctx
        self.app = dict(app or {})
        # rotating refresh tokens: one refresh at a time, saved before anything uses it
        self.token = TokenAuth(
            ctx, refresh, clock=now, margin=REFRESH_MARGIN, platform_name="R-Series"
        )
        self.limiter = limiter if limiter is not None else BucketLimiter(sleep=sleep)
        self.base_url = api_base_url(ctx, self.app)
        account = str(ctx.config["account_id"])
        common: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": {"Accept": "application/json"},
            "auth": self.token.headers,
            "refresh_auth": self.token.refresh_on_401 if refresh is not None else None,
            "limiter": self.limiter,
            "transport": transport,
            "sleep": sleep,
            "retry": retry or RetryPolicy(),
        }
        self.reads = ApiClient(limit_key=f"{account}#{READ_COST:g}", **common)
        self.writes = ApiClient(limit_key=f"{account}#{WRITE_COST:g}", **common)

    @property
    def credentials(self) -> Credentials:
        return self.token.credentials

    async def aclose(self) -> None:
        await self.reads.aclose()
        await self.writes.aclose()

    # -- reads ------------------------------------------------------------------------------

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return (await self.reads.request("GET", path, params=params)).json()

    async def pages(
        self, entity: str, params: Mapping[str, Any], cursor: str | None = None
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        """Pages of ``<entity>.json``: (objects, the cursor continuing after them)."""

        async def fetch(cur: str | None) -> tuple[list[dict[str, Any]], str | None]:
            query = {**params, "limit": PAGE_LIMIT}
            if cur is None:
                body = await self.get(f"/{entity}.json", query)
            elif cur.startswith(OFFSET_PREFIX):
                body = await self.get(
                    f"/{entity}.json", {**query, "offset": cur[len(OFFSET_PREFIX) :]}
                )
            else:
                body = await self.get(cur)  # the next URL, absolute, as R-Series gave it
            return many(body.get(entity)), next_cursor(body)

        async for page in paginate(fetch, cursor):
            yield page

    # -- writes -----------------------------------------------------------------------------

    async def write(
        self, method: str, path: str, *, json: Any = None, idempotency_key: str | None = None
    ) -> Any:
        """One write. R-Series documents no idempotency key, so a POST (a create) is not sent
        again after a timeout or a 5xx: the write-back's next attempt finds what was created by
        its ``refNum`` first. PUT and DELETE are idempotent and retried as usual."""
        resp = await self.writes.request(
            method,
            path,
            json=json,
            idempotency_key=idempotency_key,
            replayable=method.upper() != "POST",
        )
        return resp.json() if resp.content else {}


def next_cursor(body: Any) -> str | None:
    """Where the next page is: ``@attributes.next`` (a URL), else the next offset, else None."""
    if not isinstance(body, dict):
        return None
    attrs = body.get("@attributes")
    if not isinstance(attrs, dict):
        return None
    nxt = attrs.get("next")
    if isinstance(nxt, str):
        return nxt or None
    try:
        count, offset, limit = (int(attrs[k]) for k in ("count", "offset", "limit"))
    except (KeyError, TypeError, ValueError):
        return None
    return f"{OFFSET_PREFIX}{offset + limit}" if offset + limit < count else None
