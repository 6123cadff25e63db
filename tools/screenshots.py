"""Screenshots of the dashboard for the README: ``.venv/bin/python tools/screenshots.py``.

What it does, in order:

1. starts the real app on a free 127.0.0.1 port — a fresh SQLite database in a temporary
   directory, the pipeline in its lifespan, and the simulator POS's API mounted at
   ``/simulator`` as the connection's write-back target (``tillwise demo`` serves the same API
   from a process of its own);
2. feeds it a small, realistic data set through the signed generic webhooks: three UK stores,
   ten products from the Online Retail II data set (real SKUs, names and prices), four weeks of
   sales with a weekly rhythm, the POS's stock levels after each trading day, and a morning of
   cycle counts — from which the ``stock_counts`` workflow proposes corrections;
3. sets up people, a region, approval rules, modes and a rollout, and lets people decide a few
   proposals through the API exactly as the dashboard does (session cookie + CSRF token);
4. logs in with Debian's Chromium and writes PNGs of the main pages to ``docs/screenshots/``;
5. plans every store's replenishment as ``tillwise replenish run`` does (the vendors and their
   terms came in as ``vendor.updated`` with the products) and shoots Camden Market's
   Replenishment page and its most at-risk item's forecast chart;
6. sends a week of the tills' sales and refunds with cashiers, registers and tenders (the
   risk workflow in draft scores each one; big refunds and discounts open cases for a manager),
   lets a loss-prevention user decide two cases and start a third, and shoots the Risk page's
   queue (landscape and portrait tablet), that case and its cashier's recent pattern, and the
   exception reports.

Deterministic apart from the dates (the sales end yesterday, so the charts look current).
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo: tests.live

from tests.live import LiveServer, serve_live, wait_for  # noqa: E402

from tillwise.connectors.simulator.pos import count_event
from tillwise.connectors.simulator.purchasing import VENDORS, unit_cost, vendor_of
from tillwise.connectors.simulator.replay import SimEvent, StockChange

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
SECRET = "whsec_screenshots_3f9a1c"
LONDON = ZoneInfo("Europe/London")
MAX_PNG = 200_000

STORES = {  # location id → name
    "camden": "Camden Market",
    "leeds": "Leeds Briggate",
    "bristol": "Bristol Cabot Circus",
}
TRADE = {"camden": 15, "leeds": 9, "bristol": 11}  # sales on an ordinary weekday
WEEKDAY = [0.75, 0.8, 0.9, 1.0, 1.2, 1.6, 1.3]  # Monday … Sunday
PRODUCTS = [  # SKU, name, price (GBP) — from the Online Retail II data set
    ("85123A", "White hanging heart T-light holder", "2.95"),
    ("22423", "Regency cakestand 3 tier", "12.75"),
    ("84879", "Assorted colour bird ornament", "1.69"),
    ("47566", "Party bunting", "4.95"),
    ("85099B", "Jumbo bag red retrospot", "2.08"),
    ("20725", "Lunch bag red retrospot", "1.65"),
    ("21232", "Strawberry ceramic trinket box", "1.25"),
    ("22720", "Set of 3 cake tins pantry design", "4.95"),
    ("22197", "Popcorn holder", "0.85"),
    ("23203", "Jumbo bag vintage doily", "2.08"),
]
PRICES = {sku: Decimal(price) for sku, _, price in PRODUCTS}
NAMES = {sku: name for sku, name, _ in PRODUCTS}
# This morning's cycle counts: (store, SKU, units fewer than the book; negative: more found).
COUNTS = [
    ("camden", "22423", 3),
    ("camden", "85123A", 4),
    ("camden", "47566", -6),
    ("leeds", "22720", 2),
    ("leeds", "21232", 9),
    ("leeds", "84879", 5),
    ("bristol", "22197", 2),
    ("bristol", "22423", 4),
    ("bristol", "85099B", 7),
]


# -- the server --------------------------------------------------------------------------------


def say(text: str, *, err: bool = False) -> None:
    """A progress line (a script, not the library: plain stdout / stderr)."""
    (sys.stderr if err else sys.stdout).write(text + "\n")


def pipeline_idle(live: LiveServer) -> bool:
    stats = live.get("/v1/stats/overview").json()
    return stats["outbox_oldest_seconds"] is None and all(
        c["pending"] == 0 for c in stats["consumers"]
    )


# -- the data set ----------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def feed(live: LiveServer) -> None:
    """Stores, products, four weeks of sales and stock, then this morning's counts."""
    rng = random.Random(20101201)
    today = datetime.now(UTC).astimezone(LONDON).date()
    days = [today - timedelta(days=n) for n in range(28, 0, -1)]
    start = datetime.combine(days[0], datetime.min.time(), LONDON) - timedelta(days=1)
    opening = {(loc, sku): rng.randrange(80, 200) for loc in STORES for sku in PRICES}
    live.pos.stock.open_with(opening)
    sent = 0
    for loc, name in STORES.items():
        data = {
            "id": loc,
            "name": name,
            "time_zone": "Europe/London",
            "country_code": "GB",
            "currency": "GBP",
        }
        for event in live.pos.play(SimEvent(f"loc:{loc}", "location.updated", start, data)):
            live.deliver(event)
    for event in vendor_events(start):
        live.deliver(event)
    for sku, name, price in PRODUCTS:
        data = {"id": sku, "name": name, "sku": sku, "price": price, "currency": "GBP"}
        live.deliver(SimEvent(f"prod:{sku}", "product.created", start, data))
        # the POS's book at the start: what it holds before the four weeks
        for loc in STORES:
            level = live.pos.stock.level((loc, sku))
            at = start + timedelta(minutes=5)
            live.deliver(_level_event(level.location_id, sku, level.on_hand, at, 0))
    for day in days:
        for loc in STORES:
            if day.weekday() == 0:  # Monday's delivery tops up what runs low
                arrival = datetime.combine(day, datetime.min.time(), LONDON) + timedelta(hours=7)
                for sku in PRICES:
                    if live.pos.stock.level((loc, sku)).on_hand < 120:
                        step = StockChange(loc, sku, 144, arrival.astimezone(UTC), f"PO-{day}")
                        for event in live.pos.play(step):
                            live.deliver(event)
            sold: dict[str, int] = {}
            n = max(1, round(TRADE[loc] * WEEKDAY[day.weekday()] * rng.uniform(0.8, 1.2)))
            for i in range(n):
                sale = _sale(rng, loc, day, i, mismatch=(loc == "leeds" and day == days[-1]))
                live.deliver(sale)
                sent += 1
                for line in sale.data["line_items"]:
                    sold[line["sku"]] = sold.get(line["sku"], 0) + line["quantity"]
            closing = datetime.combine(day, datetime.min.time(), LONDON) + timedelta(hours=18)
            for sku, units in sorted(sold.items()):
                step = StockChange(loc, sku, -units, closing.astimezone(UTC), f"{day}:{loc}")
                for event in live.pos.play(step):
                    live.deliver(event)
    wait_for(lambda: pipeline_idle(live), "the sales and stock to be handled")
    morning = datetime.combine(today, datetime.min.time(), LONDON) + timedelta(hours=8)
    for i, (loc, sku, shrink) in enumerate(COUNTS):
        book = live.pos.stock.level((loc, sku)).on_hand
        change = StockChange(
            loc,
            sku,
            0,
            (morning + timedelta(minutes=7 * i)).astimezone(UTC),
            f"C-{today:%m%d}-{i + 1:02d}",
        )
        live.deliver(count_event(change, book - shrink))
    wait_for(lambda: pipeline_idle(live), "the counts to be handled")
    say(f"  fed {sent} sales at {len(STORES)} stores over {len(days)} days, {len(COUNTS)} counts")


