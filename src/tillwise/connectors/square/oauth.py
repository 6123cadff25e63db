"""Square OAuth (code flow): authorize URL, token exchange, refresh.

* authorize: ``https://connect.squareup.com/oauth2/authorize?client_id=…&scope=A+B&session=false
  &state=…&redirect_uri=…`` (``connect.squareupsandbox.com`` when the app's ``environment`` is
  ``sandbox``). Square does not sign the callback: ``state`` (checked by the caller) is the
  protection, and ``verify_callback`` only refuses a callback that reports an error.
* token: ``POST /oauth2/token`` ``{client_id, client_secret, grant_type, code | refresh_token}``
  → ``{access_token, token_type, expires_at: "<ISO date>", merchant_id, refresh_token,
  short_lived}`` — ``expires_at`` is a date string, not ``expires_in``.
* refresh: the code flow returns the *same* refresh token; if Square ever returns a new one
  (PKCE flow) it is kept. Access tokens live 30 days; Square recommends refreshing every ≤ 7
  days (the client refreshes 5 minutes before expiry and once on a 401).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from tillwise.ports.platform import (
    ConnectionContext,
    ConnectorError,
    Credentials,
    Installed,
    SignatureError,
)

from .._http import ApiClient, ApiError, RetryPolicy
from .client import PRODUCTION_URL, SANDBOX_URL, VERSION_HEADER, api_version
from .normalize import parse_time

# What Tillwise asks for, and why (docs/platforms/square.md, "Scopes")
SCOPES: tuple[str, ...] = (
    "MERCHANT_PROFILE_READ",  # locations (time zones, currencies)
    "ORDERS_READ",  # orders = sales (order.* webhooks, SearchOrders, BatchRetrieveOrders)
    "PAYMENTS_READ",  # payment.* and refund.* webhooks, refunds backfill
    "ITEMS_READ",  # catalog items and variations
    "ITEMS_WRITE",  # write-back: catalog discounts
    "INVENTORY_READ",  # inventory counts
    "INVENTORY_WRITE",  # write-back: BatchChangeInventory adjustments
    "CUSTOMERS_READ",  # customers
    "CUSTOMERS_WRITE",  # write-back: customer notes
    "EMPLOYEES_READ",  # team members
    "TIMECARDS_READ",  # timecards (worked shifts)
    "VENDOR_READ",  # vendors [UNVERIFIED scope name]
)


class OAuthError(ConnectorError):
    code = "oauth_failed"
    status = 502


def _app_credentials(app: Mapping[str, str]) -> tuple[str, str]:
    client_id = app.get("application_id") or app.get("client_id") or ""
    secret = app.get("application_secret") or app.get("client_secret") or ""
    return client_id, secret


class SquareOAuth:
    """Implements :class:`tillwise.ports.platform.OAuth` for Square."""

    def __init__(self, app: Mapping[str, str], *, scopes: tuple[str, ...] = SCOPES) -> None:
        self.app = dict(app)
        self.scopes = scopes

    @property
    def host(self) -> str:
        configured = self.app.get("oauth_base_url")
        if configured:
            return configured.rstrip("/")
        return SANDBOX_URL if self.app.get("environment") == "sandbox" else PRODUCTION_URL

    def authorize_url(self, *, state: str, redirect_uri: str, params: Mapping[str, str]) -> str:
        client_id, _ = _app_credentials(self.app)
        if not client_id:
            raise OAuthError("the Square application id is not configured", field="application_id")
        query = {
            "client_id": client_id,
            "scope": " ".join(self.scopes),
            "session": "false",
            "state": state,
        }
        if redirect_uri:
            query["redirect_uri"] = redirect_uri
        return f"{self.host}/oauth2/authorize?{urlencode(query)}"

    def verify_callback(self, params: Mapping[str, str]) -> None:
        """Square does not sign its callback; refuse one that carries an error or no code."""
        if params.get("error"):
            detail = params.get("error_description") or params["error"]
            raise SignatureError(f"Square refused the authorization: {detail}", field="error")
        if not params.get("code"):
            raise SignatureError("the callback has no authorization code", field="code")

    async def _token(self, body: dict[str, Any], transport: Any) -> dict[str, Any]:
        client_id, secret = _app_credentials(self.app)
        if not client_id or not secret:
            raise OAuthError(
                "the Square application id and secret are not configured",
                field="application_secret",
            )
        client = ApiClient(
            base_url=self.host,
            headers={VERSION_HEADER: api_version(self.app), "Accept": "application/json"},
            retry=RetryPolicy(max_attempts=3),
            transport=transport,
        )
        try:
            async with client:
                resp = await client.request(
                    "POST",
                    "/oauth2/token",
                    json={"client_id": client_id, "client_secret": secret, **body},
                )
        except ApiError as exc:
            raise OAuthError(f"Square token endpoint: {exc.detail}") from None
        data = resp.json()
        if not isinstance(data, dict) or not data.get("access_token"):
            raise OAuthError("Square's token response has no access_token", field="access_token")
        return data

    def _credentials(self, data: dict[str, Any], previous: Credentials | None) -> Credentials:
        expires = data.get("expires_at")
        expires_at: datetime | None = None
        if isinstance(expires, str) and expires:
            try:
                expires_at = parse_time(expires, "expires_at")
            except ConnectorError:
                raise OAuthError(
                    f"expires_at {expires!r} is not an ISO time", field="expires_at"
                ) from None
        refresh = data.get("refresh_token") or (previous.refresh_token if previous else None)
        return Credentials(
            access_token=str(data["access_token"]),
            refresh_token=refresh,
            expires_at=expires_at,
            scopes=previous.scopes if previous else self.scopes,
        )

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        self.verify_callback(params)
        body: dict[str, Any] = {"grant_type": "authorization_code", "code": params["code"]}
        if redirect_uri:
            body["redirect_uri"] = redirect_uri
        data = await self._token(body, transport)
        merchant = str(data.get("merchant_id") or "")
        config: dict[str, Any] = {
            "merchant_id": merchant,
            "environment": self.app.get("environment", "production"),
            "short_lived": bool(data.get("short_lived", False)),
        }
        return Installed(
            credentials=self._credentials(data, None),
            config=config,
            name=f"Square merchant {merchant}" if merchant else "Square merchant",
        )

    async def refresh(self, ctx: ConnectionContext, *, transport: Any = None) -> Credentials:
        token = ctx.credentials.refresh_token
        if not token:
            raise OAuthError(
                f"connection {ctx.connection_id} has no refresh token", field="refresh_token"
            )
        data = await self._token({"grant_type": "refresh_token", "refresh_token": token}, transport)
        return self._credentials(data, ctx.credentials)


__all__ = ["SCOPES", "OAuthError", "SquareOAuth"]
