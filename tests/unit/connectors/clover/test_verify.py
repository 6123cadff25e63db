"""Clover webhook authentication: the static X-Clover-Auth code, rotation, the handshake."""

from __future__ import annotations

import json

import pytest

from tillwise.connectors.clover import make_connector
from tillwise.ports.platform import PayloadError, SignatureError, VerifiedDelivery

from ._golden import AUTH, PAYLOADS, RECEIVED, delivery

connector = make_connector({})
NOTE = (PAYLOADS / "webhook__notification_orders__docs.json").read_bytes()
OLD = "old-code-0000-0000-0000-000000000000"


def _verify(body: bytes, headers: dict[str, str], secrets: list[str]) -> VerifiedDelivery:
    return connector.verify(body, headers, secrets, RECEIVED, url="https://x/webhooks/clover/c")


def test_notification_with_the_auth_code_is_accepted_any_header_case() -> None:
    for name in ("X-Clover-Auth", "x-clover-auth"):
        got = _verify(NOTE, {name: AUTH}, [AUTH])
        assert got.topic == "notification" and got.reply is None


def test_old_and_new_codes_both_work_during_rotation() -> None:
    assert _verify(NOTE, {"X-Clover-Auth": OLD}, [AUTH, OLD]).topic == "notification"
    assert _verify(NOTE, {"X-Clover-Auth": AUTH}, [AUTH, OLD]).topic == "notification"


@pytest.mark.parametrize(
    ("headers", "secrets"),
    [
        ({}, [AUTH]),  # missing header, and not a verification body
        ({"X-Clover-Auth": ""}, [AUTH]),
        ({"X-Clover-Auth": AUTH + "x"}, [AUTH]),
        ({"X-Clover-Auth": AUTH.upper()}, [AUTH]),
        ({"X-Clover-Auth": AUTH}, []),  # nothing configured yet
        ({"X-Clover-Auth": AUTH}, [""]),
    ],
)
def test_wrong_or_missing_code_is_refused(headers: dict[str, str], secrets: list[str]) -> None:
    with pytest.raises(SignatureError) as err:
        _verify(NOTE, headers, secrets)
    assert err.value.field == "X-Clover-Auth"


def test_auth_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(SignatureError):
        _verify(b"not json", {"X-Clover-Auth": "wrong"}, [AUTH])
    with pytest.raises(PayloadError) as err:
        _verify(b"not json", {"X-Clover-Auth": AUTH}, [AUTH])
    assert err.value.field == "$"


@pytest.mark.parametrize("name", ["dev", "legacy"])
def test_verification_handshake_is_answered_not_stored(name: str) -> None:
    body = (PAYLOADS / f"webhook__verification_post_body__docs_{name}.json").read_bytes()
    code = json.loads(body)["verificationCode"]
    got = _verify(body, {}, [])  # no code is configured while the URL is being set up
    assert got.topic == "verification"
    assert got.reply == {"verificationCode": code}
    assert connector.normalize(delivery(body, got.topic, got.event_id)).records == ()


def test_a_notification_disguised_with_a_verification_code_still_needs_auth() -> None:
    body = json.dumps({"verificationCode": "x", "merchants": {}}).encode()
    with pytest.raises(SignatureError):
        _verify(body, {}, [AUTH])


def test_single_object_key_and_batch_key_are_stable_and_order_independent() -> None:
    one = {"merchants": {"M1": [{"objectId": "O:A", "type": "UPDATE", "ts": 5}]}}
    got = _verify(json.dumps(one).encode(), {"X-Clover-Auth": AUTH}, [AUTH])
    assert got.event_id == "M1:O:A:UPDATE:5"
    a = {
        "merchants": {
            "M1": [{"objectId": "O:A", "type": "UPDATE", "ts": 5}],
            "M2": [{"objectId": "C:B", "type": "CREATE", "ts": 6}],
        }
    }
    b = {
        "merchants": {
            "M2": [{"objectId": "C:B", "type": "CREATE", "ts": 6}],
            "M1": [{"objectId": "O:A", "type": "UPDATE", "ts": 5}],
        }
    }
    ka = _verify(json.dumps(a).encode(), {"X-Clover-Auth": AUTH}, [AUTH]).event_id
    kb = _verify(json.dumps(b, indent=2).encode(), {"X-Clover-Auth": AUTH}, [AUTH]).event_id
    assert ka == kb and ka.startswith("batch:sha256:")
    c = {"merchants": {**a["merchants"], "M2": [{"objectId": "C:B", "type": "UPDATE", "ts": 7}]}}
    assert _verify(json.dumps(c).encode(), {"X-Clover-Auth": AUTH}, [AUTH]).event_id != ka


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"merchants": []}', "merchants"),
        (b'{"merchants": {}}', "merchants"),
        (
            b'{"merchants": {"M": [{"objectId": "O:A", "type": "MOVE", "ts": 1}]}}',
            "merchants.M[0].type",
        ),
        (
            b'{"merchants": {"M": [{"objectId": "O:A", "type": "UPDATE", "ts": "1"}]}}',
            "merchants.M[0].ts",
        ),
    ],
)
def test_bad_notifications_name_the_field(body: bytes, field: str) -> None:
    with pytest.raises(PayloadError) as err:
        _verify(body, {"X-Clover-Auth": AUTH}, [AUTH])
    assert err.value.field == field