def vendor_events(at: datetime) -> list[SimEvent]:
    """The simulator's vendors with the SKUs each supplies (``vendor.updated``): the vendor by
    the simulator's stable hash of the SKU, the cost 60% of the price, cases of 6 below £3."""
    items: dict[str, list[dict[str, Any]]] = {v.id: [] for v in VENDORS}
    for sku, price in PRICES.items():
        vendor = vendor_of(sku)
        pack = 6 if price < 3 else 2
        cost = str(unit_cost(price))
        items[vendor.id].append(
            {"sku": sku, "unit_cost": cost, "case_pack": pack, "moq": vendor.moq_cases * pack}
        )
    return [
        SimEvent(
            f"vendor:{v.id}",
            "vendor.updated",
            at,
            {
                "id": v.id,
                "name": v.name,
                "email": v.email,
                "lead_time_days": v.lead_time_days,
                "currency": "GBP",
                "min_order_value": {"amount": v.min_order_pence, "currency": "GBP"},
                "items": items[v.id],
            },
        )
        for v in VENDORS
        if items[v.id]
    ]


def _level_event(loc: str, sku: str, on_hand: int, at: datetime, version: int) -> SimEvent:
    data = {
        "sku": sku,
        "location_id": loc,
        "on_hand": on_hand,
        "updated_at": _iso(at),
        "version": version,
    }
    return SimEvent(f"level:{loc}:{sku}:v{version}", "inventory.updated", at, data)


