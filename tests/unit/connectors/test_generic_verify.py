"""Generic verify: signature first, field errors with JSON paths, idempotency keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tillwise.connectors._signatures import sign
from tillwise.connectors.generic import connector
from tillwise.connectors.generic.payloads import json_path, parse_body
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import PayloadError, SignatureError, VerifiedDelivery

from ._fixtures import PAYLOADS

SECRET = "whsec_verify"
NOW = datetime(2024, 1, 15, 14, 30, 5, tzinfo=UTC)
REFERENCE = (PAYLOADS / "sale_completed_reference.json").read_bytes()


def _headers(body: bytes, **extra: str) -> dict[str, str]:
    return {"Tillwise-Signature": sign(body, SECRET, int(NOW.timestamp())), **extra}


def _verify(body: bytes, **extra: str) -> VerifiedDelivery:
    return connector.verify(body, _headers(body, **extra), [SECRET], NOW)


def _payload_error(body: bytes | dict[str, Any]) -> PayloadError:
    """An error found before the 2xx (the endpoint answers it as a problem)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(PayloadError) as info:
        _verify(raw)
    return info.value


def _shape_error(body: bytes | dict[str, Any]) -> PayloadError:
    """A shape error: found before the 2xx when it is in the delivery's head (event, data,
    its id, created_at), else when the stored delivery is normalized (it becomes a dead letter
    naming the path; the delivery was stored, so nothing is lost)."""
    raw = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
    try:
        _verify(raw)
    except PayloadError as early:
        return early
    delivery = RawDelivery(
        platform="generic",
        connection_id="con_t",
        event_id="e1",
        topic="sale.completed",
        body=raw,
        received_at=NOW,
    )
    with pytest.raises(PayloadError) as info:
        connector.normalize(delivery)
    return info.value


def _reference() -> dict[str, Any]:
    return json.loads(REFERENCE)


# -- order: signature first ------------------------------------------------------------------


def test_signature_is_checked_before_the_body_is_parsed() -> None:
    garbage = b"{not json"
    with pytest.raises(SignatureError):
        connector.verify(garbage, {"Tillwise-Signature": sign(garbage, "wrong", 1)}, [SECRET], NOW)
    with pytest.raises(SignatureError):
        connector.verify(garbage, {}, [SECRET], NOW)


def test_stale_signature_on_a_valid_body() -> None:
    stale = {"Tillwise-Signature": sign(REFERENCE, SECRET, int(NOW.timestamp()) - 301)}
    with pytest.raises(SignatureError, match="301 s old"):
        connector.verify(REFERENCE, stale, [SECRET], NOW)


def test_connector_tolerance_is_configurable() -> None:
    from tillwise.connectors.generic import GenericConnector

    lenient = GenericConnector(tolerance=3600)
    stale = {"Tillwise-Signature": sign(REFERENCE, SECRET, int(NOW.timestamp()) - 1800)}
    assert lenient.verify(REFERENCE, stale, [SECRET], NOW).topic == "sale.completed"


# -- body-level errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b'{"event": "sale.completed", "data": ', b"", b"\xff\xfe{}", b'{"a": NaN}']
)
def test_malformed_json_names_the_body(body: bytes) -> None:
    err = _payload_error(body)
    assert err.field == "body" and err.status == 422


def test_json_that_is_not_an_object_names_the_body() -> None:
    assert _payload_error(b"[1, 2]").field == "body"


@pytest.mark.parametrize("event", [None, "", "sale.teleported", 42])
def test_missing_or_unknown_event_names_the_event(event: Any) -> None:
    body = _reference()
    if event is None:
        del body["event"]
    else:
        body["event"] = event
    err = _payload_error(body)
    assert err.field == "event"
    if event == "sale.teleported":
        assert "sale.teleported" in err.detail and "sale.completed" in err.detail


# -- field-level errors name the JSON path ---------------------------------------------------


def _mutate(path: list[Any], value: Any, *, delete: bool = False) -> dict[str, Any]:
    body = _reference()
    node = body
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["data", "line_items", 1, "price"], "nine", "data.line_items[1].price"),
        (["data", "line_items", 1, "price"], "9.999", "data.line_items[1].price"),  # > 2 dp USD
        (["data", "line_items", 0, "quantity"], None, "data.line_items[0].quantity"),
        (["data", "total_money", "amount"], "4987", "data.total_money.amount"),  # not a string
        (["data", "total_money", "amount"], 49.87, "data.total_money.amount"),  # not minor units
        (["data", "total_money", "currency"], "XYZ", "data.total_money.currency"),
        (["data", "total_money", "currency"], "usd", "data.total_money.currency"),
        (["data", "line_items"], "none", "data.line_items"),
        (["created_at"], "2024-01-15T14:30:00", "created_at"),  # naive time
        (["created_at"], "yesterday", "created_at"),
        (["data"], [], "data"),
    ],
)
def test_field_errors_name_the_json_path(path: list[Any], value: Any, field: str) -> None:
    raw = json.dumps(_mutate(path, value), default=str).encode()
    if value == 49.87:  # send a JSON number, as a POS would
        raw = raw.replace(b'"49.87"', b"49.87")
    err = _shape_error(raw)
    assert err.field == field, err.detail
    assert err.detail.startswith(field)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (["data", "id"], "data.id"),
        (["data", "location_id"], "data.location_id"),
        (["data", "total_money"], "data.total_money"),
        (["data", "line_items", 0, "price"], "data.line_items[0].price"),
        (["created_at"], "created_at"),
        (["data"], "data"),
    ],
)
def test_missing_required_fields_name_the_json_path(path: list[Any], field: str) -> None:
    err = _shape_error(_mutate(path, None, delete=True))
    assert err.field == field, err.detail


