"""What every platform connector provides to the spine: verify a delivery, normalize it — and,
where the platform has an API, the optional capabilities below (OAuth install, API pages for
backfill and reconciliation, fetch-on-notify, write-back).

Topics: a webhook delivery's ``topic`` is the platform's own event name (``orders/create``,
``payment.updated``, ``sale.update``...). Objects fetched from the platform's API (backfill,
reconciliation, fetch-on-notify) enter the same inbox with the topic ``resource:<name>``
(``resource:orders``, ``resource:order``...), and ``normalize`` turns them into canonical
records exactly like webhooks, so a backfilled store and a webhook-fed store end up the same.

Errors (each carries a stable ``code`` and the ``field`` at fault, for problem details):

    ConnectorError
    ├── SignatureError        missing, malformed, wrong or stale signature   → 401
    └── PayloadError          body is not the documented shape                → 400/422
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tillwise.domain.normalized import Fetch, NormalizedBatch

from .inbox import RawDelivery
from .writeback import WriteBack


class ConnectorError(Exception):
    code = "connector_error"
    status = 400

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class SignatureError(ConnectorError):
    code = "invalid_signature"
    status = 401


class PayloadError(ConnectorError):
    code = "invalid_payload"
    status = 422


RESOURCE_PREFIX = "resource:"
# The connection config key naming its ISO 4217 currency: what money means in payloads that
# name none (Lightspeed X-Series and R-Series objects, old Shopify REST transactions and
# variants). Set at install (from the platform app's ``currency`` setting) or by
# ``tillwise connections configure <id> currency=<code>``.
CONNECTION_CURRENCY = "currency"


def install_currency(app: Mapping[str, str]) -> dict[str, str]:
    """What a new connection's config starts with when the platform app names a default
    ``currency`` (``TILLWISE_<PLATFORM>_CURRENCY``): ``{"currency": code}``, else nothing."""
    code = connection_currency(app)
    return {CONNECTION_CURRENCY: code} if code else {}


def connection_currency(config: Mapping[str, Any] | None) -> str | None:
    """The connection's configured currency, upper-cased; None when it has none."""
    value = (config or {}).get(CONNECTION_CURRENCY)
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


def resource_topic(resource: str) -> str:
    """The inbox topic of an object fetched from the platform's API."""
    return f"{RESOURCE_PREFIX}{resource}"


@dataclass(frozen=True)
class VerifiedDelivery:
    """What a verified webhook tells the inbox: its idempotency key and the platform topic.

    ``reply``: for a platform handshake that is not an event (Clover's verification code), what
    to answer; nothing is stored then (the code is logged for the person setting it up)."""

    event_id: str
    topic: str
    reply: dict[str, Any] | None = None


@dataclass(frozen=True)
class Credentials:
    """A connection's API credentials, decrypted (never logged, never audited)."""

    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectionContext:
    """What a connector's API code knows about one connection.

    ``config`` is non-secret (shop domain, merchant id, domain prefix, account id, region,
    API base URL, API version...). ``save_credentials`` persists rotated tokens atomically
    (it must be called before the new refresh token is used: rotating refresh tokens are
    single-use on Clover, Lightspeed X/R and Shopify expiring tokens)."""

    connection_id: str
    platform: str
    config: Mapping[str, Any]
    credentials: Credentials
    save_credentials: Callable[[Credentials], Awaitable[None]] | None = None
    app: Mapping[str, str] = field(
        default_factory=dict
    )  # the app's client id/secret, from settings


@dataclass(frozen=True)
class Installed:
    """The result of an OAuth install: credentials and the connection's non-secret config."""

    credentials: Credentials
    config: dict[str, Any]
    name: str  # what people will recognise (shop domain, merchant name...)
    webhook_secrets: tuple[str, ...] = ()  # when the install yields the signing secret


class OAuth(Protocol):
    scopes: tuple[str, ...]  # what Tillwise asks for (documented per platform)

    def authorize_url(self, *, state: str, redirect_uri: str, params: Mapping[str, str]) -> str:
        """Where to send the person (``params``: what identifies the store, e.g. ``shop``)."""
        ...

    def verify_callback(self, params: Mapping[str, str]) -> None:
        """Check the callback's own signature where the platform signs it (Shopify's hex HMAC
        over the sorted query); raise SignatureError otherwise. ``state`` is checked by the
        caller."""
        ...

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        """Trade the callback's code for tokens."""
        ...

    async def refresh(self, ctx: ConnectionContext, *, transport: Any = None) -> Credentials:
        """New credentials from the refresh token (the caller persists them atomically)."""
        ...


@dataclass(frozen=True)
class Fetched:
    """One object from the platform's API, ready for the inbox (topic ``resource:<name>``)."""

    resource: str
    event_id: str  # stable for this version of the object: id + its updated-at/version
    body: bytes


@dataclass(frozen=True)
class ResourcePage:
    objects: tuple[Fetched, ...]
    cursor: str | None  # continues after this page (the checkpoint); None: the end
    # a change feed's high-water mark (X-Series: the largest version seen): a later run with a
    # ``since`` starts from the last finished run's; None: the API's cursors are no change feed
    watermark: str | None = None


class Api(Protocol):
    """A platform's API for one connection: pages for backfill and reconciliation, and
    fetch-on-notify. Built by the connector from a :class:`ConnectionContext`."""

    resources: tuple[str, ...]  # backfill order (locations before products before orders...)

    def pages(
        self, resource: str, *, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[ResourcePage]: ...

    async def fetch(self, requests: Sequence[Fetch]) -> list[Fetched]:
        """The named objects (batched as the platform allows)."""
        ...

    async def aclose(self) -> None: ...


class Connector(Protocol):
    platform: str
    writeback: WriteBack | None  # None: this platform cannot be written to (yet)
    oauth: OAuth | None  # None: no OAuth install (secrets are entered by hand)
    api: Callable[[ConnectionContext], Api] | None  # None: no API (webhooks only)

    def verify(
        self,
        raw_body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        now: datetime,
        *,
        url: str = "",
    ) -> VerifiedDelivery:
        """Check the signature on the raw bytes (constant time, any of ``secrets`` for rotation),
        then parse just enough to name the delivery. Raises SignatureError / PayloadError.
        ``url``: the notification URL as the platform was configured to call it (the public
        URL, not what a proxy forwarded) — Square signs it with the body."""
        ...

    def normalize(
        self, delivery: RawDelivery, config: Mapping[str, Any] | None = None
    ) -> NormalizedBatch:
        """Pure: platform payload (a webhook topic, or ``resource:<name>`` for an API object)
        → canonical records + canonical events (+ ``fetches`` for objects only named).

        ``config``: the delivery's connection's non-secret config (the same mapping as
        :attr:`ConnectionContext.config`), the one way connection facts reach a normalizer,
        for webhooks and API objects alike. Keys read: ``currency`` (see
        :data:`CONNECTION_CURRENCY`)."""
        ...
