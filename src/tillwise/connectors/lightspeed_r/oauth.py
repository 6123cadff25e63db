"""OAuth 2 install and refresh for R-Series (the 2024/25 authorization server).

* authorize: ``https://cloud.lightspeedapp.com/auth/oauth/authorize`` with ``response_type=code``,
  ``client_id``, ``scope``, ``state`` (checked by the caller) and ``redirect_uri``; the callback
  is not signed by R-Series, so :meth:`verify_callback` only refuses an ``error`` callback;
* token: ``https://cloud.lightspeedapp.com/auth/oauth/token`` (form-encoded): access tokens live
  about an hour; every refresh returns a NEW refresh token and the old one stops working, so the
  caller must persist the result (``ctx.save_credentials``) before using it;
* the account id: from the token response when it carries one (``account_id``/``accountID``),
  else from ``GET https://api.lightspeedapp.com/API/V3/Account.json`` [UNVERIFIED].

All URLs and the scope are app settings (``oauth_base_url``, ``account_url``, ``scopes``).
"""

from __future__ import annotations

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
    install_currency,
)

from .._http import ApiClient, ApiError, RetryPolicy
from .normalize import many

DEFAULT_OAUTH_BASE_URL = "https://cloud.lightspeedapp.com"
DEFAULT_ACCOUNT_URL = "https://api.lightspeedapp.com/API/V3/Account.json"
DEFAULT_SCOPES = ("employee:all",)  # [UNVERIFIED] read + write of sales, stock, POs, customers
AUTHORIZE_PATH = "/auth/oauth/authorize"
TOKEN_PATH = "/auth/oauth/token"


class LightspeedROAuth:
    """Implements :class:`tillwise.ports.platform.OAuth` for R-Series."""

    def __init__(
        self, app: Mapping[str, str], *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.app = dict(app)
        self.base_url = (self.app.get("oauth_base_url") or DEFAULT_OAUTH_BASE_URL).rstrip("/")
        self.account_url = self.app.get("account_url") or DEFAULT_ACCOUNT_URL
        scopes = self.app.get("scopes")
        self.scopes: tuple[str, ...] = tuple(scopes.split()) if scopes else DEFAULT_SCOPES
        self._now = now

    def _client_id(self) -> str:
        value = self.app.get("client_id")
        if not value:
            raise ApiError("the lightspeed-r app has no client_id configured")
        return value

    def authorize_url(self, *, state: str, redirect_uri: str, params: Mapping[str, str]) -> str:
        query = {
            "response_type": "code",
            "client_id": self._client_id(),
            "scope": " ".join(self.scopes),
            "state": state,
            "redirect_uri": redirect_uri,
        }
        return f"{self.base_url}{AUTHORIZE_PATH}?{urlencode(query)}"

    def verify_callback(self, params: Mapping[str, str]) -> None:
        """R-Series does not sign its callback (``state`` is the caller's check)."""
        if params.get("error"):
            raise SignatureError(
                f"authorization refused: {params.get('error_description') or params['error']}",
                field="error",
            )

    async def _token(self, form: dict[str, str], transport: Any) -> dict[str, Any]:
        secret = self.app.get("client_secret")
        if not secret:
            raise ApiError("the lightspeed-r app has no client_secret configured")
        client = ApiClient(
            base_url=self.base_url, transport=transport, retry=RetryPolicy(max_attempts=1)
        )
        async with client:
            resp = await client.request(
                "POST",
                TOKEN_PATH,
                data={**form, "client_id": self._client_id(), "client_secret": secret},
            )
        body = resp.json()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise PayloadError("token response has no access_token", field="access_token")
        return body

    def _credentials(self, body: Mapping[str, Any], previous: str | None = None) -> Credentials:
        expires_in = body.get("expires_in")
        expires_at = None
        if isinstance(expires_in, int | str) and str(expires_in).isdigit():
            expires_at = self._now() + timedelta(seconds=int(expires_in))
        scope = body.get("scope")
        return Credentials(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or previous or "") or None,
            expires_at=expires_at,
            scopes=tuple(scope.split()) if isinstance(scope, str) else self.scopes,
        )

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        self.verify_callback(params)
        code = params.get("code")
        if not code:
            raise PayloadError("the callback has no code", field="code")
        body = await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            transport,
        )
        creds = self._credentials(body)
        account_id = body.get("account_id") or body.get("accountID")
        name = ""
        if not account_id:
            account_id, name = await self._account(creds, transport)
        return Installed(
            credentials=creds,
            # R-Series objects name no currency: a new connection's is the app's default
            # (``TILLWISE_LIGHTSPEED_R_CURRENCY``), changed by ``tillwise connections configure``
            config={"account_id": str(account_id), **install_currency(self.app)},
            name=name or f"Lightspeed R-Series account {account_id}",
        )

    async def _account(self, creds: Credentials, transport: Any) -> tuple[str, str]:
        client = ApiClient(base_url="", transport=transport, retry=RetryPolicy(max_attempts=3))
        async with client:
            resp = await client.request(
                "GET", self.account_url, headers={"Authorization": f"Bearer {creds.access_token}"}
            )
        body = resp.json()
        accounts = many(body.get("Account")) if isinstance(body, dict) else []
        if not accounts or not accounts[0].get("accountID"):
            raise PayloadError("Account.json names no account", field="Account.accountID")
        account = accounts[0]
        return str(account["accountID"]), str(account.get("name") or "")

    async def refresh(self, ctx: ConnectionContext, *, transport: Any = None) -> Credentials:
        token = ctx.credentials.refresh_token
        if not token:
            raise ApiError(f"connection {ctx.connection_id} has no refresh token", status=401)
        body = await self._token({"grant_type": "refresh_token", "refresh_token": token}, transport)
        return self._credentials(body, previous=token)