def test_mixed_currencies_name_the_offending_amount() -> None:
    body = json.loads((PAYLOADS / "sale_completed_full.json").read_text())
    body["data"]["tenders"][1]["amount"]["currency"] = "EUR"
    assert _shape_error(body).field == "data.tenders[1].amount.currency"


def test_refund_quantities_and_totals_are_positive() -> None:
    body = json.loads((PAYLOADS / "refund_created.json").read_text())
    body["data"]["line_items"][0]["quantity"] = -1
    assert _shape_error(body).field == "data.line_items[0].quantity"
    body = json.loads((PAYLOADS / "refund_created.json").read_text())
    body["data"]["total_money"]["amount"] = -999
    assert _shape_error(body).field == "data.total_money"


def test_product_shape_errors() -> None:
    base = json.loads((PAYLOADS / "product_updated.json").read_text())
    no_currency = {**base, "data": {**base["data"], "currency": None}}
    assert _shape_error(no_currency).field == "data.currency"
    both = {**base, "data": {**base["data"], "variants": [{"sku": "X"}]}}
    assert _shape_error(both).field == "data.variants"
    variants = json.loads((PAYLOADS / "product_created.json").read_text())
    variants["data"]["variants"][0]["gtin"] = "4006381333932"  # wrong check digit
    err = _shape_error(variants)
    assert err.field == "data.variants[0].gtin" and "check digit" in err.detail


def test_location_time_zone_must_be_iana() -> None:
    body = json.loads((PAYLOADS / "location_updated.json").read_text())
    body["data"]["time_zone"] = "Eastern Standard Time"
    assert _shape_error(body).field == "data.time_zone"


def test_several_errors_report_the_first_and_count_the_rest() -> None:
    body = _mutate(["data", "line_items", 0, "price"], "x")
    body["data"]["line_items"][1]["quantity"] = "y"
    err = _shape_error(body)
    assert err.field == "data.line_items[0].price"
    assert "1 more" in err.detail and "data.line_items[1].quantity" in err.detail


def test_prices_never_pass_through_a_float() -> None:
    parsed = parse_body(REFERENCE)
    price = parsed.payload.data.line_items[0].price  # type: ignore[union-attr]
    assert repr(price) == "Decimal('29.99')"


def test_json_path_format() -> None:
    assert json_path(("data", "line_items", 1, "price")) == "data.line_items[1].price"
    assert json_path(("event",)) == "event"
    assert json_path(()) == ""


# -- idempotency keys ------------------------------------------------------------------------


def test_event_id_header_is_the_idempotency_key() -> None:
    assert _verify(REFERENCE, **{"Tillwise-Event-Id": "evt_123"}).event_id == "evt_123"
    assert _verify(REFERENCE, **{"tillwise-event-id": " evt_456 "}).event_id == "evt_456"


def test_without_the_header_the_key_is_event_id_and_created_at() -> None:
    verified = _verify(REFERENCE)
    assert verified.event_id == "sale.completed:txn_abc123:2024-01-15T14:30:00Z"
    assert verified.topic == "sale.completed"


def test_same_record_at_another_time_is_another_delivery() -> None:
    later = _mutate(["created_at"], "2024-01-15T14:31:00Z")
    verified = _verify(json.dumps(later).encode())
    assert verified.event_id == "sale.completed:txn_abc123:2024-01-15T14:31:00Z"


def test_inventory_key_uses_location_and_sku() -> None:
    body = (PAYLOADS / "inventory_updated.json").read_bytes()
    assert _verify(body).event_id == (
        "inventory.updated:loc_xyz789:SOCKS-ANKLE-BLACK:2024-01-15T15:00:00Z"
    )


def test_sale_refunded_keeps_its_topic() -> None:
    body = (PAYLOADS / "sale_refunded.json").read_bytes()
    assert _verify(body).topic == "sale.refunded"


def test_empty_or_oversized_event_id_header_is_rejected() -> None:
    with pytest.raises(PayloadError) as info:
        _verify(REFERENCE, **{"Tillwise-Event-Id": "  "})
    assert info.value.field == "Tillwise-Event-Id"
    with pytest.raises(PayloadError) as info:
        _verify(REFERENCE, **{"Tillwise-Event-Id": "x" * 256})
    assert info.value.field == "Tillwise-Event-Id"


def test_very_long_default_key_stays_bounded_and_distinct() -> None:
    a = _mutate(["data", "id"], "a" * 250)
    b = _mutate(["data", "id"], "a" * 249 + "b")
    ka, kb = _verify(json.dumps(a).encode()).event_id, _verify(json.dumps(b).encode()).event_id
    assert len(ka) <= 255 and len(kb) <= 255 and ka != kb
