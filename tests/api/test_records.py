"""Listing canonical records: most recent sales first; an order a kind lacks is refused."""

from __future__ import annotations

import json

from tests.api.conftest import SECRET, Api
from tests.helpers import REFERENCE_SALE_BYTES, body_of, pump, run, signed_headers


def test_sales_list_newest_first_and_pages_on(api: Api) -> None:
    now = int(api.container.clock.now().timestamp())
    for i, at in enumerate(
        ["2024-01-15T09:00:00Z", "2024-01-15T11:00:00Z", "2024-01-15T10:00:00Z"]
    ):
        payload = json.loads(REFERENCE_SALE_BYTES)
        payload["created_at"] = at
        payload["data"]["id"] = f"txn_{i}"
        body = body_of(payload)
        api.client.post(
            f"/webhooks/generic/{api.connection_id}",
            content=body,
            headers=signed_headers(body, SECRET, now),
        )
    run(pump(api.container))

    first = api.client.get(
        "/v1/transactions", params={"order": "newest", "limit": 2}, headers=api.viewer
    ).json()
    rest = api.client.get(
        "/v1/transactions",
        params={"order": "newest", "limit": 2, "after": first["next_after"]},
        headers=api.viewer,
    ).json()
    assert [t["external_id"] for t in first["data"] + rest["data"]] == ["txn_1", "txn_2", "txn_0"]
    assert rest["next_after"] is None


def test_an_order_the_kind_lacks_is_refused_naming_the_field(api: Api) -> None:
    resp = api.client.get("/v1/products", params={"order": "newest"}, headers=api.viewer)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "order"
