"""The Risk page, end to end: the real app, the simulator POS, Debian's Chromium.

The till's events go in the way a POS sends them — signed generic webhooks — over three days at
one store: two ordinary card sales, a £300 cash refund without a receipt by emp-9 two days ago,
a sale with a £60 discount by emp-4 yesterday, and a £280 cash refund without a receipt by
emp-9 today. The risk workflow scores each one on the bus; the two refunds and the discounted
sale need a manager (above £250 refunded, £50 discounted), so each opens a case and proposes a
manager decision (the workflow is in draft for the store). Then:

* a loss-prevention user opens the queue, sees today's refund with its reasons, opens it (the
  refund, the evidence in plain words, emp-9's recent scored events, the manager approval),
  starts the review and confirms it with a note — and the API says the case is confirmed, the
  audit log has the decision with the model and its version, and a label was stored;
* a store manager (risk:read, no risk:decide) sees the case on a portrait tablet, with its
  manager approval, but no button to work it;
* the Reports tab shows the counts of the seeded data: events scored, cases by employee, by
  reason and per day (a uPlot chart and its table).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import TABLET_PORTRAIT, log_in
from tests.live import LiveServer, wait_for
from tillwise.connectors.simulator.replay import SimEvent

pytestmark = pytest.mark.browser

LOC, STORE_NAME = "loc_camden", "Camden Market"
LONDON = ZoneInfo("Europe/London")
NOTE = "No receipt, cash out of the drawer, seen on camera at 14:02."


def pipeline_idle(server: LiveServer) -> bool:
    stats = server.get("/v1/stats/overview").json()
    return stats["outbox_oldest_seconds"] is None and all(
        c["pending"] == 0 for c in stats["consumers"]
    )


def _sale(txn: str, employee: str, pence: int, discount: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": txn,
        "location_id": LOC,
        "employee_id": employee,
        "register_id": "reg-1",
        "line_items": [
            {
                "sku": "22423",
                "name": "Regency cakestand 3 tier",
                "quantity": 1,
                "price": f"{(pence + discount) / 100:.2f}",
            }
        ],
        "tenders": [
            {
                "type": "card",
                "amount": {"amount": pence, "currency": "GBP"},
                "last4": "4242",
                "entry_method": "tapped",
            }
        ],
        "total_money": {"amount": pence, "currency": "GBP"},
    }
    if discount:
        data["discounts"] = [{"name": "staff", "amount": {"amount": discount, "currency": "GBP"}}]
    return data


def _refund(ref: str, employee: str, pence: int) -> dict[str, Any]:
    return {
        "id": ref,
        "location_id": LOC,
        "employee_id": employee,
        "register_id": "reg-1",
        "line_items": [
            {
                "sku": "22423",
                "name": "Regency cakestand 3 tier",
                "quantity": 1,
                "price": f"{pence / 100:.2f}",
            }
        ],
        "tenders": [{"type": "cash", "amount": {"amount": pence, "currency": "GBP"}}],
        "total_money": {"amount": pence, "currency": "GBP"},
    }


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> dict[str, Any]:
    server = live_server
    now = server.container.clock.now()
    today = now.astimezone(LONDON).date()

    def noon(days_ago: int) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), time(12), LONDON).astimezone(UTC)

    midnight = datetime.combine(today, time(0), LONDON).astimezone(UTC)
    minutes_20 = timedelta(minutes=20)

    server.deliver(
        SimEvent(
            f"e2e:loc:{LOC}",
            "location.updated",
            noon(3),
            {"id": LOC, "name": STORE_NAME, "time_zone": "Europe/London", "currency": "GBP"},
        )
    )
    wait_for(
        lambda: server.get("/v1/locations", external_id=LOC).json()["data"], "the store to exist"
    )
    store = server.store_key(LOC)
    server.container.modes.set_mode("risk", store, "draft", actor="test")
    events = [
        ("sale.completed", _sale("CAM-101", "emp-9", 1275), noon(2) - timedelta(hours=2)),
        ("sale.completed", _sale("CAM-102", "emp-4", 2550), noon(2) - timedelta(hours=1)),
        ("refund.created", _refund("RF-201", "emp-9", 30_000), noon(2)),
        ("sale.completed", _sale("CAM-301", "emp-4", 14_000, discount=6_000), noon(1)),
        # today, in London: 20 minutes ago, or at midnight in the first 20 minutes of the day
        ("refund.created", _refund("RF-401", "emp-9", 28_000), max(now - minutes_20, midnight)),
    ]
    for n, (event, data, at) in enumerate(events):
        server.deliver(SimEvent(f"e2e:risk:{n}", event, at, data))
    wait_for(lambda: pipeline_idle(server), "the till's events to be scored")
    cases = wait_for(
        lambda: (lambda items: items if len(items) == 3 else None)(
            server.get("/v1/risk/cases", store=store).json()["items"]
        ),
        "three cases to open",
    )
    by_event = {c["event_id"]: c for c in cases}
    return {"store": store, "cases": by_event, "scored": len(events)}


def test_loss_prevention_works_a_case_to_a_decision(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    store, case = seeded["store"], seeded["cases"]["RF-401"]
    assert case["decision"] == "require_manager" and case["state"] == "new"
    password = server.add_user("lena", "loss_prevention", stores=[store], display_name="Lena Ortiz")

    # when the loss-prevention user logs in and opens Risk
    log_in(page, server, "lena", password)
    page.locator("#nav").get_by_role("link", name="Risk").click()
    expect(page.get_by_role("heading", name="Risk", exact=True)).to_be_visible()

    # then the queue has the store's three open cases, each with its reasons
    expect(page.locator("#case-list .case")).to_have_count(3)
    expect(page.locator("#queue-counts")).to_contain_text("3 open")
    row = page.locator(f".case[data-id='{case['id']}']")
    expect(row).to_contain_text("Refund £280.00")
    expect(row).to_contain_text("employee emp-9")
    expect(row.locator(".chip[data-code='refund_without_receipt']")).to_have_text(
        "Refund without receipt"
    )
    expect(row.locator(".chip[data-code='manager_threshold']")).to_have_text("Needs a manager")
    expect(row.locator(".case-state")).to_have_text("New")
    expect(row).to_contain_text("High severity")
    expect(row).to_contain_text("Manager approval")
    expect(row.locator(".sla")).to_contain_text("Due")

    # and the filters narrow it: emp-4's discounted sale is the only case with no refund reason
    page.locator("#filter-owner").select_option("mine")
    expect(page.locator("#queue-state")).to_contain_text("No cases match these filters")
    page.locator("#filter-owner").select_option("")
    expect(page.locator("#case-list .case")).to_have_count(3)

    # when they open the case
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"#/risk/case/"))
    expect(page.locator("#case-title")).to_have_text("Refund of £280.00 by employee emp-9")
    expect(page.locator("#case-state")).to_have_text("New")
    # the refund itself
    facts = page.locator("#record-facts")
    expect(facts).to_contain_text("RF-401")
    expect(facts).to_contain_text("none given")  # no receipt
    expect(page.locator("#record-tenders")).to_contain_text("Cash")
    # the evidence of each reason, in plain words
    reasons = page.locator("#case-reasons")
    receipt = reasons.locator(".reason[data-code='refund_without_receipt']")
    expect(receipt).to_contain_text("Refund without a receipt")
    expect(receipt.locator(".evidence")).to_contain_text("Receipt")
    manager = reasons.locator(".reason[data-code='manager_threshold']")
    expect(manager).to_contain_text("A manager must approve from")
    expect(manager).to_contain_text("£250.00")
    expect(manager).to_contain_text("£280.00")
    # emp-9's recent pattern: their three scored events, this one marked, with a chart
    table = page.locator("#pattern-table tbody tr")
    expect(table).to_have_count(3)
    expect(page.locator("#pattern-table tr.current")).to_contain_text("RF-401")
    expect(page.locator("#pattern-table tr[data-event='CAM-101']")).to_contain_text("Allow")
    expect(page.locator("#pattern-chart canvas")).to_have_count(1)
    # the manager approval it asked for, waiting
    expect(page.locator("#approval-status")).to_have_text("Pending")
    expect(page.locator("#approval-link")).to_have_attribute(
        "href", f"#/approvals/{case['proposal_id']}"
    )
    # "In plain words": with no language model, the deterministic summary
    page.locator("#explain").click()
    expect(page.locator("#plain-words")).to_contain_text("Refund of £280.00")
    expect(page.locator("#plain-words")).to_contain_text("No language model is configured")

    # when they start the review, it is theirs
    expect(page.locator("#confirm")).to_have_count(0)  # a review starts first
    page.locator("#start-review").click()
    expect(page.locator("#case-state")).to_have_text("In review")
    expect(page.locator("#case-facts")).to_contain_text("Lena Ortiz")
    # and confirm it as a loss, with a note
    page.locator("#decision-note").fill(NOTE)
    page.locator("#confirm").click()
    expect(page.locator("#case-state")).to_have_text("Confirmed loss")
    expect(page.get_by_role("status").filter(has_text="Confirmed as a loss")).to_be_visible()
    expect(page.locator("#case-facts")).to_contain_text(NOTE)
    expect(page.locator("#case-facts")).to_contain_text("Lena Ortiz (you)")
    expect(page.locator("#case-actions")).to_have_count(0)  # a decision is final

    # then the API has the decision ...
    after = server.get(f"/v1/risk/cases/{case['id']}").json()
    assert after["state"] == "confirmed" and after["note"] == NOTE
    assert after["owner"] == "Lena Ortiz" and after["decided_by"].startswith("user:")
    # ... audited, with the model and version that scored it
    entries = server.get("/v1/audit", action="risk.case_confirmed").json()["data"]
    [entry] = [e for e in entries if e["inputs"]["case_id"] == case["id"]]
    assert entry["actor"] == after["decided_by"] and entry["store"] == store
    assert entry["inputs"]["model"] == case["model"] and entry["inputs"]["model"]
    assert entry["inputs"]["version"] == case["version"] and entry["inputs"]["version"]
    assert entry["inputs"]["note"] == NOTE and entry["outputs"]["label"] is True
    started = server.get("/v1/audit", action="risk.case_in_review").json()["data"]
    assert [e["inputs"]["case_id"] for e in started] == [case["id"]]
    # ... and stored as a label the scorer learns from
    with server.container.uow() as uow:
        labels = [x for x in uow.risk.labels() if x.case_id == case["id"]]
    assert len(labels) == 1 and labels[0].label is True
    assert labels[0].event["id"] == "RF-401"

    # and back in the queue, the case has left the open cases
    page.locator(".back").click()
    expect(page.locator("#case-list .case")).to_have_count(2)
    expect(page.locator(f".case[data-id='{case['id']}']")).to_have_count(0)
    page.locator("#filter-state").select_option("confirmed")
    expect(page.locator(f".case[data-id='{case['id']}'] .case-state")).to_have_text(
        "Confirmed loss"
    )
    assert page.errors == []


def test_a_store_manager_sees_the_case_but_cannot_work_it(
    live_server: LiveServer, seeded: dict[str, Any], new_page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    store, case = seeded["store"], seeded["cases"]["CAM-301"]
    password = server.add_user("sam", "store_manager", stores=[store], display_name="Sam Patel")
    page = new_page(TABLET_PORTRAIT)

    log_in(page, server, "sam", password)
    expect(page.locator("#nav a")).to_have_text(
        ["Overview", re.compile("^Approvals"), "Replenishment", "Risk", "Audit", "Settings"]
    )
    page.locator("#nav").get_by_role("link", name="Risk").click()
    row = page.locator(f".case[data-id='{case['id']}']")
    expect(row).to_contain_text("Sale £140.00")
    expect(row.locator(".chip[data-code='manager_threshold']")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the queue is {overflow}px wider than a portrait tablet"

    row.get_by_role("link").click()
    expect(page.locator("#case-title")).to_have_text("Sale of £140.00 by employee emp-4")
    expect(page.locator("#record-facts")).to_contain_text("staff £60.00")
    expect(page.locator(".reason[data-code='manager_threshold']")).to_contain_text("£50.00")
    expect(page.locator("#approval-status")).to_have_text("Pending")
    expect(page.locator("#pattern-table tbody tr")).to_have_count(2)  # emp-4's two sales
    # but nothing to work the case with
    expect(page.locator("#case-actions")).to_have_count(0)
    for name in ("Start review", "Assign to me", "Confirm loss", "Dismiss"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the case is {overflow}px wider than a portrait tablet"
    # and the server agrees
    resp = page.evaluate(
        """async (id) => (await fetch(`/v1/risk/cases/${id}/state`, {method: "POST",
             headers: {"Content-Type": "application/json"},
             body: JSON.stringify({state: "in_review"})})).status""",
        case["id"],
    )
    assert resp == 403
    assert page.errors == []


def test_the_reports_show_the_seeded_counts(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    store = seeded["store"]
    password = server.add_user("rhea", "loss_prevention", stores=[store], display_name="Rhea")
    report = server.get("/v1/risk/reports", store=store).json()
    # the seeded data: five till events scored, three cases — emp-9's two refunds and emp-4's
    # discounted sale — all needing a manager, one a day over three days
    assert report["scored"] == seeded["scored"] == 5 and report["cases"] == 3
    by_employee = {e["employee_id"]: e for e in report["by_employee"]}
    assert {k: v["cases"] for k, v in by_employee.items()} == {"emp-9": 2, "emp-4": 1}
    assert {k: v["require_manager"] for k, v in by_employee.items()} == {"emp-9": 2, "emp-4": 1}
    by_reason = {r["code"]: r["cases"] for r in report["by_reason"]}
    assert by_reason["manager_threshold"] == 3 and by_reason["refund_without_receipt"] == 2
    assert [d["cases"] for d in report["by_day"]] == [1, 1, 1]

    log_in(page, server, "rhea", password)
    page.goto(f"{server.url}/#/risk")
    page.get_by_role("navigation", name="Risk sections").get_by_role("link", name="Reports").click()
    expect(page).to_have_url(re.compile(r"#/risk/reports$"))
    expect(page.locator("#fig-scored .big")).to_have_text("5")
    expect(page.locator("#fig-cases .big")).to_have_text("3")
    expect(page.locator("#fig-cases")).to_contain_text("60.0% of events scored")
    expect(page.locator("#fig-manager .big")).to_have_text("3")
    decided = sum(e["confirmed"] + e["dismissed"] for e in report["by_employee"])
    expect(page.locator("#fig-open .big")).to_have_text(str(3 - decided))
    # by employee
    rows = page.locator("#report-employees tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-employee", "emp-9")
    expect(rows.nth(0).locator("[data-col='cases']")).to_have_text("2")
    expect(rows.nth(0).locator("[data-col='require_manager']")).to_have_text("2")
    expect(rows.nth(1).locator("[data-col='cases']")).to_have_text("1")
    # by reason
    bars = page.locator("#report-reasons")
    expect(bars.locator("li[data-code='manager_threshold'] .count")).to_have_text("3")
    expect(bars.locator("li[data-code='refund_without_receipt'] .count")).to_have_text("2")
    # over time: a uPlot chart, and its figures as a table
    expect(page.locator("#report-chart canvas")).to_have_count(1)
    page.get_by_text("Cases per day as a table").click()
    days = page.locator("#report-days tbody tr")
    expect(days).to_have_count(3)
    for d in report["by_day"]:
        expect(page.locator(f"#report-days tr[data-day='{d['day']}'] td")).to_have_text("1")
    expect(page.locator("#report-readout")).to_contain_text("1 case")
    # an employee's row leads to their cases
    rows.nth(0).get_by_role("link", name="emp-9").click()
    expect(page.locator("#case-list .case")).to_have_count(2)
    expect(page.locator("#case-list .case[data-employee='emp-9']")).to_have_count(2)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert page.errors == []
