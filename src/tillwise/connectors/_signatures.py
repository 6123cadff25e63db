"""Webhook signature helpers: the one place where Tillwise computes and compares HMACs.

Rules that hold for every platform (the stripe-python recipe):

* sign and verify the **raw body bytes** exactly as received, never a re-serialization;
* compare with :func:`hmac.compare_digest` (constant time);
* accept **any** of several candidate secrets and **any** of several provided signatures, so a
  secret can be rotated without dropping deliveries;
* reject timestamps outside a tolerance window (replays), in both directions;
* fail with a :class:`~tillwise.ports.platform.SignatureError` whose ``field`` is the header at
  fault and whose detail says exactly what is wrong.

The Tillwise scheme (used by the ``generic`` connector and the simulator)::

    Tillwise-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=...]

Other schemes (Shopify's base64 HMAC of the body, Square's HMAC of URL + body, ...) are built
from :func:`hmac_sha256`, :func:`matches_any` and :func:`header_value`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tillwise.ports.inbox import MAX_KEY_LENGTH
from tillwise.ports.platform import SignatureError

SIGNATURE_HEADER = "Tillwise-Signature"
DEFAULT_TOLERANCE = 300  # seconds, either side of "now"
SCHEME = "v1"

_HEX = frozenset(string.hexdigits)


# -- building blocks -------------------------------------------------------------------------


def _key(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


# hashlib releases the GIL for every update of 2048 bytes or more; for a webhook-sized body
# the hash takes microseconds but getting the GIL back (from the inbox writer thread, say) can
# take a whole switch interval. Feeding smaller pieces keeps the GIL: same digest, no hand-off.
_GIL_FREE_CHUNK = 2047


def _hmac_sha256(key: bytes, *parts: bytes | bytearray | memoryview) -> bytes:
    mac = hmac.new(key, None, hashlib.sha256)
    for part in parts:
        view = memoryview(part).cast("B")
        for start in range(0, len(view), _GIL_FREE_CHUNK):
            mac.update(view[start : start + _GIL_FREE_CHUNK])
    return mac.digest()


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    """Raw HMAC-SHA256 digest of ``message`` (bytes only: never hash a re-encoded string)."""
    if not isinstance(message, bytes | bytearray | memoryview):
        raise TypeError("webhook signatures are computed over raw bytes")
    return _hmac_sha256(_key(secret), message)


def hmac_sha256_hex(secret: str | bytes, message: bytes) -> str:
    return hmac_sha256(secret, message).hex()


def hmac_sha256_base64(secret: str | bytes, message: bytes) -> str:
    return base64.b64encode(hmac_sha256(secret, message)).decode("ascii")


def matches_any(expected: Iterable[str], provided: Iterable[str]) -> bool:
    """True if any provided signature equals any expected one (constant-time comparisons).

    Every pair is compared (no early exit on the first mismatch) so timing does not reveal
    which secret or which position matched.
    """
    expected_b = [e.encode("ascii") for e in expected]
    found = False
    for p in provided:
        try:
            p_b = p.encode("ascii")
        except UnicodeEncodeError:
            continue
        for e in expected_b:
            found |= hmac.compare_digest(e, p_b)
    return found


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts and Starlette ``Headers``."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def bounded_key(key: str, limit: int = MAX_KEY_LENGTH) -> str:
    """An idempotency key built from payload values, kept within the inbox's key length: a
    longer one keeps a prefix and stays unique by the SHA-256 of the whole (lone surrogates
    hashed as they are, so a hostile id is refused by the inbox, not crashed on here)."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    # prefix, ":sha256:" and 64 hex digits, with room to spare (180 characters at 255)
    return f"{key[: limit - 75]}:sha256:{digest}"


# -- the Tillwise scheme ---------------------------------------------------------------------


def signed_payload(timestamp: int, body: bytes) -> bytes:
    """What is signed: ``b"<t>." + body``."""
    return str(int(timestamp)).encode("ascii") + b"." + bytes(body)


