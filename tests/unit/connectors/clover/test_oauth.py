"""Clover OAuth v2 against the fake: authorize URL, callback checks, exchange, refresh."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fakes.clover import CLIENT_ID, CLIENT_SECRET, MERCHANT, FakeClover
from tillwise.connectors._http import ApiError
from tillwise.connectors.clover import CloverOAuth, make_connector
from tillwise.ports.platform import ConnectionContext, Credentials, PayloadError, SignatureError

APP = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "region": "na"}


def test_authorize_url_carries_client_redirect_and_state() -> None:
    oauth = make_connector(APP).oauth
    assert oauth is not None
    url = oauth.authorize_url(
        state="st-123",
        redirect_uri="https://t.example/oauth/clover/callback",
        params={"merchant_id": MERCHANT},
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "www.clover.com",
        "/oauth/v2/authorize",
    )
    q = parse_qs(parts.query)
    assert q["client_id"] == [CLIENT_ID] and q["state"] == ["st-123"]
    assert q["redirect_uri"] == ["https://t.example/oauth/clover/callback"]
    assert q["merchant_id"] == [MERCHANT]
    sandbox = CloverOAuth({**APP, "region": "sandbox"})
    assert sandbox.authorize_url(state="s", redirect_uri="r", params={}).startswith(
        "https://sandbox.dev.clover.com/oauth/v2/authorize?"
    )


def test_settings_names_app_id_and_app_secret_are_understood() -> None:
    conn = make_connector({"app_id": CLIENT_ID, "app_secret": CLIENT_SECRET})
    assert conn.app["client_id"] == CLIENT_ID and conn.app["client_secret"] == CLIENT_SECRET


def test_callback_for_another_app_or_incomplete_is_refused() -> None:
    oauth = CloverOAuth(APP)
    oauth.verify_callback({"code": "c", "merchant_id": MERCHANT, "client_id": CLIENT_ID})
    with pytest.raises(SignatureError):
        oauth.verify_callback({"code": "c", "merchant_id": MERCHANT, "client_id": "OTHER"})
    with pytest.raises(PayloadError) as err:
        oauth.verify_callback({"merchant_id": MERCHANT})
    assert err.value.field == "code"


def _transport(fake: FakeClover) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=fake.app())


def test_exchange_gives_credentials_and_the_merchant_config() -> None:
    fake = FakeClover()
    oauth = CloverOAuth(APP)
    installed = asyncio.run(
        oauth.exchange(
            {"code": "code-1", "merchant_id": MERCHANT, "client_id": CLIENT_ID},
            redirect_uri="https://t.example/cb",
            transport=_transport(fake),
        )
    )
    assert installed.credentials.access_token == fake.access_token
    assert installed.credentials.refresh_token == fake.refresh_token
    assert installed.credentials.expires_at == datetime.fromtimestamp(fake.now_s + 3600, tz=UTC)
    assert installed.config == {"merchant_id": MERCHANT, "region": "na"}
    assert installed.name == MERCHANT
    with pytest.raises(ApiError) as err:  # a code is single-use
        asyncio.run(
            oauth.exchange(
                {"code": "code-1", "merchant_id": MERCHANT},
                redirect_uri="https://t.example/cb",
                transport=_transport(fake),
            )
        )
    assert err.value.status == 400


def test_refresh_rotates_and_the_old_refresh_token_is_dead() -> None:
    fake = FakeClover()
    oauth = CloverOAuth(APP)
    ctx = ConnectionContext(
        connection_id="con_clover",
        platform="clover",
        config={"merchant_id": MERCHANT},
        credentials=Credentials(access_token="at-0", refresh_token="rt-0"),
    )
    fresh = asyncio.run(oauth.refresh(ctx, transport=_transport(fake)))
    assert fresh.refresh_token not in (None, "rt-0") and fresh.access_token != "at-0"
    with pytest.raises(ApiError) as err:
        asyncio.run(oauth.refresh(ctx, transport=_transport(fake)))
    assert err.value.status == 401