def _sale(rng: random.Random, loc: str, day: date, i: int, *, mismatch: bool) -> SimEvent:
    opened = datetime.combine(day, datetime.min.time(), LONDON) + timedelta(hours=9)
    at = opened + timedelta(minutes=rng.randrange(0, 9 * 60))
    skus = rng.sample(sorted(PRICES), k=rng.choice([1, 1, 2, 2, 3, 4]))
    quantities = {s: rng.choice([1, 1, 2, 2, 3, 4, 6]) for s in skus}
    lines = [
        {"sku": s, "name": NAMES[s], "quantity": quantities[s], "price": str(PRICES[s])}
        for s in skus
    ]
    total = sum((PRICES[s] * quantities[s] for s in skus), Decimal(0))
    pence = int(total * 100) + (10 if mismatch and i == 0 else 0)
    txn = f"{loc[:3].upper()}-{day:%y%m%d}-{i + 1:03d}"
    data = {
        "id": txn,
        "location_id": loc,
        "line_items": lines,
        "total_money": {"amount": pence, "currency": "GBP"},
        "tenders": [
            {
                "type": rng.choice(["card", "card", "card", "cash", "wallet"]),
                "amount": {"amount": pence, "currency": "GBP"},
            }
        ],
    }
    return SimEvent(f"sale:{txn}", "sale.completed", at.astimezone(UTC), data)


# -- people and decisions --------------------------------------------------------------------


class Person:
    """A dashboard session through the API: the cookie, and the CSRF token on every change."""

    def __init__(self, live: LiveServer, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=live.url, timeout=30)
        resp = self.client.post("/auth/login", json={"username": username, "password": password})
        resp.raise_for_status()
        self.csrf = resp.json()["csrf_token"]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.client.request(method, path, json=body, headers={"X-CSRF-Token": self.csrf})
        if resp.status_code >= 400:
            raise SystemExit(f"{method} {path}: {resp.status_code} {resp.text}")
        return resp.json()


PEOPLE = {  # username → (role, display name, stores, regions)
    "alex": ("admin", "Alex Morgan", [], []),
    "rita": ("regional_manager", "Rita Jones", [], ["South"]),
    "sam": ("store_manager", "Sam Patel", ["camden"], []),
    "lee": ("store_manager", "Lee Wong", ["leeds"], []),
    "ali": ("associate", "Ali Khan", ["leeds"], []),
}


