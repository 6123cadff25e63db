"""Webhook ingress: verified deliveries are stored once; bad input changes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.api.conftest import SECRET, Api
from tests.helpers import REFERENCE_SALE_BYTES, body_of, pump, run, signed_headers
from tillwise.store.tables import events, outbox
from tillwise.store.tables_pipeline import inbox


def _count(api: Api, table) -> int:  # type: ignore[no-untyped-def]
    with api.container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _now(api: Api) -> int:
    return int(api.container.clock.now().timestamp())


def _post(api: Api, body: bytes, headers: dict[str, str], connection_id: str | None = None):  # type: ignore[no-untyped-def]
    return api.client.post(
        f"/webhooks/generic/{connection_id or api.connection_id}", content=body, headers=headers
    )


def test_reference_sale_is_stored_once_and_its_mismatch_is_visible(api: Api) -> None:
    # given the blueprint's reference payload, signed, sent twice
    headers = signed_headers(REFERENCE_SALE_BYTES, SECRET, _now(api))
    first = _post(api, REFERENCE_SALE_BYTES, headers)
    second = _post(api, REFERENCE_SALE_BYTES, headers)

    # then both get a 2xx, the second as a duplicate of the first
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted"
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate", "delivery_id": first.json()["delivery_id"]}
    assert _count(api, inbox) == 1

    # when the pipeline runs
    run(pump(api.container))

    # then the canonical transaction keeps the POS's total and lines and flags the mismatch
    resp = api.client.get(
        "/v1/transactions", params={"external_id": "txn_abc123"}, headers=api.viewer
    )
    assert resp.status_code == 200
    [txn] = resp.json()["data"]
    assert txn["external_id"] == "txn_abc123"
    assert txn["location_id"] == "loc_xyz789"
    assert txn["customer_id"] == "cust_456def"
    assert txn["total"] == {"amount": 4987, "currency": "USD"}
    assert [(x["sku"], x["quantity"], x["unit_price"]) for x in txn["lines"]] == [
        ("MENS-TSHIRT-BLUE-L", 1, {"amount": 2999, "currency": "USD"}),
        ("SOCKS-ANKLE-BLACK", 2, {"amount": 999, "currency": "USD"}),
    ]
    [issue] = txn["issues"]
    assert issue["code"] == "total_mismatch"
    assert issue["difference"] == {"amount": -10, "currency": "USD"}
    assert _count(api, events) == 1

    # and the reporting workflow counted the sale once, on the store's day
    report = api.client.get("/v1/reports/daily-sales", headers=api.viewer).json()["data"]
    assert [(r["location_id"], r["day"], r["sales_count"], r["sales_amount"]) for r in report] == [
        ("loc_xyz789", "2024-01-15", 1, 4987)
    ]


def _assert_nothing_stored(api: Api) -> None:
    assert _count(api, inbox) == 0
    assert _count(api, outbox) == 0


def _problem(resp, status: int, field: str) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["status"] == status
    assert problem["detail"]
    assert field in json.dumps(problem), problem
    return problem


def test_malformed_json_is_rejected_naming_the_body(api: Api) -> None:
    body = b'{"event": "sale.completed", "data": '
    _problem(_post(api, body, signed_headers(body, SECRET, _now(api))), 400, "body")
    _assert_nothing_stored(api)


def test_wrong_signature_is_rejected(api: Api) -> None:
    body = body_of(
        {"event": "customer.created", "created_at": "2024-01-15T14:30:00Z", "data": {"id": "c1"}}
    )
    _problem(
        _post(api, body, signed_headers(body, "not-the-secret", _now(api))),
        401,
        "Tillwise-Signature",
    )
    _assert_nothing_stored(api)


def test_missing_signature_is_rejected(api: Api) -> None:
    body = REFERENCE_SALE_BYTES
    _problem(_post(api, body, {"Content-Type": "application/json"}), 401, "Tillwise-Signature")
    _assert_nothing_stored(api)


def test_stale_timestamp_is_rejected(api: Api) -> None:
    body = REFERENCE_SALE_BYTES
    stale = _now(api) - 301
    problem = _problem(
        _post(api, body, signed_headers(body, SECRET, stale)), 401, "Tillwise-Signature"
    )
    assert "tolerance" in problem["detail"] or "old" in problem["detail"]
    _assert_nothing_stored(api)


def test_body_over_one_mebibyte_is_rejected(api: Api) -> None:
    body = b'{"event": "sale.completed", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    _problem(_post(api, body, signed_headers(body, SECRET, _now(api))), 413, "body")
    _assert_nothing_stored(api)


def test_unknown_connection_is_rejected(api: Api) -> None:
    body = REFERENCE_SALE_BYTES
    resp = _post(api, body, signed_headers(body, SECRET, _now(api)), connection_id="con_nope")
    _problem(resp, 404, "connection_id")
    _assert_nothing_stored(api)


def test_unknown_platform_is_rejected(api: Api) -> None:
    body = REFERENCE_SALE_BYTES
    resp = api.client.post(
        f"/webhooks/nosuchpos/{api.connection_id}",
        content=body,
        headers=signed_headers(body, SECRET, _now(api)),
    )
    _problem(resp, 404, "platform")
    _assert_nothing_stored(api)


def test_unknown_event_type_is_rejected_naming_the_field(api: Api) -> None:
    body = body_of(
        {"event": "sale.teleported", "created_at": "2024-01-15T14:30:00Z", "data": {"id": "x"}}
    )
    _problem(_post(api, body, signed_headers(body, SECRET, _now(api))), 422, "event")
    _assert_nothing_stored(api)


@pytest.mark.parametrize(
    ("event_id", "data_id", "field", "why"),
    [
        ("e" * 256, "txn_1", "Tillwise-Event-Id", "255 characters"),
        # JSON escapes for an unpaired surrogate, in a short id and in one long enough to hash
        (None, "txn_\\ud800", "event_id", "lone surrogate"),
        (None, "\\ud800" + "t" * 300, "event_id", "lone surrogate"),
    ],
)
def test_an_unstorable_event_key_is_refused_naming_the_field(
    api: Api, event_id: str | None, data_id: str, field: str, why: str
) -> None:
    # given a correctly signed sale whose event id cannot be stored as the inbox's key
    body = REFERENCE_SALE_BYTES.replace(b'"txn_abc123"', f'"{data_id}"'.encode())
    resp = _post(api, body, signed_headers(body, SECRET, _now(api), event_id=event_id))
    # then it is refused with a problem naming the event id, and nothing is stored
    problem = _problem(resp, 422, field)
    assert why in problem["detail"]
    _assert_nothing_stored(api)
    # and the next good delivery is accepted as usual
    good = REFERENCE_SALE_BYTES
    assert _post(api, good, signed_headers(good, SECRET, _now(api))).status_code == 200
    assert _count(api, inbox) == 1


def test_event_id_header_is_the_idempotency_key(api: Api) -> None:
    body = REFERENCE_SALE_BYTES
    a = _post(api, body, signed_headers(body, SECRET, _now(api), event_id="evt-1"))
    b = _post(api, body, signed_headers(body, SECRET, _now(api), event_id="evt-2"))
    assert a.json()["status"] == b.json()["status"] == "accepted"
    assert _count(api, inbox) == 2
    # two deliveries of the same sale still make one canonical transaction
    run(pump(api.container))
    resp = api.client.get(
        "/v1/transactions", params={"external_id": "txn_abc123"}, headers=api.admin
    )
    assert resp.json()["count"] == 1


def test_a_shape_error_is_stored_then_parked_as_a_dead_letter_naming_the_field(api: Api) -> None:
    # given a correctly signed sale whose head is fine but whose second line has no price
    payload = json.loads(REFERENCE_SALE_BYTES)
    del payload["data"]["line_items"][1]["price"]
    body = body_of(payload)

    # then it is stored (nothing the POS sent is lost) ...
    assert _post(api, body, signed_headers(body, SECRET, _now(api))).status_code == 200
    run(pump(api.container))

    # ... and parked at once (no pointless retries) as a dead letter naming the JSON path
    [letter] = api.client.get("/v1/dead-letters", headers=api.admin).json()["data"]
    assert letter["consumer"] == "normalizer"
    assert letter["attempts"] == 1
    assert "data.line_items[1].price" in letter["error"]
    assert api.client.get("/v1/transactions", headers=api.admin).json()["count"] == 0
    overview = api.client.get("/v1/stats/overview", headers=api.viewer).json()
    assert overview["dead_letters"] == 1


def test_one_bad_delivery_in_a_batch_does_not_hold_up_the_others(api: Api) -> None:
    # given three good sales and one with a malformed line, normalized in one fetched batch
    for i, bad in enumerate([False, True, False, False]):
        payload = json.loads(REFERENCE_SALE_BYTES)
        payload["data"]["id"] = f"txn_{i}"
        if bad:
            payload["data"]["line_items"][0]["price"] = "twenty"
        body = body_of(payload)
        assert _post(api, body, signed_headers(body, SECRET, _now(api))).status_code == 200

    run(pump(api.container))

    # then the good ones are in the store and only the bad one is a dead letter
    txns = api.client.get("/v1/transactions", headers=api.admin).json()["data"]
    assert sorted(t["external_id"] for t in txns) == ["txn_0", "txn_2", "txn_3"]
    [letter] = api.client.get("/v1/dead-letters", headers=api.admin).json()["data"]
    assert "data.line_items[0].price" in letter["error"]
