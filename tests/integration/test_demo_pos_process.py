"""The simulator POS as a process of its own — the one ``tillwise demo`` starts, and
``tillwise simulate --pos-port`` beside a running server: it replays the bundled data set to
Tillwise as signed webhooks, serves its API on its own port, takes a purchase order there and
delivers it after the lead time (the loop the demo closes, across a real process boundary),
and stops when told to."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.live import LiveServer, bind_local, serve_live, wait_for
from tillwise.cli import app
from tillwise.cli._common import open_container
from tillwise.cli.runtime import _PosConfig, _simulator_process
from tillwise.connectors._signatures import sign
from tillwise.store.migrate import upgrade

SECRET = "demo-pos-secret"
EVENTS = 300

# start a POS for ``cfg``; yields a function that waits for the line saying how the replay
# ended; on leaving, stops the POS and checks that it ended cleanly
Starter = Callable[[_PosConfig], contextlib.AbstractContextManager[Callable[[], str]]]


@contextlib.contextmanager
def _demo_process(cfg: _PosConfig) -> Iterator[Callable[[], str]]:
    ctx = multiprocessing.get_context("spawn")
    replayed, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_simulator_process, args=(cfg, replayed, stop))
    proc.start()
    try:
        yield lambda: str(replayed.get(timeout=180))
    finally:
        stop.set()
        proc.join(30)
        if proc.is_alive():
            proc.terminate()
    assert proc.exitcode == 0


@contextlib.contextmanager
def _simulate_command(cfg: _PosConfig) -> Iterator[Callable[[], str]]:
    args = ["simulate", "--url", cfg.tillwise_url, "--connection", cfg.connection_id]
    args += ["--secret-stdin", "--limit", str(cfg.limit), "--pos-port", str(cfg.port)]
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("tillwise")), *args],  # the installed command
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(cfg.secret + "\n")
    proc.stdin.close()
    out = proc.stdout

    def outcome() -> str:
        for line in out:  # the progress bar's lines, then the outcome
            if line.startswith(("sent:", "simulator stopped")):
                return line
        return f"exit code {proc.wait()}"

    try:
        yield outcome
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        code = proc.wait(30)
    assert code == 0


@pytest.mark.parametrize("start", [_demo_process, _simulate_command], ids=["demo", "simulate"])
def test_the_pos_replays_takes_an_order_on_its_port_and_delivers_it(
    tmp_path: Path, start: Starter
) -> None:
    with serve_live(tmp_path, secret=SECRET) as server:
        sock, pos_url = bind_local()
        port = sock.getsockname()[1]
        sock.close()  # the POS binds it
        conn = server.container.connections.create(
            "generic", "Simulator", [SECRET], actor="test", api_base_url=pos_url
        )
        cfg = _PosConfig("127.0.0.1", port, server.url, conn.id, SECRET, 604_800.0, EVENTS)
        with start(cfg) as outcome:
            # the replay reached Tillwise from the other process
            said = outcome()
            assert said.startswith(f"sent: {EVENTS} events"), said
            levels = wait_for(lambda: _levels(server, conn.id), "stock levels from the replay")
            location_id, sku = str(levels[0]["external_id"]).split(":", 1)
            before = int(str(levels[0]["on_hand"]))

            # an order written to the POS's own port is booked …
            body = json.dumps(
                {
                    "reference": "po-demo-1",
                    "vendor_id": "vendor-not-known-to-the-pos",  # a week's lead time
                    "location_id": location_id,
                    "currency": "GBP",
                    "lines": [{"sku": sku, "quantity": 24}],
                }
            ).encode()
            resp = httpx.post(
                f"{pos_url}/purchase-orders",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Tillwise-Signature": sign(body, SECRET, int(time.time())),
                    "Idempotency-Key": "po-demo-1",
                },
                timeout=10,
            )
            assert resp.status_code == 201, resp.text

            # … and delivered after the lead time on the POS's clock: Tillwise's book follows
            def on_hand() -> int | None:
                rows = server.get("/v1/inventory-levels", external_id=f"{location_id}:{sku}")
                data = [d for d in rows.json()["data"] if d["connection_id"] == conn.id]
                return int(data[0]["on_hand"]) if data else None

            wait_for(lambda: on_hand() == before + 24, "the delivery to reach Tillwise", 60)


def _levels(server: LiveServer, connection_id: str) -> list[dict[str, object]]:
    data = server.get("/v1/inventory-levels", limit=200).json()["data"]
    return [d for d in data if d["connection_id"] == connection_id]


def test_the_demo_names_a_port_in_use_and_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "demo.db"
    monkeypatch.setenv("TILLWISE_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("TILLWISE_SECRET_KEY_FILE", str(tmp_path / "tillwise.key"))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        free, _url = bind_local()
        free_port = free.getsockname()[1]
        free.close()
        runner = CliRunner()
        short = ["demo", "--limit", "1", "--no-plan", "--no-keep-serving"]  # if it did start
        result = runner.invoke(app, [*short, "--port", str(free_port), "--pos-port", str(busy)])
        assert result.exit_code == 1
        said = " ".join(result.output.split())
        assert f"127.0.0.1:{busy} (the simulator POS) is in use: pass --pos-port" in said
        same = runner.invoke(app, [*short, "--port", str(free_port), "--pos-port", str(free_port)])
        assert same.exit_code == 1 and "--pos-port must differ from --port" in same.output
    assert not db.exists()  # nothing migrated, no connection made


def test_the_demo_replays_and_a_rerun_keeps_its_one_simulator_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tillwise demo`` end to end (a short replay), on a database an earlier demo made when
    the POS's API was the dashboard's ``/simulator``: the connection is moved, not doubled."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("TILLWISE_DATABASE_URL", url)
    monkeypatch.setenv("TILLWISE_SECRET_KEY_FILE", str(tmp_path / "tillwise.key"))
    ports = [bind_local()[0] for _ in range(2)]
    port, pos_port = (s.getsockname()[1] for s in ports)
    for s in ports:
        s.close()
    upgrade(url)
    with open_container() as c:
        earlier = c.connections.create(
            "generic",
            "Simulator",
            [SECRET],
            actor="test",
            api_base_url=f"http://127.0.0.1:{port}/simulator",
        )
    args = ["demo", "--port", str(port), "--pos-port", str(pos_port), "--limit", "300"]
    result = CliRunner().invoke(app, [*args, "--no-plan", "--no-keep-serving"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"Dashboard: http://127.0.0.1:{port}/" in said and "sent: 300 events" in said
    with open_container() as c:
        ours = [x for x in c.connections.list() if x.name == "Simulator"]
        with c.engine.connect() as db:  # the replay's stores reached the canonical store
            stores = db.execute(
                text("SELECT count(*) FROM locations WHERE connection_id = :c"), {"c": earlier.id}
            ).scalar_one()
        # the demo's orders (every vendor new to a fresh database) wait for a store manager
        po_rule = c.modes.rule_for("draft_purchase_order", f"{earlier.id}:any-store")
        assert c.modes.mode_for("replenishment", None).mode == "draft"
    assert po_rule.new_vendor_needs_regional is False
    assert [x.id for x in ours] == [earlier.id]
    assert ours[0].api_base_url == f"http://127.0.0.1:{pos_port}"
    assert stores > 0
