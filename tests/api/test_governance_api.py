"""People and approvals over HTTP: sessions with CSRF, store scope, audit export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tests.api.conftest import Api, add_store, bearer, deliver

PASSWORD = "correct horse battery staple"


def login(api: Api, username: str, password: str = PASSWORD) -> str:
    resp = api.client.post("/auth/login", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    assert "tillwise_session" in resp.cookies
    return str(resp.json()["csrf_token"])


def test_a_session_needs_its_csrf_token_for_changes(api: Api) -> None:
    store = add_store(api, "loc-a", "Store A")
    api.container.users.add("rex", PASSWORD, role="regional_manager", actor="t", stores=[store])
    csrf = login(api, "rex")
    me = api.client.get("/auth/me").json()
    assert me["role"] == "regional_manager" and me["stores"] == [store]
    body = {"mode": "draft"}
    path = f"/v1/workflows/reporting/modes/{store}"
    forged = api.client.put(path, json=body)  # what a cross-site form could send
    assert forged.status_code == 403 and forged.json()["code"] == "csrf_failed"
    wrong = api.client.put(path, json=body, headers={"X-CSRF-Token": "not-it"})
    assert wrong.status_code == 403
    assert api.container.audit.list(action="mode.changed") == []
    ok = api.client.put(path, json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200, ok.text
    [entry] = api.container.audit.list(action="mode.changed")
    assert entry.actor.startswith("user:usr_") and entry.store == store

    assert api.client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert api.client.get("/auth/me").status_code == 401


def test_wrong_passwords_are_refused_alike_and_throttled(api: Api) -> None:
    api.container.users.add("ada", PASSWORD, role="admin", actor="t")
    unknown = api.client.post("/auth/login", json={"username": "nobody", "password": "x" * 12})
    wrong = api.client.post("/auth/login", json={"username": "ada", "password": "x" * 12})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]
    for _ in range(4):
        api.client.post("/auth/login", json={"username": "ada", "password": "y" * 12})
    blocked = api.client.post("/auth/login", json={"username": "ada", "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    failures = api.container.audit.list(action="user.login_failed")
    assert len(failures) == 6 and all(PASSWORD not in str(f.inputs) for f in failures)


def test_a_disabled_users_session_ends(api: Api) -> None:
    user = api.container.users.add("ada", PASSWORD, role="admin", actor="t")
    login(api, "ada")
    assert api.client.get("/auth/me").status_code == 200
    api.container.users.update(user.id, actor="t", disabled=True)
    assert api.client.get("/auth/me").status_code == 401


def test_an_associate_of_store_a_cannot_read_store_b(api: Api) -> None:
    a = add_store(api, "loc-a", "Store A")
    add_store(api, "loc-b", "Store B")
    for loc, txn in (("loc-a", "txn-a"), ("loc-b", "txn-b")):
        deliver(
            api,
            "sale.completed",
            {
                "id": txn,
                "location_id": loc,
                "line_items": [{"sku": "S1", "name": "Socks", "quantity": 1, "price": "5.00"}],
                "total_money": {"amount": 500, "currency": "USD"},
            },
        )
    associate = bearer(api, "associate", stores=[a])
    sales = api.client.get("/v1/transactions", headers=associate).json()["data"]
    assert [s["external_id"] for s in sales] == ["txn-a"]
    everything = api.client.get("/v1/transactions", headers=api.admin).json()["data"]
    b_sale = next(s for s in everything if s["external_id"] == "txn-b")
    resp = api.client.get(f"/v1/transactions/{b_sale['id']}", headers=associate)
    assert resp.status_code == 404
    stores = api.client.get("/v1/stores", headers=associate).json()["data"]
    assert [s["store"] for s in stores] == [a]
    report = api.client.get("/v1/reports/daily-sales", headers=associate).json()["data"]
    assert {r["location_id"] for r in report} == {"loc-a"}


def test_a_regional_manager_sees_only_its_stores_of_other_regions_and_users(api: Api) -> None:
    a = add_store(api, "loc-a", "Store A")
    c = add_store(api, "loc-c", "Store C")
    users = api.container.users
    users.set_region("North", [a], actor="t")
    users.set_region("South", [a, c], actor="t")
    users.set_region("East", [c], actor="t")
    users.add("rex", PASSWORD, role="regional_manager", actor="t", regions=["North"])
    users.add("cleo", PASSWORD, role="store_manager", actor="t", stores=[a, c])
    users.add("eve", PASSWORD, role="regional_manager", actor="t", regions=["North", "East"])
    login(api, "rex")
    regions = api.client.get("/v1/regions").json()["data"]
    assert {r["name"]: r["stores"] for r in regions} == {"North": [a], "South": [a]}
    listed = api.client.get("/v1/users").json()["data"]
    assert {u["username"]: u["stores"] for u in listed} == {"rex": [], "cleo": [a], "eve": []}
    # of a user's regions, only those with a store in the caller's scope are named
    assert {u["username"]: u["regions"] for u in listed}["eve"] == ["North"]
    everyone = api.client.get("/v1/users", headers=api.admin).json()["data"]
    assert {u["username"]: u["stores"] for u in everyone}["cleo"] == [a, c]
    assert {u["username"]: u["regions"] for u in everyone}["eve"] == ["East", "North"]


def test_audit_export_as_csv_and_json_lines_keeps_to_the_scope(api: Api) -> None:
    a = add_store(api, "loc-a", "Store A")
    b = add_store(api, "loc-b", "Store B")
    api.container.modes.set_mode("reporting", a, "draft", actor="user:x")
    api.container.modes.set_mode("reporting", b, "draft", actor="user:x")
    lp = bearer(api, "loss_prevention", stores=[a])
    lines = api.client.get("/v1/audit/export", params={"format": "jsonl"}, headers=lp)
    assert lines.status_code == 200
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in lines.text.splitlines()]
    assert [r["store"] for r in rows] == [a]
    assert rows[0]["action"] == "mode.changed" and len(rows[0]["hash"]) == 64

    full = api.client.get("/v1/audit/export", params={"format": "csv"}, headers=api.admin)
    table = list(csv.DictReader(io.StringIO(full.text)))
    assert {r["store"] for r in table if r["action"] == "mode.changed"} == {a, b}
    assert json.loads(table[-1]["outputs"]) is None or table[-1]["hash"]
    assert api.container.audit.list(action="audit.exported")  # the export is audited


def test_a_token_without_costs_reads_the_audit_without_them_and_cannot_export_it(
    api: Api,
) -> None:
    a = add_store(api, "loc-a", "Store A")
    order = {
        "kind": "draft_purchase_order",
        "summary": "Order 348 units (2 SKUs) from Acme, worth £511.56",
        "value": {"amount": 51156, "currency": "GBP"},
        "payload": {
            "currency": "GBP",
            "lines": [{"sku": "S1", "quantity": 348, "unit_cost": "1.47"}],
        },
    }
    api.container.audit.append(
        actor="workflow:replenishment",
        action="proposal.queued",
        store=a,
        inputs={"proposal": order},
    )
    _, token = api.container.tokens.create(
        "loss_prevention", name="audit only", actor="t", stores=[a], scopes=["audit:*"]
    )
    narrow = {"Authorization": f"Bearer {token}"}
    query = {"action": "proposal.queued"}
    [entry] = api.client.get("/v1/audit", params=query, headers=narrow).json()["data"]
    shown = entry["inputs"]["proposal"]
    assert entry["costs_hidden"] is True and shown["value"] is None
    assert shown["summary"] == "Order 348 units (2 SKUs) from Acme, worth (cost hidden)"
    assert shown["payload"]["lines"] == [{"sku": "S1", "quantity": 348, "unit_cost": None}]
    lp = bearer(api, "loss_prevention", stores=[a])
    [entry] = api.client.get("/v1/audit", params=query, headers=lp).json()["data"]
    assert entry["costs_hidden"] is False and entry["inputs"]["proposal"] == order

    # a verifiable copy of the chain cannot leave the costs out: no export without them
    refused = api.client.get("/v1/audit/export", headers=narrow)
    assert refused.status_code == 403 and "costs:read" in refused.json()["detail"]
    assert api.client.get("/v1/audit/export", headers=lp).status_code == 200


def _by_hand(api: Api, **fields: Any) -> dict[str, Any]:
    """A stock adjustment of SKU-1 at loc-a, proposed by a person through the API."""
    return {
        "kind": "stock_adjustment",
        "connection_id": api.connection_id,
        "location_id": "loc-a",
        "summary": "Recount",
        "sku": "SKU-1",
        **fields,
    }


def test_a_proposal_made_by_hand_waits_for_someone_else_and_explains_itself(api: Api) -> None:
    a = add_store(api, "loc-a", "Store A")
    manager = bearer(api, "store_manager", stores=[a])
    body = _by_hand(
        api,
        summary="Found 2 more in the back room",
        explanation="Cycle count in aisle 4",
        delta=2,
        value="10.00",
        currency="GBP",
    )
    created = api.client.post("/v1/proposals", json=body, headers=manager)
    assert created.status_code == 201, created.text
    proposal = created.json()
    # listed whether a filter is left out or left empty, as a form sends it
    for params in ({}, {"store": "", "kind": "", "status": "", "workflow": "", "before": ""}):
        listed = api.client.get("/v1/proposals", params=params, headers=manager)
        assert listed.status_code == 200, listed.text
        assert [p["id"] for p in listed.json()["data"]] == [proposal["id"]]
    assert proposal["status"] == "pending" and proposal["value"] == {
        "amount": 1000,
        "currency": "GBP",
    }
    own = api.client.post(f"/v1/proposals/{proposal['id']}/approve", json={}, headers=manager)
    assert own.status_code == 403 and own.json()["code"] == "own_proposal"

    other_store = bearer(api, "store_manager", stores=[f"{api.connection_id}:loc-b"])
    hidden = api.client.get(f"/v1/proposals/{proposal['id']}", headers=other_store)
    assert hidden.status_code == 404
    # an id no proposal could have is refused by its length, not echoed back in full
    long = api.client.get(f"/v1/proposals/{'x' * 5000}", headers=manager)
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "proposal_id"
    assert "x" * 100 not in long.json()["detail"] + str(long.json()["errors"])
    assert [e["field"] for e in hidden.json()["errors"]] == ["proposal_id"]
    for action in ("approve", "reject"):
        refused = api.client.post(
            f"/v1/proposals/{proposal['id']}/{action}",
            json={"reason": "no"} if action == "reject" else {},
            headers=other_store,
        )
        assert refused.status_code == 404
        assert refused.json()["code"] == "unknown_proposal"
        assert [e["field"] for e in refused.json()["errors"]] == ["proposal_id"]

    associate = bearer(api, "associate", stores=[a])
    why = api.client.post(f"/v1/proposals/{proposal['id']}/explain", headers=associate)
    assert why.status_code == 200
    assert why.json()["model"] is None  # no LLM configured: the deterministic explanation
    assert "Found 2 more in the back room" in why.json()["text"]
    assert "Cycle count in aisle 4" in why.json()["text"]

    bad = api.client.post("/v1/proposals", json={**body, "delta": 0}, headers=manager)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "delta"


def test_a_proposal_made_by_hand_without_a_value_is_held_to_the_value_rules(api: Api) -> None:
    a = add_store(api, "loc-a", "Store A")
    api.container.modes.set_rule(actor="user:boss", kind="stock_adjustment", regional_above="50")
    proposer = bearer(api, "store_manager", stores=[a])
    body = _by_hand(api, delta=-1_000_000)  # no value: it is optional
    created = api.client.post("/v1/proposals", json=body, headers=proposer)
    assert created.status_code == 201, created.text
    proposal = created.json()
    assert proposal["value"] is None and proposal["required_role"] == "regional_manager"
    assert "value unknown" in proposal["reason"]
    other = bearer(api, "store_manager", stores=[a])
    approve = api.client.post(f"/v1/proposals/{proposal['id']}/approve", json={}, headers=other)
    assert approve.status_code == 403 and approve.json()["code"] == "needs_regional_manager"


def test_a_rule_tightened_in_settings_holds_what_already_awaits_approval(api: Api) -> None:
    a = add_store(api, "loc-a", "Store A")
    proposer = bearer(api, "store_manager", stores=[a])
    body = _by_hand(api, delta=-40, value="400.00", currency="GBP")
    created = api.client.post("/v1/proposals", json=body, headers=proposer)
    assert created.status_code == 201 and created.json()["required_approvals"] == 1
    rule = {"kind": "stock_adjustment", "two_approvers_above": "100"}
    assert api.client.put("/v1/approval-rules", json=rule, headers=api.admin).status_code == 200
    waiting = api.client.get(f"/v1/proposals/{created.json()['id']}", headers=api.admin).json()
    assert waiting["required_approvals"] == 2


def test_a_rollout_to_auto_keeps_the_stores_limit_unless_it_sets_one(api: Api) -> None:
    a = add_store(api, "loc-a", "Store A")
    b = add_store(api, "loc-b", "Store B")
    limit = {"mode": "auto", "auto_limit": "20"}
    put = api.client.put(f"/v1/workflows/replenishment/modes/{a}", json=limit, headers=api.admin)
    assert put.status_code == 200, put.text

    def limits() -> dict[str, str | None]:
        [wf] = [
            w
            for w in api.client.get("/v1/workflows", headers=api.admin).json()["data"]
            if w["name"] == "replenishment"
        ]
        return {m["store"]: m["auto_limit"] for m in wf["modes"] if m["mode"] == "auto"}

    body = {"workflow": "replenishment", "target_mode": "auto", "stores": [a]}
    kept = api.client.post("/v1/rollouts", json=body, headers=api.admin)
    assert kept.status_code == 201, kept.text
    assert kept.json()["auto_limit"] is None and limits() == {a: "20"}
    back = api.client.post(
        f"/v1/rollouts/{kept.json()['id']}/roll-back", json={"reason": "x"}, headers=api.admin
    )
    assert back.status_code == 200, back.text

    both = {**body, "stores": [a, b], "auto_limit": "150.00"}
    given = api.client.post("/v1/rollouts", json=both, headers=api.admin)
    assert given.status_code == 201, given.text
    assert given.json()["auto_limit"] == "150.00" and limits() == {a: "150.00", b: "150.00"}
    refused = api.client.post(
        "/v1/rollouts",
        json={**body, "workflow": "reporting", "target_mode": "draft", "auto_limit": "5"},
        headers=api.admin,
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "auto_limit"
