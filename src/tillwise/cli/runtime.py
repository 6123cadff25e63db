"""Long-running commands: the server (with embedded workers), separate workers, the demo,
the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import multiprocessing
import secrets
import signal
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import typer
import uvicorn
from fastapi import FastAPI

from tillwise.bootstrap import Container, build_container, build_runtime
from tillwise.settings import Settings

from ._common import console, fail, load_settings
from .people import ensure_first_admin


def app_with_pipeline(container: Container, workers: int) -> FastAPI:
    """The served app: the API with ``workers`` pipeline loops per consumer in its lifespan."""
    from tillwise.api.app import create_app

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _mask_secrets_in_logs(container)  # after uvicorn has set up its log handlers
        runtime = build_runtime(container, workers=workers) if workers > 0 else None
        if runtime is not None:
            await runtime.start()
        tune_gc()
        try:
            yield
        finally:
            if runtime is not None:
                await runtime.stop()
            await container.close()

    return create_app(container, lifespan=lifespan)


def tune_gc() -> None:
    """Garbage-collector settings for a long-running server process: what exists after startup
    (modules, the app, the container) is frozen out of every collection, and the young
    generation is collected less often. In the ingest benchmark this halved the CPU per webhook
    and the p99 latency (see bench/)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _mask_secrets_in_logs(container: Container) -> None:
    from tillwise.governance.secrets import install_log_redaction

    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        install_log_redaction(logging.getLogger(name), known=container.known_secrets)


def _require_migrated(settings: Settings) -> None:
    from sqlalchemy.engine import make_url

    from tillwise.store.migrate import current_revision, head_revision

    at, head = current_revision(settings.database_url), head_revision()
    if at != head:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        fail(
            f"the database at {where} is at revision {at or 'none'}, not {head}: "
            "run `tillwise db upgrade` (or start `tillwise serve`, which migrates) first"
        )


def _migrate(settings: Settings) -> None:
    from tillwise.store.migrate import upgrade

    upgrade(settings.database_url)


def _announce_first_admin(container: Container) -> None:
    password = ensure_first_admin(container)
    if password is not None:
        console.print(
            f"first run: created user [bold]admin[/] with password [bold]{password}[/] "
            "(shown once; change it with `tillwise users set-password admin`)",
            soft_wrap=True,
        )


def serve(
    host: str | None = typer.Option(None, help="bind address (default TILLWISE_HOST)"),
    port: int | None = typer.Option(None, help="port (default TILLWISE_PORT)"),
    workers: int | None = typer.Option(
        None, help="embedded worker loops per consumer; 0 to run them with `tillwise worker`"
    ),
    migrate: bool = typer.Option(True, help="apply database migrations first"),
) -> None:
    """Run the API, webhook ingress and dashboard (with embedded workers by default)."""
    settings = load_settings()
    if migrate:
        _migrate(settings)
    else:
        _require_migrated(settings)
    container = build_container(settings)
    _announce_first_admin(container)
    app = app_with_pipeline(container, settings.embedded_workers if workers is None else workers)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        access_log=False,
    )


def worker(
    concurrency: int = typer.Option(1, min=1, help="worker loops per consumer in this process"),
    relay: bool = typer.Option(True, help="also relay the outbox to the bus"),
) -> None:
    """Run pipeline workers in this process (scale-out: run several, on several hosts)."""
    settings = load_settings()

    _require_migrated(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def _run() -> None:
        container = build_container(settings)
        _mask_secrets_in_logs(container)
        runtime = build_runtime(container, workers=concurrency, relay=relay)
        tune_gc()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runtime.request_stop)
        console.print(
            f"worker running (bus={settings.bus}, concurrency={concurrency}); Ctrl-C stops"
        )
        try:
            await runtime.run_forever()
        finally:
            await container.close()

    asyncio.run(_run())


