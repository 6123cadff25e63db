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
