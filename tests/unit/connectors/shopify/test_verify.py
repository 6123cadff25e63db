"""Webhook HMAC (base64, raw body, app secret, rotation, both header spellings) and the OAuth
callback's hex HMAC against the signature vectors in signature-vectors/shopify_*."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tillwise.connectors.shopify import make_connector
from tillwise.ports.platform import PayloadError, SignatureError

VECTORS = Path("/work/shared/data/pos-payloads/signature-vectors")
NOW = datetime(2024, 4, 2, tzinfo=UTC)
BODY = (
    b'{"id":820982911946154508,"email":"jon@example.com","updated_at":"2024-04-02T09:00:00-05:00"}'
)
connector = make_connector({"client_id": "cid", "client_secret": "hush"})


def b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(sig: str, prefix: str = "X-Shopify-") -> dict[str, str]:
    return {
        f"{prefix}Hmac-Sha256": sig,
        f"{prefix}Topic": "customers/update",
        f"{prefix}Webhook-Id": "b54557e4",
    }


@pytest.mark.parametrize("prefix", ["X-Shopify-", "shopify-", "x-shopify-"])
def test_valid_signature_both_header_spellings(prefix: str) -> None:
    got = connector.verify(BODY, headers(b64("hush", BODY), prefix), ["hush"], NOW)
    assert (got.event_id, got.topic) == ("b54557e4", "customers/update")


def test_old_secret_still_accepted_during_rotation() -> None:
    got = connector.verify(BODY, headers(b64("old", BODY)), ["new", "old"], NOW)
    assert got.event_id == "b54557e4"


@pytest.mark.parametrize(
    "body,sig",
    [
        (BODY, b64("wrong", BODY)),
        (json.dumps(json.loads(BODY), indent=2).encode(), b64("hush", BODY)),  # re-serialised
        (BODY, hmac.new(b"hush", BODY, hashlib.sha256).hexdigest()),  # hex is the OAuth scheme
    ],
)
def test_bad_signatures_are_refused(body: bytes, sig: str) -> None:
    with pytest.raises(SignatureError) as err:
        connector.verify(body, headers(sig), ["hush"], NOW)
    assert err.value.field == "X-Shopify-Hmac-Sha256"


def test_missing_signature_and_missing_webhook_id() -> None:
    with pytest.raises(SignatureError):
        connector.verify(BODY, {"X-Shopify-Topic": "orders/create"}, ["hush"], NOW)
    with pytest.raises(PayloadError) as err:
        connector.verify(
            BODY,
            {"X-Shopify-Hmac-Sha256": b64("hush", BODY), "X-Shopify-Topic": "t"},
            ["hush"],
            NOW,
        )
    assert err.value.field == "X-Shopify-Webhook-Id"


def test_signed_non_json_body_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        connector.verify(b"not json", headers(b64("hush", b"not json")), ["hush"], NOW)


@pytest.mark.parametrize("path", sorted(VECTORS.glob("shopify_*.json")), ids=lambda p: p.name)
def test_oauth_callback_vectors(path: Path) -> None:
    vector = json.loads(path.read_text())
    oauth = make_connector({"client_secret": vector["app_secret"]}).oauth
    assert oauth is not None
    params = {**vector["query"], "hmac": vector["hmac"]}
    if vector["expected_valid"]:
        oauth.verify_callback(params)
    else:
        with pytest.raises(SignatureError):
            oauth.verify_callback(params)
    tampered = {**params, "shop": "other-shop.myshopify.com"}
    with pytest.raises(SignatureError):
        oauth.verify_callback(tampered)
