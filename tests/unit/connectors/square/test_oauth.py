"""Square OAuth (code flow) against the local fake's /oauth2/token."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.square import AUTH_CODE, MERCHANT_ID, FakeSquare, corpus
from tillwise.connectors.square import make_connector
from tillwise.connectors.square.oauth import SCOPES, OAuthError, SquareOAuth
from tillwise.ports.platform import SignatureError

from ._fake import APP, Saved, api, context, sync, transport

REDIRECT = "https://tillwise.example/oauth/square/callback"


def test_authorize_url_production_and_sandbox() -> None:
    url = SquareOAuth(APP).authorize_url(state="st-123", redirect_uri=REDIRECT, params={})
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "connect.squareup.com",
        "/oauth2/authorize",
    )
    query = parse_qs(parts.query)
    assert query["client_id"] == [APP["application_id"]]
    assert query["state"] == ["st-123"] and query["session"] == ["false"]
    assert query["redirect_uri"] == [REDIRECT]
    assert query["scope"] == [" ".join(SCOPES)] and "scope=MERCHANT_PROFILE_READ+ORDERS_READ" in url
    sandbox = SquareOAuth({**APP, "environment": "sandbox"}).authorize_url(
        state="s", redirect_uri=REDIRECT, params={}
    )
    assert urlsplit(sandbox).netloc == "connect.squareupsandbox.com"


def test_the_connector_offers_oauth_with_its_scopes() -> None:
    oauth = make_connector(APP).oauth
    assert oauth is not None and "INVENTORY_WRITE" in oauth.scopes and "ORDERS_READ" in oauth.scopes


def test_authorize_url_needs_the_application_id() -> None:
    with pytest.raises(OAuthError) as err:
        SquareOAuth({}).authorize_url(state="s", redirect_uri=REDIRECT, params={})
    assert err.value.field == "application_id"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"error": "access_denied", "error_description": "user denied", "state": "s"}, "error"),
        ({"state": "s"}, "code"),
    ],
)
def test_callback_with_an_error_or_no_code_is_refused(params: dict[str, str], field: str) -> None:
    with pytest.raises(SignatureError) as err:
        SquareOAuth(APP).verify_callback(params)
    assert err.value.field == field


def test_callback_with_a_code_passes() -> None:
    SquareOAuth(APP).verify_callback({"code": AUTH_CODE, "state": "s"})


@sync
async def test_exchange_trades_the_code_for_tokens_with_an_iso_expiry() -> None:
    fake = FakeSquare()
    installed = await SquareOAuth(APP).exchange(
        {"code": AUTH_CODE, "state": "s"}, redirect_uri=REDIRECT, transport=transport(fake)
    )
    [sent] = fake.token_requests
    # the documented ObtainToken request (corpus api__obtain_token_request.json) + redirect_uri
    documented = corpus_keys("api__obtain_token_request.json")
    assert documented <= set(sent) and sent["grant_type"] == "authorization_code"
    creds = installed.credentials
    assert creds.access_token in fake.tokens and creds.refresh_token in fake.refresh_tokens
    assert creds.expires_at == datetime(2026, 1, 31, tzinfo=UTC)  # "2026-01-31T00:00:00Z"
    assert installed.config["merchant_id"] == MERCHANT_ID
    assert MERCHANT_ID in installed.name


def corpus_keys(name: str) -> set[str]:
    return set(corpus(name))


def test_the_corpus_token_response_parses() -> None:
    creds = SquareOAuth(APP)._credentials(corpus("api__obtain_token_response.json"), None)
    assert creds.expires_at == datetime(2025, 4, 3, 18, 31, 6, tzinfo=UTC)
    assert creds.refresh_token == "EQAAl0OcByu3IYJYScGGg-8E5YNf0r0b6jCTCMy5nOcRZ4ok0wbWAL8vY3tZWNcc"


@sync
async def test_exchange_with_a_bad_code_fails_cleanly() -> None:
    fake = FakeSquare()
    with pytest.raises(OAuthError) as err:
        await SquareOAuth(APP).exchange(
            {"code": "sq0cgb-wrong"}, redirect_uri=REDIRECT, transport=transport(fake)
        )
    assert "401" in err.value.detail
    assert "sq0csp" not in err.value.detail  # the secret is never in the error


@sync
async def test_refresh_code_flow_keeps_the_same_refresh_token() -> None:
    fake = FakeSquare()
    access, refresh = fake.issue_token()
    new = await SquareOAuth(APP).refresh(
        context(fake, access=access, refresh=refresh), transport=transport(fake)
    )
    assert new.access_token != access and new.refresh_token == refresh
    assert fake.token_requests[-1] == {
        "client_id": APP["application_id"],
        "client_secret": APP["application_secret"],
        "grant_type": "refresh_token",
        "refresh_token": refresh,
    }


@sync
async def test_a_rotated_refresh_token_is_persisted_before_it_is_used() -> None:
    fake = FakeSquare(rotate_refresh=True)
    _, refresh = fake.issue_token()
    saved = Saved()
    ctx = context(fake, access="EAAA-expired", refresh=refresh, saved=saved)
    a = api(fake, ctx)
    await a.fetch([])  # nothing
    async for _ in a.pages("locations", since=None, cursor=None):
        pass
    [new] = saved.credentials
    assert new.refresh_token != refresh and new.refresh_token in fake.refresh_tokens
    assert refresh not in fake.refresh_tokens  # the old one is spent
    # a second 401 later uses the NEW refresh token (the client kept it)
    fake.tokens.pop(new.access_token or "")
    async for _ in a.pages("locations", since=None, cursor=None):
        pass
    assert len(saved.credentials) == 2
    assert fake.token_requests[-1]["refresh_token"] == new.refresh_token
    await a.aclose()


@sync
async def test_refresh_without_a_refresh_token_is_an_oauth_error() -> None:
    fake = FakeSquare()
    with pytest.raises(OAuthError) as err:
        await SquareOAuth(APP).refresh(context(fake, access="a"), transport=transport(fake))
    assert err.value.field == "refresh_token"
