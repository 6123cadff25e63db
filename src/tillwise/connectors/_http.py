"""The one HTTP client every connector's API calls go through (httpx).

What it does for every platform, so no connector writes its own:

* **Retries with jitter** on 429, 5xx and network failures (full jitter: a random wait in
  ``[0, min(cap, base·2^attempt)]``), honouring the server's ``Retry-After`` in seconds *or*
  as an HTTP date (Lightspeed X sends dates); a wait longer than ``max_retry_after`` is not
  slept but raised as retryable, so a worker can park the job instead of blocking.
* **Platform rate-limit signals** through a :class:`RateLimiter`: before each request it may
  wait (a leaky bucket that the platform's own headers keep honest — Shopify's GraphQL cost
  and ``throttleStatus``, Lightspeed R's ``X-LS-API-Bucket-Level``, Clover's token vs app
  limit headers); after each response it learns from the headers and may ask for a wait.
  Limiters are keyed (per merchant/token vs per app) so one busy merchant does not slow all.
* **Concurrency caps** through a :class:`ConcurrencyLimiter`, keyed like the rate limiter:
  at most N requests in flight per key (a merchant's token) and M across all keys (the app),
  held only while a request is on the wire (not while it backs off). Clover publishes such
  caps; platforms that publish none pass no limiter.
* **Auth refresh**: on a 401 it calls ``refresh_auth`` once (rotating refresh tokens are
  persisted by the caller atomically) and repeats the request.
* **Idempotency keys on writes**: ``idempotency_key=`` puts the key in the platform's header
  (or the caller puts it in the body, e.g. Square), and the same key is sent on every retry.
  Where the platform documents no such key, a create is sent with ``replayable=False``: it is
  retried only when it surely did not arrive (the connection was never made, 429, throttled);
  after a timeout or a 5xx it fails as retryable at once, so the caller looks up what the
  platform has before it creates anything again.
* **Pagination** helpers: :func:`paginate` walks any cursor protocol (Link header page_info,
  GraphQL cursors, Square cursors, Clover offsets, Lightspeed X ``after=version``, R-Series
  ``@attributes.next``) given a function that fetches one page and returns the next cursor.

Errors: :class:`ApiError` with ``status``, ``detail`` (the platform's message) and
``retryable``. Secrets (tokens) are only ever in headers, never in error text or logs.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import httpx

from tillwise.ports.platform import ConnectionContext, Credentials

T = TypeVar("T")
C = TypeVar("C")
USER_AGENT = "tillwise/1 (+https://github.com/tillwise)"


class ApiError(Exception):
    """The platform refused or could not be reached (after the retries)."""

    def __init__(self, detail: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.retryable = retryable


# transport failures before anything reached the platform: safe to send again
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def is_retryable(status: int | None) -> bool:
    """429, 5xx and network failures (``None``) are worth another try."""
    return status is None or status == 429 or status >= 500


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or
    unreadable (never negative)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff(attempt: int, jitter: float, *, base: float, cap: float) -> float:
    """Full jitter before retry number ``attempt`` (1, 2, ...): a uniform wait in
    ``[0, min(cap, base·2^(attempt-1)))`` (``jitter`` ∈ [0, 1))."""
    return jitter * min(cap, base * 2 ** max(0, attempt - 1))


def problem_detail(resp: httpx.Response) -> str:
    """The platform's own words for an error response, short; never the request's headers."""
    try:
        body = resp.json()
    except ValueError:
        text = resp.text.strip()
        return f"HTTP {resp.status_code}" + (f": {text[:300]}" if text else "")
    if isinstance(body, dict):
        field = body.get("field")
        errors = body.get("errors")
        if not field and isinstance(errors, list) and errors and isinstance(errors[0], dict):
            field = errors[0].get("field")
        at = f" (field {field})" if field else ""
        for key in ("detail", "message", "error_description", "error", "errors", "title"):
            value = body.get(key)
            if value:
                return f"HTTP {resp.status_code}: {str(value)[:300]}{at}"
    return f"HTTP {resp.status_code}: {str(body)[:300]}"


class RateLimiter(Protocol):
    """A platform's rate-limit policy; ``key`` names the bucket (a merchant/token, or app)."""

    async def before(self, key: str) -> None:
        """Wait, if the bucket says so, before sending a request."""
        ...

    def after(self, key: str, response: httpx.Response) -> float | None:
        """Learn from the response's headers/body; for a throttled response, how long to wait
        before retrying (None: use ``Retry-After`` or backoff)."""
        ...


