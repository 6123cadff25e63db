"""Shopify OAuth (authorization code grant, expiring offline tokens).

* authorize: ``https://{shop}/admin/oauth/authorize?client_id=…&scope=…&redirect_uri=…&state=…
  &expiring=1`` (``expiring=1`` asks for an expiring offline token with a refresh token; the app
  setting ``expiring = "0"`` turns it off);
* callback: ``hmac`` = **hex** HMAC-SHA256 with the app's client secret over every other query
  parameter, sorted by key, joined ``k=v&…``; an array parameter ``ids[]=2&ids[]=1`` is signed
  as ``ids=["2", "1"]`` (shopify_python_api ``session_test.py``);
* exchange: ``POST https://{shop}/admin/oauth/access_token`` ``{client_id, client_secret, code}``
  → ``{access_token, scope, expires_in, refresh_token, refresh_token_expires_in}``;
* refresh: the same URL with ``grant_type=refresh_token``; Shopify hands back a NEW refresh
  token each time (single use): the caller persists it before using it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tillwise.ports.platform import (
    ConnectionContext,
    Credentials,
    Installed,
    PayloadError,
    SignatureError,
)

from .._http import ApiClient, ApiError, RetryPolicy

DEFAULT_SCOPES: tuple[str, ...] = (
    "read_orders",
    "read_products",
    "read_customers",
    "write_customers",  # customer notes
    "read_inventory",
    "write_inventory",  # stock adjustments
    "read_locations",
    "write_discounts",  # price rules + discount codes [UNVERIFIED: write_price_rules on old apps]
)
SHOP_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


def check_shop(shop: Any) -> str:
    """A ``<name>.myshopify.com`` domain (the only host tokens are ever sent to)."""
    if not isinstance(shop, str) or not SHOP_PATTERN.match(shop.strip().lower()):
        raise PayloadError(f"shop {shop!r} is not a <name>.myshopify.com domain", field="shop")
    return shop.strip().lower()


def _signed_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return str(value)


def callback_message(params: Mapping[str, Any]) -> bytes:
    """What Shopify signs in the callback query: sorted ``k=v`` pairs without ``hmac``."""
    pairs = []
    for key, value in params.items():
        if key in ("hmac", "signature"):
            continue
        name = key[:-2] if key.endswith("[]") else key
        pairs.append((name, _signed_value(value)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs)).encode("utf-8")


def callback_hmac(secret: str, params: Mapping[str, Any]) -> str:
    return hmac.new(secret.encode(), callback_message(params), hashlib.sha256).hexdigest()


def _credentials(data: Any, now: datetime) -> Credentials:
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        raise ApiError("Shopify's token response has no access_token")
    expires_in = data.get("expires_in")
    refresh_in = data.get("refresh_token_expires_in")
    scope = data.get("scope") or ""
    return Credentials(
        access_token=data["access_token"],
        refresh_token=data.get("refresh_token") or None,
        expires_at=now + timedelta(seconds=int(expires_in)) if expires_in else None,
        refresh_expires_at=now + timedelta(seconds=int(refresh_in)) if refresh_in else None,
        scopes=tuple(s for s in str(scope).split(",") if s),
    )


class ShopifyOAuth:
    """Implements :class:`tillwise.ports.platform.OAuth` for Shopify."""

    def __init__(
        self, app: Mapping[str, str], *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.app = dict(app)
        configured = self.app.get("scopes")
        self.scopes: tuple[str, ...] = (
            tuple(s.strip() for s in configured.split(",") if s.strip())
            if configured
            else DEFAULT_SCOPES
        )
        self._clock = clock or (lambda: datetime.now(UTC))

    def _secret(self) -> str:
        secret = self.app.get("client_secret")
        if not secret:
            raise SignatureError("the Shopify app's client_secret is not configured", field="hmac")
        return secret

    def authorize_url(self, *, state: str, redirect_uri: str, params: Mapping[str, str]) -> str:
        shop = check_shop(params.get("shop"))
        query = {
            "client_id": self.app.get("client_id", ""),
            "scope": ",".join(self.scopes),
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if self.app.get("expiring", "1") != "0":
            query["expiring"] = "1"
        return f"https://{shop}/admin/oauth/authorize?{urlencode(query)}"

    def verify_callback(self, params: Mapping[str, Any]) -> None:
        given = params.get("hmac")
        if not isinstance(given, str) or not given:
            raise SignatureError("the callback has no hmac parameter", field="hmac")
        check_shop(params.get("shop"))
        expected = callback_hmac(self._secret(), params)
        if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
            raise SignatureError("the callback's hmac does not match its parameters", field="hmac")

    def _client(self, shop: str, transport: Any) -> ApiClient:
        return ApiClient(
            base_url=f"https://{shop}",
            headers={"Accept": "application/json"},
            transport=transport,
            retry=RetryPolicy(max_attempts=3),
        )

    async def _token(self, shop: str, body: dict[str, str], transport: Any) -> Credentials:
        async with self._client(shop, transport) as client:
            resp = await client.request("POST", "/admin/oauth/access_token", json=body)
        return _credentials(resp.json(), self._clock())

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        self.verify_callback(params)
        shop = check_shop(params.get("shop"))
        code = params.get("code")
        if not code:
            raise PayloadError("the callback has no code", field="code")
        body = {
            "client_id": self.app.get("client_id", ""),
            "client_secret": self._secret(),
            "code": code,
        }
        if self.app.get("expiring", "1") != "0":
            body["expiring"] = "1"  # asked for in the token request, not only the authorize URL
        creds = await self._token(shop, body, transport)
        return Installed(
            credentials=creds,
            config={"shop": shop},
            name=shop,
            webhook_secrets=(self._secret(),),  # webhooks are signed with the app secret
        )

    async def refresh(self, ctx: ConnectionContext, *, transport: Any = None) -> Credentials:
        token = ctx.credentials.refresh_token
        if not token:
            raise ApiError(f"connection {ctx.connection_id} has no Shopify refresh token")
        app = {**self.app, **dict(ctx.app)}
        body = {
            "client_id": app.get("client_id", ""),
            "client_secret": app.get("client_secret", ""),
            "grant_type": "refresh_token",
            "refresh_token": token,
        }
        return await self._token(check_shop(ctx.config.get("shop")), body, transport)


__all__ = ["DEFAULT_SCOPES", "ShopifyOAuth", "callback_hmac", "check_shop"]
