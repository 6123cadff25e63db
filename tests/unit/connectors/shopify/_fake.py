"""Wiring the Shopify connector to the local fake (tests/fakes/shopify.py)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.fakes.shopify import CLIENT_ID, CLIENT_SECRET, SHOP, VERSION, FakeShopify
from tillwise.connectors._http import RetryPolicy
from tillwise.connectors.shopify.backfill import ShopifyApi, make_api
from tillwise.connectors.shopify.client import ShopifyRateLimiter
from tillwise.ports.platform import ConnectionContext, Credentials

APP = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_version": VERSION}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Clock:
    """Fake time: ``sleep`` records each wait and moves the clock on (no real sleeping)."""

    t: float = 1000.0
    waits: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.t += seconds

    def monotonic(self) -> float:
        return self.t


@dataclass
class Saved:
    credentials: list[Credentials] = field(default_factory=list)

    async def __call__(self, creds: Credentials) -> None:
        self.credentials.append(creds)


def fake_shop(clock: Clock | None = None, *, page_size: int = 1) -> FakeShopify:
    fake = FakeShopify(page_size=page_size, now=NOW)
    if clock is not None:
        fake.clock = clock.monotonic
    return fake


def transport(fake: FakeShopify) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=fake.app())


def context(
    fake: FakeShopify,
    *,
    access: str | None = None,
    refresh: str | None = None,
    expires_at: datetime | None = None,
    saved: Callable[[Credentials], Awaitable[None]] | None = None,
) -> ConnectionContext:
    if access is None:
        access, refresh = fake.issue_token()
        expires_at = expires_at or fake.tokens[access]
    return ConnectionContext(
        connection_id="con_sh",
        platform="shopify",
        config={"shop": SHOP},
        credentials=Credentials(access_token=access, refresh_token=refresh, expires_at=expires_at),
        save_credentials=saved,
        app=APP,
    )


def api(
    fake: FakeShopify,
    ctx: ConnectionContext,
    clock: Clock | None = None,
    *,
    max_attempts: int = 5,
) -> ShopifyApi:
    clock = clock or Clock()
    return make_api(
        ctx,
        app=APP,
        transport=transport(fake),
        sleep=clock.sleep,
        limiter=ShopifyRateLimiter(clock=clock.monotonic, sleep=clock.sleep),
        jitter=lambda: 0.5,
        retry=RetryPolicy(max_attempts=max_attempts),
        clock=lambda: NOW,
    )


def sync(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body with asyncio.run (the suite has no async plugin)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run