def simulate(
    url: str = typer.Option("http://127.0.0.1:8000", help="the Tillwise server"),
    connection: str = typer.Option(..., "--connection", help="generic connection id"),
    secret_stdin: bool = typer.Option(
        False, "--secret-stdin", help="read the connection's secret from stdin"
    ),
    speed: float | None = typer.Option(
        86_400.0, help="simulated seconds per real second (0 = as fast as possible)"
    ),
    limit: int | None = typer.Option(None, help="stop after this many events"),
    pos_port: int | None = typer.Option(
        None,
        help="serve the POS's API on this port (make it the connection's API base URL: approved "
        "orders, transfers and stock corrections are written back there) and deliver orders "
        "after their lead time until Ctrl-C",
    ),
    pos_host: str = typer.Option("127.0.0.1", help="the address the POS's API listens on"),
) -> None:
    """Replay the bundled Online Retail II subset as signed webhooks to a running server."""

    from tillwise.connectors.simulator import simulate as run_simulation

    if not secret_stdin:
        fail("pass --secret-stdin and the connection's webhook secret on standard input")
    secret = sys.stdin.readline().strip()
    if pos_port is None:  # a POS of the replay's lifetime, nothing to write back to
        counts = asyncio.run(
            run_simulation(url, connection, secret, speed=speed or None, limit=limit, progress=True)
        )
        console.print(f"sent: {counts}")
        return
    if not _port_free(pos_host, pos_port):
        fail(f"{pos_host}:{pos_port} is in use: pass --pos-port with a free port")
    cfg = _PosConfig(pos_host, pos_port, url, connection, secret, speed or None, limit)
    console.print(f"simulator POS API: {cfg.url} — Ctrl-C stops it", soft_wrap=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_simulator_main(cfg, _Printed(), threading.Event()))


class _Printed:
    """Where the simulator POS says how its replay ended, when it runs in this process."""

    def put(self, line: str) -> None:
        console.print(line)


async def _plan_demo_stores(container: Container) -> None:
    """The nightly replenishment batch, once, for every store the replay filled (the
    pipeline drained first so the plan sees every sale)."""
    from rich.progress import Progress

    from tillwise.workflows.replenishment.planner import plan_stores

    await _drained(container)
    stores = await asyncio.to_thread(plan_stores, container.uow)
    planner = container.planner()
    proposed = 0
    steps = await asyncio.to_thread(planner.batch, [(conn, loc) for conn, loc, _tz in stores])
    with Progress(console=console) as progress:
        task = progress.add_task("replenishment plan", total=len(steps))
        for conn, loc, preview in steps:
            progress.update(task, description=f"{'forecasting' if preview else 'planning'} {loc}")
            try:
                if preview:
                    await asyncio.to_thread(planner.preview, conn, loc)
                else:
                    result, _new = await asyncio.to_thread(planner.run, conn, loc)
                    proposed += len(result.proposals)
            except Exception as exc:  # one store's failure does not stop the demo
                console.print(f"[red]plan of {loc} failed: {exc}[/]")
            progress.advance(task)
    await container.approvals.route_new()
    console.print(
        f"replenishment: {proposed} proposals for {len(stores)} stores — approve them on the "
        "dashboard; the simulator delivers after each vendor's lead time"
    )


async def _risk_summary(container: Container) -> None:
    """How many till events the risk workflow scored and how many cases it opened."""
    await _drained(container)

    def count() -> tuple[int, int, int]:
        from sqlalchemy import func, select

        from tillwise.store.engine import read_only
        from tillwise.store.tables_risk import risk_cases, risk_scores

        with read_only(container.engine) as db:
            scored = db.execute(select(func.count()).select_from(risk_scores)).scalar_one()
            cases = db.execute(select(func.count()).select_from(risk_cases)).scalar_one()
            managers = db.execute(
                select(func.count())
                .select_from(risk_cases)
                .where(risk_cases.c.decision == "require_manager")
            ).scalar_one()
        return int(scored), int(cases), int(managers)

    scored, cases, managers = await asyncio.to_thread(count)
    console.print(
        f"risk: {scored} till events scored, {cases} cases opened in the review queue "
        f"({managers} need a manager) — work them on the dashboard or at /v1/risk/cases"
    )


async def _drained(container: Container, *, timeout: float = 120.0) -> None:
    """Wait until the pipeline has handled what the replay sent (or ``timeout`` passes)."""
    from tillwise.pipeline.dispatch import spine_consumers
    from tillwise.workflows.registry import default_workflows

    consumers = spine_consumers(default_workflows())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        pending = [await container.bus.pending(t, c) for t, c in consumers]
        if not any(pending):
            return
        await asyncio.sleep(0.5)


