"""The real app served on a free 127.0.0.1 port in a background thread, with the simulator POS.

The app is ``tillwise serve``'s own (:func:`tillwise.cli.runtime.app_with_pipeline`: the
pipeline in its lifespan) and, at ``/simulator``, the simulator POS's live API (signed stock
adjustments in, ``inventory.updated`` webhooks back); the connection's ``api_base_url`` points
there, so approved proposals are written back to a real POS over HTTP — as in ``tillwise demo``,
where the POS serves the same API from a process of its own. Used by the browser tests and by
``tools/screenshots.py``.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tillwise.bootstrap import Container, build_container
from tillwise.cli.runtime import app_with_pipeline
from tillwise.connectors._signatures import sign
from tillwise.connectors.simulator.pos import SimulatorPos
from tillwise.connectors.simulator.replay import SimEvent
from tillwise.settings import Settings
from tillwise.store.migrate import upgrade


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:<port>
    container: Container
    connection_id: str
    token: str  # an admin API token
    pos: SimulatorPos  # the simulator POS served at <url>/simulator
    secret: str  # the connection's webhook secret (the POS signs with it too)

    def get(self, path: str, **params: Any) -> httpx.Response:
        """GET the API as a machine (the admin bearer token)."""
        return httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{self.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )

    def send(self, event: str, data: dict[str, Any]) -> None:
        """POST one generic webhook, signed with the connection's secret, as the POS would."""
        at = self.container.clock.now()
        self.deliver(SimEvent(f"e2e:{event}:{secrets.token_hex(6)}", event, at, data))

    def deliver(self, event: SimEvent) -> None:
        """POST what the simulator POS sends (its event id, body and a fresh signature)."""
        body = event.body()
        headers = {
            "Content-Type": "application/json",
            "Tillwise-Signature": sign(body, self.secret, int(time.time())),
            "Tillwise-Event-Id": event.event_id,
        }
        resp = httpx.post(
            f"{self.url}/webhooks/generic/{self.connection_id}",
            content=body,
            headers=headers,
            timeout=10,
        )
        assert resp.status_code == 200, resp.text

    def pos_on_hand(self, location_id: str, sku: str) -> int:
        """The POS's own stock figure, read through its signed API."""
        resp = httpx.get(
            f"{self.url}/simulator/inventory/{location_id}/{sku}",
            headers={"Tillwise-Signature": sign(b"", self.secret, int(time.time()))},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        on_hand: int = resp.json()["on_hand"]
        return on_hand

    def store_key(self, location_id: str) -> str:
        return f"{self.connection_id}:{location_id}"

    def add_user(
        self,
        username: str,
        role: str,
        *,
        stores: list[str] | None = None,
        regions: list[str] | None = None,
        display_name: str | None = None,
    ) -> str:
        """A dashboard user; returns the password."""
        password = f"pw-{secrets.token_urlsafe(12)}"
        self.container.users.add(
            username,
            password,
            role=role,
            actor="test",
            display_name=display_name,
            stores=stores or [],
            regions=regions or [],
        )
        return password


def bind_local() -> tuple[socket.socket, str]:
    """A socket bound to a free 127.0.0.1 port, and its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextlib.contextmanager
def run_in_thread(app: Any, sock: socket.socket, *, lifespan: str = "on") -> Iterator[None]:
    """Serve ``app`` with uvicorn on ``sock`` in a background thread until the block ends."""
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan=lifespan, ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise RuntimeError("the app did not start under uvicorn within 20 s")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("uvicorn did not stop within 20 s")


def with_pos(app: FastAPI, pos: SimulatorPos) -> FastAPI:
    """``app`` with the simulator POS's API at ``/simulator``, the POS open (its webhook
    sender) for the app's lifetime, on the server's event loop."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a), pos:
            yield

    app.router.lifespan_context = lifespan
    app.mount("/simulator", pos.app)
    return app


@contextlib.contextmanager
def serve_live(tmp: Path, *, secret: str, name: str = "Simulator POS") -> Iterator[LiveServer]:
    """Serve a fresh SQLite-backed app from ``tmp`` until the block ends."""
    database_url = f"sqlite:///{tmp / 'tillwise.db'}"
    upgrade(database_url)
    container = build_container(
        Settings(database_url=database_url, secret_key_file=tmp / "tillwise.key")
    )
    sock, url = bind_local()
    connection = container.connections.create(
        "generic", name, [secret], actor="test", api_base_url=f"{url}/simulator"
    )
    _info, token = container.tokens.create("admin", name="live", actor="test")
    pos = SimulatorPos(url, connection.id, secret)
    app = with_pos(app_with_pipeline(container, 1), pos)
    with run_in_thread(app, sock):
        yield LiveServer(
            url=url,
            container=container,
            connection_id=connection.id,
            token=token,
            pos=pos,
            secret=secret,
        )


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll a condition outside the browser (the pipeline runs in the server's threads)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
