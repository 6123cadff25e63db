"""X-Signature verification on the raw form body (own vectors: the corpus has none for X-Series)."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

import pytest

from tillwise.connectors.lightspeed_x import make_connector
from tillwise.ports.platform import PayloadError, SignatureError

from ._golden import RECEIVED, SECRET, form_body

BODY = form_body("webhook__inventory_update__docs_example.json", {"type": "inventory.update"})


def _header(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"signature={digest}, algorithm=HMAC-SHA256"


def test_hmac_of_the_raw_body_with_the_client_secret_is_accepted() -> None:
    c = make_connector({})
    got = c.verify(BODY, {"x-signature": _header(SECRET, BODY)}, [SECRET], RECEIVED)
    assert got.topic == "inventory.update"
    assert got.event_id == "inventory.update:180e2ad4-1c18-5517-e110-9f927920a8cf:5105100802"


def test_a_known_vector() -> None:
    body = b"payload=%7B%22id%22%3A%22a%22%2C%22customer_code%22%3A%22C1%22%7D&type=customer.update"
    header = (
        "signature="
        + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
        + ", algorithm=HMAC-SHA256"
    )
    got = make_connector({}).verify(body, {"X-Signature": header}, ["secret"], RECEIVED)
    assert (got.topic, got.event_id.split(":")[:2]) == ("customer.update", ["customer.update", "a"])


def test_rotation_accepts_the_old_or_the_new_secret() -> None:
    c = make_connector({})
    for secret in ("old", "new"):
        c.verify(BODY, {"X-Signature": _header(secret, BODY)}, ["new", "old"], RECEIVED)


@pytest.mark.parametrize(
    ("headers", "secrets", "why"),
    [
        ({}, [SECRET], "missing"),
        ({"X-Signature": "nonsense"}, [SECRET], "malformed"),
        ({"X-Signature": "sha256=abc"}, [SECRET], "no hex signature"),
        ({"X-Signature": "signature=zz, algorithm=HMAC-SHA256"}, [SECRET], "hex"),
        ({"X-Signature": _header(SECRET, BODY).replace("SHA256", "SHA1")}, [SECRET], "algorithm"),
        ({"X-Signature": _header("wrong", BODY)}, [SECRET], "does not match"),
        ({"X-Signature": _header(SECRET, BODY)}, [], "no client secret"),
    ],
)
def test_bad_signatures_are_refused(headers: dict[str, str], secrets: list[str], why: str) -> None:
    with pytest.raises(SignatureError, match=why) as err:
        make_connector({}).verify(BODY, headers, secrets, RECEIVED)
    assert err.value.field == "X-Signature"


def test_a_changed_body_fails() -> None:
    header = _header(SECRET, BODY)
    changed = BODY.replace(b"10", b"11", 1)
    with pytest.raises(SignatureError):
        make_connector({}).verify(changed, {"X-Signature": header}, [SECRET], RECEIVED)


def test_the_app_client_secret_is_used_when_the_connection_has_none() -> None:
    c = make_connector({"client_secret": SECRET})
    assert c.verify(BODY, {"X-Signature": _header(SECRET, BODY)}, [], RECEIVED).topic


def test_signature_over_payload_signs_the_decoded_payload_field() -> None:
    payload = (BODY.split(b"payload=")[1]).decode()
    from urllib.parse import unquote_plus

    decoded = unquote_plus(payload).encode()
    c = make_connector({"signature_over": "payload"})
    c.verify(BODY, {"X-Signature": _header(SECRET, decoded)}, [SECRET], RECEIVED)
    with pytest.raises(SignatureError):  # the body's HMAC is not the payload's
        c.verify(BODY, {"X-Signature": _header(SECRET, BODY)}, [SECRET], RECEIVED)
    with pytest.raises(SignatureError):  # and the default scheme refuses the payload's
        make_connector({}).verify(
            BODY, {"X-Signature": _header(SECRET, decoded)}, [SECRET], RECEIVED
        )


def test_signature_over_payload_covers_exactly_what_is_parsed() -> None:
    """A bare JSON body smuggling a signed ``payload=`` inside a string is refused, and so is a
    form with a second payload field: the HMAC must cover the object that gets stored."""
    from urllib.parse import unquote_plus

    signed = unquote_plus(BODY.split(b"payload=")[1].decode())
    header = {"X-Signature": _header(SECRET, signed.encode())}
    c = make_connector({"signature_over": "payload"})
    forged = (
        '{"id": "180e2ad4-1c18-5517-e110-9f927920a8cf", "outlet_id": "o", "product_id": "p", '
        '"count": 9999, "note": "&payload=' + quote(signed) + '&"}'
    ).encode()
    with pytest.raises(SignatureError) as err:
        c.verify(forged, header, [SECRET], RECEIVED)
    assert "bare JSON" in str(err.value)
    doubled = BODY + b"&payload=" + quote('{"id": "x", "count": 9999}').encode()
    with pytest.raises(PayloadError) as perr:
        c.verify(doubled, header, [SECRET], RECEIVED)
    assert perr.value.field == "payload"
    assert "2 payload fields" in str(perr.value)


def test_an_unknown_signature_over_setting_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="signature_over"):
        make_connector({"signature_over": "url"})


def test_without_a_type_field_the_topic_is_inferred_from_the_payload() -> None:
    body = form_body("webhook__sale_update__docs_example.json")
    got = make_connector({}).verify(
        body, {"X-Signature": _header(SECRET, body)}, [SECRET], RECEIVED
    )
    assert got.topic == "sale.update"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"type=sale.update", "payload"),
        (b"payload=" + quote("[1, 2]").encode(), "payload"),
        (b"payload=" + quote("{not json").encode(), "payload"),
        (b"payload=" + quote('{"foo": 1}').encode(), "type"),
        (b"type=customer.update&payload=" + quote('{"customer_code": "x"}').encode(), "payload.id"),
    ],
)
def test_a_signed_but_malformed_body_is_a_payload_error_naming_the_field(
    body: bytes, field: str
) -> None:
    with pytest.raises(PayloadError) as err:
        make_connector({}).verify(body, {"X-Signature": _header(SECRET, body)}, [SECRET], RECEIVED)
    assert err.value.field == field
