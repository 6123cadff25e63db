"""``inventory.counted``: a physical count is validated like every shape (errors name the JSON
path) and points at the same canonical level as ``inventory.updated`` for that SKU and store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tillwise.connectors._signatures import sign
from tillwise.connectors.generic import connector
from tillwise.connectors.generic.normalize import level_id
from tillwise.domain.inventory import InventoryLevel
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import PayloadError

from ._fixtures import PAYLOADS

SECRET = "whsec_count"
NOW = datetime(2024, 1, 16, 8, 5, tzinfo=UTC)
COUNT = (PAYLOADS / "inventory_counted.json").read_bytes()


def _count(**data: Any) -> bytes:
    body = json.loads(COUNT)
    for key, value in data.items():
        if value is None:
            body["data"].pop(key)
        else:
            body["data"][key] = value
    return json.dumps(body).encode()


def _delivery(body: bytes, connection_id: str = "con_c") -> RawDelivery:
    headers = {"Tillwise-Signature": sign(body, SECRET, int(NOW.timestamp()))}
    verified = connector.verify(body, headers, [SECRET], NOW)
    return RawDelivery("generic", connection_id, verified.event_id, verified.topic, body, NOW)


def _error(body: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        connector.normalize(_delivery(body))
    return info.value


def test_the_count_refers_to_the_level_an_inventory_update_writes() -> None:
    # given a stock level and a count of the same SKU at the same store
    update = connector.normalize(
        _delivery((PAYLOADS / "inventory_updated.json").read_bytes(), "con_c")
    )
    count = connector.normalize(_delivery(COUNT, "con_c"))

    # then the count's subject is that level's canonical id, and the count writes no record
    [level] = update.records
    assert isinstance(level, InventoryLevel)
    [event] = count.events
    assert event.subject == level.id == level_id("con_c", "loc_xyz789", "SOCKS-ANKLE-BLACK")
    assert count.records == ()


def test_without_the_event_id_header_the_key_is_the_count_id() -> None:
    assert _delivery(COUNT).event_id == "inventory.counted:cnt_2024_0116_a7:2024-01-16T08:05:00Z"


@pytest.mark.parametrize(("counted", "kept"), [(12, "12"), ("7", "7"), ("2.5", "2.5")])
def test_counted_is_an_integer_or_a_decimal_string(counted: Any, kept: str) -> None:
    [event] = connector.normalize(_delivery(_count(counted=counted))).events
    assert event.data["counted"] == kept


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"counted": -1}, "data.counted"),  # a shelf never holds less than nothing
        ({"counted": "many"}, "data.counted"),
        ({"counted": True}, "data.counted"),
        ({"counted": None}, "data.counted"),
        ({"counted_at": "2024-01-16T09:02:00"}, "data.counted_at"),  # no offset
        ({"counted_at": None}, "data.counted_at"),
        ({"sku": ""}, "data.sku"),
        ({"location_id": None}, "data.location_id"),
    ],
)
def test_shape_errors_name_the_json_path(change: dict[str, Any], field: str) -> None:
    err = _error(_count(**change))
    assert err.field == field, err.detail
    assert err.detail.startswith(field)


def test_a_count_without_its_id_is_refused_before_it_is_stored() -> None:
    body = _count(count_id=None)
    headers = {"Tillwise-Signature": sign(body, SECRET, int(NOW.timestamp()))}
    with pytest.raises(PayloadError) as info:
        connector.verify(body, headers, [SECRET], NOW)
    assert info.value.field == "data.count_id"
