from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import body_of, make_container, pump, run, signed_headers
from tillwise.api.app import create_app
from tillwise.bootstrap import Container

SECRET = "whsec_test_9f8e7d6c5b4a"


@dataclass
class Api:
    client: TestClient
    container: Container
    connection_id: str
    admin: dict[str, str]  # Authorization header
    viewer: dict[str, str]


@pytest.fixture
def container(sqlite_url: str, tmp_path: Path) -> Iterator[Container]:
    c = make_container(sqlite_url, tmp_path)
    yield c
    run(c.close())


@pytest.fixture
def api(container: Container) -> Iterator[Api]:
    conn = container.connections.create("generic", "Test store", [SECRET], actor="test")
    _, admin = container.tokens.create("admin", name="admin", actor="test")
    _, viewer = container.tokens.create("viewer", name="viewer", actor="test")
    with TestClient(create_app(container)) as client:
        yield Api(
            client=client,
            container=container,
            connection_id=conn.id,
            admin={"Authorization": f"Bearer {admin}"},
            viewer={"Authorization": f"Bearer {viewer}"},
        )


def deliver(
    api: Api, event: str, data: dict[str, Any], *, at: str = "2024-01-15T14:30:00Z"
) -> None:
    """Send one signed generic webhook through the real endpoint and run the pipeline."""
    body = body_of({"event": event, "created_at": at, "data": data})
    now = int(api.container.clock.now().timestamp())
    resp = api.client.post(
        f"/webhooks/generic/{api.connection_id}",
        content=body,
        headers=signed_headers(body, SECRET, now),
    )
    assert resp.status_code in (200, 202), resp.text
    run(pump(api.container))


def add_store(api: Api, location_id: str, name: str) -> str:
    """A store (location) at the test connection; returns its store key."""
    deliver(api, "location.updated", {"id": location_id, "name": name, "time_zone": "UTC"})
    return f"{api.connection_id}:{location_id}"


def bearer(api: Api, role: str, *, stores: list[str] | None = None) -> dict[str, str]:
    _, token = api.container.tokens.create(role, name=role, actor="test", stores=stores)
    return {"Authorization": f"Bearer {token}"}