def set_up_governance(live: LiveServer) -> dict[str, str]:
    """People, a region, rules and modes — before the counts arrive, as an admin would."""
    c = live.container
    c.users.set_region("South", [live.store_key("camden"), live.store_key("bristol")], actor="cli")
    c.users.set_region("North", [live.store_key("leeds")], actor="cli")
    passwords = {}
    for username, (role, name, stores, regions) in PEOPLE.items():
        passwords[username] = f"{username}-{secrets.token_urlsafe(12)}"
        c.users.add(
            username,
            passwords[username],
            role=role,
            actor="cli",
            display_name=name,
            stores=[live.store_key(s) for s in stores],
            regions=regions,
        )
    c.modes.set_mode("stock_counts", "*", "draft", actor="cli", reason="corrections need a person")
    c.modes.set_mode(
        "stock_counts", live.store_key("bristol"), "auto", actor="cli", auto_limit="5.00"
    )
    c.modes.set_mode(
        "replenishment", "*", "draft", actor="cli", reason="purchase orders need a person"
    )
    c.modes.set_rule(
        actor="cli",
        kind="stock_adjustment",
        regional_above="40.00",
        two_approvers_above="250.00",
        expire_after_hours=48,
    )
    return passwords


def decide(live: LiveServer, passwords: dict[str, str]) -> None:
    """A morning's decisions, made as the dashboard makes them."""
    sam, lee, rita, alex = (Person(live, u, passwords[u]) for u in ("sam", "lee", "rita", "alex"))

    def pending(person: Person, location: str, sku: str) -> dict[str, Any]:
        body = person.call("GET", f"/v1/proposals?status=pending&store={live.store_key(location)}")
        return next(p for p in body["data"] if p["payload"]["sku"] == sku)

    sam.call(
        "POST",
        f"/v1/proposals/{pending(sam, 'camden', '85123A')['id']}/approve",
        {"comment": "Matches the shelf; two were broken in the window display."},
    )
    p = pending(lee, "leeds", "21232")
    lee.call(
        "POST",
        f"/v1/proposals/{p['id']}/approve",
        {
            "edits": {"delta": p["payload"]["delta"] + 3},
            "comment": "Three were in the back room; recounted.",
        },
    )
    rita.call(
        "POST",
        f"/v1/proposals/{pending(rita, 'bristol', '85099B')['id']}/reject",
        {"reason": "Recount first: a delivery was being put away during the count."},
    )
    alex.call(
        "POST",
        "/v1/rollouts",
        {
            "workflow": "stock_counts",
            "target_mode": "auto",
            "stores": [live.store_key("leeds"), live.store_key("camden")],
            "canary": True,
            "guardrail": {"max_override_share": 0.3, "window_hours": 168, "min_decisions": 5},
        },
    )
    wait_for(lambda: pipeline_idle(live), "the write-backs to come back")


def plan_stores(live: LiveServer) -> None:
    """Every store's replenishment plan, as ``tillwise replenish run`` makes it."""
    import asyncio

    c = live.container
    for loc in STORES:
        _plan, new = c.planner().run(live.connection_id, loc)
        say(f"  planned {loc}: {new} proposal(s)")
    asyncio.run(c.approvals.route_new())


# -- the pictures ----------------------------------------------------------------------------


