"""The same spine on the scale-out parts: PostgreSQL for the store, NATS JetStream for the bus."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers import REFERENCE_SALE_BYTES, make_container, pump, run, signed_headers
from tillwise.api.app import create_app

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


def test_reference_sale_flows_through_postgres_and_jetstream(
    postgres_url: str, nats_url: str, tmp_path: Path
) -> None:
    stream = f"TWTEST{uuid.uuid4().hex[:8].upper()}"
    container = make_container(
        postgres_url, tmp_path, bus="nats", nats_url=nats_url, nats_stream=stream
    )
    try:
        conn = container.connections.create("generic", "PG store", ["sekret"], actor="test")
        _, token = container.tokens.create("viewer", name="t", actor="test")
        with TestClient(create_app(container)) as client:
            now = int(container.clock.now().timestamp())
            for _ in range(2):
                resp = client.post(
                    f"/webhooks/generic/{conn.id}",
                    content=REFERENCE_SALE_BYTES,
                    headers=signed_headers(REFERENCE_SALE_BYTES, "sekret", now),
                )
                assert resp.status_code == 200
            run(pump(container))
            data = client.get(
                "/v1/transactions",
                params={"external_id": "txn_abc123"},
                headers={"Authorization": f"Bearer {token}"},
            ).json()["data"]
        assert len(data) == 1
        assert data[0]["total"]["amount"] == 4987
        assert data[0]["issues"][0]["code"] == "total_mismatch"
    finally:
        run(_delete_stream(nats_url, stream))
        run(container.close())


async def _delete_stream(url: str, stream: str) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def test_separate_worker_process_handles_what_the_server_stored(
    postgres_url: str, nats_url: str, tmp_path: Path
) -> None:
    """Scale-out: `tillwise serve --workers 0` stores, a `tillwise worker` process does the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    stream = f"TWTEST{uuid.uuid4().hex[:8].upper()}"
    env = {
        **os.environ,
        "TILLWISE_DATABASE_URL": postgres_url,
        "TILLWISE_BUS": "nats",
        "TILLWISE_NATS_URL": nats_url,
        "TILLWISE_NATS_STREAM": stream,
        "TILLWISE_SECRET_KEY_FILE": str(tmp_path / "tillwise.key"),
    }
    container = make_container(
        postgres_url, tmp_path, bus="nats", nats_url=nats_url, nats_stream=stream
    )
    conn = container.connections.create("generic", "PG store", ["sekret"], actor="test")
    _, token = container.tokens.create("viewer", name="t", actor="test")
    worker = subprocess.Popen(
        [sys.executable, "-c", "from tillwise.cli import main; main()", "worker"], env=env
    )
    try:
        with TestClient(create_app(container)) as client:  # the API process: no workers
            now = int(container.clock.now().timestamp())
            resp = client.post(
                f"/webhooks/generic/{conn.id}",
                content=REFERENCE_SALE_BYTES,
                headers=signed_headers(REFERENCE_SALE_BYTES, "sekret", now),
            )
            assert resp.status_code == 200
            deadline = time.monotonic() + 60
            data: list[dict[str, object]] = []
            while not data and time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.2)  # waiting for the other process, bounded; nothing is timed
                data = client.get(
                    "/v1/transactions",
                    params={"external_id": "txn_abc123"},
                    headers={"Authorization": f"Bearer {token}"},
                ).json()["data"]
        assert worker.poll() is None, "the worker process died"
        assert [t["total"]["amount"] for t in data] == [4987]
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        run(_delete_stream(nats_url, stream))
        run(container.close())
