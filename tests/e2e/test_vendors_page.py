"""The Vendors page, end to end: the real app, the simulator POS's connection, Debian's Chromium.

The POS sends, as signed generic webhooks, two stores and two vendors with their terms: Kettle
& Co (a 4-day lead time, a £150.00 minimum, two mugs in cases of 6 and 12) and Bulk Paper Ltd
(150 items — hundreds are possible, so a vendor's items stay folded until opened). Then:

* a buyer of both stores opens Vendors from the Replenishment page, changes Kettle & Co's lead
  time and one mug's case pack in place: the page shows the new terms, the API serves them,
  and each change is audited as ``vendor.terms_imported`` by that buyer;
* a lead time of 400 days, and a unit cost without its currency, are refused by the API and
  shown next to the form with the field named and marked invalid; nothing changes;
* a buyer of one of the two stores is refused (terms hold for every store of the connection),
  and the page says why;
* an associate sees the terms, read only;
* the folded items open at an item named in the address (the Replenishment page links a plan
  item's vendor that way), and can be searched;
* a value set in Tillwise over the POS's is marked "set in Tillwise", and a buyer takes a lead
  time and a case pack back to the POS's values ("Use the POS's lead time"); an associate sees
  the marks but nothing to take them back with; a vendor only Tillwise knows keeps its name.

The tests share one server, in this order: each reads the terms it starts from.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.live import LiveServer, wait_for

from .conftest import log_in

pytestmark = pytest.mark.browser

NORTH, SOUTH = "loc_north", "loc_south"
KETTLE, PAPER = "ven-kettle", "ven-paper"
KETTLE_NAME, PAPER_NAME = "Kettle & Co", "Bulk Paper Ltd"
MUG, JUG = "MUG-1", "JUG-2"
PAPER_SKUS = [f"P-{n:04d}" for n in range(1, 151)]
IMPORTED = "vendor.terms_imported"
SET_HERE = "set in Tillwise"
HIDDEN = "Not shown to your role"  # in place of a cost, for a role without costs:read


def vendors(server: LiveServer) -> dict[str, dict[str, Any]]:
    resp = server.get("/v1/vendors", connection_id=server.connection_id)
    assert resp.status_code == 200, resp.text
    return {v["vendor_id"]: v for v in resp.json()}


def items_of(vendor: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["sku"]: i for i in vendor["items"]}


def as_shown(text: str, thing: dict[str, Any], field: str) -> str:
    """A value as the page shows it: marked when it was set in Tillwise over the POS's."""
    return f"{text} {SET_HERE}" if field in thing["set_in_tillwise"] else text


