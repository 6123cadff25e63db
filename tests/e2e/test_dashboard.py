"""The dashboard, end to end: people log in, a signed webhook goes in, the pipeline runs, and
the overview shows it — and what the page is made of (no browser needed for those checks).

The browser tests (marker ``browser``) drive Debian's Chromium against the real app.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    WEBHOOK_SECRET,
    log_in,
)
from tests.helpers import REFERENCE_SALE_BYTES, signed_headers
from tests.live import LiveServer, wait_for
from tillwise.web.routes import STATIC_DIR, TEMPLATES_DIR

SCREENSHOT = Path("/tmp/dashboard.png")
JS = STATIC_DIR / "js"
_IMPORT = re.compile(r"""^(?:import|export)\s[^;]*?from\s+["']([^"']+)["']""", re.M)


# -- what is served (no browser needed) ---------------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0
        self.style_attrs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.refs.append(str(values[name]))
        if tag == "script" and not values.get("src"):
            self.inline_scripts += 1
        if "style" in values:
            self.style_attrs += 1


def _module_graph(entry: Path) -> set[Path]:
    """Every module ``entry`` imports, directly or not."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for target in _IMPORT.findall(module.read_text()):
            todo.append((module.parent / target).resolve())
    return seen


def test_page_and_every_asset_it_names_are_served_from_the_package(
    live_server: LiveServer,
) -> None:
    # when the page is fetched from the running app, without a session
    resp = httpx.get(f"{live_server.url}/", timeout=10)

    # then it is HTML that sends no referrers and allows only this origin
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.headers["referrer-policy"] == "no-referrer"
    csp = resp.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    # and every script, stylesheet and icon it names is a local file that is served
    refs = _Refs()
    refs.feed(resp.text)
    assert refs.inline_scripts == 0 and refs.style_attrs == 0  # the CSP would block them
    assets = [r for r in refs.refs if r.startswith("/static/")]
    assert {"/static/vendor/uplot/uPlot.iife.min.js", "/static/js/app.js"} <= set(assets)
    for ref in refs.refs:
        assert ref.startswith(("/", "#")), f"{ref} is not on this origin"
    for asset in assets:
        got = httpx.get(f"{live_server.url}{asset}", timeout=10)
        assert got.status_code == 200, asset
    # and so is every module the app imports (pages included)
    for module in _module_graph((JS / "app.js").resolve()):
        path = "/static/" + module.relative_to(STATIC_DIR.resolve()).as_posix()
        got = httpx.get(f"{live_server.url}{path}", timeout=10)
        assert got.status_code == 200, path
        assert "javascript" in got.headers["content-type"], path
    # and the page is not part of the API's schema
    assert "/" not in httpx.get(f"{live_server.url}/openapi.json", timeout=10).json()["paths"]


def test_javascript_modules_only_import_local_files() -> None:
    for js in JS.rglob("*.js"):
        for target in _IMPORT.findall(js.read_text()):
            assert target.startswith(("./", "../")), f"{js.name} imports {target}"
            resolved = (js.parent / target).resolve()
            assert resolved.is_file(), f"{js.name} imports missing {target}"
            assert resolved.is_relative_to(JS.resolve()), f"{js.name} imports {target}"


def test_every_page_module_is_registered_and_reachable_from_the_app() -> None:
    graph = _module_graph((JS / "app.js").resolve())
    for js in JS.rglob("*.js"):
        assert js.resolve() in graph, f"{js.relative_to(JS)} is not imported by anything"
    registry = (JS / "pages" / "index.js").read_text()
    for page in (JS / "pages").glob("*.js"):
        if page.name != "index.js":
            assert f'"./{page.name}"' in registry, f"{page.name} is not in the page registry"


def test_the_dashboard_has_no_token_mechanism_left() -> None:
    for js in JS.rglob("*.js"):
        text = js.read_text()
        assert "sessionStorage" not in text and "localStorage" not in text, js.name
        assert "Authorization" not in text, js.name


def test_vendored_chart_library_ships_with_its_license() -> None:
    vendor = STATIC_DIR / "vendor" / "uplot"
    assert (vendor / "LICENSE").read_text().startswith("The MIT License")
    size = sum(f.stat().st_size for f in vendor.iterdir())
    assert size < 80_000  # kept modest
    assert (TEMPLATES_DIR / "index.html").is_file()


