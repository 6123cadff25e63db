"""Verify a generic webhook: signature on the raw bytes first, then the delivery's head.

Only what is needed to store the delivery is checked before the 2xx (well-formed JSON, a known
event, the record's id, ``created_at``); the full shape is validated when the stored delivery is
normalized, and a shape error parks it as a dead letter naming the JSON path — nothing is lost.

The idempotency key (``VerifiedDelivery.event_id``) is the ``Tillwise-Event-Id`` header when the
sender sets one, otherwise ``"<event>:<data.id>:<created_at as sent>"`` (for
``inventory.updated``, ``data.id`` is ``<location_id>:<sku>``; for ``inventory.counted`` it is
``data.count_id``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from tillwise.ports.inbox import MAX_KEY_LENGTH
from tillwise.ports.platform import PayloadError, VerifiedDelivery

from .._signatures import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    bounded_key,
    header_value,
    verify_headers,
)
from .payloads import DeliveryHead, parse_head

EVENT_ID_HEADER = "Tillwise-Event-Id"


def idempotency_key(parsed: DeliveryHead, headers: Mapping[str, str]) -> str:
    """The delivery's idempotency key (see the module docstring)."""
    given = header_value(headers, EVENT_ID_HEADER)
    if given is not None:
        given = given.strip()
        if not given:
            raise PayloadError(f"{EVENT_ID_HEADER} header is empty", field=EVENT_ID_HEADER)
        if len(given) > MAX_KEY_LENGTH:
            raise PayloadError(
                f"{EVENT_ID_HEADER} header is longer than {MAX_KEY_LENGTH} characters",
                field=EVENT_ID_HEADER,
            )
        return given
    key = f"{parsed.event.value}:{parsed.record_id}:{parsed.created_at_raw}"
    return bounded_key(key)


def verify(
    raw_body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: datetime,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
) -> VerifiedDelivery:
    """Signature first (SignatureError), then the head (PayloadError naming the field)."""
    verify_headers(raw_body, headers, secrets, now, tolerance=tolerance, header=SIGNATURE_HEADER)
    head = parse_head(raw_body)
    return VerifiedDelivery(event_id=idempotency_key(head, headers), topic=head.event.value)