def shoot(live: LiveServer, passwords: dict[str, str], out: Path) -> list[Path]:
    from playwright.sync_api import ViewportSize, expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def session(username: str, viewport: ViewportSize) -> Any:
            context = browser.new_context(
                viewport=viewport, locale="en-GB", timezone_id="Europe/London"
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda e: say(f"  page error: {e}", err=True))
            page.goto(f"{live.url}/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(passwords[username])
            page.get_by_role("button", name="Log in").click()
            expect(page.locator("#session")).to_be_visible()
            return page

        def snap(page: Any, name: str, height: int) -> None:
            page.wait_for_timeout(300)  # let the chart's and badges' last paint settle
            path = out / f"{name}.png"
            size = page.viewport_size
            full = page.evaluate("document.documentElement.scrollHeight")
            page.screenshot(
                path=str(path),
                full_page=True,
                clip={"x": 0, "y": 0, "width": size["width"], "height": min(full, height)},
            )
            written.append(path)

        desk: ViewportSize = {"width": 1280, "height": 800}
        alex = session("alex", desk)
        expect(alex.locator("#live")).to_contain_text("Live")
        expect(alex.locator("#sales-chart canvas")).to_have_count(1)
        snap(alex, "overview", 1000)

        alex.goto(f"{live.url}/#/approvals")
        expect(alex.locator(".proposal").first).to_be_visible()
        snap(alex, "approvals", 800)

        rita = session("rita", desk)
        rita.goto(f"{live.url}/#/approvals")
        rita.locator(".proposal", has_text="22423").first.get_by_role("link").click()
        expect(rita.locator("#actions")).to_be_visible()
        snap(rita, "approval", 1100)

        alex.goto(f"{live.url}/#/audit")
        expect(alex.locator("tr.audit-row").first).to_be_visible()
        alex.locator("tr.audit-row[data-action='proposal.approved']").first.get_by_role(
            "button"
        ).click()
        snap(alex, "audit", 1000)

        alex.goto(f"{live.url}/#/settings/modes")
        expect(alex.locator("#modes-table")).to_be_visible()
        snap(alex, "settings", 800)

        lee = session("lee", {"width": 768, "height": 1024})
        lee.goto(f"{live.url}/#/approvals")
        expect(lee.locator(".proposal").first).to_be_visible()
        snap(lee, "approvals-tablet", 1024)
        browser.close()
    return written


def shoot_replenishment(live: LiveServer, passwords: dict[str, str], out: Path) -> list[Path]:
    """Camden Market's replenishment page at tablet size (after the plans: the other pages show
    the morning before them), and the most at-risk item's forecast card."""
    from playwright.sync_api import expect, sync_playwright

    store = live.store_key("camden")
    plan = live.get(f"/v1/replenishment/stores/{store}/plan").json()
    sku = plan["items"][0]["sku"]  # most at risk first
    page_png, chart_png = out / "replenishment.png", out / "replenishment-forecast.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1024, "height": 768}, locale="en-GB", timezone_id="Europe/London"
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda e: say(f"  page error: {e}", err=True))
        page.goto(f"{live.url}/")
        page.get_by_label("Username").fill("sam")
        page.get_by_label("Password").fill(passwords["sam"])
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#session")).to_be_visible()
        page.goto(f"{live.url}/#/replenishment/{store}")
        expect(page.locator("article.po").first).to_be_visible()
        page.wait_for_timeout(300)
        full = page.evaluate("document.documentElement.scrollHeight")
        page.screenshot(
            path=str(page_png),
            full_page=True,
            clip={"x": 0, "y": 0, "width": 1024, "height": min(full, 1024)},
        )
        page.locator(f"#risk-table tbody tr[data-sku='{sku}']").get_by_role("button").click()
        expect(page.locator("#forecast-chart canvas")).to_have_count(1)
        page.wait_for_timeout(300)
        page.locator("#forecast-card").screenshot(path=str(chart_png))
        browser.close()
    return [page_png, chart_png]


# -- loss prevention ---------------------------------------------------------------------------

# A week at the tills: (days ago, London time, store, event, id, employee, pence, details).
# Refunds of £250 or more and discounts of £50 or more need a manager (the defaults), so those
# open cases; the rest are scored and allowed, and make up the cashiers' recent pattern.
TILL = [
    (5, "10:12", "camden", "sale", "CAM-5101", "emp-104", 3850, {}),
    (5, "15:40", "camden", "refund", "CRF-0107", "emp-104", 28900, {}),
    (4, "11:05", "camden", "sale", "CAM-4102", "emp-117", 17240, {"discount": 6800}),
    (4, "16:30", "camden", "sale", "CAM-4103", "emp-122", 2490, {}),
    (3, "12:30", "camden", "sale", "CAM-3101", "emp-104", 6400, {"card": "fp-7c1e"}),
    (3, "13:10", "camden", "refund", "CRF-0112", "emp-104", 26400, {"receipt": "CAM-3101"}),
    (2, "10:45", "camden", "sale", "CAM-2101", "emp-104", 1890, {}),
    (2, "14:05", "camden", "sale", "CAM-2102", "emp-117", 4125, {}),
    (2, "17:20", "camden", "sale", "CAM-2103", "emp-104", 2275, {}),
    (1, "11:50", "leeds", "refund", "LRF-0031", "emp-201", 26000, {}),
    (1, "16:20", "camden", "refund", "CRF-0118", "emp-104", 31250, {"keyed": True}),
    (0, "09:40", "camden", "sale", "CAM-0101", "emp-122", 9860, {"discount": 5500}),
    (0, "now", "camden", "refund", "CRF-0121", "emp-117", 27500, {}),
]
PRODUCT = ("22423", "Regency cakestand 3 tier")