class _Slots:
    """One event loop's semaphores (asyncio primitives belong to the loop that uses them)."""

    def __init__(self, per_key: int | None, total: int | None) -> None:
        self.per_key = per_key
        self.keys: dict[str, asyncio.Semaphore] = {}
        self.app = asyncio.Semaphore(total) if total is not None else None
        self.in_flight: Counter[str] = Counter()
        self.waiting: Counter[str] = Counter()

    def semaphores(self, key: str) -> list[asyncio.Semaphore]:
        out: list[asyncio.Semaphore] = []
        if self.per_key is not None:
            out.append(self.keys.setdefault(key, asyncio.Semaphore(self.per_key)))
        if self.app is not None:
            out.append(self.app)  # taken after the key's, so a busy key holds no app slot idle
        return out


class ConcurrencyLimiter:
    """At most ``per_key`` requests in flight per key (a merchant's token) and ``total`` across
    every key (the app); None: no cap. Share one per app, like its :class:`RateLimiter`."""

    def __init__(self, *, per_key: int | None = None, total: int | None = None) -> None:
        for name, value in (("per_key", per_key), ("total", total)):
            if value is not None and value < 1:
                raise ValueError(f"a concurrency cap ({name}) must be at least 1, not {value}")
        self.per_key, self.total = per_key, total
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slots] = (
            weakref.WeakKeyDictionary()
        )

    def _slots(self) -> _Slots:
        loop = asyncio.get_running_loop()
        slots = self._loops.get(loop)
        if slots is None:
            slots = self._loops[loop] = _Slots(self.per_key, self.total)
        return slots

    def in_flight(self, key: str | None = None) -> int:
        """Requests holding a slot now: for ``key``, or in all (this event loop)."""
        counts = self._slots().in_flight
        return counts[key] if key is not None else sum(counts.values())

    def waiting(self, key: str | None = None) -> int:
        """Requests queued for a slot now: for ``key``, or in all (this event loop)."""
        counts = self._slots().waiting
        return counts[key] if key is not None else sum(counts.values())

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        slots = self._slots()
        held: list[asyncio.Semaphore] = []
        slots.waiting[key] += 1
        try:
            for semaphore in slots.semaphores(key):
                await semaphore.acquire()
                held.append(semaphore)
        except BaseException:
            for semaphore in reversed(held):
                semaphore.release()
            raise
        finally:
            slots.waiting[key] -= 1
        slots.in_flight[key] += 1
        try:
            yield
        finally:
            slots.in_flight[key] -= 1
            for semaphore in reversed(held):
                semaphore.release()


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0