def compute_signature(body: bytes, secret: str | bytes, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError("webhook signatures are computed over raw bytes")
    # the signed payload (see signed_payload) fed in two parts: the body is not copied
    return _hmac_sha256(_key(secret), b"%d." % int(timestamp), body).hex()


def sign(body: bytes, secret: str | bytes | Sequence[str | bytes], timestamp: int) -> str:
    """The ``Tillwise-Signature`` header value for ``body`` at ``timestamp`` (unix seconds).

    Pass several secrets (old and new, during a rotation) to get one ``v1=`` per secret.
    """
    secrets = [secret] if isinstance(secret, str | bytes) else list(secret)
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError("the signature timestamp is integer unix seconds")
    parts = [f"t={timestamp}"]
    parts += [f"{SCHEME}={compute_signature(body, s, timestamp)}" for s in secrets]
    return ",".join(parts)


@dataclass(frozen=True)
class ParsedSignatureHeader:
    timestamp: int
    signatures: tuple[str, ...]  # every v1 value, in order


def parse_header(value: str, *, header: str = SIGNATURE_HEADER) -> ParsedSignatureHeader:
    """Split ``t=...,v1=...,v1=...``; unknown schemes (``v0=``) are ignored."""
    if not value.strip():
        raise SignatureError(f"{header} header is empty", field=header)
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        key, val = key.strip(), val.strip()
        if not sep or not key or not val:
            raise SignatureError(
                f"{header} header is malformed: expected 't=<unix seconds>,v1=<hex>', "
                f"got an element {item.strip()!r}",
                field=header,
            )
        if key == "t":
            timestamps.append(val)
        elif key == SCHEME:
            signatures.append(val)
    if len(timestamps) != 1:
        what = "no t= timestamp" if not timestamps else "more than one t= timestamp"
        raise SignatureError(f"{header} header is malformed: {what}", field=header)
    if not signatures:
        raise SignatureError(f"{header} header has no {SCHEME}= signature", field=header)
    raw_t = timestamps[0]
    if not (raw_t.isascii() and raw_t.isdigit()):
        raise SignatureError(
            f"{header} timestamp {raw_t!r} is not an integer number of unix seconds",
            field=header,
        )
    return ParsedSignatureHeader(timestamp=int(raw_t), signatures=tuple(signatures))


def _unix(now: datetime | float | int) -> float:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.timestamp()
    return float(now)


def verify(
    body: bytes,
    signature: str | None,
    secrets: Sequence[str | bytes],
    now: datetime | float | int,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    header: str = SIGNATURE_HEADER,
) -> int:
    """Verify the ``signature`` header value on the raw ``body``; return the signed timestamp.

    Accepts if any ``v1`` value matches any of ``secrets`` (rotation), then checks the
    timestamp is within ``tolerance`` seconds of ``now`` in either direction. Raises
    :class:`SignatureError` (``field`` = the header name) otherwise.
    """
    if signature is None:
        raise SignatureError(f"{header} header is missing", field=header)
    parsed = parse_header(signature, header=header)
    usable = [s for s in secrets if s]
    if not usable:
        raise SignatureError(f"no webhook secret is configured to check {header}", field=header)
    expected = [compute_signature(body, s, parsed.timestamp) for s in usable]
    provided = [s.lower() for s in parsed.signatures if s and set(s) <= _HEX]
    if not matches_any(expected, provided):
        n = len(parsed.signatures)
        raise SignatureError(
            f"no {SCHEME} signature in {header} matches the body "
            f"({n} signature{'s' if n != 1 else ''} checked against "
            f"{len(usable)} secret{'s' if len(usable) != 1 else ''})",
            field=header,
        )
    skew = _unix(now) - parsed.timestamp
    if abs(skew) > tolerance:
        direction = "old" if skew > 0 else "in the future"
        raise SignatureError(
            f"{header} timestamp {parsed.timestamp} is {abs(skew):.0f} s {direction}, "
            f"outside the {tolerance} s tolerance",
            field=header,
        )
    return parsed.timestamp


def verify_headers(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str | bytes],
    now: datetime | float | int,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    header: str = SIGNATURE_HEADER,
) -> int:
    """:func:`verify` with the header looked up (case-insensitively) in ``headers``."""
    return verify(
        body, header_value(headers, header), secrets, now, tolerance=tolerance, header=header
    )