def _till_event(
    loc: str, kind: str, ref: str, emp: str, pence: int, extra: dict[str, Any], at: datetime
) -> SimEvent:
    discount = extra.get("discount", 0)
    line = {
        "sku": PRODUCT[0],
        "name": PRODUCT[1],
        "quantity": 1,
        "price": f"{(pence + discount) / 100:.2f}",
    }
    if kind == "sale":
        tender: dict[str, Any] = {
            "type": "card",
            "amount": {"amount": pence, "currency": "GBP"},
            "last4": "4242",
            "entry_method": "tapped",
            "card_fingerprint": extra.get("card", f"fp-{ref.lower()}"),
        }
        data: dict[str, Any] = {
            "id": ref,
            "location_id": loc,
            "employee_id": emp,
            "register_id": f"{loc[:3]}-reg-2",
            "line_items": [line],
            "tenders": [tender],
            "total_money": {"amount": pence, "currency": "GBP"},
        }
        if discount:
            data["discounts"] = [
                {"name": "Staff", "amount": {"amount": discount, "currency": "GBP"}}
            ]
        return SimEvent(f"till:{ref}", "sale.completed", at, data)
    refund_tender: dict[str, Any] = {"type": "cash", "amount": {"amount": pence, "currency": "GBP"}}
    if extra.get("keyed"):
        refund_tender = {
            "type": "card",
            "amount": {"amount": pence, "currency": "GBP"},
            "last4": "0019",
            "entry_method": "keyed",
        }
    data = {
        "id": ref,
        "location_id": loc,
        "employee_id": emp,
        "register_id": f"{loc[:3]}-reg-1",
        "line_items": [line],
        "tenders": [refund_tender],
        "total_money": {"amount": pence, "currency": "GBP"},
    }
    if extra.get("receipt"):
        data["receipt_transaction_id"] = extra["receipt"]
    return SimEvent(f"till:{ref}", "refund.created", at, data)


def feed_risk(live: LiveServer, passwords: dict[str, str]) -> None:
    """The week's till events through the webhooks; a loss-prevention user works three cases."""
    from sqlalchemy import select, update

    from tillwise.store.tables_risk import risk_cases

    c = live.container
    c.modes.set_mode("risk", "*", "draft", actor="cli", reason="a manager decides big refunds")
    passwords["dana"] = f"dana-{secrets.token_urlsafe(12)}"
    c.users.add(
        "dana",
        passwords["dana"],
        role="loss_prevention",
        actor="cli",
        display_name="Dana Reyes",
        stores=[live.store_key("camden"), live.store_key("leeds")],
        regions=[],
    )
    now = datetime.now(UTC)
    today = now.astimezone(LONDON).date()
    for ago, clock, loc, kind, ref, emp, pence, extra in TILL:
        if clock == "now":
            at = now - timedelta(minutes=35)
        else:
            hour, minute = (int(x) for x in clock.split(":"))
            local = datetime.combine(today - timedelta(days=ago), datetime.min.time(), LONDON)
            at = (local + timedelta(hours=hour, minutes=minute)).astimezone(UTC)
        live.deliver(_till_event(loc, kind, ref, emp, pence, extra, at))
    wait_for(lambda: pipeline_idle(live), "the till's events to be scored")
    # The events came in a burst just now; at a real store each case opened as its event
    # arrived. Date each case back to a minute after its event, keeping its SLA window.
    with c.engine.begin() as db:
        for row in db.execute(select(risk_cases)).all():
            opened = row.occurred_at + timedelta(minutes=1)
            db.execute(
                update(risk_cases)
                .where(risk_cases.c.id == row.id)
                .values(
                    created_at=opened,
                    updated_at=opened,
                    sla_due=opened + (row.sla_due - row.created_at),
                )
            )
    dana = Person(live, "dana", passwords["dana"])
    cases = {x["event_id"]: x for x in dana.call("GET", "/v1/risk/cases?limit=200")["items"]}
    say(f"  {len(TILL)} till events scored, {len(cases)} case(s) opened")
    for event_id, state, note in (
        ("CRF-0107", "confirmed", "No customer at the till on CCTV; cash taken from the drawer."),
        ("CAM-4102", "dismissed", "Staff discount on a damaged display, agreed by Sam."),
        ("CRF-0118", None, None),
    ):
        path = f"/v1/risk/cases/{cases[event_id]['id']}/state"
        dana.call("POST", path, {"state": "in_review"})
        if state:
            dana.call("POST", path, {"state": state, "note": note})