@dataclass
class ApiClient:
    """One platform API (one connection, or the app): ``await client.request(...)``."""

    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: Callable[[], Awaitable[Mapping[str, str]]] | None = None  # current auth headers
    refresh_auth: Callable[[], Awaitable[None]] | None = None  # on 401: refresh, once
    limiter: RateLimiter | None = None
    limit_key: str = ""  # the key of both the rate limiter and the concurrency caps
    concurrency: ConcurrencyLimiter | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    transport: httpx.AsyncBaseTransport | None = None
    wall_clock: Callable[[], float] = time.time  # for Retry-After HTTP dates
    timeout: float = 30.0
    idempotency_header: str = "Idempotency-Key"
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: Callable[[], float] = random.random
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                transport=self.transport,
                timeout=self.timeout,
                headers={"User-Agent": USER_AGENT, **dict(self.headers)},
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        ok: Callable[[httpx.Response], bool] | None = None,
        replayable: bool = True,
    ) -> httpx.Response:
        """Send with retries; returns the first acceptable response (2xx unless ``ok`` says
        otherwise; ``response.extensions["attempts"]`` says how many it took) or raises
        :class:`ApiError`. ``replayable=False``: a request the platform may have acted on (a
        timeout after sending, a 5xx) is not sent again (module docstring)."""
        extra = dict(headers or {})
        if idempotency_key is not None:
            extra[self.idempotency_header] = idempotency_key
        refreshed = False
        attempt = 0
        while True:
            if self.limiter is not None:
                await self.limiter.before(self.limit_key)
            auth = dict(await self.auth()) if self.auth is not None else {}
            try:
                resp = await self._send(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    content=content,
                    headers={**auth, **extra},
                )
            except httpx.TransportError as exc:
                status: int | None = None
                detail = f"{type(exc).__name__} calling {method} {url}"
                wait = None
                if not replayable and not isinstance(exc, _NOT_SENT):
                    raise ApiError(
                        f"{detail}: it may have been received, so it is not sent again",
                        status=None,
                        retryable=True,
                    ) from None
            else:
                throttle = self.limiter.after(self.limit_key, resp) if self.limiter else None
                accepted = ok(resp) if ok is not None else resp.is_success
                if accepted and throttle is None:
                    resp.extensions["attempts"] = attempt + 1
                    return resp
                status, detail = resp.status_code, problem_detail(resp)
                if status == 401 and self.refresh_auth is not None and not refreshed:
                    refreshed = True
                    await self.refresh_auth()
                    continue
                if throttle is None and not is_retryable(status):
                    raise ApiError(detail, status=status, retryable=False)
                if throttle is None and not replayable and status != 429:
                    raise ApiError(
                        f"{detail}: it may have been acted on, so it is not sent again",
                        status=status,
                        retryable=True,
                    )
                # throttled (even a 200 that the limiter read as THROTTLED), 429 or 5xx
                wait = throttle
                if wait is None:
                    wait = retry_after_seconds(resp.headers.get("Retry-After"), self.wall_clock())
            attempt += 1
            if attempt >= self.retry.max_attempts:
                raise ApiError(
                    f"{detail} (gave up after {attempt} attempts)", status=status, retryable=True
                )
            if wait is None:
                wait = backoff(attempt, self.jitter(), base=self.retry.base, cap=self.retry.cap)
            if wait > self.retry.max_retry_after:
                raise ApiError(
                    f"{detail} (asked to wait {wait:.0f} s)", status=status, retryable=True
                )
            await self.sleep(wait)

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP exchange, inside a concurrency slot when the platform caps them."""
        if self.concurrency is None:
            return await self._http().request(method, url, **kwargs)
        async with self.concurrency.slot(self.limit_key):
            return await self._http().request(method, url, **kwargs)

    async def get_json(self, url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return (await self.request("GET", url, params=params)).json()


async def paginate(
    fetch: Callable[[str | None], Awaitable[tuple[list[T], str | None]]],
    cursor: str | None = None,
) -> AsyncIterator[tuple[list[T], str | None]]:
    """Pages of any cursor protocol: ``fetch(cursor)`` returns ``(items, next_cursor)``; stops
    when the next cursor is None (or repeats, a platform bug that would loop forever). Yields
    each page with the cursor that *continues after it* — the checkpoint to store."""
    seen: set[str] = set()
    while True:
        items, next_cursor = await fetch(cursor)
        yield items, next_cursor
        if next_cursor is None or next_cursor in seen:
            return
        seen.add(next_cursor)
        cursor = next_cursor


def link_next(link_header: str | None) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 ``Link`` header (Shopify REST page_info)."""
    if not link_header:
        return None
    for part in link_header.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        url = section[0].strip()
        if not (url.startswith("<") and url.endswith(">")):
            continue
        if any(p.strip().replace(" ", "") in ('rel="next"', "rel=next") for p in section[1:]):
            return url[1:-1]
    return None


