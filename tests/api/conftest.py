from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers import make_container, run
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
