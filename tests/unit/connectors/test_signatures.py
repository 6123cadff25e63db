"""Tillwise-Signature: one test per failure mode, rotation, and independent test vectors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from tillwise.connectors._signatures import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    compute_signature,
    header_value,
    matches_any,
    sign,
    verify,
    verify_headers,
)
from tillwise.ports.platform import SignatureError

from ._fixtures import FIXTURES, SIGNATURES

VECTORS = json.loads((SIGNATURES / "vectors.json").read_text())
BODY = (FIXTURES / VECTORS["body_file"]).read_bytes()
T = 1_705_329_000  # 2024-01-15T14:30:00Z
SECRET = "whsec_current"


def _fails(
    header: str | None,
    *,
    secrets: Sequence[str] = (SECRET,),
    now: int = T,
    body: bytes = BODY,
    **kw: Any,
) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        verify(body, header, list(secrets), now, **kw)
    err = info.value
    assert err.field == SIGNATURE_HEADER
    assert err.status == 401
    return err


# -- the vectors (computed with OpenSSL, not with this code) ---------------------------------


def test_compute_signature_matches_the_openssl_vectors() -> None:
    assert (
        compute_signature(BODY, "whsec_current", T)
        == VECTORS["signatures"]["current_at_1705329000"]
    )
    assert (
        compute_signature(BODY, "whsec_previous", T)
        == VECTORS["signatures"]["previous_at_1705329000"]
    )


@pytest.mark.parametrize("case", VECTORS["good"], ids=lambda c: c["name"])
def test_known_good_vectors_verify(case: dict) -> None:
    assert verify(BODY, case["header"], case["secrets"], case["now"]) == T


@pytest.mark.parametrize("case", VECTORS["bad"], ids=lambda c: c["name"])
def test_known_bad_vectors_fail_with_a_specific_detail(case: dict) -> None:
    err = _fails(case["header"], secrets=case["secrets"], now=case["now"])
    assert case["detail_contains"] in err.detail


# -- one test per failure mode ---------------------------------------------------------------


def test_missing_header() -> None:
    assert "missing" in _fails(None).detail


def test_empty_header_is_malformed() -> None:
    assert "empty" in _fails("  ").detail


def test_malformed_element() -> None:
    assert "malformed" in _fails(f"t={T},garbage").detail


def test_no_timestamp_is_malformed() -> None:
    err = _fails(f"v1={compute_signature(BODY, SECRET, T)}")
    assert "malformed" in err.detail and "t=" in err.detail


def test_two_timestamps_are_malformed() -> None:
    assert "more than one" in _fails(f"t={T},t={T},v1=00").detail


def test_no_v1_signature() -> None:
    assert "no v1" in _fails(f"t={T},v0=abc").detail


@pytest.mark.parametrize("t", ["abc", "1705329000.5", "-1705329000", "１７０５"])
def test_timestamp_not_an_integer(t: str) -> None:
    assert "not an integer" in _fails(f"t={t},v1=00").detail


def test_outside_tolerance_says_how_far() -> None:
    header = sign(BODY, SECRET, T)
    err = _fails(header, now=T + DEFAULT_TOLERANCE + 45)
    assert "345 s old" in err.detail and "300 s tolerance" in err.detail


def test_tolerance_is_configurable() -> None:
    header = sign(BODY, SECRET, T)
    assert verify(BODY, header, [SECRET], T + 3600, tolerance=3600) == T
    assert "61 s old" in _fails(header, now=T + 61, tolerance=60).detail


def test_no_signature_matches() -> None:
    header = sign(BODY, "someone-else", T)
    assert "no v1 signature" in _fails(header).detail


def test_tampered_body_does_not_match() -> None:
    header = sign(BODY, SECRET, T)
    _fails(header, body=BODY.replace(b"4987", b"4988"))


def test_re_serialized_body_does_not_match() -> None:
    # the signature covers the raw bytes; json.dumps(json.loads(...)) is different bytes
    header = sign(BODY, SECRET, T)
    compact = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert json.loads(compact) == json.loads(BODY) and compact != BODY
    _fails(header, body=compact)


def test_no_secret_configured() -> None:
    assert "no webhook secret" in _fails(sign(BODY, SECRET, T), secrets=()).detail


def test_non_hex_and_non_ascii_signatures_are_just_non_matching() -> None:
    _fails(f"t={T},v1=zz-not-hex")
    _fails(f"t={T},v1=é")


# -- rotation --------------------------------------------------------------------------------


def test_rotation_two_secrets_two_signatures() -> None:
    # the sender signs with old and new; a server with either (or both) accepts
    header = sign(BODY, ["whsec_previous", "whsec_current"], T)
    assert header.count("v1=") == 2
    assert verify(BODY, header, ["whsec_current"], T) == T
    assert verify(BODY, header, ["whsec_previous"], T) == T
    assert verify(BODY, header, ["whsec_current", "whsec_previous"], T) == T
    _fails(header, secrets=["whsec_unrelated"])


def test_rotation_server_with_two_secrets_accepts_either_sender() -> None:
    for sender_secret in ("whsec_previous", "whsec_current"):
        header = sign(BODY, sender_secret, T)
        assert verify(BODY, header, ["whsec_current", "whsec_previous"], T) == T


# -- helpers ---------------------------------------------------------------------------------


def test_sign_format_and_arguments() -> None:
    assert sign(BODY, SECRET, T) == f"t={T},v1={VECTORS['signatures']['current_at_1705329000']}"
    with pytest.raises(ValueError):
        sign(BODY, [], T)
    with pytest.raises(TypeError):
        sign(BODY, SECRET, float(T))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        compute_signature("text, not bytes", SECRET, T)  # type: ignore[arg-type]


def test_now_may_be_an_aware_datetime() -> None:
    now = datetime.fromtimestamp(T + 10, UTC)
    assert verify(BODY, sign(BODY, SECRET, T), [SECRET], now) == T
    with pytest.raises(ValueError):
        verify(BODY, sign(BODY, SECRET, T), [SECRET], now.replace(tzinfo=None))


def test_headers_are_looked_up_case_insensitively() -> None:
    headers = {"tillwise-signature": sign(BODY, SECRET, T)}
    assert header_value(headers, "Tillwise-Signature") == headers["tillwise-signature"]
    assert verify_headers(BODY, headers, [SECRET], T) == T
    with pytest.raises(SignatureError, match="missing"):
        verify_headers(BODY, {}, [SECRET], T)


def test_matches_any() -> None:
    assert matches_any(["aa", "bb"], ["cc", "bb"])
    assert not matches_any(["aa"], ["ab", "ba"])
    assert not matches_any(["aa"], [])
