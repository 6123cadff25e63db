"""Verify a Clover webhook delivery (docs.clover.com/dev/docs/webhooks).

Clover does not sign notifications. Two kinds of POST arrive at the app's one callback URL:

* **Verification** — when the URL is set up, Clover POSTs ``{"verificationCode": "<uuid>"}``
  without ``X-Clover-Auth``. It is answered (``VerifiedDelivery.reply``) and nothing is stored;
  the person setting up the app pastes the code into the Clover dashboard.
* **Notifications** — every one carries the app's static *Clover Auth Code* in
  ``X-Clover-Auth``. It is compared in constant time with each of the connection's ``secrets``
  (old + new during a rotation). The body names objects only:
  ``{"appId", "merchants": {"<mId>": [{"objectId": "O:<id>", "type", "ts"}]}}``.

Idempotency key (Clover sends none): each object is identified by
``(merchant id, objectId, type, ts)``; a delivery naming one object gets
``"<mId>:<objectId>:<type>:<ts>"``, a batch gets ``"batch:sha256:<hex>"`` over the sorted
list of those tuples, so a retried identical batch is recognised.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tillwise.ports.platform import PayloadError, SignatureError, VerifiedDelivery

from .._signatures import header_value

AUTH_HEADER = "X-Clover-Auth"
NOTIFICATION_TOPIC = "notification"
VERIFICATION_TOPIC = "verification"
CHANGE_TYPES = frozenset({"CREATE", "UPDATE", "DELETE"})


@dataclass(frozen=True)
class Notice:
    """One object named by a notification."""

    merchant_id: str
    object_id: str  # as sent, with its key prefix: "O:GHIVJT2ABCRSC"
    type: str  # CREATE | UPDATE | DELETE
    ts: int  # epoch milliseconds

    @property
    def key(self) -> str:
        return f"{self.merchant_id}:{self.object_id}:{self.type}:{self.ts}"

    @property
    def prefix(self) -> str:
        return self.object_id.split(":", 1)[0]

    @property
    def bare_id(self) -> str:
        return self.object_id.split(":", 1)[1]


def _json(raw_body: bytes) -> Any:
    try:
        return json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"body is not JSON: {exc}", field="$") from exc


def parse_notices(body: Any) -> tuple[str | None, list[Notice]]:
    """``(appId, notices)`` of a notification body; PayloadError names the JSON path at fault."""
    if not isinstance(body, dict):
        raise PayloadError("a notification is a JSON object", field="$")
    app_id = body.get("appId")
    if app_id is not None and not isinstance(app_id, str):
        raise PayloadError("appId must be a string", field="appId")
    merchants = body.get("merchants")
    if not isinstance(merchants, dict):
        raise PayloadError("merchants must be an object of merchant id → list", field="merchants")
    notices: list[Notice] = []
    for mid, entries in merchants.items():
        base = f"merchants.{mid}"
        if not mid:
            raise PayloadError("empty merchant id", field="merchants")
        if not isinstance(entries, list):
            raise PayloadError("must be a list of changes", field=base)
        for i, entry in enumerate(entries):
            at = f"{base}[{i}]"
            if not isinstance(entry, dict):
                raise PayloadError("must be an object", field=at)
            oid, kind, ts = entry.get("objectId"), entry.get("type"), entry.get("ts")
            if (
                not isinstance(oid, str)
                or ":" not in oid
                or oid.startswith(":")
                or oid.endswith(":")
            ):
                raise PayloadError(
                    "objectId must look like '<prefix>:<id>'", field=f"{at}.objectId"
                )
            if kind not in CHANGE_TYPES:
                raise PayloadError("type must be CREATE, UPDATE or DELETE", field=f"{at}.type")
            if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
                raise PayloadError("ts must be epoch milliseconds", field=f"{at}.ts")
            notices.append(Notice(str(mid), oid, str(kind), ts))
    return app_id, notices


def delivery_key(notices: Sequence[Notice]) -> str:
    """The idempotency key of a notification (see the module docstring)."""
    keys = sorted({n.key for n in notices})
    if len(keys) == 1:
        return keys[0]
    digest = hashlib.sha256("\n".join(keys).encode("utf-8", "surrogatepass")).hexdigest()
    return f"batch:sha256:{digest}"


def _verification_code(body: Any) -> str | None:
    if isinstance(body, dict) and set(body) == {"verificationCode"}:
        code = body["verificationCode"]
        if not isinstance(code, str) or not code.strip():
            raise PayloadError(
                "verificationCode must be a non-empty string", field="verificationCode"
            )
        return code
    return None


def _check_auth(headers: Mapping[str, str], secrets: Sequence[str]) -> None:
    given = header_value(headers, AUTH_HEADER)
    if given is None or not given.strip():
        raise SignatureError(f"missing {AUTH_HEADER} header", field=AUTH_HEADER)
    usable = [s for s in secrets if s]
    if not usable:
        raise SignatureError(
            "no Clover auth code is configured for this connection", field=AUTH_HEADER
        )
    provided = given.strip().encode()
    matched = False
    for secret in usable:  # compare against every secret: no early exit
        matched |= hmac.compare_digest(provided, secret.encode())
    if not matched:
        raise SignatureError(f"{AUTH_HEADER} does not match the auth code", field=AUTH_HEADER)


def verify(raw_body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> VerifiedDelivery:
    """Verification handshake (answered, not stored) or an authenticated notification.

    With ``X-Clover-Auth`` present the code is checked before the body is read. Without it,
    only a body that is exactly ``{"verificationCode": "..."}`` is accepted."""
    if header_value(headers, AUTH_HEADER) is None:
        try:
            body = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError):
            body = None
        code = _verification_code(body)
        if code is None:
            raise SignatureError(f"missing {AUTH_HEADER} header", field=AUTH_HEADER)
        return VerifiedDelivery(
            event_id=f"verification:{code}",
            topic=VERIFICATION_TOPIC,
            reply={"verificationCode": code},
        )
    _check_auth(headers, secrets)
    _, notices = parse_notices(_json(raw_body))
    if not notices:
        raise PayloadError("the notification names no objects", field="merchants")
    return VerifiedDelivery(event_id=delivery_key(notices), topic=NOTIFICATION_TOPIC)
