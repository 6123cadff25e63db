"""End-to-end fixtures: the real app on a free 127.0.0.1 port (:mod:`tests.live`: the app of
``tillwise serve`` with the simulator POS's API at ``/simulator``), and
Debian's Chromium. Data goes in through the real webhook endpoint, signed.

People log in to the dashboard as users made with ``live_server.add_user(...)``.

Chromium comes from the distribution (``/usr/bin/chromium``; ``playwright install`` cannot
download here). Without it the browser tests skip with a reason, unless
``TILLWISE_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live import LiveServer, serve_live

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WEBHOOK_SECRET = "whsec_e2e_5a4b3c2d1e"
TABLET_LANDSCAPE = {"width": 1024, "height": 768}
TABLET_PORTRAIT = {"width": 768, "height": 1024}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    try:
        with serve_live(tmp_path_factory.mktemp("e2e"), secret=WEBHOOK_SECRET, name="Test") as live:
            yield live
    except RuntimeError as exc:
        pytest.fail(str(exc))


def _chromium_or_skip() -> str:
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM}: install Debian's chromium (make browser)"
        if os.environ.get("TILLWISE_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (TILLWISE_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (the system one), shared by the tests of a module."""
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open fresh tabs (each with its own cookies), US English so money formats predictably;
    tablet landscape unless another viewport is given. Each tab records script errors in
    ``tab.errors``, every URL it requested in ``tab.requests`` and every answer of 400 or more
    as ``(status, url)`` in ``tab.refused`` (Chromium also logs those to the console, which is
    why console lines about failed resources are not counted as script errors)."""
    contexts: list[Any] = []

    def open_tab(viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(
            viewport=viewport or TABLET_LANDSCAPE,
            locale="en-US",
            timezone_id="UTC",
            has_touch=True,
        )
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        tab.errors, tab.requests, tab.refused = [], [], []
        tab.on("pageerror", lambda e: tab.errors.append(str(e)))
        tab.on("console", lambda m: _console_error(tab, m))
        tab.on("request", lambda r: tab.requests.append(r.url))
        tab.on(
            "response", lambda r: tab.refused.append((r.status, r.url)) if r.status >= 400 else None
        )
        return tab

    try:
        yield open_tab
    finally:
        for context in contexts:
            context.close()


def _console_error(tab: Any, message: Any) -> None:
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        tab.errors.append(message.text)


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    """A fresh tab at tablet landscape size (1024 × 768)."""
    return new_page()


def log_in(page: Any, server: LiveServer, username: str, password: str) -> None:
    """Log in through the dashboard's form, as a person would, and wait for the frame."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#session")).to_be_visible()
