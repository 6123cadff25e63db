"""Verify a Lightspeed X-Series webhook: the ``X-Signature`` HMAC first, then the delivery's head.

A delivery is ``POST application/x-www-form-urlencoded``; the form field ``payload`` holds the
object as JSON (API 1.0 shape); ``type``, ``domain_prefix``, ``environment`` may be there too.

Signature [UNVERIFIED — Lightspeed's page text could not be retrieved]::

    X-Signature: signature=<hex HMAC-SHA256>, algorithm=HMAC-SHA256

keyed with the app's client secret (the connection's ``secrets``: old and new during a
rotation; the app's ``client_secret`` when the connection has none). What is signed is set by
the app setting ``signature_over``: ``body`` (default: the raw form body, byte for byte) or
``payload`` (the URL-decoded value of the ``payload`` field, as UTF-8). The header carries no
timestamp: there is no replay window, and duplicates are recognised by the event id.

Lightspeed documents no idempotency key: the event id is
``<type>:<object id>:<version | updated_at | sha256 of the payload>``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

from tillwise.ports.platform import PayloadError, SignatureError, VerifiedDelivery

from .._signatures import bounded_key, header_value, hmac_sha256_hex, matches_any
from .normalize import form_fields, form_payload, infer_topic, object_version

SIGNATURE_HEADER = "X-Signature"
ALGORITHM = "HMAC-SHA256"
SIGNATURE_OVER = ("body", "payload")
_HEX = frozenset(string.hexdigits)


def parse_signature(value: str | None) -> str:
    """``signature=<hex>, algorithm=HMAC-SHA256`` → the hex signature (lower case)."""
    if value is None:
        raise SignatureError(f"{SIGNATURE_HEADER} header is missing", field=SIGNATURE_HEADER)
    parts: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep or not key.strip() or not val.strip():
            raise SignatureError(
                f"{SIGNATURE_HEADER} header is malformed: expected "
                f"'signature=<hex>, algorithm={ALGORITHM}', got an element {item.strip()!r}",
                field=SIGNATURE_HEADER,
            )
        parts[key.strip().lower()] = val.strip()
    algorithm = parts.get("algorithm", ALGORITHM)
    if algorithm.upper() != ALGORITHM:
        raise SignatureError(
            f"{SIGNATURE_HEADER} algorithm {algorithm!r} is not {ALGORITHM}",
            field=SIGNATURE_HEADER,
        )
    signature = parts.get("signature", "")
    if not signature or not set(signature) <= _HEX:
        raise SignatureError(
            f"{SIGNATURE_HEADER} has no hex signature= value", field=SIGNATURE_HEADER
        )
    return signature.lower()


def signed_bytes(raw_body: bytes, signature_over: str = "body") -> bytes:
    """What the HMAC covers: the raw body, or the decoded ``payload`` field."""
    if signature_over == "body":
        return bytes(raw_body)
    if signature_over == "payload":
        text, _others, bare = form_fields(raw_body)
        if bare:  # a bare JSON body has no signed payload field: nothing here is covered
            raise SignatureError(
                "with signature_over=payload the webhook body must be a form with a signed "
                "payload field, not bare JSON",
                field=SIGNATURE_HEADER,
            )
        return text.encode("utf-8")
    raise ValueError(f"signature_over must be one of {SIGNATURE_OVER}, not {signature_over!r}")


def sign(raw_body: bytes, secret: str, *, signature_over: str = "body") -> str:
    """The ``X-Signature`` header value Lightspeed would send (for tests and the simulator)."""
    digest = hmac_sha256_hex(secret, signed_bytes(raw_body, signature_over))
    return f"signature={digest}, algorithm={ALGORITHM}"


def event_id(topic: str, obj: Mapping[str, object]) -> str:
    object_id = obj.get("id")
    if object_id is None or str(object_id).strip() == "":
        raise PayloadError("payload.id is missing", field="payload.id")
    key = f"{topic}:{object_id}:{object_version(dict(obj))}"
    return bounded_key(key)


def verify(
    raw_body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    signature_over: str = "body",
) -> VerifiedDelivery:
    """Signature first (SignatureError naming ``X-Signature``), then the head (PayloadError)."""
    provided = parse_signature(header_value(headers, SIGNATURE_HEADER))
    usable = [s for s in secrets if s]
    if not usable:
        raise SignatureError(
            f"no client secret is configured to check {SIGNATURE_HEADER}", field=SIGNATURE_HEADER
        )
    message = signed_bytes(raw_body, signature_over)
    expected = [hmac_sha256_hex(s, message) for s in usable]
    if not matches_any(expected, [provided]):
        raise SignatureError(
            f"the {SIGNATURE_HEADER} signature does not match the "
            f"{'body' if signature_over == 'body' else 'payload field'} "
            f"(checked against {len(usable)} secret{'s' if len(usable) != 1 else ''})",
            field=SIGNATURE_HEADER,
        )
    obj, fields = form_payload(raw_body)
    topic = (fields.get("type") or "").strip() or infer_topic(obj)
    return VerifiedDelivery(event_id=event_id(topic, obj), topic=topic)
