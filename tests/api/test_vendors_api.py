"""Vendor terms over the API, as an integrator syncing them from the retailer's buying system
would set them: the vendors a connection has with the terms plans use, a change of some of a
vendor's terms (only over every store of the connection), every bad field named, and the plan
following the new terms.

Seeded through the simulator POS: the UK and French stores selling A (85123A) from Far East
Homewares (ven-06: 14-day lead time, A in cases the simulator derived from the sales).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.replenishment import FRANCE, SKU, UK, Loop, MeanForecaster, daily_sales, simulator_loop
from tillwise.api.app import create_app
from tillwise.workflows.replenishment.planner import Planner

SALES = daily_sales(14, {("United Kingdom", SKU): 10, ("France", SKU): 1})


def test_vendor_terms_are_read_and_set_by_a_buyer_of_every_store(
    sqlite_url: str, tmp_path: Path
) -> None:
    async def go() -> None:
        async with simulator_loop(sqlite_url, tmp_path, SALES, pos_api=False) as loop:
            transport = httpx.ASGITransport(app=create_app(loop.container))
            async with httpx.AsyncClient(transport=transport, base_url="http://tw") as api:
                await _terms(loop, api)

    asyncio.run(go())


def _token(loop: Loop, role: str, stores: list[str] | None = None) -> dict[str, str]:
    _, token = loop.container.tokens.create(role, name=role, actor="t", stores=stores)
    return {"Authorization": f"Bearer {token}"}


async def _terms(loop: Loop, api: httpx.AsyncClient) -> None:
    c, conn = loop.container, loop.conn
    uk, fr = f"{conn}:{UK}", f"{conn}:{FRANCE}"
    url = f"/v1/vendors/{conn}/ven-06/terms"

    resp = await api.get(
        "/v1/vendors", params={"connection_id": conn}, headers=_token(loop, "associate", [uk])
    )
    assert resp.status_code == 200, resp.text
    vendors = {v["vendor_id"]: v for v in resp.json()}
    fareast = vendors["ven-06"]
    assert (fareast["name"], fareast["lead_time_days"]) == ("Far East Homewares", 14)
    # an associate reads the terms but not what the stock costs (no costs:read)
    assert fareast["min_order_value"] is None and fareast["costs_hidden"] is True
    assert fareast["items"] and all(i["unit_cost"] is None for i in fareast["items"])
    resp = await api.get(
        "/v1/vendors", params={"connection_id": conn}, headers=_token(loop, "buyer", [uk])
    )
    fareast = {v["vendor_id"]: v for v in resp.json()}["ven-06"]
    assert fareast["min_order_value"] == "250.00 GBP"
    [item] = [i for i in fareast["items"] if i["sku"] == SKU]
    assert item["unit_cost"] is not None
    resp = await api.get(
        "/v1/vendors", params={"connection_id": "con_nope"}, headers=_token(loop, "viewer")
    )
    assert resp.status_code == 404 and resp.json()["errors"][0]["field"] == "connection_id"
    # a connection with no store of a scoped caller's: not shown, not changed, and answered
    # as one that does not exist (existence is not disclosed)
    other = c.connections.create("generic", "Other chain", ["whsec_other"], actor="t").id
    for connection_id in (other, "con_doesnotexist00"):
        resp = await api.get(
            "/v1/vendors",
            params={"connection_id": connection_id},
            headers=_token(loop, "buyer", [uk]),
        )
        assert resp.status_code == 404, resp.text
        resp = await api.patch(
            f"/v1/vendors/{connection_id}/vendor:x/terms",
            json={"name": "X"},
            headers=_token(loop, "buyer", [uk]),
        )
        assert resp.status_code == 404, resp.text
        assert resp.json()["errors"][0]["field"] == "connection_id"

    # terms hold for every store of the connection: a buyer of the UK store alone may not
    change = {
        "lead_time_days": 21,
        "review_period_days": 7,  # ordered from once a week
        "items": [{"sku": SKU, "case_pack": 50}],
    }
    resp = await api.patch(url, json=change, headers=_token(loop, "buyer", [uk]))
    assert resp.status_code == 403 and resp.json()["errors"][0]["field"] == "connection_id"

    buyer = _token(loop, "buyer", [uk, fr])
    audited = len(c.audit.list(action="vendor.terms_imported"))

    async def refused(body: dict[str, Any], field: str, path: str = url) -> None:
        resp = await api.patch(path, json=body, headers=buyer)
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"].endswith(field), resp.text

    await refused({"lead_time_days": 400}, "lead_time_days")
    await refused({"review_period_days": 0}, "review_period_days")
    await refused({"email": "not-an-email"}, "email")
    await refused({"items": [{"sku": SKU, "unit_cost": "1.20"}]}, "currency")
    await refused({"min_order_value": "100", "currency": "XYZ"}, "currency")
    # more decimals than the currency has
    await refused({"min_order_value": "10.001", "currency": "GBP"}, "min_order_value")
    await refused({"min_order_value": "10.5", "currency": "JPY"}, "min_order_value")
    await refused(
        {"currency": "GBP", "items": [{"sku": SKU, "unit_cost": "1.234"}]}, "items.0.unit_cost"
    )
    await refused({"items": [{"sku": SKU, "case_pack": 0}]}, "case_pack")
    await refused({"items": [{"sku": SKU}, {"sku": SKU}]}, "items")
    await refused({"leadtime": 3}, "leadtime")
    await refused({"lead_time_days": 3}, "name", f"/v1/vendors/{conn}/vendor:new/terms")
    await refused({"name": "Long"}, "vendor_id", f"/v1/vendors/{conn}/{'v' * 300}/terms")
    # an integration's token narrowed to writing terms, without costs:read, sets no cost
    _, narrow = c.tokens.create(
        "buyer", name="packs", actor="t", stores=[uk, fr], scopes=["replenishment:write"]
    )
    priced = {"currency": "GBP", "items": [{"sku": SKU, "unit_cost": "1.20"}]}
    resp = await api.patch(url, json=priced, headers={"Authorization": f"Bearer {narrow}"})
    assert resp.status_code == 403 and resp.json()["errors"][0]["field"] == "items", resp.text
    assert len(c.audit.list(action="vendor.terms_imported")) == audited  # nothing changed

    resp = await api.patch(url, json=change, headers=buyer)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["lead_time_days"], body["review_period_days"]) == (21, 7)
    assert body["email"] == fareast["email"] and fareast["review_period_days"] is None
    [after] = [i for i in body["items"] if i["sku"] == SKU]
    assert after == {**item, "case_pack": 50, "set_in_tillwise": ["case_pack"]}  # cost, MOQ: POS's
    assert body["set_in_tillwise"] == ["lead_time_days", "review_period_days"]
    assert fareast["set_in_tillwise"] == [] and body["pos_knows"]
    [entry] = c.audit.list(action="vendor.terms_imported")[audited:]
    assert entry.store == conn and entry.actor.startswith("token:")
    # the entry is about the whole connection: read by whom its every store is in scope for
    audited_q = {"action": "vendor.terms_imported"}
    for reader, sees in (
        (_token(loop, "regional_manager", [uk, fr]), 1),
        (_token(loop, "store_manager", [uk]), 0),
    ):
        resp = await api.get("/v1/audit", params=audited_q, headers=reader)
        assert resp.status_code == 200, resp.text
        assert [e["id"] for e in resp.json()["data"]] == [entry.id] * sees
    # but not the connection's own administration (its creation, its secrets, its API URL)
    assert c.audit.list(action="connection.created", store=conn)
    resp = await api.get(
        "/v1/audit", params={"store": conn}, headers=_token(loop, "regional_manager", [uk, fr])
    )
    assert {e["action"] for e in resp.json()["data"]} == {"vendor.terms_imported"}
    assert entry.inputs == {
        "source": "api",
        "vendors": ["ven-06"],
        "terms": [
            {
                "vendor_external_id": "ven-06",
                "lead_time_days": 21,
                "review_period_days": 7,
                "items": [{"sku": SKU, "case_pack": 50}],
            }
        ],
    }
    # the same again changes nothing and records nothing
    assert (await api.patch(url, json=change, headers=buyer)).status_code == 200
    assert len(c.audit.list(action="vendor.terms_imported")) == audited + 1

    # the plan follows: 10 a day over 21 + 7 days x 1.45 (the test forecaster's quantile)
    plan = Planner(c.uow, MeanForecaster(), c.clock).plan(conn, UK)
    [planned] = [i for i in plan.items if i.sku == SKU]
    assert planned.reorder_point == 406
    assert planned.data["outlook"]["review_period_days"] == 7
    [order] = plan.orders
    assert order.payload()["lead_time_days"] == 21
    assert all(ln.quantity % 50 == 0 for ln in order.lines if ln.sku == SKU)

    # null takes a term back (RFC 7396 merge patch): the POS's value again; the rest stay
    back = {"lead_time_days": None, "items": [{"sku": SKU, "case_pack": None}]}
    resp = await api.patch(url, json=back, headers=buyer)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["lead_time_days"], body["review_period_days"]) == (14, 7)
    assert body["set_in_tillwise"] == ["review_period_days"]
    assert [i for i in body["items"] if i["sku"] == SKU] == [item]
    [entry] = c.audit.list(action="vendor.terms_imported")[audited + 1 :]
    assert entry.inputs["cleared"] == {
        "ven-06": {"fields": ["lead_time_days"], "items": {SKU: ["case_pack"]}}
    }
    assert entry.outputs == {"vendors_new": 0, "vendors_changed": 1, "items": 0}
    # taking back what is not set changes nothing and records nothing
    assert (await api.patch(url, json=back, headers=buyer)).status_code == 200
    assert len(c.audit.list(action="vendor.terms_imported")) == audited + 2
    plan = Planner(c.uow, MeanForecaster(), c.clock).plan(conn, UK)
    [planned] = [i for i in plan.items if i.sku == SKU]
    assert planned.data["outlook"]["lead_time_days"] == 14
    # the last term taken back leaves no terms at all; a vendor only Tillwise knows keeps its name
    resp = await api.patch(url, json={"review_period_days": None}, headers=buyer)
    assert resp.json()["set_in_tillwise"] == []
    with c.uow() as uow:
        assert "ven-06" not in uow.replenishment.vendor_terms(conn)
    new = f"/v1/vendors/{conn}/vendor:new/terms"
    resp = await api.patch(new, json={"name": "New Homewares", "lead_time_days": 5}, headers=buyer)
    assert resp.status_code == 200 and resp.json()["pos_knows"] is False, resp.text
    await refused({"name": None}, "name", new)
