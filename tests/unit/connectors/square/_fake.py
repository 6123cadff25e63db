"""Wiring the Square connector to the local fake (tests/fakes/square.py)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.fakes.square import APPLICATION_ID, APPLICATION_SECRET, MERCHANT_ID, FakeSquare
from tillwise.connectors._http import RetryPolicy
from tillwise.connectors.square.backfill import SquareApi, make_api
from tillwise.connectors.square.client import SquareRateLimiter
from tillwise.ports.platform import ConnectionContext, Credentials

APP = {
    "application_id": APPLICATION_ID,
    "application_secret": APPLICATION_SECRET,
    "environment": "production",
    "api_version": "2024-07-17",
}
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


def transport(fake: FakeSquare) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=fake.app())


def context(
    fake: FakeSquare,
    *,
    access: str | None = None,
    refresh: str | None = None,
    expires_at: datetime | None = None,
    saved: Callable[[Credentials], Awaitable[None]] | None = None,
) -> ConnectionContext:
    if access is None:
        access, refresh = fake.issue_token()
        expires_at = expires_at or fake.tokens[access].expires_at
    return ConnectionContext(
        connection_id="con_sq",
        platform="square",
        config={"merchant_id": MERCHANT_ID},
        credentials=Credentials(access_token=access, refresh_token=refresh, expires_at=expires_at),
        save_credentials=saved,
        app=APP,
    )


def api(
    fake: FakeSquare,
    ctx: ConnectionContext,
    clock: Clock | None = None,
    *,
    max_attempts: int = 5,
    now: datetime = NOW,
) -> SquareApi:
    clock = clock or Clock()
    return make_api(
        ctx,
        app=APP,
        transport=transport(fake),
        sleep=clock.sleep,
        limiter=SquareRateLimiter(clock=clock.monotonic, sleep=clock.sleep),
        jitter=lambda: 0.5,
        retry=RetryPolicy(max_attempts=max_attempts),
        clock=lambda: now,
    )


def in_a_while(days: int) -> datetime:
    return NOW + timedelta(days=days)


def sync(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body with asyncio.run (the suite has no async plugin)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run