@dataclass(frozen=True)
class _PosConfig:
    """What a live simulator POS needs: where to serve its API, where to send its webhooks
    (signed with ``secret``, as ``connection_id``) and how to replay."""

    host: str
    port: int
    tillwise_url: str
    connection_id: str
    secret: str
    speed: float | None
    limit: int | None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


async def _start(server: uvicorn.Server) -> asyncio.Task[None] | None:
    """Serve in the background: the serving task once it listens, None if it could not."""
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            with contextlib.suppress(BaseException):
                await serving
            return None
        await asyncio.sleep(0.05)
    return serving


def _simulator_process(cfg: _PosConfig, replayed: Any, stop: Any) -> None:
    """The demo's simulator POS, in a process (and so on a core) of its own: it serves its API
    at ``cfg.url`` (approved purchase orders, transfers and stock adjustments arrive there),
    replays the bundled data set to Tillwise as signed webhooks, puts one line saying how the
    replay ended on ``replayed``, and goes on delivering orders after each vendor's lead time
    until ``stop`` is set or it is interrupted."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_simulator_main(cfg, replayed, stop))


async def _simulator_main(cfg: _PosConfig, replayed: Any, stop: Any) -> None:
    from tillwise.connectors.simulator import SimulatorPos, simulate

    pos = SimulatorPos(cfg.tillwise_url, cfg.connection_id, cfg.secret)
    server = uvicorn.Server(
        uvicorn.Config(pos.app, host=cfg.host, port=cfg.port, log_level="warning", access_log=False)
    )
    async with pos:
        serving = await _start(server)
        if serving is None:
            replayed.put(f"[red]the simulator POS could not listen on {cfg.url}[/]")
            return
        halt = asyncio.Event()
        deliveries = asyncio.create_task(pos.run_deliveries(halt))
        replay = asyncio.create_task(
            simulate(
                cfg.tillwise_url,
                cfg.connection_id,
                cfg.secret,
                pos=pos,
                speed=cfg.speed,
                limit=cfg.limit,
                progress=True,
            )
        )
        try:
            await asyncio.wait({replay, serving}, return_when=asyncio.FIRST_COMPLETED)
            if replay.done():
                try:
                    replayed.put(f"sent: {replay.result()}")
                except Exception as exc:  # said; the POS serves on with what was sent
                    replayed.put(f"[red]simulator stopped: {exc}[/]")
                parent = multiprocessing.parent_process()
                while not serving.done():  # serve write-backs and deliver until told to stop
                    if await asyncio.to_thread(stop.wait, 0.5):
                        break
                    if parent is not None and not parent.is_alive():
                        break  # the demo was killed: no POS left behind
        finally:
            replay.cancel()
            halt.set()
            await deliveries
            server.should_exit = True
            await asyncio.gather(replay, serving, return_exceptions=True)


async def _replay_outcome(sim: Any, replayed: Any) -> str:
    """The simulator process's line on how the replay ended (or why there is none)."""
    import queue

    while True:
        try:
            return str(await asyncio.to_thread(replayed.get, True, 0.5))
        except queue.Empty:
            if not sim.is_alive():
                try:
                    return str(replayed.get_nowait())
                except queue.Empty:
                    return f"[red]the simulator POS process ended (exit code {sim.exitcode})[/]"