# -- in a browser, against the real app -----------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> dict[str, Any]:
    """The blueprint's reference sale, signed and POSTed to the real webhook endpoint."""
    now = int(live_server.container.clock.now().timestamp())
    resp = httpx.post(
        f"{live_server.url}/webhooks/generic/{live_server.connection_id}",
        content=REFERENCE_SALE_BYTES,
        headers=signed_headers(REFERENCE_SALE_BYTES, WEBHOOK_SECRET, now),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text

    def transaction() -> dict[str, Any] | None:
        data = live_server.get("/v1/transactions", external_id="txn_abc123").json()["data"]
        return data[0] if data else None

    def sales() -> list[dict[str, Any]]:
        return list(live_server.get("/v1/reports/daily-sales").json()["data"])

    # The pipeline (relay, normalizer, workflows) runs inside the server's lifespan.
    txn = wait_for(transaction, "the reference sale to be normalized")
    rows = wait_for(sales, "the daily sales report to include the reference sale")
    return {"transaction": txn, "sales": rows}


@pytest.fixture(scope="module")
def admin(live_server: LiveServer) -> tuple[str, str]:
    return "ada", live_server.add_user("ada", "admin", display_name="Ada Admin")


def _usd(minor: int, *, signed: bool = False) -> str:
    sign = "-" if minor < 0 else ("+" if signed and minor > 0 else "")
    return f"{sign}${abs(minor) // 100:,}.{abs(minor) % 100:02d}"


@pytest.mark.browser
def test_overview_shows_the_stores_sales_events_and_the_reference_sale_mismatch(
    live_server: LiveServer, seeded: dict[str, Any], admin: tuple[str, str], page: Any
) -> None:
    from playwright.sync_api import expect

    # when an admin logs in with username and password
    log_in(page, live_server, *admin)

    # then the overview opens, and the frame says who is logged in, as what, over which stores
    expect(page).to_have_url(re.compile(r"#/overview$"))
    expect(page.locator("#dashboard")).to_be_visible()
    expect(page.locator("#who-name")).to_have_text("Ada Admin")
    expect(page.locator("#who-role")).to_have_text("Admin")
    expect(page.locator("#who-scope")).to_have_text("All stores")
    expect(page.locator("#nav a")).to_have_text(
        [
            "Overview",
            re.compile("^Approvals"),
            "Replenishment",
            "Risk",
            "Audit",
            "Connections",
            "Settings",
        ]
    )

    # and the chart area shows the store's sales, drawn by the vendored library
    [row] = [r for r in seeded["sales"] if r["location_id"] == "loc_xyz789"]
    sales = page.locator("#sales-card")
    expect(sales.locator("canvas")).to_have_count(1)
    expect(sales.locator(".u-legend")).to_contain_text("loc_xyz789")
    store_row = sales.locator("#sales-summary tbody tr", has_text="loc_xyz789")
    expect(store_row).to_contain_text(_usd(row["sales_amount"]))
    expect(store_row).to_contain_text(str(row["sales_count"]))

    # and the live event counts include the sale
    expect(page.locator("#events-by-type li[data-type='sale.completed'] .count")).to_have_text(
        re.compile(r"^[1-9][0-9,]*$")
    )
    expect(page.locator("#events-total")).not_to_have_text("–")

    # and the reference sale's reconciliation issue is flagged with its difference
    txn = seeded["transaction"]
    [issue] = [i for i in txn["issues"] if i["code"] == "total_mismatch"]
    tx_row = page.locator(f"#tx-table tbody tr[data-id='{txn['id']}']")
    expect(tx_row).to_have_class(re.compile(r"\bhas-issue\b"))
    flag = tx_row.locator(".issue[data-code='total_mismatch']")
    expect(flag).to_be_visible()
    expect(flag).to_contain_text(f"difference {_usd(issue['difference']['amount'], signed=True)}")
    expect(tx_row).to_contain_text(_usd(txn["total"]["amount"]))

    # and approvals, the pipeline, dead letters and connections are shown
    expect(page.locator("#approvals-card")).to_contain_text("No proposals waiting")
    expect(page.locator("#lag-table tbody tr").first).to_be_visible()
    expect(page.locator("#outbox-age")).not_to_have_text("–")
    expect(page.locator("#dead-card")).to_contain_text(re.compile("No dead letters|parked"))
    expect(page.locator("#conn-table")).to_contain_text(
        f"/webhooks/generic/{live_server.connection_id}"
    )
    expect(page.locator("#live")).to_contain_text("Live")

    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # and nothing was loaded from anywhere but the app itself, and nothing broke
    foreign = [u for u in page.requests if not u.startswith(live_server.url)]
    assert foreign == []
    assert page.errors == []
    # the only refusal was the check for a session before logging in
    assert page.refused == [(401, f"{live_server.url}/auth/me")]


@pytest.mark.browser
def test_a_wrong_password_is_refused_in_place_and_logging_out_ends_the_session(
    live_server: LiveServer, admin: tuple[str, str], page: Any
) -> None:
    from playwright.sync_api import expect

    username, password = admin
    page.goto(f"{live_server.url}/#/audit")

    # when someone logs in with the wrong password
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    # then the form says so and stays
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    expect(page.locator("#frame")).to_be_hidden()

    # when the right password is given, the page they asked for opens
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()

    # when they log out, the login form is back, and a reload does not get the frame back
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-message")).to_have_text("You have logged out.")
    page.reload()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#frame")).to_be_hidden()
    assert page.errors == []


@pytest.mark.browser
def test_without_a_session_the_login_form_asks_for_one(live_server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/")
    expect(page.locator("#login")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_focused()
    expect(page.locator("#frame")).to_be_hidden()
    expect(page.locator("#nav a")).to_have_count(0)


@pytest.mark.browser
def test_an_old_token_link_is_not_used_and_leaves_the_address_bar(
    live_server: LiveServer, page: Any
) -> None:
    from playwright.sync_api import expect

    # when a dashboard link of the old kind, carrying a valid API token, is opened
    page.goto(f"{live_server.url}/?token={live_server.token}")

    # then the token is not used: the login form asks for a person, and the URL forgets it
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-message")).to_contain_text("log in with your username")
    assert live_server.token not in page.url
    assert page.evaluate("sessionStorage.length") == 0


@pytest.mark.browser
def test_a_store_manager_sees_only_what_their_role_allows(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    store = live_server.store_key("loc_xyz789")
    live_server.send("location.updated", {"id": "loc_xyz789", "name": "Downtown"})
    wait_for(
        lambda: live_server.get("/v1/locations", external_id="loc_xyz789").json()["data"],
        "the store's name to arrive",
    )
    password = live_server.add_user("mia", "store_manager", stores=[store], display_name="Mia")

    # when a store manager logs in
    log_in(page, live_server, "mia", password)

    # then the navigation has no Connections page, and the overview keeps to the store's cards
    expect(page.locator("#nav a")).to_have_text(
        ["Overview", re.compile("^Approvals"), "Replenishment", "Risk", "Audit", "Settings"]
    )
    expect(page.locator("#who-scope")).to_have_text("Downtown")
    expect(page.locator("#sales-summary tbody tr", has_text="Downtown")).to_be_visible()
    expect(page.locator("#approvals-card")).to_be_visible()
    expect(page.locator("#tx-table tbody tr").first).to_be_visible()
    for hidden in ("#events-card", "#lag-card", "#dead-card", "#conn-card"):
        expect(page.locator(hidden)).to_have_count(0)
    assert not [r for r in page.refused if r[0] == 403]  # it did not even ask

    # when they open a page their role cannot use by its address, the page says why
    page.goto(f"{live_server.url}/#/connections")
    expect(page.locator("#view")).to_contain_text(
        "cannot open this page: it needs connections:read"
    )
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.parametrize(
    "viewport", [TABLET_LANDSCAPE, TABLET_PORTRAIT], ids=["landscape", "portrait"]
)
def test_the_main_pages_fit_a_tablet(
    live_server: LiveServer,
    seeded: dict[str, Any],
    admin: tuple[str, str],
    new_page: Any,
    viewport: dict[str, int],
) -> None:
    from playwright.sync_api import expect

    page = new_page(viewport)
    log_in(page, live_server, *admin)
    for hash_, heading in (
        ("#/overview", None),
        ("#/approvals", "Approvals"),
        ("#/audit", "Audit log"),
        ("#/connections", "Connections"),
        ("#/settings/modes", "Settings"),
        ("#/settings/users", "Settings"),
    ):
        page.goto(f"{live_server.url}/{hash_}")
        if heading:
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        else:
            expect(page.locator("#dashboard")).to_be_visible()
        # nothing wider than the screen (tables scroll inside their own box)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{hash_} is {overflow}px wider than a {viewport['width']}px tablet"
        # and the navigation is visible with finger-sized targets
        for link in page.locator("#nav a").all():
            expect(link).to_be_visible()
            box = link.bounding_box()
            assert box is not None and box["height"] >= 44, hash_
    assert page.errors == []


@pytest.mark.browser
def test_an_admin_moves_where_a_connection_writes_back_and_it_is_audited(
    live_server: LiveServer, admin: tuple[str, str], page: Any
) -> None:
    from playwright.sync_api import expect

    made = live_server.post(
        "/v1/connections",
        {
            "platform": "generic",
            "name": "Moving POS",
            "secret": "moving-pos-secret-123",
            "api_base_url": "http://127.0.0.1:9/old",
        },
    ).json()
    log_in(page, live_server, *admin)
    page.goto(f"{live_server.url}/#/connections")
    row = page.locator(f'#connections-table tr[data-id="{made["id"]}"]')
    expect(row).to_contain_text("http://127.0.0.1:9/old")

    # a bad address is refused in place and changes nothing
    row.get_by_role("button", name="Change").click()
    box = row.get_by_label("POS API address of Moving POS")
    box.fill("ftp://pos.example")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("api_base_url must be an http(s) URL")

    # the POS moved: the new address is saved, shown and audited
    box.fill("https://pos.example/api")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("https://pos.example/api")
    expect(row.get_by_role("button", name="Change")).to_be_visible()  # the form is closed
    listed = {c["id"]: c for c in live_server.get("/v1/connections").json()["data"]}
    assert listed[made["id"]]["api_base_url"] == "https://pos.example/api"
    audit = live_server.get("/v1/audit", action="connection.api_changed").json()["data"]
    assert [e["outputs"]["previous"] for e in audit] == ["http://127.0.0.1:9/old"]
    assert audit[0]["actor"].startswith("user:")  # the person, through their session
    assert page.errors == []
