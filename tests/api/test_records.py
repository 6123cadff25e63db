"""Listing canonical records: most recent sales first; an order a kind lacks is refused; a
store-scoped caller reads the customers and products of its own connections only."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import SECRET, Api, add_store, bearer
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


def _deliver_to(api: Api, connection_id: str, event: str, data: dict[str, object]) -> None:
    body = body_of({"event": event, "created_at": "2024-01-15T14:30:00Z", "data": data})
    now = int(api.container.clock.now().timestamp())
    resp = api.client.post(
        f"/webhooks/generic/{connection_id}",
        content=body,
        headers=signed_headers(body, SECRET, now),
    )
    assert resp.status_code in (200, 202), resp.text
    run(pump(api.container))


@pytest.mark.parametrize(
    ("path", "event", "data"),
    [
        ("/v1/customers", "customer.created", {"email": "sam@example.com", "first_name": "Sam"}),
        ("/v1/products", "product.created", {"name": "Mug", "sku": "MUG-1"}),
    ],
    ids=["customers", "products"],
)
def test_a_store_manager_reads_the_records_of_its_own_chain_only(
    api: Api, path: str, event: str, data: dict[str, object]
) -> None:
    a = add_store(api, "loc-a", "Store A")
    other = api.container.connections.create("generic", "Another retailer", [SECRET], actor="t")
    for connection_id, record in ((api.connection_id, "rec-a"), (other.id, "rec-z")):
        _deliver_to(api, connection_id, event, {"id": record, **data})
    everyone = api.client.get(path, headers=api.admin).json()["data"]
    assert {c["external_id"] for c in everyone} == {"rec-a", "rec-z"}
    theirs = next(c["id"] for c in everyone if c["external_id"] == "rec-z")

    manager = bearer(api, "store_manager", stores=[a])
    listed = api.client.get(path, headers=manager).json()["data"]
    # customers and the catalog are the chain's: every store of the connection shares them,
    # another retailer's are not shown
    assert [(c["external_id"], c["connection_id"]) for c in listed] == [
        ("rec-a", api.connection_id)
    ]
    assert api.client.get(f"{path}/{listed[0]['id']}", headers=manager).status_code == 200
    resp = api.client.get(f"{path}/{theirs}", headers=manager)
    assert resp.status_code == 404 and resp.json()["errors"][0]["field"] == "record_id"
    filtered = api.client.get(path, params={"connection_id": other.id}, headers=manager).json()
    assert filtered["data"] == []
