"""Every API route is authorized on the server: no token → 401 (the per-role matrix is in
test_authorization_matrix)."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Api


def _routes(api: Api) -> list[tuple[str, str]]:
    schema = api.client.get("/openapi.json").json()
    routes = []
    for path, ops in schema["paths"].items():
        if path.startswith("/webhooks/"):
            continue  # authenticated by the POS's signature instead (see test_webhooks)
        if path == "/auth/login" or path.endswith("/callback"):
            continue  # the ways in: the login, and OAuth callbacks (signed state)
        for method in ops:
            routes.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return routes


def test_openapi_lists_the_v1_routes(api: Api) -> None:
    paths = {p for _, p in _routes(api)}
    for expected in (
        "/v1/transactions",
        "/v1/products",
        "/v1/inventory-levels",
        "/v1/customers",
        "/v1/events",
        "/v1/dead-letters",
        "/v1/connections",
    ):
        assert expected in paths


@pytest.mark.parametrize("token", [None, "Bearer tw_nope_nope", "Basic YWRtaW46YWRtaW4="])
def test_every_route_refuses_requests_without_a_valid_token(api: Api, token: str | None) -> None:
    headers = {"Authorization": token} if token else {}
    for method, path in _routes(api):
        resp = api.client.request(method, path, headers=headers, json={})
        assert resp.status_code == 401, (method, path, resp.status_code)
        assert resp.json()["code"] in {"missing_token", "invalid_token"}
        assert resp.headers["www-authenticate"].startswith("Bearer")


def test_admin_creates_a_connection_and_it_is_audited(api: Api) -> None:
    resp = api.client.post(
        "/v1/connections",
        json={"platform": "generic", "name": "Store 2", "secret": "s3cr3t-value-123"},
        headers=api.admin,
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["webhook_path"] == f"/webhooks/generic/{created['id']}"
    assert "s3cr3t" not in resp.text
    audit = api.client.get(
        "/v1/audit", params={"action": "connection.created"}, headers=api.admin
    ).json()["data"]
    assert any(e["outputs"] and created["id"] in str(e["outputs"]) for e in audit)
    assert "s3cr3t-value-123" not in str(audit)


def test_creating_a_connection_for_an_unknown_platform_names_the_field(api: Api) -> None:
    resp = api.client.post(
        "/v1/connections",
        json={"platform": "nope", "name": "x", "secret": "y"},
        headers=api.admin,
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "platform"


def test_missing_field_is_named_in_the_problem(api: Api) -> None:
    resp = api.client.post("/v1/connections", json={"platform": "generic"}, headers=api.admin)
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"name", "secret"} <= fields


def test_a_connection_can_name_the_pos_api_that_write_backs_go_to(api: Api) -> None:
    body = {"platform": "generic", "name": "Store 3", "secret": "s3cr3t-value-456"}
    bad = api.client.post(
        "/v1/connections", json={**body, "api_base_url": "ftp://pos"}, headers=api.admin
    )
    assert bad.status_code == 422 and "api_base_url" in bad.json()["detail"]
    made = api.client.post(
        "/v1/connections",
        json={**body, "api_base_url": "https://pos.example/api"},
        headers=api.admin,
    )
    assert made.status_code == 201 and made.json()["api_base_url"] == "https://pos.example/api"
    listed = api.client.get("/v1/connections", headers=api.admin).json()["data"]
    assert {c["api_base_url"] for c in listed} == {None, "https://pos.example/api"}


def test_an_admin_moves_a_connections_write_back_api_and_others_cannot(api: Api) -> None:
    body = {"platform": "generic", "name": "Store 4", "secret": "s3cr3t-value-789"}
    made = api.client.post("/v1/connections", json=body, headers=api.admin).json()
    path = f"/v1/connections/{made['id']}"
    url = {"api_base_url": "http://127.0.0.1:8001"}
    assert api.client.patch(path, json=url, headers=api.viewer).status_code == 403
    moved = api.client.patch(path, json=url, headers=api.admin)
    assert moved.status_code == 200 and moved.json()["api_base_url"] == "http://127.0.0.1:8001"
    bad = api.client.patch(path, json={"api_base_url": "ftp://pos"}, headers=api.admin)
    assert bad.status_code == 422 and "api_base_url" in bad.json()["detail"]
    missing = api.client.patch(path, json={}, headers=api.admin)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "api_base_url"
    unknown = api.client.patch("/v1/connections/con_doesnotexist0000", json=url, headers=api.admin)
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_connection"
    assert unknown.json()["errors"][0]["field"] == "connection_id"
    listed = api.client.get("/v1/connections", headers=api.admin).json()["data"]
    assert {c["id"]: c["api_base_url"] for c in listed}[made["id"]] == "http://127.0.0.1:8001"


def test_a_token_of_a_store_scoped_role_needs_store_keys_and_says_so(api: Api) -> None:
    tokens = len(api.container.tokens.list())
    for stores in (None, [], ["not-a-store"]):
        body = {"role": "associate", "name": "floor", "stores": stores}
        resp = api.client.post("/v1/tokens", json=body, headers=api.admin)
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"] == "stores"
    assert len(api.container.tokens.list()) == tokens  # none was made
    good = {"role": "associate", "name": "floor", "stores": [f"{api.connection_id}:loc-a"]}
    assert api.client.post("/v1/tokens", json=good, headers=api.admin).status_code == 201
