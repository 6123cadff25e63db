"""A server for the ingest benchmark: the real Tillwise app (ingest only) or a bare route.

usage: python -m bench.server tillwise|bare PORT WORKERS [DATABASE_URL]
Prints one JSON line (the connection id and secret for `tillwise`) before it starts serving;
each of the WORKERS uvicorn processes builds its own app from the same settings.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request


def bare_app() -> FastAPI:
    from tillwise.cli.runtime import tune_gc

    app = FastAPI()

    @app.post("/webhooks/{platform}/{connection_id}")
    async def receive(platform: str, connection_id: str, request: Request) -> dict[str, str]:
        await request.body()
        return {"status": "accepted"}

    tune_gc()  # the same process settings as the Tillwise server: a fair baseline
    return app


def _settings():  # type: ignore[no-untyped-def]
    from tillwise.settings import Settings

    return Settings(
        database_url=os.environ["BENCH_DATABASE_URL"],
        secret_key_file=Path(os.environ["BENCH_KEY_FILE"]),
    )


def tillwise_app() -> FastAPI:
    from tillwise.api.app import create_app
    from tillwise.bootstrap import build_container
    from tillwise.cli.runtime import tune_gc

    app = create_app(build_container(_settings()))
    tune_gc()  # as `tillwise serve` does
    return app


def _prepare(database_url: str) -> dict[str, str]:
    from tillwise.bootstrap import build_container
    from tillwise.store.migrate import upgrade

    os.environ["BENCH_DATABASE_URL"] = database_url
    os.environ["BENCH_KEY_FILE"] = str(Path(tempfile.mkdtemp()) / "bench.key")
    upgrade(database_url)
    container = build_container(_settings())
    secret = secrets.token_urlsafe(32)
    conn = container.connections.create("generic", "bench", [secret], actor="bench")
    container.engine.dispose()
    return {"connection_id": conn.id, "secret": secret}


def main() -> None:
    kind, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if kind == "bare":
        factory, info = "bench.server:bare_app", {"connection_id": "bare", "secret": "unused"}
    else:
        factory, info = "bench.server:tillwise_app", _prepare(sys.argv[4])
    print(json.dumps(info), flush=True)
    uvicorn.run(
        factory,
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        backlog=2048,
    )


if __name__ == "__main__":
    main()