def _port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def demo(
    port: int = typer.Option(8000, help="dashboard and API port"),
    pos_port: int | None = typer.Option(
        None, help="the simulator POS's API port (default: the dashboard's port + 1)"
    ),
    speed: float = typer.Option(
        86_400.0, help="simulated seconds per real second (86400: a day of trading per second)"
    ),
    limit: int | None = typer.Option(None, help="stop the replay after this many events"),
    keep_serving: bool = typer.Option(True, help="keep the server up after the replay"),
    plan: bool = typer.Option(
        True, help="after the replay, run each store's replenishment plan (proposed orders)"
    ),
) -> None:
    """Migrate the SQLite database, start the server, and replay a real data set into it from
    the simulator POS (a process of its own, serving its API on ``--pos-port``)."""
    # the demo plans once the replay is in (below), not at a real-time night mid-replay
    settings = load_settings().model_copy(update={"port": port, "replenish_hour": -1})
    pos_port = pos_port or port + 1
    if pos_port == port:
        fail("--pos-port must differ from --port: the simulator POS serves an API of its own")
    for what, number, option in (
        ("the dashboard", port, "--port"),
        ("the simulator POS", pos_port, "--pos-port"),
    ):
        if not _port_free(settings.host, number):
            fail(f"{settings.host}:{number} ({what}) is in use: pass {option} with a free port")
    _migrate(settings)
    container = build_container(settings)
    base = f"http://{settings.host}:{port}"
    cfg = _PosConfig(
        host=settings.host,
        port=pos_port,
        tillwise_url=base,
        connection_id="",
        secret="",
        speed=speed or None,
        limit=limit,
    )
    ours = [
        c
        for c in container.connections.list()
        if c.platform == "generic" and c.name == "Simulator" and c.status == "active"
    ]
    # approved write-backs go to the POS's API; a demo database from before the POS had a
    # process of its own has it at the dashboard's /simulator: moved, not duplicated
    conn = next((c for c in ours if c.api_base_url == cfg.url), None) or next(
        (
            container.connections.set_api_base_url(c.id, cfg.url, actor="cli:demo")
            for c in ours
            if c.api_base_url == f"{base}/simulator"
        ),
        None,
    )
    if conn is None:
        conn = container.connections.create(
            "generic",
            "Simulator",
            [secrets.token_urlsafe(32)],
            actor="cli:demo",
            api_base_url=cfg.url,
        )
    secret = (container.connections.secrets_for(conn.id) or [""])[0]
    cfg = dataclasses.replace(cfg, connection_id=conn.id, secret=secret)
    password = ensure_first_admin(container)
    if not container.modes.modes("stock_counts"):  # the demo's counts wait for a person
        container.modes.set_mode(
            "stock_counts", "*", "draft", actor="cli:demo", reason="demo: corrections need approval"
        )
    if not container.modes.modes("replenishment"):  # purchase orders wait for a person
        container.modes.set_mode(
            "replenishment", "*", "draft", actor="cli:demo", reason="demo: orders need approval"
        )
    if not any(r.kind == "draft_purchase_order" for r in container.modes.rules()):
        # a fresh database has ordered from none of the simulator's vendors, so every order
        # would be to a "new vendor" and need a regional manager: in the demo a store manager
        # may approve them (Settings → Approval rules shows it and changes it back)
        container.modes.set_rule(
            actor="cli:demo", kind="draft_purchase_order", new_vendor_needs_regional=False
        )
    if not container.modes.modes("risk"):  # big refunds and discounts wait for a manager
        container.modes.set_mode(
            "risk", "*", "draft", actor="cli:demo", reason="demo: managers approve risky refunds"
        )
    app = app_with_pipeline(container, max(settings.embedded_workers, 1))
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.host, port=port, log_level="warning", access_log=False)
    )

    async def _run() -> None:
        serving = await _start(server)
        if serving is None:
            fail(f"the server could not start on {base}")
        # soft_wrap: the link must stay on one line to be clickable and copyable
        console.print(f"[bold green]Dashboard:[/] {base}/", soft_wrap=True)
        if password is not None:
            console.print(
                f"log in as [bold]admin[/] with password [bold]{password}[/] (shown once)"
            )
        else:
            console.print("log in with your user (`tillwise users add` makes one)")
        console.print(f"API docs: {base}/docs   (API tokens: `tillwise tokens create`)")
        # The simulated POS runs in a process of its own (the pipeline keeps this one busy):
        # it serves its API on its own port, where approved write-backs reach the stock the
        # replay is selling from.
        ctx = multiprocessing.get_context("spawn")
        replayed, stop = ctx.Queue(), ctx.Event()
        sim = ctx.Process(
            target=_simulator_process, args=(cfg, replayed, stop), name="tillwise-simulator"
        )
        sim.start()
        try:
            console.print(await _replay_outcome(sim, replayed))
            if plan:
                await _plan_demo_stores(container)
            await _risk_summary(container)
            if keep_serving:
                console.print(f"still serving {base}/  — Ctrl-C to stop", soft_wrap=True)
                await serving
            else:
                server.should_exit = True
                await serving
        finally:
            stop.set()
            await asyncio.to_thread(sim.join, 10)
            if sim.is_alive():
                sim.terminate()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run())
