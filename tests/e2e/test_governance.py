"""People at work in the dashboard, end to end, against the real app and the simulator POS.

* A store manager approves a stock correction that the real pipeline proposed from a cycle
  count; it is written back to the POS over HTTP, the POS's report brings the canonical copy
  along, and the decision is in the audit log.
* An associate sees proposals but has no way to approve — and the server refuses when asked
  directly from the same session.
* A regional manager moves a workflow from shadow to auto for one store in Settings, and the
  change is in the audit log.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import log_in
from tests.live import LiveServer, wait_for
from tillwise.connectors.simulator.replay import SimEvent, StockChange

pytestmark = pytest.mark.browser


def _open_store(server: LiveServer, location_id: str, name: str) -> str:
    """The POS announces a store (to Tillwise, and to itself); returns the store key."""
    at = server.container.clock.now()
    event = SimEvent(
        f"e2e:location.updated:{location_id}",
        "location.updated",
        at,
        {"id": location_id, "name": name, "time_zone": "Europe/London", "currency": "GBP"},
    )
    for sent in server.pos.play(event):
        server.deliver(sent)
    wait_for(
        lambda: server.get("/v1/locations", external_id=location_id).json()["data"],
        f"store {location_id} to be known",
    )
    return server.store_key(location_id)


def _canonical_on_hand(server: LiveServer, location_id: str, sku: str) -> int | None:
    data = server.get("/v1/inventory-levels", external_id=f"{location_id}:{sku}").json()["data"]
    return data[0]["on_hand"] if data else None


def _pending(server: LiveServer, store: str) -> list[dict[str, Any]]:
    return list(server.get("/v1/proposals", status="pending", store=store).json()["data"])


def test_a_store_manager_approves_a_count_correction_and_the_pos_and_audit_follow(
    live_server: LiveServer, page: Any
) -> None:
    from playwright.sync_api import expect

    server, pos = live_server, live_server.pos
    loc, sku = "loc_camden", "85123A"
    # given a store whose stock_counts proposals wait for a person
    store = _open_store(server, loc, "Camden Market")
    server.container.modes.set_mode("stock_counts", store, "draft", actor="test")
    password = server.add_user("sam", "store_manager", stores=[store], display_name="Sam Patel")
    # and the POS's book: 40 on hand, then a sale of 2, reported as inventory.updated (38)
    pos.stock.open_with({(loc, sku): 40})
    at = server.container.clock.now()
    level, count = pos.play(StockChange(loc, sku, -2, at, "INV-536365", count_shrink=3))
    assert level.event == "inventory.updated" and level.data["on_hand"] == 38
    server.deliver(level)
    wait_for(lambda: _canonical_on_hand(server, loc, sku) == 38, "the book to reach Tillwise")
    # and then a cycle count finds 35 on the shelf (inventory.counted)
    assert count.event == "inventory.counted" and count.data["counted"] == 35
    server.deliver(count)
    [proposal] = wait_for(lambda: _pending(server, store), "the workflow's proposal")
    assert proposal["workflow"] == "stock_counts" and proposal["payload"]["delta"] == -3

    # when the store manager logs in and opens Approvals
    log_in(page, server, "sam", password)
    expect(page.locator("#who-scope")).to_have_text("Camden Market")
    expect(page.locator("#pending-badge .badge-count")).to_have_text("1")
    expect(page.locator("#nav").get_by_role("link", name="Approvals (1 waiting)")).to_be_visible()
    page.locator("#nav").get_by_role("link", name=re.compile("^Approvals")).click()

    # then the pending proposal for their store is listed, and opens in full
    item = page.locator(f".proposal[data-id='{proposal['id']}']")
    expect(item).to_contain_text("Count 35 vs book 38 for SKU 85123A at loc_camden: adjust −3")
    expect(item).to_contain_text("Camden Market")
    item.get_by_role("link").click()
    expect(page.locator("#proposal-status")).to_have_text("Pending")
    expect(page.locator(".explanation")).to_contain_text("found 35 units of SKU 85123A")
    expect(page.locator("#payload tr[data-key='delta'] td")).to_have_text("-3")
    expect(page.locator("#proposal-facts")).to_contain_text("1 approval")

    # when they approve it
    page.get_by_role("button", name="Approve", exact=True).click()

    # then it shows as applied, and the POS took the change
    expect(page.locator("#proposal-status")).to_have_text("Applied")
    expect(page.locator(".notice.ok")).to_contain_text("Approved and applied")
    expect(page.locator("#trail")).to_contain_text("Sam Patel (Store manager) approved")
    assert server.pos_on_hand(loc, sku) == 35
    # and the POS's own inventory.updated brings the canonical copy to the same figure
    wait_for(lambda: _canonical_on_hand(server, loc, sku) == 35, "the canonical level to follow")
    expect(page.locator("#pending-badge")).to_be_hidden()

    # when they open the Audit page
    page.locator("#nav").get_by_role("link", name="Audit").click()

    # then their approval and the write-back are there, newest first, with the details
    approved = page.locator("tr.audit-row[data-action='proposal.approved']")
    expect(approved).to_have_count(1)
    expect(approved).to_contain_text("Sam Patel (you)")
    expect(approved).to_contain_text("Camden Market")
    actions = page.locator("tr.audit-row td.action").all_inner_texts()
    assert actions.index("proposal.applied") < actions.index("proposal.approved")
    approved.get_by_role("button", name=re.compile("^Details")).click()
    details = page.locator("tr.audit-detail:visible")
    expect(details).to_contain_text(proposal["id"])
    expect(details).to_contain_text('"status": "approved"')
    assert page.errors == []


def test_an_associate_cannot_approve_in_the_page_or_through_the_api(
    live_server: LiveServer, page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    store = _open_store(server, "loc_leeds_briggate", "Leeds Briggate")
    password = server.add_user("ali", "associate", stores=[store], display_name="Ali Khan")
    # given a proposal waiting in the associate's store (made by an admin through the API)
    resp = server.post(
        "/v1/proposals",
        {
            "kind": "stock_adjustment",
            "connection_id": server.connection_id,
            "location_id": "loc_leeds_briggate",
            "summary": "Write off 4 damaged mugs",
            "explanation": "Found broken in the stockroom.",
            "sku": "22423",
            "delta": -4,
        },
    )
    assert resp.status_code == 201, resp.text
    proposal = resp.json()
    assert proposal["status"] == "pending"

    # when the associate logs in
    log_in(page, server, "ali", password)

    # then they have no Audit, Connections or Settings pages
    expect(page.locator("#nav a")).to_have_text(
        ["Overview", re.compile("^Approvals"), "Replenishment"]
    )
    expect(page.locator("#who-role")).to_have_text("Associate")

    # and they can see the proposal, but there is no Approve button
    page.locator("#nav").get_by_role("link", name=re.compile("^Approvals")).click()
    page.locator(f".proposal[data-id='{proposal['id']}']").get_by_role("link").click()
    expect(page.locator("#proposal-summary")).to_have_text("Write off 4 damaged mugs")
    expect(page.locator("#actions")).to_contain_text("can see this proposal but not decide it")
    expect(page.get_by_role("button", name=re.compile("Approve"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Reject"))).to_have_count(0)

    # but they may ask why, in plain words: with no language model configured, the answer
    # is the deterministic explanation, and the page says so
    page.locator("#explain").click()
    expect(page.locator("#plain-words")).to_contain_text("Write off 4 damaged mugs")
    expect(page.locator("#plain-words")).to_contain_text("No language model is configured")

    # when the page's own session asks the API directly (with its CSRF token)
    answer = page.evaluate(
        """async (id) => {
            const me = await (await fetch("/auth/me")).json();
            const res = await fetch(`/v1/proposals/${encodeURIComponent(id)}/approve`, {
                method: "POST",
                headers: {"Content-Type": "application/json", "X-CSRF-Token": me.csrf_token},
                body: "{}",
            });
            return {status: res.status, body: await res.json()};
        }""",
        proposal["id"],
    )

    # then the server refuses: 403, for lack of the permission, and nothing changed
    assert answer["status"] == 403, answer
    assert answer["body"]["code"] == "forbidden"
    assert "proposals:approve" in answer["body"]["detail"]
    after = server.get(f"/v1/proposals/{proposal['id']}").json()
    assert after["status"] == "pending" and after["approvals"] == []
    assert page.errors == []


def test_a_regional_manager_moves_a_workflow_from_shadow_to_auto_for_one_store(
    live_server: LiveServer, page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    bristol = _open_store(server, "loc_bristol", "Bristol Cabot")
    bath = _open_store(server, "loc_bath", "Bath Milsom")
    server.container.users.set_region("South West", [bristol, bath], actor="test")
    for store in (bristol, bath):
        server.container.modes.set_mode("stock_counts", store, "shadow", actor="test")
    password = server.add_user(
        "rita", "regional_manager", regions=["South West"], display_name="Rita Jones"
    )

    # when the regional manager logs in and opens Settings
    log_in(page, server, "rita", password)
    expect(page.locator("#who-scope")).to_have_text("2 stores")
    page.locator("#nav").get_by_role("link", name="Settings").click()

    # then the workflow modes of their stores are shown, Bristol's stock counts in shadow
    mode = page.get_by_label("Mode of Stock counts at Bristol Cabot", exact=True)
    expect(mode).to_have_value("shadow")
    expect(page.get_by_label("Mode of Stock counts at Bath Milsom", exact=True)).to_have_value(
        "shadow"
    )

    # when they move it to auto, up to 150.00, and save that cell
    mode.select_option("auto")
    page.get_by_label("Auto limit of Stock counts at Bristol Cabot").fill("150.00")
    page.get_by_role("button", name="Save Stock counts mode at Bristol Cabot").click()

    # then the cell says it is saved, and the server has it — for that store only
    cell = page.locator(f".mode-cell[data-workflow='stock_counts'][data-store='{bristol}']")
    expect(cell.locator(".cell-note")).to_have_text("Saved: auto up to 150.00")
    assert server.container.modes.mode_for("stock_counts", bristol).mode == "auto"
    assert server.container.modes.mode_for("stock_counts", bath).mode == "shadow"

    # when they look for mode changes in the Audit page
    page.locator("#nav").get_by_role("link", name="Audit").click()
    page.get_by_label("Action").fill("mode.changed")
    page.get_by_role("button", name="Apply").click()

    # then their change is there, by them, for Bristol, from shadow to auto
    expect(page).to_have_url(re.compile(r"#/audit\?action=mode.changed$"))
    # (newest first; before it, the setup's two changes to shadow in their region — and not
    # the change to Camden Market earlier, which is outside their stores)
    rows = page.locator("tr.audit-row")
    expect(rows).to_have_count(3)
    row = rows.first
    expect(row).to_contain_text("Rita Jones (you)")
    expect(row).to_contain_text("Bristol Cabot")
    row.get_by_role("button", name=re.compile("^Details")).click()
    details = page.locator("tr.audit-detail:visible")
    expect(details).to_contain_text('"mode": "auto"')
    expect(details).to_contain_text('"auto_limit": "150.00"')
    expect(details).to_contain_text('"mode": "shadow"')  # the mode before
    # and the export links carry the same filter
    expect(page.locator("#audit-export a[data-format='csv']")).to_have_attribute(
        "href", "/v1/audit/export?action=mode.changed&format=csv"
    )
    assert page.errors == []


def test_a_refusal_shows_in_place_and_a_rejection_needs_a_reason(
    live_server: LiveServer, page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    store = _open_store(server, "loc_york", "York Coppergate")
    # given a rule that reserves stock adjustments above 20.00 for a regional manager
    server.container.modes.set_rule(
        actor="test", kind="stock_adjustment", store=store, regional_above="20.00"
    )
    body = {
        "kind": "stock_adjustment",
        "connection_id": server.connection_id,
        "location_id": "loc_york",
        "summary": "Write off 10 cake stands",
        "sku": "22423",
        "delta": -10,
        "value": "127.50",
        "currency": "GBP",
    }
    resp = server.post("/v1/proposals", body)
    assert resp.status_code == 201, resp.text
    proposal = resp.json()
    password = server.add_user("yan", "store_manager", stores=[store], display_name="Yan Li")

    # a small one any store manager may approve
    small = server.post("/v1/proposals", body | {"delta": -1, "value": "12.75"}).json()
    log_in(page, server, "yan", password)

    # when the store manager opens a small one that someone else rejects meanwhile, then
    # approves it, the server's refusal is shown where they acted
    page.goto(f"{server.url}/#/approvals/{small['id']}")
    expect(page.locator("#proposal-status")).to_have_text("Pending")
    _info, token = server.container.tokens.create(
        "store_manager", name="Other manager", actor="test", stores=[store]
    )
    gone = httpx.post(
        f"{server.url}/v1/proposals/{small['id']}/reject",
        json={"reason": "counted again"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert gone.status_code == 200, gone.text
    page.get_by_role("button", name="Approve", exact=True).click()
    error = page.locator("#action-error [role=alert]")
    expect(error).to_contain_text("the proposal is rejected, not pending")

    # the big one is the regional manager's to approve: the store manager is told so, and is
    # offered no Approve (the server would refuse it)
    page.goto(f"{server.url}/#/approvals/{proposal['id']}")
    expect(page.locator("#proposal-facts")).to_contain_text("including a regional manager")
    expect(page.locator("#proposal-facts")).to_contain_text("£127.50")
    expect(page.locator("#actions")).to_contain_text(
        "This proposal needs a regional manager's approval (the approval rules): your role "
        "(Store manager) may reject it, not approve it."
    )
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    expect(page.locator("#proposal-status")).to_have_text("Pending")

    # when they try to reject without a reason, nothing is sent; with one, it is rejected
    page.get_by_role("button", name="Reject…").click()
    page.locator("#reject-submit").click()
    expect(page.locator("#reject-reason")).to_be_focused()
    expect(page.locator("#proposal-status")).to_have_text("Pending")
    page.get_by_label("Why is it rejected?").fill("Needs a recount by the regional team first.")
    page.locator("#reject-submit").click()
    expect(page.locator("#proposal-status")).to_have_text("Rejected")
    expect(page.locator(".notice.ok")).to_contain_text("Rejected. Nothing was written to the POS.")
    expect(page.locator("#trail")).to_contain_text("No approvals yet.")
    expect(page.locator("#actions")).to_have_count(0)  # nothing left to decide
    after = server.get(f"/v1/proposals/{proposal['id']}").json()
    assert after["status"] == "rejected"
    assert after["reason"] == "Needs a recount by the regional team first."
    assert page.errors == []


def test_an_edited_approval_writes_the_edited_change_to_the_pos(
    live_server: LiveServer, page: Any
) -> None:
    from playwright.sync_api import expect

    server, pos = live_server, live_server.pos
    _open_store(server, "loc_bath_abbey", "Bath Abbey")
    pos.stock.open_with({("loc_bath_abbey", "84879"): 50})
    resp = server.post(
        "/v1/proposals",
        {
            "kind": "stock_adjustment",
            "connection_id": server.connection_id,
            "location_id": "loc_bath_abbey",
            "summary": "Bird ornaments short after the count",
            "sku": "84879",
            "delta": -4,
        },
    )
    assert resp.status_code == 201, resp.text
    proposal = resp.json()
    password = server.add_user("eve", "admin", display_name="Eve Admin")

    log_in(page, server, "eve", password)
    page.goto(f"{server.url}/#/approvals/{proposal['id']}")

    # when the approver corrects the delta before approving
    page.get_by_role("button", name="Edit, then approve").click()
    page.get_by_label("Change in units (delta)").fill("-2")
    page.get_by_role("button", name="Approve with this change").click()

    # then the edited change is applied, marked as edited, and is what the POS took
    expect(page.locator("#proposal-status")).to_have_text("Applied")
    expect(page.locator("#payload tr[data-key='delta'] td")).to_have_text("-2")
    expect(page.locator("#trail")).to_contain_text("Eve Admin (Admin) approved after editing")
    assert server.pos_on_hand("loc_bath_abbey", "84879") == 48

    # and an applied proposal can be reverted, with a reason, on the POS too
    page.get_by_role("button", name="Revert…").click()
    page.get_by_label("Why revert it?").fill("Found the two missing ornaments in the window.")
    page.get_by_role("button", name="Revert on the POS").click()
    expect(page.locator("#proposal-status")).to_have_text("Reverted")
    assert server.pos_on_hand("loc_bath_abbey", "84879") == 50
    assert page.errors == []


def test_an_admin_sets_up_a_region_a_person_a_rule_and_a_rollout_in_settings(
    live_server: LiveServer, page: Any, new_page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    hull = _open_store(server, "loc_hull", "Hull Prospect")
    lincoln = _open_store(server, "loc_lincoln", "Lincoln Bailgate")
    password = server.add_user("ida", "admin", display_name="Ida Admin")
    log_in(page, server, "ida", password)
    page.locator("#nav").get_by_role("link", name="Settings").click()
    tabs = page.get_by_role("navigation", name="Settings sections")
    expect(tabs.get_by_role("link")).to_have_text(
        ["Workflow modes", "Rollouts", "Approval rules", "Users", "Regions"]
    )

    # a region of two stores
    tabs.get_by_role("link", name="Regions").click()
    form = page.locator("#region-form")
    form.get_by_label("Name").fill("Humber")
    form.get_by_label("Hull Prospect").check()
    form.get_by_label("Lincoln Bailgate").check()
    form.get_by_role("button", name="Save region").click()
    expect(form.locator(".notice.ok")).to_have_text("Region Humber now has 2 store(s).")
    expect(page.locator("#regions-table tr[data-region='Humber']")).to_contain_text(
        "Hull Prospect, Lincoln Bailgate"
    )
    assert sorted(server.container.users.regions()["Humber"]) == sorted([hull, lincoln])

    # a regional manager for it, who can then log in and sees those two stores
    tabs.get_by_role("link", name="Users").click()
    form = page.locator("#user-form")
    form.get_by_label("Username").fill("hana")
    form.get_by_label("Name", exact=True).fill("Hana Regional")
    form.get_by_label("Password").fill("correct-horse-battery")
    form.get_by_label("Role").select_option("regional_manager")
    form.get_by_label("Humber").check()
    form.get_by_role("button", name="Add user").click()
    expect(form.locator(".notice.ok")).to_have_text("Added hana as regional manager.")
    expect(page.locator("#users-table tr[data-username='hana']")).to_contain_text("region Humber")
    other = new_page()
    log_in(other, server, "hana", "correct-horse-battery")
    expect(other.locator("#who-scope")).to_have_text("2 stores")

    # a rule: stock adjustments over 75.00 at Hull need a regional manager
    tabs.get_by_role("link", name="Approval rules").click()
    form = page.locator("#rule-form")
    form.get_by_label("Kind").select_option("stock_adjustment")
    form.get_by_label("Store").select_option(hull)
    form.get_by_label("Regional manager must approve above").fill("75.00")
    form.get_by_role("button", name="Save rule").click()
    expect(form.locator(".notice.ok")).to_have_text("Rule saved.")
    rule = server.container.modes.rule_for("stock_adjustment", hull)
    assert str(rule.regional_above) == "75.00"

    # a canary rollout of stock_counts to auto: Hull first, then Lincoln; advanced, rolled back
    tabs.get_by_role("link", name="Rollouts").click()
    form = page.locator("#rollout-form")
    form.get_by_label("Workflow").select_option("stock_counts")
    for store in form.locator("#rollout-stores input").all():
        store.set_checked(store.get_attribute("value") in (hull, lincoln))
    form.get_by_label("Canary list").check()
    form.get_by_role("button", name="Start rollout").click()
    expect(form.locator(".notice.ok")).to_have_text("Started: 1 of 2 stores moved to auto.")
    card = page.locator("article.rollout[data-status='active']")
    expect(card).to_contain_text("Hull Prospect")
    assert server.container.modes.mode_for("stock_counts", hull).mode == "auto"
    card.get_by_role("button", name="Advance to step 2 of 2").click()
    card = page.locator("article.rollout").first
    expect(card).to_have_attribute("data-status", "completed")
    assert server.container.modes.mode_for("stock_counts", lincoln).mode == "auto"
    card.get_by_label("Why roll back?").fill("Too many corrections overridden at Lincoln.")
    card.get_by_role("button", name="Roll back").click()
    expect(page.locator("article.rollout").first).to_have_attribute("data-status", "rolled_back")
    for store in (hull, lincoln):
        assert server.container.modes.mode_for("stock_counts", store).mode == "draft"
    assert page.errors == [] and other.errors == []
