"""Verify a Shopify webhook: base64 HMAC-SHA256 of the raw body, keyed with the app's client
secret (docs/platforms/shopify.md, "Webhooks").

* header ``X-Shopify-Hmac-Sha256`` or the new unprefixed spelling ``shopify-hmac-sha256``
  (every ``X-Shopify-*`` header is also accepted as ``shopify-*``);
* any of the connection's ``secrets`` may match (old + new client secret during a rotation),
  compared in constant time; the body is parsed only after the signature is good;
* idempotency key: ``X-Shopify-Webhook-Id`` (stable across Shopify's retries of one delivery);
  topic: ``X-Shopify-Topic``;
* no staleness window: Shopify retries for 4 hours with the *original* payload, so an old
  ``X-Shopify-Triggered-At`` is normal; the merge rule (the object's ``updated_at``) keeps a
  stale retry from moving a record backwards.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from tillwise.ports.inbox import MAX_KEY_LENGTH
from tillwise.ports.platform import PayloadError, SignatureError, VerifiedDelivery

from .._signatures import header_value, hmac_sha256_base64, matches_any

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
SHOP_HEADER = "X-Shopify-Shop-Domain"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"
API_VERSION_HEADER = "X-Shopify-API-Version"


def shopify_header(headers: Mapping[str, str], name: str) -> str | None:
    """``X-Shopify-Foo`` or its unprefixed alias ``shopify-foo`` (case-insensitive)."""
    value = header_value(headers, name)
    if value is None and name.lower().startswith("x-"):
        value = header_value(headers, name[2:])
    return value


def sign(raw_body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify sends for ``raw_body`` (tests, the fake)."""
    return hmac_sha256_base64(secret, raw_body)


def verify_signature(raw_body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> None:
    provided = shopify_header(headers, HMAC_HEADER)
    if provided is None or not provided.strip():
        raise SignatureError(f"{HMAC_HEADER} header is missing", field=HMAC_HEADER)
    usable = [s for s in secrets if s]
    if not usable:
        raise SignatureError(
            f"no app client secret is configured to check {HMAC_HEADER}", field=HMAC_HEADER
        )
    expected = [hmac_sha256_base64(s, raw_body) for s in usable]
    if not matches_any(expected, [provided.strip()]):
        raise SignatureError(
            f"{HMAC_HEADER} does not match the body (checked against {len(usable)} "
            f"secret{'s' if len(usable) != 1 else ''}; the key is the app's client secret "
            "and the message the raw body bytes)",
            field=HMAC_HEADER,
        )


def verify(raw_body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> VerifiedDelivery:
    """Signature first (SignatureError), then topic, webhook id and a JSON object body
    (PayloadError naming the header or ``$``)."""
    verify_signature(raw_body, headers, secrets)
    topic = (shopify_header(headers, TOPIC_HEADER) or "").strip()
    if not topic:
        raise PayloadError(f"{TOPIC_HEADER} header is missing", field=TOPIC_HEADER)
    event_id = (shopify_header(headers, WEBHOOK_ID_HEADER) or "").strip()
    if not event_id:
        raise PayloadError(f"{WEBHOOK_ID_HEADER} header is missing", field=WEBHOOK_ID_HEADER)
    if len(event_id) > MAX_KEY_LENGTH:
        raise PayloadError(
            f"{WEBHOOK_ID_HEADER} is longer than {MAX_KEY_LENGTH} characters",
            field=WEBHOOK_ID_HEADER,
        )
    try:
        body = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("the body is not JSON", field="$") from None
    if not isinstance(body, dict):
        raise PayloadError("the body is not a JSON object (Shopify sends one resource)", field="$")
    return VerifiedDelivery(event_id=event_id, topic=topic)
