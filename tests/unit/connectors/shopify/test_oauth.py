"""Shopify OAuth (authorization code grant, expiring offline tokens) against the local fake."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.shopify import AUTH_CODE, CLIENT_ID, CLIENT_SECRET, SHOP
from tillwise.connectors._http import ApiError
from tillwise.connectors.shopify import make_connector
from tillwise.connectors.shopify.oauth import ShopifyOAuth, callback_hmac
from tillwise.ports.platform import PayloadError, SignatureError

from ._fake import APP, NOW, api, context, fake_shop, sync, transport

REDIRECT = "https://tillwise.example/oauth/shopify/callback"


def _callback(code: str = AUTH_CODE, **extra: str) -> dict[str, str]:
    params = {"code": code, "shop": SHOP, "state": "st-123", "timestamp": "1767225600", **extra}
    params["hmac"] = callback_hmac(CLIENT_SECRET, params)
    return params


def test_authorize_url_carries_state_scopes_and_asks_for_expiring_tokens() -> None:
    url = ShopifyOAuth(APP).authorize_url(
        state="st-123", redirect_uri=REDIRECT, params={"shop": SHOP}
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", SHOP, "/admin/oauth/authorize")
    query = parse_qs(parts.query)
    assert query["state"] == ["st-123"] and query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT]
    assert "write_inventory" in query["scope"][0].split(",")
    assert query["expiring"] == ["1"]


def test_authorize_url_refuses_a_host_that_is_not_a_shop() -> None:
    with pytest.raises(PayloadError):
        ShopifyOAuth(APP).authorize_url(
            state="s", redirect_uri=REDIRECT, params={"shop": "evil.example.com"}
        )


@sync
async def test_exchange_trades_the_code_for_an_expiring_token_against_the_fake() -> None:
    fake = fake_shop()
    oauth = ShopifyOAuth(APP, clock=lambda: NOW)
    installed = await oauth.exchange(_callback(), redirect_uri=REDIRECT, transport=transport(fake))
    [sent] = fake.token_requests
    assert sent == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": AUTH_CODE,
        "expiring": "1",
    }
    creds = installed.credentials
    assert creds.access_token in fake.tokens and creds.refresh_token in fake.refresh_tokens
    assert creds.expires_at == NOW + timedelta(hours=1)
    assert creds.refresh_expires_at == NOW + timedelta(days=90)
    assert "write_inventory" in creds.scopes
    assert installed.config == {"shop": SHOP}
    # the installed credentials work against the API
    a = api(fake, context(fake, access=creds.access_token, refresh=creds.refresh_token))
    assert [p async for p in a.pages("locations", since=None, cursor=None)]
    await a.aclose()


@sync
async def test_with_expiring_off_the_token_does_not_expire() -> None:
    fake = fake_shop()
    oauth = ShopifyOAuth({**APP, "expiring": "0"}, clock=lambda: NOW)
    installed = await oauth.exchange(_callback(), redirect_uri=REDIRECT, transport=transport(fake))
    assert "expiring" not in fake.token_requests[0]
    assert installed.credentials.expires_at is None
    assert installed.credentials.refresh_token is None


@sync
async def test_a_forged_callback_is_refused_before_any_exchange() -> None:
    fake = fake_shop()
    params = {**_callback(), "shop": "other-shop.myshopify.com"}
    with pytest.raises(SignatureError):
        await ShopifyOAuth(APP).exchange(params, redirect_uri=REDIRECT, transport=transport(fake))
    assert fake.token_requests == []


@sync
async def test_exchange_with_a_bad_code_fails_without_leaking_the_secret() -> None:
    fake = fake_shop()
    with pytest.raises(ApiError) as err:
        await ShopifyOAuth(APP).exchange(
            _callback("wrong-code"), redirect_uri=REDIRECT, transport=transport(fake)
        )
    assert err.value.status == 400 and CLIENT_SECRET not in err.value.detail


@sync
async def test_refresh_rotates_the_refresh_token_and_spends_the_old_one() -> None:
    fake = fake_shop()
    access, refresh = fake.issue_token()
    oauth = ShopifyOAuth(APP, clock=lambda: NOW)
    ctx = context(fake, access=access, refresh=refresh)
    new = await oauth.refresh(ctx, transport=transport(fake))
    assert fake.token_requests[-1] == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": refresh,
    }
    assert new.access_token != access and new.refresh_token != refresh
    with pytest.raises(ApiError) as err:  # single use
        await oauth.refresh(ctx, transport=transport(fake))
    assert err.value.status == 400


def test_the_connector_offers_oauth() -> None:
    oauth = make_connector(APP).oauth
    assert oauth is not None and "read_orders" in oauth.scopes
