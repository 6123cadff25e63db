"""Wiring the X-Series client to the local fake (tests/fakes/lightspeed_x.py)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakes.lightspeed_x import WALL, FakeLightspeedX
from tillwise.connectors.lightspeed_x.backfill import LightspeedXApi, make_api
from tillwise.connectors.lightspeed_x.client import LightspeedXRateLimiter
from tillwise.ports.platform import ConnectionContext, Credentials

APP = {"client_id": "lsx-client", "client_secret": "lsx-secret", "currency": "NZD"}


class Saved:
    def __init__(self) -> None:
        self.credentials: list[Credentials] = []

    async def __call__(self, creds: Credentials) -> None:
        self.credentials.append(creds)


class Sleeps:
    """Records waits; its clock advances by them (no real sleeping)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 0.0

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def context(fake: FakeLightspeedX, saved: Saved | None = None, **creds: Any) -> ConnectionContext:
    return ConnectionContext(
        connection_id="con_lsx",
        platform="lightspeed-x",
        config={"domain_prefix": "acme", "currency": "NZD"},
        credentials=Credentials(
            access_token=creds.get("access_token", fake.access_token),
            refresh_token=creds.get("refresh_token", fake.refresh_token),
        ),
        save_credentials=saved,
        app=APP,
    )


def api(
    fake: FakeLightspeedX, ctx: ConnectionContext, sleeps: Sleeps | None = None, **kw: Any
) -> LightspeedXApi:
    sleeps = sleeps or Sleeps()
    limiter = LightspeedXRateLimiter(clock=sleeps.clock, wall_clock=WALL.timestamp, sleep=sleeps)
    return make_api(
        ctx,
        transport=httpx.ASGITransport(app=fake.app),
        sleep=sleeps,
        limiter=limiter,
        wall_clock=WALL.timestamp,
        jitter=lambda: 0.5,
        **kw,
    )
