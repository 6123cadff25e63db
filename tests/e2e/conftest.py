"""End-to-end fixtures: the real app on a free 127.0.0.1 port, and Debian's Chromium.

The server is the composition root's own app (``create_app(build_container(settings))``) with the
pipeline running in its lifespan, served by uvicorn in a background thread — the same shape as
``tillwise serve``. Data goes in through the real webhook endpoint, signed.

Chromium comes from the distribution (``/usr/bin/chromium``; ``playwright install`` cannot
download here). Without it the browser tests skip with a reason, unless
``TILLWISE_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tillwise.api.app import create_app
from tillwise.bootstrap import Container, build_container, build_runtime
from tillwise.settings import Settings
from tillwise.store.migrate import upgrade

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


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:<port>
    container: Container
    connection_id: str
    token: str  # an admin API token

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{tmp / 'tillwise.db'}"
    upgrade(database_url)
    settings = Settings(database_url=database_url, secret_key_file=tmp / "tillwise.key")
    container = build_container(settings)
    connection = container.connections.create("generic", "Test", [WEBHOOK_SECRET], actor="test")
    _info, token = container.tokens.create("admin", name="e2e", actor="test")

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(container)
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            await container.close()

    app = create_app(container, lifespan=lifespan)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="e2e-uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            pytest.fail("the app did not start under uvicorn within 20 s")
        time.sleep(0.05)
    try:
        yield LiveServer(
            url=f"http://127.0.0.1:{port}",
            container=container,
            connection_id=connection.id,
            token=token,
        )
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop within 20 s"


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
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab (own storage) at tablet size, US English so money formats predictably."""
    context = browser.new_context(
        viewport={"width": 1180, "height": 820}, locale="en-US", timezone_id="UTC"
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    try:
        yield tab
    finally:
        context.close()
