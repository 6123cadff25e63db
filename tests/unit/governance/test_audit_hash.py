"""The audit hash and payload normalization (no database)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from tillwise.governance.audit import GENESIS_HASH, canonical_json, entry_hash, normalize_payload

AT = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)


def _hash(**overrides: object) -> str:
    values: dict[str, object] = {
        "id": 1,
        "at": AT,
        "actor": "cli",
        "action": "x",
        "store": None,
        "inputs": {"b": 1, "a": [1, 2]},
        "outputs": None,
        "prev_hash": GENESIS_HASH,
    }
    values.update(overrides)
    return entry_hash(**values)  # type: ignore[arg-type]


def test_hash_is_sha256_of_canonical_json() -> None:
    expected_doc = (
        '{"action":"x","actor":"cli","at":"2024-06-01T09:30:00.000000+00:00","id":1,'
        '"inputs":{"a":[1,2],"b":1},"outputs":null,"prev_hash":"' + GENESIS_HASH + '","store":null}'
    )
    assert _hash() == hashlib.sha256(expected_doc.encode()).hexdigest()


def test_hash_ignores_key_order_and_time_zone_but_not_content() -> None:
    same_instant = AT.astimezone(timezone(timedelta(hours=2)))
    assert _hash(inputs={"a": [1, 2], "b": 1}, at=same_instant) == _hash()
    for change in (
        {"id": 2},
        {"actor": "user:a"},
        {"action": "y"},
        {"store": "s"},
        {"inputs": {"b": 2, "a": [1, 2]}},
        {"outputs": {}},
        {"prev_hash": "1" * 64},
        {"at": AT + timedelta(microseconds=1)},
    ):
        assert _hash(**change) != _hash(), change


def test_canonical_json_has_no_whitespace_and_sorted_keys() -> None:
    assert canonical_json({"b": 1, "a": {"d": "é", "c": None}}) == (
        '{"a":{"c":null,"d":"\\u00e9"},"b":1}'
    )


def test_normalize_payload_makes_plain_stable_json() -> None:
    value = {
        "when": AT,
        "amount": Decimal("12.30"),
        "id": UUID(int=1),
        "n": 3.0,
        "big": 1e16,
        "f": 0.1,
        "tags": ("a", "b"),
        4: "int key",
    }
    out = normalize_payload(value)
    assert out == {
        "when": AT.isoformat(),
        "amount": "12.30",
        "id": str(UUID(int=1)),
        "n": 3,
        "big": 10**16,
        "f": 0.1,
        "tags": ["a", "b"],
        "4": "int key",
    }
    assert isinstance(out["n"], int)
    assert normalize_payload(out) == out
    assert json.loads(canonical_json(out)) == out
    assert normalize_payload(None) is None


@pytest.mark.parametrize(
    "bad", [{"x": float("nan")}, {"x": float("inf")}, {"x": object()}, {"x": "nul\x00byte"}]
)
def test_normalize_payload_rejects_what_cannot_be_stored(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        normalize_payload(bad)
