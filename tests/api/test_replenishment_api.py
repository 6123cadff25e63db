"""The replenishment API as the dashboard uses it, on a store seeded through the simulator POS:
the figures a buyer would check against the sales, the store scope, and editing a draft
purchase order's lines before approving it.

Seeded: 14 days at the UK store selling 10 a day of A (85123A, £2.55) and 2 a day of B (85099B,
£1.95); opening stock is half of what the window sells, so both shelves are empty from the 7th
day on (those days are censored). Both SKUs come from Far East Homewares (14-day lead time),
whose unit costs are 60 % of the first price: £1.53 and £1.17. The plan's forecaster is the
mean of the uncensored days (tests/replenishment.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.replenishment import (
    FRANCE,
    SKU,
    SKU_B,
    UK,
    Loop,
    MeanForecaster,
    daily_sales,
    person,
    simulator_loop,
)
from tillwise.api.app import create_app
from tillwise.connectors.simulator.dataset import Invoice
from tillwise.connectors.simulator.pos import AdjustmentIn
from tillwise.workflows.replenishment.planner import Planner

SALES = daily_sales(14, {("United Kingdom", SKU): 10, ("United Kingdom", SKU_B): 2})
LEAD = 14  # Far East Homewares
COST = {SKU: 153, SKU_B: 117}  # pence
PO = "draft_purchase_order"

Check = Callable[[Loop, httpx.AsyncClient, dict[str, Any]], Awaitable[None]]


def _run(
    sqlite_url: str,
    tmp_path: Path,
    check: Check,
    sales: list[Invoice] = SALES,
    *,
    pos_api: bool = False,
    **settings: Any,
) -> None:
    """``check`` on the seeded store planned once, its draft order pending; ``pos_api``: the
    connection writes to the simulator POS's API (else orders go to the vendor as documents)."""

    async def go() -> None:
        async with simulator_loop(sqlite_url, tmp_path, sales, pos_api=pos_api, **settings) as loop:
            c = loop.container
            Planner(c.uow, MeanForecaster(), c.clock).run(loop.conn, UK)
            await c.approvals.route_new()
            transport = httpx.ASGITransport(app=create_app(c))
            async with httpx.AsyncClient(transport=transport, base_url="http://tw") as api:
                [draft] = c.approvals.list(kind=PO, status="pending")
                await check(loop, api, {"draft": draft.id})

    asyncio.run(go())


def _token(loop: Loop, role: str, stores: list[str] | None = None) -> dict[str, str]:
    _, token = loop.container.tokens.create(role, name=role, actor="t", stores=stores)
    return {"Authorization": f"Bearer {token}"}


# -- the three routes ------------------------------------------------------------------------


def test_stores_plan_and_forecast_show_the_seeded_figures(sqlite_url: str, tmp_path: Path) -> None:
    _run(sqlite_url, tmp_path, _routes)