Refresh = Callable[[ConnectionContext], Awaitable[Credentials]]
"""Exchanges a connection's refresh token for new credentials (for :class:`TokenAuth`)."""


class Refresher(Protocol):
    """A platform's OAuth, as far as refreshing a connection's token goes."""

    async def refresh(self, ctx: ConnectionContext, *, transport: Any = None) -> Credentials: ...


def connection_client(
    ctx: ConnectionContext,
    make_client: Callable[..., C],
    make_oauth: Callable[[dict[str, str]], Refresher],
    *,
    app: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Any,
) -> C:
    """A connection's platform client, refreshing its token through the platform's OAuth when
    it has a refresh token. ``app`` (the app's settings) fills ``ctx.app`` when that is empty;
    ``transport`` serves the API and the refresh calls alike (the local fakes in tests);
    ``options`` given as None are left to the client's defaults."""
    settings = dict(app if app is not None else ctx.app)
    if app is not None and not ctx.app:
        ctx = replace(ctx, app=settings)
    oauth = make_oauth(settings)
    refresh: Refresh | None = None
    if ctx.credentials.refresh_token:

        async def refresh_token(c: ConnectionContext) -> Credentials:
            return await oauth.refresh(c, transport=transport)

        refresh = refresh_token
    given = {name: value for name, value in options.items() if value is not None}
    return make_client(ctx, refresh=refresh, transport=transport, **given)


class TokenAuth:
    """A connection's bearer credentials for :class:`ApiClient`: refreshed shortly before they
    expire and once on a 401, one refresh at a time (concurrent requests wait for it and reuse
    the result), and saved through ``ctx.save_credentials`` *before* the new token is used —
    rotating refresh tokens are single-use on most platforms.

    Use ``auth=token.headers`` and ``refresh_auth=token.refresh_on_401`` on the client."""

    def __init__(
        self,
        ctx: ConnectionContext,
        refresh: Callable[[ConnectionContext], Awaitable[Credentials]] | None,
        *,
        clock: Callable[[], datetime],
        margin: timedelta = timedelta(minutes=5),
        header: str = "Authorization",
        scheme: str = "Bearer ",
        platform_name: str = "",
    ) -> None:
        self.ctx = ctx
        self.credentials = ctx.credentials
        self._refresh_with = refresh
        self._clock = clock
        self._margin = margin
        self._header = header
        self._scheme = scheme
        self._name = platform_name or ctx.platform
        self._lock = asyncio.Lock()

    @property
    def can_refresh(self) -> bool:
        return self._refresh_with is not None

    def expiring(self) -> bool:
        expires = self.credentials.expires_at
        return expires is not None and expires - self._margin <= self._clock()

    async def headers(self) -> Mapping[str, str]:
        if self._refresh_with is not None and self.expiring():
            await self.refresh(force=False)
        if not self.credentials.access_token:
            raise ApiError(f"connection {self.ctx.connection_id} has no {self._name} access token")
        return {self._header: f"{self._scheme}{self.credentials.access_token}"}

    async def refresh_on_401(self) -> None:
        await self.refresh(force=True)

    async def refresh(self, *, force: bool) -> None:
        if self._refresh_with is None:
            return
        stale = self.credentials
        async with self._lock:
            if self.credentials is not stale or (not force and not self.expiring()):
                return  # another request refreshed meanwhile
            new = await self._refresh_with(replace(self.ctx, credentials=self.credentials))
            if self.ctx.save_credentials is not None:
                await self.ctx.save_credentials(new)  # persisted before it is used
            self.credentials = new