def patch_terms(server: LiveServer, vendor_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """PATCH a vendor's terms as a machine (the admin token), as an integration would."""
    resp = httpx.patch(
        f"{server.url}/v1/vendors/{server.connection_id}/{vendor_id}/terms",
        json=body,
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    vendor: dict[str, Any] = resp.json()
    return vendor


def audited(server: LiveServer, actor: str) -> list[dict[str, Any]]:
    entries = server.get("/v1/audit", action=IMPORTED, actor=actor).json()["data"]
    assert all(e["actor"] == actor and e["action"] == IMPORTED for e in entries)
    return list(entries)


def user_id(server: LiveServer, username: str) -> str:
    user = server.container.users.by_username(username)
    assert user is not None
    return f"user:{user.id}"


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> dict[str, Any]:
    server = live_server
    for loc, name in ((NORTH, "North Street"), (SOUTH, "South Street")):
        server.send("location.updated", {"id": loc, "name": name, "currency": "GBP"})
    server.send(
        "vendor.updated",
        {
            "id": KETTLE,
            "name": KETTLE_NAME,
            "email": "orders@kettle.example",
            "lead_time_days": 4,
            "currency": "GBP",
            "min_order_value": {"amount": 15000, "currency": "GBP"},
            "items": [
                {"sku": MUG, "unit_cost": "1.53", "case_pack": 6, "moq": 0, "vendor_sku": "K-MUG"},
                {"sku": JUG, "unit_cost": "4.20", "case_pack": 12, "moq": 24},
            ],
        },
    )
    server.send(
        "vendor.updated",
        {
            "id": PAPER,
            "name": PAPER_NAME,
            "lead_time_days": 10,
            "currency": "GBP",
            "items": [{"sku": sku, "unit_cost": "0.25", "case_pack": 50} for sku in PAPER_SKUS],
        },
    )
    stores = [server.store_key(NORTH), server.store_key(SOUTH)]
    wait_for(lambda: len(server.get("/v1/stores").json()["data"]) >= 2, "the two stores to arrive")
    wait_for(lambda: {KETTLE, PAPER} <= set(vendors(server)), "the vendors to arrive")
    return {"stores": stores}


def test_a_buyer_of_every_store_changes_a_lead_time_and_a_case_pack(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    before = vendors(server)[KETTLE]
    assert before["lead_time_days"] == 4 and items_of(before)[MUG]["case_pack"] == 6
    password = server.add_user("bea", "buyer", stores=seeded["stores"], display_name="Bea Lund")
    bea = user_id(server, "bea")
    assert audited(server, bea) == []

    # when the buyer opens Replenishment, then its link to the vendors' terms
    log_in(page, server, "bea", password)
    page.locator("#nav").get_by_role("link", name="Replenishment").click()
    page.get_by_role("link", name="vendor terms").click()

    # then the connection's vendors are listed with their terms
    expect(page).to_have_url(re.compile(rf"#/vendors/{server.connection_id}$"))
    expect(page.locator("#nav a[aria-current='page']")).to_have_count(0)
    card = page.locator(f"article.vendor[data-vendor='{KETTLE}']")
    expect(card.get_by_role("heading", name=KETTLE_NAME)).to_be_visible()
    expect(card.locator("[data-term='lead_time_days'] dd")).to_have_text("4 days")
    expect(card.locator("[data-term='email'] dd")).to_have_text("orders@kettle.example")
    expect(card.locator("[data-term='min_order_value'] dd")).to_have_text("£150.00")
    expect(page.locator("#vendors-help")).to_contain_text(
        f"tillwise vendors import FILE --connection {server.connection_id}"
    )

    # when they change the lead time from 4 to 9 days
    card.get_by_role("button", name=f"Change terms of {KETTLE_NAME}").click()
    form = card.get_by_role("form", name=f"Terms of {KETTLE_NAME}")
    lead = form.get_by_label("Lead time (days)")
    expect(lead).to_be_focused()
    expect(lead).to_have_value("4")
    lead.fill("9")
    form.get_by_role("button", name="Save terms").click()

    # then it is said and shown, and the form is closed
    expect(card.get_by_role("status")).to_have_text("Saved: lead time 9 days.")
    expect(card.locator("[data-term='lead_time_days'] dd")).to_have_text(f"9 days {SET_HERE}")
    expect(form).to_have_count(0)
    expect(card.get_by_role("button", name=f"Change terms of {KETTLE_NAME}")).to_be_focused()

    # when they open the vendor's items and change the mug's case pack from 6 to 24
    card.locator("summary").click()
    row = card.locator(f"tr[data-sku='{MUG}']")
    expect(row.locator("[data-col='case_pack']")).to_have_text("6")
    expect(row.locator("[data-col='unit_cost']")).to_have_text("£1.53")
    row.get_by_role("button", name=f"Change terms of SKU {MUG}").click()
    item_form = card.get_by_role("form", name=f"Terms of SKU {MUG}")
    item_form.get_by_label(f"Case pack of {MUG}").fill("24")
    item_form.get_by_role("button", name="Save").click()

    # then the row shows it (the items stay open), the other terms as they were
    expect(card.get_by_role("status")).to_have_text(f"Saved for {MUG}: case pack 24.")
    expect(row.locator("[data-col='case_pack']")).to_have_text(f"24 {SET_HERE}")
    expect(row.locator("[data-col='unit_cost']")).to_have_text("£1.53")
    expect(row.locator("[data-col='moq']")).to_have_text("0")
    expect(item_form).to_have_count(0)
    expect(row.get_by_role("button", name=f"Change terms of SKU {MUG}")).to_be_focused()
    expect(card.locator(f"tr[data-sku='{JUG}'] [data-col='case_pack']")).to_have_text("12")
    expect(card.locator("[data-term='lead_time_days'] dd")).to_have_text(f"9 days {SET_HERE}")

    # and the API serves the new terms, nothing else changed
    after = vendors(server)[KETTLE]
    assert after["lead_time_days"] == 9
    assert items_of(after)[MUG] == {
        **items_of(before)[MUG],
        "case_pack": 24,
        "set_in_tillwise": ["case_pack"],
    }
    assert items_of(after)[JUG] == items_of(before)[JUG]
    assert after["email"] == before["email"]
    assert after["min_order_value"] == before["min_order_value"]
    # and each change is audited, by the buyer, as terms set over the API
    entries = audited(server, bea)
    assert len(entries) == 2
    assert all(e["store"] == server.connection_id for e in entries)
    assert all(e["inputs"]["source"] == "api" for e in entries)
    assert page.errors == []


def test_a_bad_lead_time_or_a_cost_without_currency_is_refused_naming_the_field(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    before = vendors(server)
    password = server.add_user("cal", "buyer", stores=seeded["stores"], display_name="Cal")
    cal = user_id(server, "cal")
    log_in(page, server, "cal", password)
    page.goto(f"{server.url}/#/vendors/{server.connection_id}")
    card = page.locator(f"article.vendor[data-vendor='{KETTLE}']")
    shown = card.locator("[data-term='lead_time_days'] dd")
    lead_before = as_shown(
        f"{before[KETTLE]['lead_time_days']} days", before[KETTLE], "lead_time_days"
    )
    expect(shown).to_have_text(lead_before)

    # when the buyer asks for a lead time of 400 days
    card.get_by_role("button", name=f"Change terms of {KETTLE_NAME}").click()
    form = card.get_by_role("form", name=f"Terms of {KETTLE_NAME}")
    lead = form.get_by_label("Lead time (days)")
    lead.fill("400")
    form.get_by_role("button", name="Save terms").click()

    # then the API's refusal is shown next to the form, naming the field, which is marked
    alert = form.get_by_role("alert")
    expect(alert).to_contain_text("Not saved")
    expect(alert).to_contain_text("Lead time (days): Input should be less than or equal to 365")
    expect(alert).to_contain_text("(field lead_time_days)")
    expect(lead).to_have_attribute("aria-invalid", "true")
    expect(lead).to_be_focused()
    assert re.search(r"\berror", lead.get_attribute("aria-describedby") or "")
    assert [s for s, u in page.refused if "/terms" in u] == [422]
    expect(shown).to_have_text(lead_before)  # the terms shown are as they were

    # when they open an item and give a unit cost with its currency removed
    card.locator("summary").click()
    row = card.locator(f"tr[data-sku='{JUG}']")
    row.get_by_role("button", name=f"Change terms of SKU {JUG}").click()
    item_form = card.get_by_role("form", name=f"Terms of SKU {JUG}")
    currency = item_form.get_by_label(f"Currency of {JUG}")
    expect(currency).to_have_value("GBP")
    currency.fill("")
    item_form.get_by_label(f"Unit cost of {JUG}").fill("3.99")
    item_form.get_by_role("button", name="Save").click()

    # then the refusal names the currency
    alert = item_form.get_by_role("alert")
    expect(alert).to_contain_text("Currency: required with min_order_value or a unit_cost")
    expect(alert).to_contain_text("(field currency)")
    expect(currency).to_have_attribute("aria-invalid", "true")
    expect(currency).to_be_focused()
    expect(row.locator("[data-col='unit_cost']")).to_have_text("£4.20")
    assert [s for s, u in page.refused if "/terms" in u] == [422, 422]

    # and Escape closes the form, the item as it was
    currency.press("Escape")
    expect(item_form).to_have_count(0)
    expect(row.get_by_role("button", name=f"Change terms of SKU {JUG}")).to_be_focused()

    # nothing changed, and nothing was audited
    assert vendors(server) == before
    assert audited(server, cal) == []
    assert page.errors == []


def test_a_buyer_of_some_of_the_stores_is_told_why_they_cannot_change_terms(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    before = vendors(server)
    north = seeded["stores"][0]
    password = server.add_user("dee", "buyer", stores=[north], display_name="Dee")
    log_in(page, server, "dee", password)
    page.goto(f"{server.url}/#/vendors")

    # the buyer of one store sees the connection's vendors, and may try (the server decides)
    expect(page).to_have_url(re.compile(rf"#/vendors/{server.connection_id}$"))
    card = page.locator(f"article.vendor[data-vendor='{KETTLE}']")
    card.get_by_role("button", name=f"Change terms of {KETTLE_NAME}").click()
    form = card.get_by_role("form", name=f"Terms of {KETTLE_NAME}")
    form.get_by_label("E-mail for purchase orders").fill("buying@kettle.example")
    form.get_by_role("button", name="Save terms").click()

    # then the server's reason is shown next to the form
    expect(form.get_by_role("alert")).to_have_text(
        "Not saved: Not allowed: vendor terms apply to every store of the connection: "
        "only a role over all of them sets them"
    )
    assert [s for s, u in page.refused if "/terms" in u] == [403]
    assert vendors(server) == before
    assert page.errors == []


def test_an_associate_sees_the_terms_read_only(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    kettle = vendors(server)[KETTLE]
    north = seeded["stores"][0]
    password = server.add_user("ana", "associate", stores=[north], display_name="Ana")
    log_in(page, server, "ana", password)
    page.goto(f"{server.url}/#/vendors/{server.connection_id}")

    # then the terms are shown
    card = page.locator(f"article.vendor[data-vendor='{KETTLE}']")
    expect(card.locator("[data-term='lead_time_days'] dd")).to_have_text(
        as_shown(f"{kettle['lead_time_days']} days", kettle, "lead_time_days")
    )
    # but not what the stock costs: an associate has no costs:read
    expect(card.locator("[data-term='min_order_value'] dd")).to_have_text(HIDDEN)
    expect(card.locator("summary")).to_have_text(f"{len(kettle['items'])} items: case pack, MOQ")
    card.locator("summary").click()
    mug = items_of(kettle)[MUG]
    assert mug["unit_cost"]  # read by an admin
    expect(card.locator(f"tr[data-sku='{MUG}'] [data-col='case_pack']")).to_have_text(
        as_shown(str(mug["case_pack"]), mug, "case_pack")
    )
    expect(card.locator("thead th")).to_have_text(["SKU", "Case pack", "MOQ"])
    expect(card).not_to_contain_text("£")
    # but nothing to change them with
    expect(page.locator("article.vendor")).to_have_count(2)
    expect(page.get_by_role("button", name=re.compile("^Change"))).to_have_count(0)
    expect(page.locator("#page-vendors form input:not([type='search'])")).to_have_count(0)
    expect(page.locator("#vendors-help")).not_to_contain_text("audited")
    assert not [r for r in page.refused if r[0] == 403]
    assert page.errors == []


def test_a_vendors_many_items_stay_folded_and_open_at_an_item_named_in_the_address(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    password = server.add_user("eve", "buyer", stores=seeded["stores"], display_name="Eve")
    log_in(page, server, "eve", password)
    page.goto(f"{server.url}/#/vendors/{server.connection_id}")

    # the 150 items are counted, but not drawn until opened
    card = page.locator(f"article.vendor[data-vendor='{PAPER}']")
    expect(card.locator("summary")).to_have_text("150 items: unit cost, case pack, MOQ")
    expect(card.locator("tr[data-sku]")).to_have_count(0)

    # when the page is opened at one of them (as the Replenishment page links an item's vendor)
    sku = PAPER_SKUS[122]
    page.goto(f"{server.url}/#/vendors/{server.connection_id}?sku={sku}&name=Bulk+Paper+Ltd")

    # then its vendor's items are open, at that item
    card = page.locator(f"article.vendor[data-vendor='{PAPER}']")
    row = card.locator(f"tr[data-sku='{sku}']")
    expect(card.locator("details")).to_have_attribute("open", "")
    expect(row).to_have_class(re.compile("current"))
    expect(row.get_by_role("button", name=f"Change terms of SKU {sku}")).to_be_focused()
    expect(card.locator("tr[data-sku]")).to_have_count(150)

    # and the items can be searched
    card.get_by_label(f"Find an item of {PAPER_NAME}").fill("P-014")
    expect(card.locator("tr[data-sku]:visible")).to_have_count(10)  # P-0140 … P-0149
    # as can the vendors, by an item's SKU
    page.locator("#vendors-find").fill(MUG.lower())
    expect(page.locator("article.vendor:visible")).to_have_count(1)
    expect(page.locator(f"article.vendor[data-vendor='{KETTLE}']")).to_be_visible()
    expect(page.locator("#vendors-meta")).to_contain_text("1 shown")
    assert page.errors == []


def test_a_buyer_takes_a_lead_time_back_to_the_pos_value(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    before = vendors(server)[PAPER]
    assert before["lead_time_days"] == 10 and before["set_in_tillwise"] == []
    password = server.add_user("fay", "buyer", stores=seeded["stores"], display_name="Fay")
    fay = user_id(server, "fay")
    log_in(page, server, "fay", password)
    page.goto(f"{server.url}/#/vendors/{server.connection_id}")

    # the POS's lead time is shown as the POS's, with nothing to take back
    card = page.locator(f"article.vendor[data-vendor='{PAPER}']")
    shown = card.locator("[data-term='lead_time_days'] dd")
    expect(shown).to_have_text("10 days")
    expect(shown).to_have_attribute("title", "From the POS")
    expect(card.get_by_text(SET_HERE, exact=True)).to_have_count(0)
    card.get_by_role("button", name=f"Change terms of {PAPER_NAME}").click()
    form = card.get_by_role("form", name=f"Terms of {PAPER_NAME}")
    expect(form.get_by_role("button", name=re.compile("^Use the POS's"))).to_have_count(0)

    # when the buyer sets a lead time of 12 days
    form.get_by_label("Lead time (days)").fill("12")
    form.get_by_role("button", name="Save terms").click()

    # then it is marked as set in Tillwise
    expect(card.get_by_role("status")).to_have_text("Saved: lead time 12 days.")
    expect(shown).to_have_text(f"12 days {SET_HERE}")
    expect(shown.get_by_text(SET_HERE, exact=True)).to_be_visible()
    expect(shown).to_have_attribute("title", "Set in Tillwise, over the POS's value")
    expect(card.get_by_text(SET_HERE, exact=True)).to_have_count(1)  # nothing else is

    # when they open the terms again: only the lead time (not the name, the POS's) can go back
    card.get_by_role("button", name=f"Change terms of {PAPER_NAME}").click()
    expect(form.get_by_role("button", name=re.compile("^Use the POS's"))).to_have_count(1)
    expect(form.get_by_role("button", name="Use the POS's name")).to_have_count(0)
    back = form.get_by_role("button", name="Use the POS's lead time")
    expect(back).to_have_text("Use the POS's lead time")
    # and it is reached from the keyboard, right after the lead time
    expect(form.get_by_label("Lead time (days)")).to_be_focused()
    page.keyboard.press("Tab")
    expect(back).to_be_focused()
    page.keyboard.press("Enter")

    # then the POS's lead time is shown again, unmarked, and the form is closed
    expect(card.get_by_role("status")).to_have_text("Lead time: back to the POS's value.")
    expect(shown).to_have_text("10 days")
    expect(shown).to_have_attribute("title", "From the POS")
    expect(card.get_by_text(SET_HERE, exact=True)).to_have_count(0)
    expect(form).to_have_count(0)
    expect(card.get_by_role("button", name=f"Change terms of {PAPER_NAME}")).to_be_focused()

    # and the API agrees: the POS's lead time, nothing set in Tillwise, the rest as it was
    after = vendors(server)[PAPER]
    assert after == before
    # both the change and its taking back are audited, by the buyer
    entries = audited(server, fay)
    assert len(entries) == 2
    assert [e["inputs"].get("cleared") for e in entries if "cleared" in e["inputs"]] == [
        {PAPER: {"fields": ["lead_time_days"], "items": {}}}
    ]
    assert page.errors == []


def test_a_buyer_takes_an_items_case_pack_back_to_the_pos_value(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    before = vendors(server)[KETTLE]
    jug = items_of(before)[JUG]
    assert jug["case_pack"] == 12 and jug["set_in_tillwise"] == []
    password = server.add_user("gus", "buyer", stores=seeded["stores"], display_name="Gus")
    log_in(page, server, "gus", password)
    page.goto(f"{server.url}/#/vendors/{server.connection_id}")
    card = page.locator(f"article.vendor[data-vendor='{KETTLE}']")
    card.locator("summary").click()
    row = card.locator(f"tr[data-sku='{JUG}']")
    pack = row.locator("[data-col='case_pack']")
    expect(pack).to_have_text("12")
    expect(pack).to_have_attribute("title", "From the POS")
    expect(row.get_by_text(SET_HERE, exact=True)).to_have_count(0)

    # when the buyer sets the jug's case pack to 18 (nothing to take back before)
    change = row.get_by_role("button", name=f"Change terms of SKU {JUG}")
    change.click()
    item_form = card.get_by_role("form", name=f"Terms of SKU {JUG}")
    expect(item_form.get_by_role("button", name=re.compile("^Use the POS's"))).to_have_count(0)
    item_form.get_by_label(f"Case pack of {JUG}").fill("18")
    item_form.get_by_role("button", name="Save").click()

    # then the case pack is marked as set in Tillwise, the jug's other terms not
    expect(card.get_by_role("status")).to_have_text(f"Saved for {JUG}: case pack 18.")
    expect(pack).to_have_text(f"18 {SET_HERE}")
    expect(row.locator("[data-col='unit_cost']")).to_have_text("£4.20")
    expect(row.locator("[data-col='moq']")).to_have_text("24")

    # when they open the jug's terms and take its case pack back
    change.click()
    expect(item_form.get_by_role("button", name=re.compile("^Use the POS's"))).to_have_count(1)
    back = item_form.get_by_role("button", name=f"Use the POS's case pack of {JUG}")
    expect(back).to_have_text("Use the POS's case pack")
    back.click()

    # then the POS's case pack is shown again, unmarked; the items stay open
    expect(card.get_by_role("status")).to_have_text(f"Case pack of {JUG}: back to the POS's value.")
    expect(pack).to_have_text("12")
    expect(pack).to_have_attribute("title", "From the POS")
    expect(row.get_by_text(SET_HERE, exact=True)).to_have_count(0)
    expect(item_form).to_have_count(0)
    expect(change).to_be_focused()

    # and the API agrees: the jug as the POS has it, the vendor's other terms as they were
    after = vendors(server)[KETTLE]
    assert items_of(after)[JUG] == jug
    assert after == before
    assert page.errors == []


def test_an_associate_sees_what_is_set_in_tillwise_but_cannot_take_it_back(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    # an integration sets Kettle & Co's e-mail and the jug's MOQ over the POS's
    kettle = patch_terms(
        server, KETTLE, {"email": "buying@kettle.example", "items": [{"sku": JUG, "moq": 36}]}
    )
    assert {"email"} <= set(kettle["set_in_tillwise"])
    assert items_of(kettle)[JUG]["set_in_tillwise"] == ["moq"]
    north = seeded["stores"][0]
    password = server.add_user("ivy", "associate", stores=[north], display_name="Ivy")
    log_in(page, server, "ivy", password)
    page.goto(f"{server.url}/#/vendors/{server.connection_id}")

    # then the associate sees those values marked, the POS's ones not
    card = page.locator(f"article.vendor[data-vendor='{KETTLE}']")
    email = card.locator("[data-term='email'] dd")
    expect(email).to_have_text(f"buying@kettle.example {SET_HERE}")
    expect(email.get_by_text(SET_HERE, exact=True)).to_be_visible()
    expect(card.locator("[data-term='min_order_value'] dd")).to_have_text(HIDDEN)
    expect(card.locator("[data-term='min_order_value'] dd")).to_have_attribute(
        "title", "Your role does not see costs"
    )
    card.locator("summary").click()
    row = card.locator(f"tr[data-sku='{JUG}']")
    expect(row.locator("[data-col='moq']")).to_have_text(f"36 {SET_HERE}")
    expect(row.locator("[data-col='case_pack']")).to_have_text("12")
    expect(row.locator("[data-col='unit_cost']")).to_have_count(0)
    # but nothing to take them back (or change them) with
    expect(page.get_by_role("button", name=re.compile("Use the POS's"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Change"))).to_have_count(0)
    expect(page.locator("#page-vendors form input:not([type='search'])")).to_have_count(0)
    assert not [r for r in page.refused if r[0] == 403]
    assert page.errors == []

    # (the integration takes its terms back: the POS's again)
    kettle = patch_terms(server, KETTLE, {"email": None, "items": [{"sku": JUG, "moq": None}]})
    assert "email" not in kettle["set_in_tillwise"]
    assert kettle["email"] == "orders@kettle.example"
    assert items_of(kettle)[JUG]["moq"] == 24 and items_of(kettle)[JUG]["set_in_tillwise"] == []


def test_a_vendor_only_tillwise_knows_keeps_its_name(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    server = live_server
    local = patch_terms(server, "ven-local", {"name": "Local Dairy", "lead_time_days": 2})
    assert local["pos_knows"] is False
    assert {"name", "lead_time_days"} <= set(local["set_in_tillwise"])
    password = server.add_user("joe", "buyer", stores=seeded["stores"], display_name="Joe")
    log_in(page, server, "joe", password)
    page.goto(f"{server.url}/#/vendors/{server.connection_id}")

    # the vendor's name and lead time are marked as set in Tillwise
    card = page.locator("article.vendor[data-vendor='ven-local']")
    expect(card.locator("header").get_by_text(SET_HERE, exact=True)).to_be_visible()
    expect(card.locator("[data-term='lead_time_days'] dd")).to_have_text(f"2 days {SET_HERE}")

    # when the buyer opens its terms: the lead time may go back (the POS has none), the name not
    card.get_by_role("button", name="Change terms of Local Dairy").click()
    form = card.get_by_role("form", name="Terms of Local Dairy")
    expect(form.get_by_role("button", name="Use the POS's lead time")).to_be_visible()
    expect(form.get_by_role("button", name="Use the POS's name")).to_have_count(0)
    form.get_by_role("button", name="Use the POS's lead time").click()

    # then the lead time is not set (the POS gives none), the vendor stays, named
    expect(card.get_by_role("status")).to_have_text("Lead time: back to the POS's value.")
    expect(card.locator("[data-term='lead_time_days'] dd")).to_have_text("not set")
    expect(card.get_by_role("heading", name="Local Dairy")).to_be_visible()
    local = vendors(server)["ven-local"]
    assert local["lead_time_days"] is None and local["set_in_tillwise"] == ["name"]
    assert page.errors == []
