"""Square webhook signatures: the 7 official vectors (square-python-sdk tests) and rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tillwise.connectors.square import make_connector
from tillwise.connectors.square.webhooks import (
    SIGNATURE_HEADER,
    check_signature,
    expected_signature,
)
from tillwise.ports.platform import PayloadError, SignatureError

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "payloads" / "square"
VECTORS = sorted(FIXTURES.glob("square_webhook_*.json"))
NOW = datetime(2026, 1, 1, tzinfo=UTC)
connector = make_connector({})


def test_all_seven_vectors_are_present() -> None:
    assert len(VECTORS) == 7
    assert sum(json.loads(p.read_text())["expected_valid"] for p in VECTORS) == 2


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    body = v["raw_body"].encode("utf-8")
    headers = {SIGNATURE_HEADER: v["signature"]}
    if v["expected_valid"]:
        check_signature(body, headers, [v["signature_key"]], url=v["notification_url"])
        parsed = json.loads(body)
        if "event_id" in parsed:
            verified = connector.verify(
                body, headers, [v["signature_key"]], NOW, url=v["notification_url"]
            )
            assert (verified.event_id, verified.topic) == (parsed["event_id"], parsed["type"])
        else:  # a correctly signed body that is not an event: refused as a payload, not a forgery
            with pytest.raises(PayloadError) as bad:
                connector.verify(
                    body, headers, [v["signature_key"]], NOW, url=v["notification_url"]
                )
            assert bad.value.field == "event_id"
    else:
        with pytest.raises(SignatureError) as err:
            connector.verify(body, headers, [v["signature_key"]], NOW, url=v["notification_url"])
        assert err.value.field == SIGNATURE_HEADER


def _basic() -> dict[str, str]:
    return json.loads((FIXTURES / "square_webhook_valid_basic.json").read_text())


def test_rotation_accepts_old_or_new_key_in_any_order() -> None:
    v = _basic()
    body, headers = v["raw_body"].encode(), {SIGNATURE_HEADER: v["signature"]}
    for keys in (["new-key", v["signature_key"]], [v["signature_key"], "new-key"]):
        assert connector.verify(body, headers, keys, NOW, url=v["notification_url"]).event_id


def test_header_lookup_is_case_insensitive() -> None:
    v = _basic()
    headers = {"X-Square-HmacSha256-Signature": v["signature"]}
    verified = connector.verify(
        v["raw_body"].encode(), headers, [v["signature_key"]], NOW, url=v["notification_url"]
    )
    assert verified.event_id == "ac3ac95b-f97d-458c-a6e6-18981597e05f"


@pytest.mark.parametrize(
    ("headers", "keys", "url", "field"),
    [
        ({}, ["k"], "https://x", SIGNATURE_HEADER),
        ({SIGNATURE_HEADER: "sig"}, ["k"], "", "url"),
        ({SIGNATURE_HEADER: "sig"}, [], "https://x", SIGNATURE_HEADER),
        ({SIGNATURE_HEADER: "not base64!!"}, ["k"], "https://x", SIGNATURE_HEADER),
        # the legacy SHA1 header alone is not accepted
        ({"x-square-signature": "abc="}, ["k"], "https://x", SIGNATURE_HEADER),
    ],
)
def test_refusals_name_the_field(
    headers: dict[str, str], keys: list[str], url: str, field: str
) -> None:
    with pytest.raises(SignatureError) as err:
        connector.verify(b"{}", headers, keys, NOW, url=url)
    assert err.value.field == field


def test_signed_but_not_json_is_a_payload_error() -> None:
    url, key = "https://example.com/webhooks/square/con_1", "key"
    for body, field in ((b"not json", "$"), (b'{"type":"x"}', "event_id")):
        headers = {SIGNATURE_HEADER: expected_signature(url, body, key)}
        with pytest.raises(PayloadError) as err:
            connector.verify(body, headers, [key], NOW, url=url)
        assert err.value.field == field
