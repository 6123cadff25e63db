"""Ingest benchmark: verified, durably stored webhooks per second against a bare FastAPI route.

Runs each server in its own process on loopback and drives it with wrk (64 connections, one
load thread, a fixed duration, so the load is bounded), posting a signed 2 KB generic sale with
a unique `Tillwise-Event-Id` per request. Prints requests/s, p50/p99 ack latency, server CPU µs
per request and the ratio against the bare route measured in the same run. SQLite always;
PostgreSQL when TILLWISE_BENCH_POSTGRES_URL or TILLWISE_TEST_POSTGRES_URL is set.

usage: python -m bench [--duration 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).parent
console = Console(width=120)  # the table stays readable when piped


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    errors: int
    cpu_us_per_request: float
    stored: int | None = None

    @property
    def rps(self) -> float:
        return (self.requests - self.non2xx - self.errors) / self.seconds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its live children (uvicorn's worker processes)."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            out.append(int(child))
            out.extend(_children(int(child)))
    return out


def _wait_listening(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                time.sleep(0.5)  # let every worker process finish starting
                return
        time.sleep(0.05)
    raise SystemExit("server did not start listening")


def sale_body(size: int = 2048) -> bytes:
    lines = []
    i = 0
    while True:
        lines.append(
            {
                "sku": f"SKU-{i:05d}-BLUE-L",
                "name": f"Benchmark item {i}",
                "quantity": 1 + i % 3,
                "price": f"{3 + i % 7}.99",
            }
        )
        payload = {
            "event": "sale.completed",
            "created_at": "2024-01-15T14:30:00Z",
            "data": {
                "id": f"bench_{uuid.uuid4().hex}",
                "location_id": "loc_bench",
                "customer_id": "cust_bench",
                "line_items": lines,
                "total_money": {"amount": 0, "currency": "USD"},
            },
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        if len(body) >= size:
            return body
        i += 1


def run_target(
    name: str, kind: str, database_url: str | None, args: argparse.Namespace, body_file: Path
) -> Result:
    from tillwise.connectors._signatures import sign

    port = _free_port()
    cmd = [sys.executable, "-m", "bench.server", kind, str(port), str(args.workers)]
    if database_url:
        cmd.append(database_url)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=HERE.parent, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"{name}: server did not start (exit {proc.wait()})")
        info = json.loads(line)
        _wait_listening(port, proc)
        body = body_file.read_bytes()
        signature = sign(body, info["secret"], int(time.time()))
        path = f"/webhooks/generic/{info['connection_id']}"
        url = f"http://127.0.0.1:{port}"

        def wrk(seconds: int) -> dict[str, float]:
            out = subprocess.run(
                [
                    "wrk",
                    "-t1",
                    f"-c{args.connections}",
                    f"-d{seconds}s",
                    "--latency",
                    "-s",
                    str(HERE / "post.lua"),
                    url,
                    "--",
                    path,
                    signature,
                    str(body_file),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            [bench_line] = [x for x in out.splitlines() if x.startswith("BENCH ")]
            return {k: float(v) for k, v in (kv.split("=") for kv in bench_line.split()[1:])}

        wrk(2)  # warm-up
        cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
        figures = wrk(args.duration)
        elapsed, cpu = time.monotonic() - t0, _cpu_seconds(proc.pid) - cpu0
        requests = int(figures["requests"])
        return Result(
            name=name,
            requests=requests,
            seconds=elapsed,
            p50_ms=figures["p50_us"] / 1000,
            p99_ms=figures["p99_us"] / 1000,
            non2xx=int(figures["non2xx"]),
            errors=int(figures["errors"]),
            cpu_us_per_request=cpu * 1e6 / max(requests, 1),
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _stored(database_url: str) -> int:
    from sqlalchemy import func, select

    from tillwise.store.engine import make_engine
    from tillwise.store.tables_pipeline import inbox

    engine = make_engine(database_url)
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())
    engine.dispose()
    return count


def _postgres_database(base: str) -> tuple[str, object]:
    from sqlalchemy import text

    from tillwise.store.engine import make_engine

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{base}{sep}options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes, for the bare route and Tillwise alike",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package `wrk`; `make bench` installs it)")

    tmp = Path(tempfile.mkdtemp(prefix="tillwise-bench-"))
    body_file = tmp / "sale.json"
    body_file.write_bytes(sale_body())
    console.print(
        f"body: {body_file.stat().st_size} bytes, {args.connections} connections, "
        f"{args.duration} s per run, {args.workers} server process(es), "
        f"{os.cpu_count()} cores"
    )

    results: list[Result] = []
    results.append(run_target("bare FastAPI route", "bare", None, args, body_file))
    sqlite_url = f"sqlite:///{tmp / 'bench.db'}"
    r = run_target("tillwise SQLite", "tillwise", sqlite_url, args, body_file)
    r.stored = _stored(sqlite_url)
    results.append(r)

    pg = os.environ.get("TILLWISE_BENCH_POSTGRES_URL") or os.environ.get(
        "TILLWISE_TEST_POSTGRES_URL"
    )
    if pg:
        pg_url, drop = _postgres_database(pg)
        try:
            r = run_target("tillwise PostgreSQL", "tillwise", pg_url, args, body_file)
            r.stored = _stored(pg_url)
            results.append(r)
        finally:
            drop()  # type: ignore[operator]
    else:
        console.print("PostgreSQL: skipped (set TILLWISE_BENCH_POSTGRES_URL)")

    base = results[0].rps
    table = Table(title="Webhook ingest (durable before the 2xx)")
    for col in (
        "target",
        "req/s",
        "ratio vs bare",
        "p50 ms",
        "p99 ms",
        "CPU µs/req",
        "non-2xx",
        "inbox rows (incl. warm-up)",
    ):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(
            r.name,
            f"{r.rps:,.0f}",
            f"{r.rps / base:.2f}",
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"{r.cpu_us_per_request:,.0f}",
            str(r.non2xx + r.errors),
            "" if r.stored is None else f"{r.stored:,}",
        )
    console.print(table)
    console.print(
        "targets: ratio ≥ 0.7 (SQLite), ≥ 0.5 (PostgreSQL); p99 ≤ 50 ms at 64 connections"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