async def _routes(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    store = f"{loop.conn}:{UK}"
    viewer = _token(loop, "viewer")

    resp = await api.get("/v1/replenishment/stores", headers=viewer)
    assert resp.status_code == 200, resp.text
    [row] = resp.json()
    assert row["store"] == store and row["location_external_id"] == UK
    assert row["name"] == "Online Retail — United Kingdom"
    assert row["at_risk"] == 2 and row["proposed_orders"] == 1 and row["planned_at"]

    resp = await api.get(f"/v1/replenishment/stores/{store}/plan", headers=viewer)
    assert resp.status_code == 200, resp.text
    plan = resp.json()
    assert plan["model"] == "test-mean"
    items = {i["sku"]: i for i in plan["items"]}
    # at risk first, then by weeks of cover (both 0 here), then by SKU
    assert [i["sku"] for i in plan["items"]] == [SKU_B, SKU]
    a, b = items[SKU], items[SKU_B]
    # reorder point = ceil(mean × (lead + 1 review day) × 1.45): 10 × 15 × 1.45 = 217.5
    assert (a["on_hand"], a["on_order"], a["daily_mean"]) == (0, 0, 10.0)
    assert a["reorder_point"] == 218 and a["at_risk"] is True
    assert (b["daily_mean"], b["reorder_point"]) == (2.0, 44)  # 2 × 15 × 1.45 = 43.5
    assert a["vendor"] == b["vendor"] == "Far East Homewares"
    assert a["weeks_of_cover"] == 0.0
    [proposal] = plan["proposals"]
    assert proposal["id"] == ids["draft"] and proposal["status"] == "pending"
    lines = {ln["sku"]: ln["quantity"] for ln in proposal["payload"]["lines"]}
    assert lines == {SKU: a["suggested"], SKU_B: b["suggested"]}
    assert all(q >= i["order_up_to"] for q, i in ((lines[SKU], a), (lines[SKU_B], b)))
    value = sum(COST[sku] * q for sku, q in lines.items())
    assert proposal["value"] == {"amount": value, "currency": "GBP"}

    resp = await api.get(f"/v1/replenishment/stores/{store}/forecast/{SKU}", headers=viewer)
    assert resp.status_code == 200, resp.text
    fc = resp.json()
    assert fc["method"] == "mean of uncensored days" and fc["model"] == "test-mean"
    assert fc["summary"] == "the mean of the days it was in stock"
    actuals = fc["actuals"]
    assert [d["day"] for d in actuals][:2] == ["2010-12-01", "2010-12-02"] and len(actuals) == 14
    assert {d["units"] for d in actuals} == {10.0}
    assert [d["censored"] for d in actuals] == [False] * 6 + [True] * 8
    first = fc["forecast"][0]
    assert first == {
        "day": "2010-12-15",
        "mean": 10.0,
        "lo_80": 6.0,
        "hi_80": 14.0,
        "lo_95": 5.0,
        "hi_95": 15.0,
    }
    assert len(fc["forecast"]) == 28


def test_the_plan_shows_the_level_the_pos_reports_now_beside_the_planned_one(
    sqlite_url: str, tmp_path: Path
) -> None:
    _run(sqlite_url, tmp_path, _level_now)


async def _level_now(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    # a delivery of 300 A lands at the UK store after the plan was made
    loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU, delta=300), "delivery")
    await loop.settle()
    store = f"{loop.conn}:{UK}"
    resp = await api.get(f"/v1/replenishment/stores/{store}/plan", headers=_token(loop, "viewer"))
    assert resp.status_code == 200, resp.text
    items = {i["sku"]: i for i in resp.json()["items"]}
    # the plan's figures stay those it was made with; the shelf's level is the POS's now
    assert (items[SKU]["on_hand"], items[SKU]["on_hand_now"]) == (0, 300)
    assert (items[SKU_B]["on_hand"], items[SKU_B]["on_hand_now"]) == (0, 0)


