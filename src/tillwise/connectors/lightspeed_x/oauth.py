"""X-Series OAuth (authorization code): authorize URL, token exchange, rotating refresh.

* authorize: ``https://secure.retail.lightspeed.app/connect?response_type=code&client_id=…
  &redirect_uri=…&state=…`` (the app's ``oauth_base_url`` overrides the host). X-Series does
  not sign the callback: ``state`` (checked by the caller) is the protection; the callback
  carries ``code`` and ``domain_prefix`` (the store), both required here.
* token: ``POST https://{domain_prefix}.retail.lightspeed.app/api/1.0/token`` with
  ``code, client_id, client_secret, grant_type=authorization_code, redirect_uri`` **in the
  form body** (URL parameters are refused since 2017) → ``{access_token, token_type, expires
  (epoch s), expires_in, refresh_token, domain_prefix, scope}``.
* refresh: the same endpoint, ``grant_type=refresh_token``; since 2025-03 each refresh
  **rotates** the refresh token (the old one is revoked): the caller persists the returned
  credentials atomically before using them (:class:`.client.LightspeedXClient` does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tillwise.ports.platform import (
    ConnectionContext,
    ConnectorError,
    Credentials,
    Installed,
    SignatureError,
    install_currency,
)

from .._http import ApiClient, ApiError, RetryPolicy
from .client import store_url

AUTHORIZE_URL = "https://secure.retail.lightspeed.app/connect"
TOKEN_PATH = "/api/1.0/token"
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

# What Tillwise asks for [UNVERIFIED names: X-Series 2.0 scopes as listed in its docs]
SCOPES: tuple[str, ...] = (
    "sales:read",  # sales and returns (sale.update webhooks, /sales backfill)
    "products:read",  # products = variants, their prices and suppliers
    "inventory:read",  # inventory levels per outlet
    "inventory:write",  # write-back: stock adjustments
    "customers:read",  # customers
    "customers:write",  # write-back: customer notes
    "consignments:read",  # purchase orders (SUPPLIER consignments)
    "consignments:write",  # write-back: draft purchase orders
    "outlets:read",  # outlets = locations (time zones, currency)
    "users:read",  # users = employees
    "shifts:read",  # clock-in shifts
    "suppliers:read",  # suppliers = vendors
    "webhooks",  # subscribing to sale/product/inventory/customer/consignment webhooks
)


class OAuthError(ConnectorError):
    code = "oauth_failed"
    status = 502


def check_domain_prefix(value: str | None) -> str:
    prefix = (value or "").strip().lower()
    if not _PREFIX.match(prefix):
        raise SignatureError(
            f"the callback's domain_prefix {value!r} is not a store name", field="domain_prefix"
        )
    return prefix


class LightspeedXOAuth:
    """Implements :class:`tillwise.ports.platform.OAuth` for X-Series."""

    def __init__(self, app: Mapping[str, str], *, scopes: tuple[str, ...] = SCOPES) -> None:
        self.app = dict(app)
        self.scopes = scopes

    def _token_base(self, domain_prefix: str) -> str:
        configured = self.app.get("token_base_url")  # tests / proxies
        return configured.rstrip("/") if configured else store_url(domain_prefix)

    def authorize_url(self, *, state: str, redirect_uri: str, params: Mapping[str, str]) -> str:
        client_id = self.app.get("client_id")
        if not client_id:
            raise OAuthError("the X-Series client id is not configured", field="client_id")
        query = {"response_type": "code", "client_id": client_id, "state": state}
        if redirect_uri:
            query["redirect_uri"] = redirect_uri
        base = (self.app.get("oauth_base_url") or AUTHORIZE_URL).rstrip("/")
        return f"{base}?{urlencode(query)}"

    def verify_callback(self, params: Mapping[str, str]) -> None:
        """X-Series does not sign its callback: refuse one with an error, no code or a bad
        ``domain_prefix`` (the token endpoint's host is built from it)."""
        if params.get("error"):
            detail = params.get("error_description") or params["error"]
            raise SignatureError(f"X-Series refused the authorization: {detail}", field="error")
        if not params.get("code"):
            raise SignatureError("the callback has no authorization code", field="code")
        check_domain_prefix(params.get("domain_prefix"))

    async def _token(self, prefix: str, form: dict[str, str], transport: Any) -> dict[str, Any]:
        client_id, secret = self.app.get("client_id"), self.app.get("client_secret")
        if not client_id or not secret:
            raise OAuthError(
                "the X-Series client id and secret are not configured", field="client_secret"
            )
        client = ApiClient(
            base_url=self._token_base(prefix),
            headers={"Accept": "application/json"},
            retry=RetryPolicy(max_attempts=3),
            transport=transport,
        )
        try:
            async with client:
                resp = await client.request(
                    "POST",
                    TOKEN_PATH,
                    data={"client_id": client_id, "client_secret": secret, **form},
                )
        except ApiError as exc:
            raise OAuthError(f"X-Series token endpoint: {exc.detail}") from None
        data = resp.json()
        if not isinstance(data, dict) or not data.get("access_token"):
            raise OAuthError("the token response has no access_token", field="access_token")
        return data

    def _credentials(
        self, data: dict[str, Any], previous: Credentials | None, now: datetime
    ) -> Credentials:
        expires_at: datetime | None = None
        if isinstance(data.get("expires"), int | str) and str(data["expires"]).isdigit():
            expires_at = datetime.fromtimestamp(int(data["expires"]), tz=UTC)
        elif isinstance(data.get("expires_in"), int | str) and str(data["expires_in"]).isdigit():
            expires_at = now + timedelta(seconds=int(data["expires_in"]))
        scope = data.get("scope")
        scopes = tuple(str(scope).split()) if scope else (previous.scopes if previous else ())
        return Credentials(
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token")
            or (previous.refresh_token if previous else None),
            expires_at=expires_at,
            scopes=scopes or self.scopes,
        )

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        self.verify_callback(params)
        prefix = check_domain_prefix(params.get("domain_prefix"))
        form = {"grant_type": "authorization_code", "code": params["code"]}
        if redirect_uri:
            form["redirect_uri"] = redirect_uri
        data = await self._token(prefix, form, transport)
        if data.get("domain_prefix") and str(data["domain_prefix"]).lower() != prefix:
            raise OAuthError(
                "the token response names another store than the callback", field="domain_prefix"
            )
        return Installed(
            credentials=self._credentials(data, None, datetime.now(UTC)),
            # X-Series objects name no currency: a new connection's is the app's default
            # (``TILLWISE_LIGHTSPEED_X_CURRENCY``), changed by ``tillwise connections configure``
            config={"domain_prefix": prefix, **install_currency(self.app)},
            name=f"{prefix}.retail.lightspeed.app",
            # webhooks are signed with the app's client secret [UNVERIFIED]
            webhook_secrets=(self.app["client_secret"],) if self.app.get("client_secret") else (),
        )

    async def refresh(self, ctx: ConnectionContext, *, transport: Any = None) -> Credentials:
        token = ctx.credentials.refresh_token
        if not token:
            raise OAuthError(
                f"connection {ctx.connection_id} has no refresh token", field="refresh_token"
            )
        prefix = check_domain_prefix(str(ctx.config.get("domain_prefix") or ""))
        data = await self._token(
            prefix, {"grant_type": "refresh_token", "refresh_token": token}, transport
        )
        return self._credentials(data, ctx.credentials, datetime.now(UTC))


__all__ = ["SCOPES", "LightspeedXOAuth", "OAuthError"]
