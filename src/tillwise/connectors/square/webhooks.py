"""Square webhook verification (docs/platforms/square.md, "Webhooks").

Square signs every notification with the subscription's *signature key*::

    x-square-hmacsha256-signature: base64(HMAC-SHA256(key, notification_url + raw_body))

The URL is the notification URL exactly as configured on the subscription (scheme, host, path,
query) — the ``url`` the caller passes, never one rebuilt from forwarded headers — and the body
is the raw bytes. Square puts no timestamp in the signed message and retries for up to 72 h, so
there is no staleness window: replays are stopped by the inbox's dedupe on ``event_id``.

The legacy ``x-square-signature`` header (HMAC-SHA1 over the same message, older subscriptions)
is ignored: only the SHA-256 header is accepted.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tillwise.ports.platform import PayloadError, SignatureError, VerifiedDelivery

from .._signatures import header_value, hmac_sha256, matches_any

SIGNATURE_HEADER = "x-square-hmacsha256-signature"


def expected_signature(notification_url: str, raw_body: bytes, key: str) -> str:
    """The header value Square sends for ``raw_body`` posted to ``notification_url``."""
    digest = hmac_sha256(key, notification_url.encode("utf-8") + bytes(raw_body))
    return base64.b64encode(digest).decode("ascii")


def _canonical_b64(value: str) -> str | None:
    """The provided signature re-encoded (so padding/whitespace quirks cannot matter)."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 32:
        return None
    return base64.b64encode(raw).decode("ascii")


def verify(
    raw_body: bytes, headers: Mapping[str, str], secrets: Sequence[str], *, url: str
) -> VerifiedDelivery:
    check_signature(raw_body, headers, secrets, url=url)
    return name_delivery(raw_body)


def check_signature(
    raw_body: bytes, headers: Mapping[str, str], secrets: Sequence[str], *, url: str
) -> None:
    """Raise :class:`SignatureError` unless the header matches under one of ``secrets``."""
    provided = header_value(headers, SIGNATURE_HEADER)
    if provided is None or not provided.strip():
        raise SignatureError(f"{SIGNATURE_HEADER} header is missing", field=SIGNATURE_HEADER)
    if not url:
        raise SignatureError(
            "the subscription's notification URL is not configured: Square signs URL + body",
            field="url",
        )
    keys = [s for s in secrets if s]
    if not keys:
        raise SignatureError(
            f"no signature key is configured to check {SIGNATURE_HEADER}", field=SIGNATURE_HEADER
        )
    candidate = _canonical_b64(provided)
    expected = [expected_signature(url, raw_body, k) for k in keys]
    if candidate is None or not matches_any(expected, [candidate]):
        raise SignatureError(
            f"{SIGNATURE_HEADER} does not match HMAC-SHA256(notification URL + body) under "
            f"{len(keys)} signature key{'s' if len(keys) != 1 else ''}",
            field=SIGNATURE_HEADER,
        )


def name_delivery(raw_body: bytes) -> VerifiedDelivery:
    """``event_id`` (the idempotency key) and ``type`` (the topic) of a verified body."""
    try:
        body: Any = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}", field="$") from None
    if not isinstance(body, dict):
        raise PayloadError("the body is not a JSON object", field="$")
    event_id, topic = body.get("event_id"), body.get("type")
    if not isinstance(event_id, str) or not event_id:
        raise PayloadError("event_id is missing or not a string", field="event_id")
    if not isinstance(topic, str) or not topic:
        raise PayloadError("type is missing or not a string", field="type")
    return VerifiedDelivery(event_id=event_id, topic=topic)
