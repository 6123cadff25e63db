"""The dashboard, end to end: a signed webhook in, the pipeline runs, the page shows it.

The browser tests (marker ``browser``) drive Debian's Chromium against the real app; the others
check what the app serves without a browser.
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import WEBHOOK_SECRET, LiveServer
from tests.helpers import REFERENCE_SALE_BYTES, signed_headers
from tillwise.web.routes import STATIC_DIR, TEMPLATES_DIR

SCREENSHOT = Path("/tmp/dashboard.png")


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


def test_page_and_every_asset_it_names_are_served_from_the_package(
    live_server: LiveServer,
) -> None:
    # when the page is fetched from the running app, without a token
    resp = httpx.get(f"{live_server.url}/", timeout=10)

    # then it is HTML that keeps the token out of referrers and allows only this origin
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
    assert {"/static/vendor/uplot/uPlot.iife.min.js", "/static/js/overview.js"} <= set(assets)
    for ref in refs.refs:
        assert ref.startswith("/"), f"{ref} is not on this origin"
    for asset in assets:
        got = httpx.get(f"{live_server.url}{asset}", timeout=10)
        assert got.status_code == 200, asset
    # and the page is not part of the API's schema
    assert "/" not in httpx.get(f"{live_server.url}/openapi.json", timeout=10).json()["paths"]


def test_javascript_modules_only_import_local_files() -> None:
    for js in (STATIC_DIR / "js").glob("*.js"):
        imports = re.findall(r"""^import\s[^;]*?from\s+["']([^"']+)["']""", js.read_text(), re.M)
        for target in imports:
            assert target.startswith("./"), f"{js.name} imports {target}"
            assert (js.parent / target).is_file(), f"{js.name} imports missing {target}"


def test_vendored_chart_library_ships_with_its_license() -> None:
    vendor = STATIC_DIR / "vendor" / "uplot"
    assert (vendor / "LICENSE").read_text().startswith("The MIT License")
    size = sum(f.stat().st_size for f in vendor.iterdir())
    assert size < 80_000  # kept modest
    assert (TEMPLATES_DIR / "index.html").is_file()


# -- in a browser, against the real app -----------------------------------------------------------


def _wait_for(check: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


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
    txn = _wait_for(transaction, "the reference sale to be normalized")
    rows = _wait_for(sales, "the daily sales report to include the reference sale")
    return {"transaction": txn, "sales": rows}


def _usd(minor: int, *, signed: bool = False) -> str:
    sign = "-" if minor < 0 else ("+" if signed and minor > 0 else "")
    return f"{sign}${abs(minor) // 100:,}.{abs(minor) % 100:02d}"


@pytest.mark.browser
def test_overview_shows_the_stores_sales_events_and_the_reference_sale_mismatch(
    live_server: LiveServer, seeded: dict[str, Any], page: Any
) -> None:
    from playwright.sync_api import expect

    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # when the link that `tillwise demo` prints is opened
    page.goto(f"{live_server.url}/?token={live_server.token}")

    # then the token moves into this tab's storage and out of the visible URL
    expect(page.locator("#dashboard")).to_be_visible()
    assert page.url == f"{live_server.url}/"
    assert page.evaluate("sessionStorage.getItem('tillwise.token')") == live_server.token

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

    # and the pipeline, dead letters and connections are shown
    expect(page.locator("#lag-table tbody tr").first).to_be_visible()
    expect(page.locator("#outbox-age")).not_to_have_text("–")
    expect(page.locator("#dead-card")).to_contain_text(re.compile("No dead letters|parked"))
    expect(page.locator("#conn-table")).to_contain_text(
        f"/webhooks/generic/{live_server.connection_id}"
    )
    expect(page.locator("#live")).to_contain_text("Live")

    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # and nothing was loaded from anywhere but the app itself
    foreign = [u for u in requests if not u.startswith(live_server.url)]
    assert foreign == []
    assert errors == []


@pytest.mark.browser
def test_a_token_the_api_rejects_shows_the_token_form(live_server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    # when the page is opened with a token the API answers 401 to
    page.goto(f"{live_server.url}/#token=tw_not_a_real_token")

    # then the token form is shown with the reason, and the bad token is forgotten
    panel = page.locator("#token-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Paste your API token")
    expect(page.locator("#token-reason")).to_contain_text("401")
    expect(page.locator("#dashboard")).to_be_hidden()
    assert page.url == f"{live_server.url}/"
    assert page.evaluate("sessionStorage.getItem('tillwise.token')") is None

    # when a valid token is pasted, the dashboard opens
    page.fill("#token-input", live_server.token)
    page.click("#token-form button[type=submit]")
    expect(page.locator("#dashboard")).to_be_visible()
    expect(page.locator("#live")).to_contain_text("Live")


@pytest.mark.browser
def test_without_a_token_the_form_asks_for_one(live_server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/")
    expect(page.locator("#token-panel")).to_be_visible()
    expect(page.locator("#token-input")).to_be_focused()
    expect(page.locator("#dashboard")).to_be_hidden()
