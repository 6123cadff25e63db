"""HTTP latency of ``POST /v1/risk/score`` on loopback at a fixed request rate, against a no-op
endpoint measured in the same run.

Each server runs in its own uvicorn process (one worker) on 127.0.0.1: the real Tillwise app
(SQLite, a ``pos_extension`` token, the scorer warmed in memory by observing
``--warm`` synthetic till events of the bench store, as a worker's scorer would be) and a bare
FastAPI app whose ``/v1/risk/score`` parses the JSON body and returns a constant answer. The
client is open-loop: request *i* is sent at ``start + i / rate`` whatever the earlier answers
(keep-alive connections, as a POS extension would hold), and its latency is measured from that
scheduled time, so a stall shows up in the tail instead of slowing the load (no coordinated
omission). Prints p50 / p90 / p99 / max per target and the ratios; never asserts.

usage: python -m bench.risk_http [--rate 200] [--duration 15] [--warm 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import Request  # at module level: FastAPI resolves the route's annotation here

HERE = Path(__file__).parent
STORE_LOCATION = "loc-bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cart(i: int, connection_id: str) -> dict[str, Any]:
    """A realistic cart: 1–6 lines, a card or cash tender, one of 8 cashiers."""
    lines = [
        {
            "sku": f"SKU-{(i * 7 + k) % 500:04d}",
            "quantity": str(1 + k % 3),
            "unit_price": 199 + k * 50,
        }
        for k in range(1 + i % 6)
    ]
    total = sum(int(x["quantity"]) * int(x["unit_price"]) for x in lines)
    tender: dict[str, Any] = {"type": "cash", "amount": total}
    if i % 3:
        tender = {
            "type": "card",
            "amount": total,
            "card_fingerprint": f"fp_{i % 97:04d}",
            "last4": f"{i % 10_000:04d}",
            "entry_method": "tapped" if i % 5 else "dipped",
        }
    return {
        "connection_id": connection_id,
        "location_id": STORE_LOCATION,
        "employee_id": f"emp-{i % 8}",
        "register_id": f"reg-{i % 3}",
        "customer_id": None if i % 4 == 0 else f"cust-{i % 301}",
        "currency": "GBP",
        "lines": lines,
        "tenders": [tender],
        "cart_id": f"cart-{i}",
    }


# -- the servers (run in subprocesses) -------------------------------------------------------


def bare_app() -> Any:
    from fastapi import FastAPI

    from tillwise.cli.runtime import tune_gc

    app = FastAPI()
    answer = {"score": 0.0, "decision": "allow", "reasons": [], "model": "noop", "version": "0"}

    @app.post("/v1/risk/score")
    async def score(request: Request) -> dict[str, Any]:
        json.loads(await request.body())
        return answer

    tune_gc()
    return app


def tillwise_app() -> Any:
    from datetime import UTC, datetime, timedelta

    from tillwise.api.app import create_app
    from tillwise.bootstrap import build_container
    from tillwise.cli.runtime import tune_gc
    from tillwise.settings import Settings
    from tillwise.workflows.risk.events import LineFact, TenderFact, make_event

    settings = Settings(
        database_url=os.environ["BENCH_DATABASE_URL"],
        secret_key_file=Path(os.environ["BENCH_KEY_FILE"]),
    )
    container = build_container(settings)
    state = container.risk_state()
    scorer = state.for_reading()  # loaded once, as the first request would
    store = f"{os.environ['BENCH_CONNECTION']}:{STORE_LOCATION}"
    start = datetime(2024, 1, 1, 9, tzinfo=UTC)
    for i in range(int(os.environ["BENCH_WARM"])):  # a worker's baselines, learned in memory
        at = start + timedelta(minutes=7 * i)
        kind = "refund" if i % 25 == 0 else "sale"
        amount = 500 + (i * 37) % 9000
        scorer.observe(
            make_event(
                id=f"warm-{i}",
                kind=kind,
                store=store,
                occurred_at=at,
                time_zone="Europe/London",
                employee_id=f"emp-{i % 8}",
                register_id=f"reg-{i % 3}",
                customer_id=f"cust-{i % 301}",
                currency="GBP",
                amount=amount,
                lines=(LineFact(sku=f"SKU-{i % 500:04d}", quantity=1.0, unit_price=amount),),
                tenders=(TenderFact(type="card", amount=amount, fingerprint=f"fp_{i % 97:04d}"),),
                receipt_id=None if kind == "sale" else f"warm-{i - 3}",
            )
        )
    state.zones[store] = "Europe/London"
    app = create_app(container)
    tune_gc()
    return app


def _prepare(database_url: str) -> dict[str, str]:
    from tillwise.bootstrap import build_container
    from tillwise.settings import Settings
    from tillwise.store.migrate import upgrade

    os.environ["BENCH_DATABASE_URL"] = database_url
    os.environ["BENCH_KEY_FILE"] = str(Path(tempfile.mkdtemp()) / "bench.key")
    upgrade(database_url)
    container = build_container(
        Settings(database_url=database_url, secret_key_file=Path(os.environ["BENCH_KEY_FILE"]))
    )
    conn = container.connections.create("generic", "bench", ["unused-secret"], actor="bench")
    store = f"{conn.id}:{STORE_LOCATION}"
    _, token = container.tokens.create("pos_extension", name="bench", actor="bench", stores=[store])
    container.engine.dispose()
    os.environ["BENCH_CONNECTION"] = conn.id
    return {"connection_id": conn.id, "token": token}


def serve(kind: str, port: int, warm: int) -> None:
    import uvicorn

    os.environ["BENCH_WARM"] = str(warm)
    if kind == "bare":
        factory, info = "bench.risk_http:bare_app", {"connection_id": "bare", "token": "none"}
    else:
        db = Path(tempfile.mkdtemp()) / "risk-bench.db"
        factory, info = "bench.risk_http:tillwise_app", _prepare(f"sqlite:///{db}")
    print(json.dumps(info), flush=True)
    uvicorn.run(
        factory,
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=1,
        log_level="warning",
        access_log=False,
    )


# -- the client ------------------------------------------------------------------------------


async def _drive(url: str, token: str, conn: str, rate: float, seconds: float) -> dict[str, Any]:
    import httpx

    n = int(rate * seconds)
    bodies = [json.dumps(cart(i, conn)).encode() for i in range(n)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10.0) as client:
        for i in range(50):  # warm-up: connections open, first requests served
            await client.post("/v1/risk/score", content=bodies[i % n], headers=headers)
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05

        async def one(i: int) -> None:
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            resp = await client.post("/v1/risk/score", content=bodies[i], headers=headers)
            latencies.append(loop.time() - due)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1

        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = loop.time() - start
    latencies.sort()

    def q(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": n,
        "achieved_rps": n / elapsed,
        "statuses": statuses,
        "p50_ms": q(0.50),
        "p90_ms": q(0.90),
        "p99_ms": q(0.99),
        "max_ms": latencies[-1] * 1000,
    }


def run_target(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    port = _free_port()
    cmd = [sys.executable, "-m", "bench.risk_http", "--serve", kind, "--port", str(port)]
    cmd += ["--warm", str(args.warm)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=HERE.parent, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"{kind}: server did not start (exit {proc.wait()})")
        info = json.loads(line)
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{kind}: server did not start listening")
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        return asyncio.run(
            _drive(url, info["token"], info["connection_id"], args.rate, args.duration)
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load")
    parser.add_argument("--warm", type=int, default=5000, help="till events observed first")
    parser.add_argument("--serve", choices=("tillwise", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.warm)
        return
    print(
        f"POST /v1/risk/score on loopback, open loop at {args.rate:.0f} req/s for "
        f"{args.duration:.0f} s (one uvicorn worker each; {os.cpu_count()} cores)"
    )
    results = {kind: run_target(kind, args) for kind in ("bare", "tillwise")}
    print(
        f"{'target':<10}{'req':>7}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}  statuses"
    )
    for kind, r in results.items():
        print(
            f"{kind:<10}{r['requests']:>7}{r['achieved_rps']:>9.1f}{r['p50_ms']:>9.2f}"
            f"{r['p90_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['max_ms']:>9.2f}  {r['statuses']}"
        )
    bare, tw = results["bare"], results["tillwise"]
    print(
        f"ratio tillwise/no-op: p50 {tw['p50_ms'] / bare['p50_ms']:.2f}x, "
        f"p99 {tw['p99_ms'] / bare['p99_ms']:.2f}x  (target: HTTP p99 <= 20 ms at 200 req/s)"
    )


if __name__ == "__main__":
    main()