def shoot_risk(live: LiveServer, passwords: dict[str, str], out: Path) -> list[Path]:
    """The Risk page as the loss-prevention user: the queue (landscape and portrait tablet), the
    case in review and its employee's recent pattern, and the exception reports."""
    from playwright.sync_api import ViewportSize, expect, sync_playwright

    case = next(
        x
        for x in live.get("/v1/risk/cases", limit=200).json()["items"]
        if x["event_id"] == "CRF-0118"
    )
    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def session(viewport: ViewportSize) -> Any:
            context = browser.new_context(
                viewport=viewport, locale="en-GB", timezone_id="Europe/London"
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda e: say(f"  page error: {e}", err=True))
            page.goto(f"{live.url}/")
            page.get_by_label("Username").fill("dana")
            page.get_by_label("Password").fill(passwords["dana"])
            page.get_by_role("button", name="Log in").click()
            expect(page.locator("#session")).to_be_visible()
            return page

        def snap(page: Any, name: str, height: int) -> None:
            page.wait_for_timeout(300)
            path = out / f"{name}.png"
            size = page.viewport_size
            full = page.evaluate("document.documentElement.scrollHeight")
            page.screenshot(
                path=str(path),
                full_page=True,
                clip={"x": 0, "y": 0, "width": size["width"], "height": min(full, height)},
            )
            written.append(path)

        page = session({"width": 1024, "height": 768})
        page.goto(f"{live.url}/#/risk?state=any")
        expect(page.locator("#case-list .case").first).to_be_visible()
        snap(page, "risk", 900)
        page.goto(f"{live.url}/#/risk/case/{case['id']}")
        expect(page.locator("#pattern-chart canvas")).to_have_count(1)
        page.locator("#decision-note").fill("Keyed card refund, no receipt: checking the card")
        page.locator("#decision-note").blur()
        page.evaluate("window.scrollTo(0, 0)")
        snap(page, "risk-case", 1300)
        # the pattern card alone, from the top of the page (the sticky bar stays out of it)
        page.evaluate("window.scrollTo(0, 0)")
        box = page.locator("#case-pattern").bounding_box()
        pattern = out / "risk-pattern.png"
        page.screenshot(path=str(pattern), full_page=True, clip=box)
        written.append(pattern)
        page.goto(f"{live.url}/#/risk/reports")
        expect(page.locator("#report-chart canvas")).to_have_count(1)
        snap(page, "risk-reports", 1000)
        portrait = session({"width": 768, "height": 1024})
        portrait.goto(f"{live.url}/#/risk")
        expect(portrait.locator("#case-list .case").first).to_be_visible()
        snap(portrait, "risk-tablet", 1024)
        browser.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="tillwise-shots-") as tmp,
        serve_live(Path(tmp), secret=SECRET) as live,
    ):
        say(f"serving {live.url}")
        passwords = set_up_governance(live)
        feed(live)
        decide(live, passwords)
        paths = shoot(live, passwords, args.out)
        plan_stores(live)
        paths += shoot_replenishment(live, passwords, args.out)
        feed_risk(live, passwords)
        paths += shoot_risk(live, passwords, args.out)
    too_big = []
    for path in paths:
        size = path.stat().st_size
        say(
            f"  wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
            f"({size // 1024} KB)"
        )
        if size > MAX_PNG:
            too_big.append(path.name)
    if too_big:
        say(f"larger than {MAX_PNG // 1000} KB: {', '.join(too_big)}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
