"""X-Series OAuth against the fake: authorize URL, callback checks, exchange, rotating refresh."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fakes.lightspeed_x import FakeLightspeedX
from tillwise.connectors.lightspeed_x.oauth import LightspeedXOAuth, OAuthError
from tillwise.ports.platform import SignatureError

from ._fake import APP, context

OAUTH = LightspeedXOAuth(APP)


def test_authorize_url_carries_code_client_redirect_and_state() -> None:
    url = OAUTH.authorize_url(state="st-1", redirect_uri="https://tw.example/cb", params={})
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://secure.retail.lightspeed.app/connect"
    )
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["lsx-client"],
        "state": ["st-1"],
        "redirect_uri": ["https://tw.example/cb"],
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"error": "access_denied", "domain_prefix": "acme"}, "error"),
        ({"domain_prefix": "acme"}, "code"),
        ({"code": "c"}, "domain_prefix"),
        ({"code": "c", "domain_prefix": "evil.example/x"}, "domain_prefix"),
    ],
)
def test_a_bad_callback_is_refused(params: dict[str, str], field: str) -> None:
    with pytest.raises(SignatureError) as err:
        OAUTH.verify_callback(params)
    assert err.value.field == field


def test_exchange_posts_the_code_in_the_form_body_of_the_store_token_endpoint() -> None:
    fake = FakeLightspeedX()
    transport = httpx.ASGITransport(app=fake.app)
    installed = asyncio.run(
        OAUTH.exchange(
            {"code": "good-code", "domain_prefix": "acme", "state": "s"},
            redirect_uri="https://tw.example/cb",
            transport=transport,
        )
    )
    # X-Series objects name no currency: the app's default is the new connection's
    assert installed.config == {"domain_prefix": "acme", "currency": "NZD"}
    assert installed.credentials.access_token == "lsx-access-2"
    assert installed.credentials.refresh_token == "lsx-refresh-2"
    assert installed.credentials.expires_at is not None
    (sent,) = fake.token_requests
    assert sent["grant_type"] == "authorization_code" and sent["code"] == "good-code"
    assert sent["redirect_uri"] == "https://tw.example/cb" and sent["client_secret"] == "lsx-secret"
    with pytest.raises(OAuthError):  # codes are single-use
        asyncio.run(
            OAUTH.exchange(
                {"code": "good-code", "domain_prefix": "acme"}, redirect_uri="", transport=transport
            )
        )


def test_refresh_rotates_and_the_old_refresh_token_is_dead() -> None:
    fake = FakeLightspeedX()
    transport = httpx.ASGITransport(app=fake.app)
    ctx = context(fake)
    new = asyncio.run(OAUTH.refresh(ctx, transport=transport))
    assert (new.access_token, new.refresh_token) == ("lsx-access-2", "lsx-refresh-2")
    with pytest.raises(OAuthError, match="revoked"):
        asyncio.run(OAUTH.refresh(ctx, transport=transport))  # the old one again
