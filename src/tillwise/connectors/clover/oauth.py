"""Clover OAuth v2 (expiring tokens; docs.clover.com/docs/use-oauth, /docs/refresh-access-tokens).

* The merchant launches the app from the App Market; Tillwise sends them to
  ``<oauth host>/oauth/v2/authorize?client_id=…&redirect_uri=…&state=…&response_type=code``.
* The callback carries ``code``, ``merchant_id``, ``client_id`` and ``state`` — unsigned (the
  caller checks ``state``; :meth:`CloverOAuth.verify_callback` checks the rest is present and
  the client id is ours).
* ``POST <api host>/oauth/v2/token`` ``{client_id, client_secret, code}`` →
  ``{access_token, access_token_expiration, refresh_token, refresh_token_expiration}``
  (expirations in epoch seconds [UNVERIFIED: read as ms when > 10^12]).
* ``POST <api host>/oauth/v2/refresh`` ``{client_id, refresh_token}`` → a new pair. Refresh
  tokens are **single-use**: the caller persists the new pair (``ctx.save_credentials``)
  before anything uses it (:class:`~tillwise.connectors.clover.client.CloverSession` does).

Clover has permissions set on the app, not scopes: ``scopes`` is empty; the permissions to
tick are listed in docs/platforms/clover.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from tillwise.ports.platform import (
    ConnectionContext,
    Credentials,
    Installed,
    PayloadError,
    SignatureError,
)

from .._http import ApiClient, ApiError
from .client import api_base_url

# dashboard hosts where the merchant authorizes [UNVERIFIED for eu/la]; ``oauth_base_url`` wins
OAUTH_HOSTS: dict[str, str] = {
    "na": "https://www.clover.com",
    "us": "https://www.clover.com",
    "eu": "https://www.eu.clover.com",
    "la": "https://www.la.clover.com",
    "sandbox": "https://sandbox.dev.clover.com",
}


def _when(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    seconds = value / 1000 if value > 10**12 else value
    return datetime.fromtimestamp(int(seconds), tz=UTC)


def credentials_from(body: Any) -> Credentials:
    if not isinstance(body, dict):
        raise PayloadError("the token response is not a JSON object", field="$")
    access, refresh = body.get("access_token"), body.get("refresh_token")
    if not isinstance(access, str) or not access:
        raise PayloadError("the token response has no access_token", field="access_token")
    if not isinstance(refresh, str) or not refresh:
        raise PayloadError("the token response has no refresh_token", field="refresh_token")
    return Credentials(
        access_token=access,
        refresh_token=refresh,
        expires_at=_when(body.get("access_token_expiration")),
        refresh_expires_at=_when(body.get("refresh_token_expiration")),
    )


class CloverOAuth:
    """Implements :class:`tillwise.ports.platform.OAuth` for Clover (v2, expiring tokens)."""

    scopes: tuple[str, ...] = ()  # Clover: permissions on the app, not requested scopes

    def __init__(self, app: Mapping[str, str]) -> None:
        self.app = dict(app)

    @property
    def client_id(self) -> str:
        value = self.app.get("client_id") or self.app.get("app_id")
        if not value:
            raise ApiError("the Clover app id (client_id) is not configured")
        return value

    @property
    def client_secret(self) -> str:
        value = self.app.get("client_secret") or self.app.get("app_secret")
        if not value:
            raise ApiError("the Clover app secret is not configured")
        return value

    def oauth_base_url(self) -> str:
        if self.app.get("oauth_base_url"):
            return self.app["oauth_base_url"].rstrip("/")
        return OAUTH_HOSTS.get(self.app.get("region", "na").lower(), OAUTH_HOSTS["na"])

    def authorize_url(self, *, state: str, redirect_uri: str, params: Mapping[str, str]) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
        }
        if params.get("merchant_id"):
            query["merchant_id"] = params["merchant_id"]
        return f"{self.oauth_base_url()}/oauth/v2/authorize?{urlencode(query)}"

    def verify_callback(self, params: Mapping[str, str]) -> None:
        """Clover does not sign the callback; refuse one that is not for this app."""
        for name in ("code", "merchant_id"):
            if not params.get(name):
                raise PayloadError(f"the callback has no {name}", field=name)
        given = params.get("client_id")
        if given is not None and given != self.client_id:
            raise SignatureError("the callback is for another Clover app", field="client_id")

    def _client(self, transport: Any) -> ApiClient:
        return ApiClient(base_url=api_base_url(self.app), transport=transport)

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        self.verify_callback(params)
        body = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code": params["code"],
        }
        async with self._client(transport) as client:
            resp = await client.request("POST", "/oauth/v2/token", json=body)
        merchant = params["merchant_id"]
        config: dict[str, Any] = {"merchant_id": merchant, "region": self.app.get("region", "na")}
        return Installed(credentials=credentials_from(resp.json()), config=config, name=merchant)

    async def refresh(self, ctx: ConnectionContext, *, transport: Any = None) -> Credentials:
        token = ctx.credentials.refresh_token
        if not token:
            raise ApiError("this Clover connection has no refresh token", status=401)
        app = {**self.app, **dict(ctx.app)}
        client = ApiClient(base_url=api_base_url(app, ctx.config), transport=transport)
        async with client:
            try:
                resp = await client.request(
                    "POST",
                    "/oauth/v2/refresh",
                    json={
                        "client_id": app.get("client_id") or self.client_id,
                        "refresh_token": token,
                    },
                )
            except httpx.HTTPError as exc:  # pragma: no cover - transport errors become ApiError
                raise ApiError(str(exc), retryable=True) from exc
        return credentials_from(resp.json())
