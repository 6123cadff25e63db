"""Shared set-up: the fake R-Series API, a fake clock whose sleep only records, contexts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.fakes.lightspeed_r import ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET, FakeRSeries
from tillwise.connectors._http import RetryPolicy
from tillwise.connectors.lightspeed_r.backfill import LightspeedRApi
from tillwise.connectors.lightspeed_r.client import BucketLimiter, RSeriesClient
from tillwise.connectors.lightspeed_r.oauth import LightspeedROAuth
from tillwise.ports.platform import ConnectionContext, Credentials

APP = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class Env:
    def __init__(self, **fake: Any) -> None:
        self.clock = Clock()
        self.fake = FakeRSeries(clock=self.clock.now, **fake)
        self.transport = httpx.ASGITransport(app=self.fake.app)
        self.saved: list[Credentials] = []

    async def save(self, creds: Credentials) -> None:
        self.saved.append(creds)

    def ctx(
        self, *, access: str = "access-1", expires_in: int = 3600, **config: Any
    ) -> ConnectionContext:
        return ConnectionContext(
            connection_id="con_r",
            platform="lightspeed-r",
            config={"account_id": ACCOUNT_ID, **config},
            credentials=Credentials(
                access_token=access,
                refresh_token="refresh-1",
                expires_at=NOW + timedelta(seconds=expires_in),
            ),
            save_credentials=self.save,
            app=APP,
        )

    def client(self, ctx: ConnectionContext | None = None) -> RSeriesClient:
        oauth = LightspeedROAuth(APP, now=lambda: NOW)

        async def refresh(c: ConnectionContext) -> Credentials:
            return await oauth.refresh(c, transport=self.transport)

        return RSeriesClient(
            ctx or self.ctx(),
            app=APP,
            refresh=refresh,
            limiter=BucketLimiter(clock=self.clock.now, sleep=self.clock.sleep),
            transport=self.transport,
            sleep=self.clock.sleep,
            now=lambda: NOW,
            retry=RetryPolicy(max_attempts=4),
        )

    def api(self, ctx: ConnectionContext | None = None) -> LightspeedRApi:
        ctx = ctx or self.ctx()
        return LightspeedRApi(ctx, app=APP, client=self.client(ctx))