def test_a_written_order_stays_on_the_plan_with_its_progress_on_the_pos(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Approved and written, the order is still on the store's plan with what the POS reports
    of it: open with nothing received, then received in full after the vendor's lead time."""

    async def check(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
        c = loop.container
        draft = c.approvals.get(ids["draft"])
        ordered = sum(ln["quantity"] for ln in draft.proposal.payload["lines"])
        store = f"{loop.conn}:{UK}"

        async def shown() -> dict[str, Any]:
            resp = await api.get(
                f"/v1/replenishment/stores/{store}/plan", headers=_token(loop, "viewer")
            )
            assert resp.status_code == 200, resp.text
            [p] = [p for p in resp.json()["proposals"] if p["id"] == draft.id]
            return p

        assert "pos_order" not in await shown()  # pending: nothing written yet
        done = await c.approvals.approve(draft.id, person("regional_manager"))
        assert done.status == "applied", done.result
        assert done.result is not None
        await loop.settle()
        p = await shown()
        assert p["status"] == "applied"
        order = p["pos_order"]
        assert order["reference"] == done.result["reference"]
        assert order["document"] is False
        assert (order["status"], order["ordered"], order["received"]) == ("open", ordered, 0)
        assert order["expected_on"]

        loop.pos.speed = 86_400.0  # a day per second: the lead time passes
        loop.advance(LEAD + 1)
        await loop.pos.deliver_due()
        await loop.settle()
        order = (await shown())["pos_order"]
        assert (order["status"], order["received"]) == ("received", ordered)

    _run(sqlite_url, tmp_path, check, pos_api=True)


def test_an_order_sent_as_a_document_stays_on_the_plan_as_sent_to_the_vendor(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A POS without a purchase-order API: the approved order goes to the vendor as a document;
    the plan shows it as such (the POS will never report it), not as an order open on the POS."""

    async def check(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
        done = await loop.container.approvals.approve(ids["draft"], person("regional_manager"))
        assert done.status == "applied", done.result
        resp = await api.get(
            f"/v1/replenishment/stores/{loop.conn}:{UK}/plan", headers=_token(loop, "viewer")
        )
        [p] = [p for p in resp.json()["proposals"] if p["id"] == ids["draft"]]
        order = p["pos_order"]
        assert order["document"] is True and order["status"] == "open"
        assert order["ordered"] == sum(ln["quantity"] for ln in p["payload"]["lines"])

    _run(sqlite_url, tmp_path, check)


def test_the_chart_of_an_item_that_stopped_selling_runs_to_the_plans_last_day(
    sqlite_url: str, tmp_path: Path
) -> None:
    """SKU_B sells for 7 of the 14 days (then its shelf is empty): its chart shows the days
    since as censored up to the day before the forecast, not a gap."""
    sales = [
        dataclasses.replace(inv, lines=tuple(x for x in inv.lines if x.stock_code == SKU))
        if inv.invoiced_at >= SALES[7].invoiced_at
        else inv
        for inv in SALES
    ]

    async def check(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
        store = f"{loop.conn}:{UK}"
        resp = await api.get(
            f"/v1/replenishment/stores/{store}/forecast/{SKU_B}", headers=_token(loop, "viewer")
        )
        assert resp.status_code == 200, resp.text
        fc = resp.json()
        days = [d["day"] for d in fc["actuals"]]
        assert days[0] == "2010-12-01" and days[-1] == "2010-12-14"
        assert fc["forecast"][0]["day"] == "2010-12-15"  # the day after
        assert all(d["units"] == 0 and d["censored"] for d in fc["actuals"][7:])

    _run(sqlite_url, tmp_path, check, sales)


def test_the_forecast_names_the_stores_holidays_and_events_on_the_days_of_its_history(
    sqlite_url: str, tmp_path: Path
) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        f"ds,name,location\n2010-12-08,Late opening,\n2010-12-09,Paris sale,{FRANCE}\n"
    )
    _run(sqlite_url, tmp_path, _calendar, events_file=events)


async def _calendar(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    store = f"{loop.conn}:{UK}"
    resp = await api.get(
        f"/v1/replenishment/stores/{store}/forecast/{SKU}", headers=_token(loop, "viewer")
    )
    assert resp.status_code == 200, resp.text
    named = {d["day"]: d["event"]["name"] for d in resp.json()["actuals"] if "event" in d}
    assert named == {"2010-12-08": "Late opening"}  # the other event is another store's
    # the store's calendar: its country's public holidays with its events
    days = loop.container.store_calendar(loop.conn, UK, date(2010, 12, 1), date(2010, 12, 31))
    assert days[date(2010, 12, 8)] == "Late opening"
    assert days[date(2010, 12, 25)] == "Christmas Day" and date(2010, 12, 9) not in days


def test_another_stores_manager_sees_none_of_it(sqlite_url: str, tmp_path: Path) -> None:
    _run(sqlite_url, tmp_path, _scope)


async def _scope(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    store = f"{loop.conn}:{UK}"
    paris = _token(loop, "store_manager", [f"{loop.conn}:{FRANCE}"])
    resp = await api.get("/v1/replenishment/stores", headers=paris)
    assert resp.status_code == 200 and resp.json() == []
    for path in (f"/stores/{store}/plan", f"/stores/{store}/forecast/{SKU}"):
        resp = await api.get(f"/v1/replenishment{path}", headers=paris)
        assert resp.status_code == 404, (path, resp.text)
    # and its manager can read it
    london = _token(loop, "store_manager", [store])
    resp = await api.get(f"/v1/replenishment/stores/{store}/plan", headers=london)
    assert resp.status_code == 200 and len(resp.json()["items"]) == 2
    # a store nobody knows is no empty plan, for the admin either: 404 naming it
    admin = _token(loop, "admin")
    for path in ("plan", "stops", "adjustments", f"forecast/{SKU}"):
        for nowhere in (f"{loop.conn}:nowhere", "garbage"):
            resp = await api.get(f"/v1/replenishment/stores/{nowhere}/{path}", headers=admin)
            assert resp.status_code == 404, (path, resp.text)
            assert resp.json()["errors"][0]["field"] == "store_id"
    resp = await api.put(
        f"/v1/replenishment/stores/{loop.conn}:nowhere/stops/{SKU}",
        json={"reason": "gone"},
        headers=admin,
    )
    assert resp.status_code == 404 and resp.json()["errors"][0]["field"] == "store_id"
    # nor is an item the store never sold or planned
    resp = await api.get(f"/v1/replenishment/stores/{store}/forecast/NOPE", headers=admin)
    assert resp.status_code == 404 and resp.json()["errors"][0]["field"] == "sku"


def test_an_associate_sees_what_is_ordered_and_why_but_not_what_it_costs(
    sqlite_url: str, tmp_path: Path
) -> None:
    _run(sqlite_url, tmp_path, _costs)


async def _costs(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    store = f"{loop.conn}:{UK}"
    manager = _token(loop, "store_manager", [store])
    associate = _token(loop, "associate", [store])
    full = (await api.get(f"/v1/proposals/{ids['draft']}", headers=manager)).json()
    assert full["value"]["amount"] > 0 and "£" in full["summary"]
    assert full["costs_hidden"] is False
    assert all(ln["unit_cost"] and ln["line_total"] for ln in full["payload"]["lines"])

    paths = (
        f"/v1/proposals/{ids['draft']}",
        "/v1/proposals",
        f"/v1/replenishment/stores/{store}/plan",
    )
    for path in paths:
        resp = await api.get(path, headers=associate)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        seen = body if path.endswith(ids["draft"]) else (body.get("data") or body["proposals"])[0]
        assert seen["id"] == ids["draft"]
        assert seen["costs_hidden"] is True
        assert seen["value"] is None and seen["payload"]["value"] is None
        assert seen["payload"]["vendor_minimum"]["min_order_value"] is None
        # the lines as ordered, with their reasons, without a price
        assert [(ln["sku"], ln["quantity"]) for ln in seen["payload"]["lines"]] == [
            (ln["sku"], ln["quantity"]) for ln in full["payload"]["lines"]
        ]
        for ln in seen["payload"]["lines"]:
            assert ln["unit_cost"] is None and ln["line_total"] is None
            assert ln["justification"]["text"] == next(
                f["justification"]["text"]
                for f in full["payload"]["lines"]
                if f["sku"] == ln["sku"]
            )
        # the texts say a cost is there without giving it
        assert "£" not in seen["summary"] and "GBP" not in seen["summary"]
        assert seen["summary"].endswith("worth (cost hidden)")
        assert "Total (cost hidden)." in seen["explanation"] and "£" not in seen["explanation"]
    # nor does the language model word it for them
    resp = await api.post(f"/v1/proposals/{ids['draft']}/explain", headers=associate)
    assert resp.status_code == 200, resp.text
    assert not re.search(r"£|\d GBP", resp.json()["text"])
    # with no model configured, what a person reads is the summary and the explanation, not
    # the payload the model would be given
    seen = (await api.get(f"/v1/proposals/{ids['draft']}", headers=associate)).json()
    assert resp.json() == {"text": f"{seen['summary']}\n{seen['explanation']}", "model": None}


def test_the_plan_lists_the_overstock_and_its_cost_to_those_who_may_see_costs(
    sqlite_url: str, tmp_path: Path
) -> None:
    _run(sqlite_url, tmp_path, _overstock)


async def _overstock(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    # a delivery of 600 B lands at the UK store (at 2 a day, 300 days of cover) and the buyer
    # rejects the draft that would have bought more
    loop.pos.adjust(AdjustmentIn(location_id=UK, sku=SKU_B, delta=600), "delivery")
    store = f"{loop.conn}:{UK}"
    loop.container.approvals.reject(ids["draft"], person("buyer", store=store), reason="delivered")
    await loop.settle()
    Planner(loop.container.uow, MeanForecaster(), loop.container.clock).run(loop.conn, UK)
    plan = await api.get(
        f"/v1/replenishment/stores/{store}/plan", headers=_token(loop, "buyer", [store])
    )
    assert plan.status_code == 200, plan.text
    items = {i["sku"]: i for i in plan.json()["items"]}
    a, b = items[SKU], items[SKU_B]
    # B: S = s + one week of mean demand = 44 + 14 = 58; 600 - 58 beyond it, at £1.17 each
    assert (b["on_hand"], b["on_order"], b["order_up_to"], b["excess"]) == (600, 0, 58, 542)
    assert (b["excess_value"], b["currency"]) == ("634.14", "GBP")
    assert a["excess"] == 0 and a["excess_value"] is None  # A is still empty
    assert plan.json()["overstock"] == {
        "items": 1,
        "units": 542,
        "value": "634.14",
        "currency": "GBP",
        "unpriced": 0,
        "min_weeks_of_cover": 4.0,
    }
    # an associate sees what is overstocked, not what it cost
    resp = await api.get(
        f"/v1/replenishment/stores/{store}/plan", headers=_token(loop, "associate", [store])
    )
    seen = {i["sku"]: i for i in resp.json()["items"]}[SKU_B]
    assert (seen["excess"], seen["excess_value"], seen["costs_hidden"]) == (542, None, True)
    assert resp.json()["overstock"]["units"] == 542
    assert resp.json()["overstock"]["value"] is None


# -- editing the draft's lines ----------------------------------------------------------------


def test_line_edits_recompute_the_value_and_refuse_bad_input(
    sqlite_url: str, tmp_path: Path
) -> None:
    _run(sqlite_url, tmp_path, _edits)


async def _edits(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    pid = ids["draft"]
    url = f"/v1/proposals/{pid}/approve"
    # a new vendor needs a regional manager; orders above £1,000 need two approvers
    loop.container.modes.set_rule(actor="t", kind=PO, two_approvers_above="1000")
    rita = _token(loop, "regional_manager", [f"{loop.conn}:{UK}"])
    rob = _token(loop, "admin")
    queued = loop.container.approvals.get(pid)
    before = queued.proposal
    assert before.value is not None and before.value.amount < 100_000  # one approver would do
    assert queued.required_approvals == 1

    async def refused(edits: dict[str, Any], field: str) -> None:
        resp = await api.post(url, json={"edits": edits}, headers=rita)
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"] == field, resp.text
        assert loop.container.approvals.get(pid).proposal.payload == before.payload

    await refused({"lines.NOPE.quantity": 5}, "edits.lines.NOPE.quantity")
    for bad in (-1, 2.5, "12", True, 1_000_001):
        await refused({f"lines.{SKU}.quantity": bad}, f"edits.lines.{SKU}.quantity")
    await refused({"lines.quantity": 5}, "edits.lines.quantity")
    await refused({"vendor": "ven-01"}, "edits.vendor")
    # dropping every line is not an edit: reject the order instead
    await refused({f"lines.{SKU}.quantity": 0, f"lines.{SKU_B}.quantity": 0}, "edits")
    # a misspelt key is refused, not ignored: the order is not approved and written unedited
    resp = await api.post(url, json={"edit": {f"lines.{SKU}.quantity": 700}}, headers=rita)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "edit", resp.text
    assert loop.container.approvals.get(pid).status == "pending"

    # when A is raised to 700 and B dropped
    resp = await api.post(
        url,
        json={"edits": {f"lines.{SKU}.quantity": 700, f"lines.{SKU_B}.quantity": 0}},
        headers=rita,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # then one line is left and the value is 700 × £1.53 = £1,071: above £1,000, the edited
    # order now needs a second approver
    assert [(ln["sku"], ln["quantity"]) for ln in body["payload"]["lines"]] == [(SKU, 700)]
    assert body["value"] == {"amount": 700 * 153, "currency": "GBP"}
    # and the order's own figures say what it now orders, not what was first proposed
    [line] = body["payload"]["lines"]
    assert line["line_total"] == "1071.00" and body["payload"]["value"] == "1071.00"
    # the line says what it was, as its reason still speaks of that quantity
    [proposed] = [ln["quantity"] for ln in before.payload["lines"] if ln["sku"] == SKU]
    assert line["edited_from"] == proposed != 700
    assert body["summary"].endswith("— as edited: 700 units in 1 line, worth £1,071.00")
    assert body["status"] == "pending" and body["required_approvals"] == 2
    assert len(body["approvals"]) == 1 and body["approvals"][0]["edited"] is True

    # a second approver completes it: the order written is the edited one
    resp = await api.post(url, headers=rob)  # no body: approved as it stands
    assert resp.status_code == 200, resp.text
    done = resp.json()
    assert done["status"] == "applied", done["result"]
    assert done["value"] == {"amount": 700 * 153, "currency": "GBP"}
    csv = await asyncio.to_thread(Path(done["result"]["details"]["csv"]).read_text)
    assert f"{SKU}," in csv and f"{SKU_B}," not in csv and ",700," in csv


def test_an_edit_that_breaks_the_vendors_terms_is_kept_and_the_approver_told_so(
    sqlite_url: str, tmp_path: Path
) -> None:
    _run(sqlite_url, tmp_path, _edit_below_terms)


async def _edit_below_terms(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    pid = ids["draft"]
    loop.container.modes.set_rule(actor="t", kind=PO, two_approvers_above="0")  # stays queued
    rita = _token(loop, "regional_manager", [f"{loop.conn}:{UK}"])
    lines = loop.container.approvals.get(pid).proposal.payload["lines"]
    sku, policy = SKU, next(ln for ln in lines if ln["sku"] == SKU)["justification"]["policy"]
    assert policy["case_pack"] == 10 and policy["moq"] == 20  # Far East Homewares: 2 cases
    # when the buyer orders 7 of it and none of the others (7 × £1.53 = £10.71)
    others = {f"lines.{ln['sku']}.quantity": 0 for ln in lines if ln["sku"] != SKU}
    resp = await api.post(
        f"/v1/proposals/{pid}/approve",
        json={"edits": {f"lines.{sku}.quantity": 7, **others}},
        headers=rita,
    )
    # then the edit stands (a buyer may order so), and the order says what it no longer meets
    assert resp.status_code == 200, resp.text
    body = resp.json()
    warnings = [
        "below the vendor's minimum order of £250.00",
        f"{sku} is not in whole cases of 10",
        f"{sku} is below its minimum order quantity of 20",
    ]
    assert body["payload"]["edit_warnings"] == warnings
    assert body["summary"].endswith(f"worth £10.71 ({'; '.join(warnings)})")
    # and the order's explanation speaks of it as edited first, then as the plan proposed it
    proposed = body["payload"]["proposed_explanation"]
    assert proposed.startswith("Purchase order to Far East Homewares")
    assert body["payload"]["explanation"] == (
        f"As edited: 7 units in 1 line, worth £10.71 ({'; '.join(warnings)}). "
        f"As the plan proposed it: {proposed}"
    )


# -- stopping the reordering of an item ----------------------------------------------------------


def test_a_buyer_stops_reordering_an_item_and_the_next_plan_orders_none_of_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    _run(sqlite_url, tmp_path, _stops)


async def _stops(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    c = loop.container
    store = f"{loop.conn}:{UK}"
    url = f"/v1/replenishment/stores/{store}/stops"
    info, token = c.tokens.create("buyer", name="Bea", actor="t", stores=[store])
    buyer = {"Authorization": f"Bearer {token}"}
    why = {"reason": "Discontinued by the vendor"}

    async def stops() -> list[dict[str, Any]]:
        resp = await api.get(url, headers=_token(loop, "associate", [store]))
        assert resp.status_code == 200, resp.text
        return list(resp.json())

    # refused: a role that may not, another store's manager, an unknown SKU, a blank reason
    resp = await api.put(f"{url}/{SKU}", json=why, headers=_token(loop, "associate", [store]))
    assert resp.status_code == 403, resp.text
    paris = _token(loop, "store_manager", [f"{loop.conn}:{FRANCE}"])
    assert (await api.put(f"{url}/{SKU}", json=why, headers=paris)).status_code == 404
    resp = await api.put(f"{url}/NOPE", json=why, headers=buyer)
    assert resp.status_code == 404 and resp.json()["errors"][0]["field"] == "sku", resp.text
    for blank in ({"reason": ""}, {"reason": "   "}, {}):
        resp = await api.put(f"{url}/{SKU}", json=blank, headers=buyer)
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["field"].endswith("reason"), resp.text
    assert await stops() == []
    assert c.audit.list(action="replenishment.reorder_stopped") == []

    # the buyer rejects tonight's order and stops reordering A
    c.approvals.reject(ids["draft"], person("buyer", store=store), reason="A is discontinued")
    resp = await api.put(f"{url}/{SKU}", json=why, headers=buyer)
    assert resp.status_code == 200, resp.text
    assert (
        resp.json()["reason"] == why["reason"] and resp.json()["stopped_by"] == f"token:{info.id}"
    )
    [listed] = await stops()
    assert (listed["sku"], listed["reason"]) == (SKU, why["reason"])
    [entry] = c.audit.list(action="replenishment.reorder_stopped")
    assert entry.store == store and entry.actor == f"token:{info.id}"
    assert entry.inputs == {"sku": SKU, "reason": why["reason"]}

    # the plan shows it at once: no longer at risk, with the reason; B still at risk
    resp = await api.get(f"/v1/replenishment/stores/{store}/plan", headers=buyer)
    items = {i["sku"]: i for i in resp.json()["items"]}
    assert items[SKU]["stopped"]["reason"] == why["reason"] and items[SKU]["at_risk"] is False
    assert items[SKU_B]["stopped"] is None and items[SKU_B]["at_risk"] is True

    # the next plan orders none of A (its reorder point still shown)
    planner = Planner(c.uow, MeanForecaster(), c.clock)
    plan = planner.plan(loop.conn, UK, run_key="plan:next")
    rows = {i.sku: i.data for i in plan.items}
    assert rows[SKU]["decision"]["rule"] == "stopped" and rows[SKU]["decision"]["quantity"] == 0
    assert {i.sku: i.reorder_point for i in plan.items}[SKU] == 218  # still computed, shown
    # B alone is worth less than the vendor's £250 minimum, and A is never raised to reach it:
    # the order is held (not proposed) with B's line only
    assert not [p for p in plan.proposals if p.kind == PO]
    [held] = plan.held
    assert [ln.sku for ln in held.lines] == [SKU_B] and "minimum order" in str(held.held)

    # resumed: gone from the list, audited with what it was, and ordered again
    resp = await api.delete(f"{url}/{SKU}", headers=buyer)
    assert resp.status_code == 204, resp.text
    assert await stops() == []
    resp = await api.delete(f"{url}/{SKU}", headers=buyer)
    assert resp.status_code == 404 and resp.json()["errors"][0]["field"] == "sku"
    [entry] = c.audit.list(action="replenishment.reorder_resumed")
    assert entry.outputs["reason"] == why["reason"] and entry.inputs == {"sku": SKU}
    resp = await api.get(f"/v1/replenishment/stores/{store}/plan", headers=buyer)
    assert {i["sku"]: i["at_risk"] for i in resp.json()["items"]} == {SKU: True, SKU_B: True}
    plan = planner.plan(loop.conn, UK, run_key="plan:after")
    [order] = [p for p in plan.proposals if p.kind == PO]
    assert sorted(ln["sku"] for ln in order.payload["lines"]) == sorted([SKU, SKU_B])


def test_a_draft_still_ordering_an_item_stopped_since_shows_its_approver_the_line_to_drop(
    sqlite_url: str, tmp_path: Path
) -> None:
    _run(sqlite_url, tmp_path, _stopped_on_a_draft)


async def _stopped_on_a_draft(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    c, store, pid = loop.container, f"{loop.conn}:{UK}", ids["draft"]
    manager = _token(loop, "store_manager", [store])
    # the draft orders A and B; the buyer then stops reordering A, the draft still pending
    why = {"reason": "Discontinued by the vendor"}
    resp = await api.put(
        f"/v1/replenishment/stores/{store}/stops/{SKU}",
        json=why,
        headers=_token(loop, "buyer", [store]),
    )
    assert resp.status_code == 200, resp.text

    def lines(order: dict[str, Any]) -> dict[str, Any]:
        return {ln["sku"]: ln.get("reorder_stopped") for ln in order["payload"]["lines"]}

    resp = await api.get(f"/v1/replenishment/stores/{store}/plan", headers=manager)
    [draft] = [p for p in resp.json()["proposals"] if p["id"] == pid]
    marked = lines(draft)
    assert marked[SKU] is not None and marked[SKU]["reason"] == why["reason"]
    assert marked[SKU_B] is None  # still reordered
    resp = await api.get(f"/v1/proposals/{pid}", headers=manager)
    assert lines(resp.json()) == marked
    # the stored order is what it was: the mark is what the approver is shown
    assert all("reorder_stopped" not in ln for ln in c.approvals.get(pid).proposal.payload["lines"])
    # dropping the line is an edit the approver makes; the order written has B alone
    resp = await api.post(
        f"/v1/proposals/{pid}/approve",
        json={"edits": {f"lines.{SKU}.quantity": 0}},
        headers=_token(loop, "regional_manager", [store]),
    )
    assert resp.status_code == 200, resp.text
    assert list(lines(resp.json())) == [SKU_B]


def test_a_buyer_adjusts_an_items_forecast_and_the_next_plan_orders_by_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    _run(sqlite_url, tmp_path, _adjustments)


async def _adjustments(loop: Loop, api: httpx.AsyncClient, ids: dict[str, Any]) -> None:
    from zoneinfo import ZoneInfo

    c = loop.container
    store = f"{loop.conn}:{UK}"
    url = f"/v1/replenishment/stores/{store}/adjustments"
    info, token = c.tokens.create("buyer", name="Bea", actor="t", stores=[store])
    buyer = {"Authorization": f"Bearer {token}"}
    planner = Planner(c.uow, MeanForecaster(), c.clock)
    first = planner.plan(loop.conn, UK, run_key="plan:before")
    rows = {i.sku: i.data for i in first.items}
    days = [date.fromisoformat(r["day"]) for r in rows[SKU]["rows"]]
    # the seeded sales are from 2011, today is not: the store's plans forecast from the day
    # after its history, and an adjustment is judged against that day
    assert c.clock.now().astimezone(ZoneInfo("Europe/London")).date() > days[0]
    today = days[0]
    protection = rows[SKU]["forecast"]["protection_days"]  # 14-day lead time + 1-day review
    assert protection == LEAD + 1 and {i.sku: i.reorder_point for i in first.items}[SKU] == 218
    display = {
        "factor": 1.5,
        "starts_on": days[0].isoformat(),
        "ends_on": (days[0] + timedelta(days=40)).isoformat(),
        "reason": "End-cap display for the summer range",
    }

    async def listed() -> list[dict[str, Any]]:
        resp = await api.get(url, headers=_token(loop, "associate", [store]))
        assert resp.status_code == 200, resp.text
        return list(resp.json())

    # refused, each naming its field, and nothing written
    resp = await api.put(f"{url}/{SKU}", json=display, headers=_token(loop, "associate", [store]))
    assert resp.status_code == 403, resp.text
    paris = _token(loop, "store_manager", [f"{loop.conn}:{FRANCE}"])
    assert (await api.put(f"{url}/{SKU}", json=display, headers=paris)).status_code == 404
    past = (today - timedelta(days=1)).isoformat()
    for bad, field in (
        ({"factor": -1}, "factor"),
        ({"factor": 11}, "factor"),
        ({"ends_on": (days[0] - timedelta(days=1)).isoformat()}, "ends_on"),
        ({"starts_on": past, "ends_on": past}, "ends_on"),
        ({"reason": " "}, "reason"),
        ({"starts_on": "next week"}, "starts_on"),
    ):
        resp = await api.put(f"{url}/{SKU}", json={**display, **bad}, headers=buyer)
        assert resp.status_code == 422, (bad, resp.text)
        assert resp.json()["errors"][0]["field"].endswith(field), (bad, resp.text)
    resp = await api.put(f"{url}/NOPE", json=display, headers=buyer)
    assert resp.status_code == 404 and resp.json()["errors"][0]["field"] == "sku"
    assert await listed() == [] and c.audit.list(action="replenishment.forecast_adjusted") == []

    # +50 % over the whole protection period: the reorder point follows, B's does not move
    resp = await api.put(f"{url}/{SKU}", json=display, headers=buyer)
    assert resp.status_code == 200, resp.text
    assert resp.json()["set_by"] == f"token:{info.id}" and resp.json()["factor"] == 1.5
    [row] = await listed()
    assert (row["sku"], row["reason"]) == (SKU, display["reason"])
    [entry] = c.audit.list(action="replenishment.forecast_adjusted")
    assert entry.store == store and entry.inputs["factor"] == 1.5
    plan = planner.plan(loop.conn, UK, run_key="plan:display")
    points = {i.sku: i.reorder_point for i in plan.items}
    assert points == {SKU: 327, SKU_B: {i.sku: i.reorder_point for i in first.items}[SKU_B]}
    a = {i.sku: i.data for i in plan.items}[SKU]
    assert a["forecast"]["adjustment"]["protection_effect"] == 1.5
    assert [r["mean"] for r in a["rows"]][:3] == [15.0, 15.0, 15.0]  # the chart shows it too
    [order] = [p for p in plan.proposals if p.kind == PO]
    [line] = [ln for ln in order.payload["lines"] if ln["sku"] == SKU]
    text = line["justification"]["text"]
    assert f"The forecast is adjusted by token:{info.id} (raised by 50%" in text
    assert "End-cap display for the summer range" in text

    # a second one replaces it: no demand on the first 5 of the 15 days: 10 of 15 days left
    stop = {**display, "factor": 0, "ends_on": days[4].isoformat(), "reason": "Road closed"}
    assert (await api.put(f"{url}/{SKU}", json=stop, headers=buyer)).status_code == 200
    [row] = await listed()
    assert row["factor"] == 0
    [_, replaced] = c.audit.list(action="replenishment.forecast_adjusted")
    assert replaced.outputs["replaced"]["factor"] == 1.5
    plan = planner.plan(loop.conn, UK, run_key="plan:closed")
    a = {i.sku: i.data for i in plan.items}[SKU]
    assert a["forecast"]["adjustment"]["protection_effect"] == round(10 / 15, 3)
    assert {i.sku: i.reorder_point for i in plan.items}[SKU] == 145  # 10 x 10 days x 1.45

    # removed: listed no more, audited with what it was, and the forecast as it is again
    assert (await api.delete(f"{url}/{SKU}", headers=buyer)).status_code == 204
    assert await listed() == []
    resp = await api.delete(f"{url}/{SKU}", headers=buyer)
    assert resp.status_code == 404 and resp.json()["errors"][0]["field"] == "sku"
    [entry] = c.audit.list(action="replenishment.forecast_adjustment_removed")
    assert entry.outputs["reason"] == "Road closed"
    plan = planner.plan(loop.conn, UK, run_key="plan:after")
    assert {i.sku: i.reorder_point for i in plan.items}[SKU] == 218
    assert {i.sku: i.data for i in plan.items}[SKU]["forecast"]["adjustment"] is None
