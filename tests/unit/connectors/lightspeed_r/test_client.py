"""The R-Series client against the fake: pagination, the leaky bucket, 429, token refresh."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tillwise.connectors._http import ApiError
from tillwise.connectors.lightspeed_r.client import BucketLimiter, next_cursor

from ._env import NOW, Env


async def test_pages_follow_the_next_url_and_read_single_objects() -> None:
    env = Env(page_size=2)
    client = env.client()
    pages = [page async for page in client.pages("Item", {})]
    await client.aclose()
    assert [[o["itemID"] for o in objs] for objs, _ in pages] == [["11", "12"], ["13"]]
    assert pages[0][1] is not None and "after=2" in pages[0][1]
    assert pages[-1][1] is None  # the last page (a single object, not an array) ends it


def test_offset_pagination_when_there_is_no_next_url() -> None:
    assert (
        next_cursor({"@attributes": {"count": "250", "offset": "100", "limit": "100"}})
        == "offset:200"
    )
    assert next_cursor({"@attributes": {"count": "250", "offset": "200", "limit": "100"}}) is None
    assert next_cursor({"@attributes": {"next": "", "previous": ""}}) is None


async def test_the_limiter_waits_before_a_request_that_would_overflow_the_bucket() -> None:
    env = Env()
    env.fake.level = 55  # the account is busy elsewhere
    client = env.client()
    await client.get("/Shop.json")  # GET costs 1: fits; the response says 56/60
    assert env.clock.sleeps == []
    # a write costs 10: 56 + 10 > 60 → wait 6 s at 1 unit/s before sending, and no 429
    await client.write("PUT", "/Customer/5.json", json={"firstName": "Ada"})
    await client.aclose()
    assert env.clock.sleeps == [pytest.approx(6.0)]
    assert [m for m, _, _ in env.fake.requests] == ["GET", "PUT"]


def test_the_limiter_learns_level_size_and_drip_from_headers() -> None:
    limiter = BucketLimiter(clock=lambda: 0.0)
    resp = httpx.Response(
        200, headers={"X-LS-API-Bucket-Level": "30/120", "X-LS-API-Drip-Rate": "2"}
    )
    assert limiter.after("acct#1", resp) is None
    assert limiter.level("acct") == 30
    full = httpx.Response(
        429, headers={"X-LS-API-Bucket-Level": "120/120", "X-LS-API-Drip-Rate": "2"}
    )
    assert limiter.after("acct#10", full) == pytest.approx(5.0)  # 10 units at 2/s


async def test_a_429_waits_for_the_bucket_then_succeeds() -> None:
    env = Env()
    env.fake.level = 60
    client = env.client()
    # the limiter did not know the bucket was full: the fake answers 429, then it drains
    body = await client.get("/Shop.json")
    await client.aclose()
    assert len(body["Shop"]) == 2
    assert env.clock.sleeps and env.clock.sleeps[0] >= 1.0
    assert sum(1 for m, _, _ in env.fake.requests if m == "GET") == 2


async def test_a_401_refreshes_saves_the_rotated_token_first_and_retries() -> None:
    env = Env()
    env.fake.expire_access_tokens()
    client = env.client()
    body = await client.get("/Shop.json")
    await client.aclose()
    assert len(body["Shop"]) == 2
    [saved] = env.saved
    assert saved.refresh_token == "refresh-2" and saved.access_token == "access-2"
    assert "refresh-1" not in env.fake.refresh_tokens  # the old one is spent


async def test_an_expired_token_is_refreshed_before_sending() -> None:
    env = Env()
    client = env.client(env.ctx(expires_in=30))  # within the 60 s margin
    await client.get("/Shop.json")
    await client.aclose()
    assert [c.access_token for c in env.saved] == ["access-2"]
    assert env.saved[0].expires_at == NOW + timedelta(seconds=3600)
    auths = [h["authorization"] for m, _, h in env.fake.requests if m == "GET"]
    assert auths == ["Bearer access-2"]


async def test_a_revoked_refresh_token_surfaces_as_an_error() -> None:
    env = Env()
    env.fake.expire_access_tokens()
    env.fake.refresh_tokens.clear()
    client = env.client()
    with pytest.raises(ApiError) as err:
        await client.get("/Shop.json")
    await client.aclose()
    assert err.value.status == 400 and "revoked" in err.value.detail
    assert env.saved == []
