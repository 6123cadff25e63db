"""A server for the ingest benchmark: the real Tillwise app (ingest only) or a bare route.

usage: python -m bench.server tillwise|bare PORT [DATABASE_URL]
Prints one JSON line (connection id and secret for `tillwise`) once it is listening.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.post("/webhooks/{platform}/{connection_id}")
    async def receive(platform: str, connection_id: str, request: Request) -> dict[str, str]:
        await request.body()
        return {"status": "accepted"}

    return app


def tillwise_app(database_url: str) -> tuple[FastAPI, dict[str, str]]:
    from tillwise.api.app import create_app
    from tillwise.bootstrap import build_container
    from tillwise.settings import Settings
    from tillwise.store.migrate import upgrade

    upgrade(database_url)
    key_file = Path(tempfile.mkdtemp()) / "bench.key"
    container = build_container(Settings(database_url=database_url, secret_key_file=key_file))
    secret = secrets.token_urlsafe(32)
    conn = container.connections.create("generic", "bench", [secret], actor="bench")
    return create_app(container), {"connection_id": conn.id, "secret": secret}


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "bare":
        app, info = bare_app(), {"connection_id": "bare", "secret": "unused"}
    else:
        app, info = tillwise_app(sys.argv[3])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, backlog=2048)
    server = uvicorn.Server(config)
    original_startup = server.startup

    async def startup(sockets=None):  # type: ignore[no-untyped-def]
        await original_startup(sockets)
        print(json.dumps(info), flush=True)

    server.startup = startup  # type: ignore[method-assign]
    server.run()


if __name__ == "__main__":
    main()
