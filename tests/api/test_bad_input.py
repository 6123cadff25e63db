"""Bad input anywhere in the API: a problem-details answer naming the field, nothing changed —
and a bug answers as a problem too, without its details."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tillwise.api.app import create_app

from .conftest import Api, add_store


def test_amounts_beyond_a_trillion_are_refused_naming_the_field(api: Api) -> None:
    rules_before = api.client.get("/v1/approval-rules", headers=api.admin).json()
    for body, field in (
        ({"kind": "draft_purchase_order", "regional_above": "1e30"}, "regional_above"),
        ({"two_approvers_above": "1e400"}, "two_approvers_above"),
    ):
        resp = api.client.put("/v1/approval-rules", json=body, headers=api.admin)
        assert resp.status_code == 422, resp.text
        assert [e["field"] for e in resp.json()["errors"]] == [field]
    terms = {"currency": "GBP", "items": [{"sku": "MUG", "unit_cost": "1e30"}]}
    resp = api.client.patch(
        f"/v1/vendors/{api.connection_id}/v1/terms", json=terms, headers=api.admin
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "items.0.unit_cost"
    assert api.client.get("/v1/approval-rules", headers=api.admin).json() == rules_before


def test_a_rule_for_a_kind_or_a_store_that_does_not_exist_is_refused(api: Api) -> None:
    store = add_store(api, "shop-1", "Shop")
    nonsense = api.client.put(
        "/v1/approval-rules", json={"kind": "nonsense_kind"}, headers=api.admin
    )
    assert nonsense.status_code == 422 and nonsense.json()["errors"][0]["field"] == "kind"
    nowhere = api.client.put(
        "/v1/approval-rules", json={"store": "nowhere:at-all"}, headers=api.admin
    )
    assert nowhere.status_code == 404 and nowhere.json()["errors"][0]["field"] == "store"
    ok = api.client.put(
        "/v1/approval-rules", json={"kind": "transfer", "store": store}, headers=api.admin
    )
    assert ok.status_code == 200, ok.text


def test_nul_characters_are_refused_naming_the_field_and_change_nothing(api: Api) -> None:
    store = add_store(api, "shop-1", "Shop")
    audited = len(api.container.audit.list(limit=10_000))
    resp = api.client.put(
        f"/v1/replenishment/stores/{store}/stops/MUG",
        json={"reason": "discontinued\u0000"},
        headers=api.admin,
    )
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["errors"] == [
        {"field": "reason", "message": "must not contain NUL characters"}
    ]
    query = api.client.get("/v1/audit", params={"action": "a\u0000"}, headers=api.admin)
    assert query.status_code == 422 and query.json()["errors"][0]["field"] == "action"
    assert len(api.container.audit.list(limit=10_000)) == audited
    # a body that is not JSON names the body, not a character offset
    broken = api.client.put(
        f"/v1/replenishment/stores/{store}/stops/MUG",
        content=b'{"reason": ',
        headers={**api.admin, "content-type": "application/json"},
    )
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "body"


def test_an_audit_cursor_too_large_for_an_id_is_refused(api: Api) -> None:
    resp = api.client.get("/v1/audit", params={"before_id": 10**23}, headers=api.admin)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "before_id"


def test_a_bug_answers_as_a_problem_without_its_details(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: object) -> list[object]:
        raise RuntimeError("the secret internals of a bug")

    monkeypatch.setattr(api.container.audit, "list", broken)
    with TestClient(create_app(api.container), raise_server_exceptions=False) as client:
        resp = client.get("/v1/audit", headers=api.admin)
    assert resp.status_code == 500
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["code"] == "internal_error"
    assert "secret internals" not in resp.text
