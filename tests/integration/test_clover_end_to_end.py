"""Clover, end to end against its local fake (tests/fakes/clover.py), through the real
composition root: OAuth install → backfill → the verification handshake and a doorbell
notification whose order is fetched → an approved stock correction written back."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.fakes.clover import CLIENT_ID, CLIENT_SECRET, MERCHANT, FakeClover
from tests.helpers import make_settings, pump, run
from tillwise.api.app import create_app
from tillwise.bootstrap import Container, build_container
from tillwise.connectors.clover import CloverApi, make_connector
from tillwise.connectors.clover.oauth import CloverOAuth
from tillwise.domain.proposals import Proposal
from tillwise.domain.sales import Transaction
from tillwise.governance.oauth_state import complete_install
from tillwise.governance.principal import Principal, permissions_of
from tillwise.ports.platform import Installed
from tillwise.ports.repositories import Page
from tillwise.ports.writeback import WriteTarget

APP = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "region": "na"}
AUTH_CODE = "clover-auth-code-1"  # the static X-Clover-Auth code the app is given


class FakeCloverOAuth(CloverOAuth):
    def __init__(self, app: Mapping[str, str], transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(app)
        self._transport = transport

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        return await super().exchange(params, redirect_uri=redirect_uri, transport=self._transport)


@pytest.fixture
def fake() -> FakeClover:
    return FakeClover()


@pytest.fixture
def container(sqlite_url: str, tmp_path: Path, fake: FakeClover) -> Iterator[Container]:
    transport = httpx.ASGITransport(app=fake.app())
    connector = make_connector(APP)
    connector.oauth = FakeCloverOAuth(APP, transport)
    connector.api = lambda ctx: CloverApi(connector.session(ctx, transport=transport))

    async def session_for(target: WriteTarget) -> Any:
        assert target.context is not None
        return connector.session(target.context, transport=transport)

    connector.use_sessions(session_for)
    c = build_container(make_settings(sqlite_url, tmp_path), connectors={"clover": connector})
    yield c
    run(c.close())


def sales(container: Container, connection_id: str) -> set[str]:
    with container.uow() as uow:
        found = uow.records.find(Transaction, connection_id=connection_id, page=Page(limit=1000))
    return {t.external_id for t in found}


def test_install_backfill_notification_and_write_back(
    container: Container, fake: FakeClover
) -> None:
    state = container.oauth_states.issue("clover", {})
    conn = run(
        complete_install(
            container.connectors["clover"],
            container.connections,
            container.oauth_states,
            {"code": "code-1", "merchant_id": MERCHANT, "state": state},
            redirect_uri=container.oauth_redirect_uri("clover"),
        )
    )
    assert conn.config["merchant_id"] == MERCHANT

    served = ["merchant", "employees", "items", "customers", "orders"]  # the fake's resources
    counts = run(container.backfill.run(conn.id, since=None, resources=served))
    assert counts["orders"] == 2
    run(pump(container))
    orders = sorted(fake.orders)
    assert sales(container, conn.id) == set(orders)

    with TestClient(create_app(container)) as client:
        # Clover's verification handshake: answered, nothing stored (no auth code yet)
        no_code = client.post(f"/webhooks/clover/{conn.id}", json={"verificationCode": "v-123"})
        assert no_code.status_code == 404  # no code configured: the connection takes nothing
        container.connections.add_secret(conn.id, AUTH_CODE, actor="test")
        hello = client.post(f"/webhooks/clover/{conn.id}", json={"verificationCode": "v-123"})
        assert hello.status_code == 200 and hello.json() == {"verificationCode": "v-123"}

        # a doorbell: one order changed; the pipeline fetches it
        fake.orders[orders[0]]["note"] = "changed on the device"
        fake.orders[orders[0]]["modifiedTime"] += 1000
        bell = {
            "appId": "APP",
            "merchants": {
                MERCHANT: [{"objectId": f"O:{orders[0]}", "type": "UPDATE", "ts": 1546560000000}],
                "OTHERMERCHANT": [{"objectId": "O:NOTOURS", "type": "UPDATE", "ts": 1}],
            },
        }
        wrong = client.post(
            f"/webhooks/clover/{conn.id}", json=bell, headers={"X-Clover-Auth": "guess"}
        )
        assert wrong.status_code == 401
        ok = client.post(
            f"/webhooks/clover/{conn.id}", json=bell, headers={"X-Clover-Auth": AUTH_CODE}
        )
        assert ok.status_code == 200, ok.text
    run(pump(container))
    assert sales(container, conn.id) == set(orders)  # fetched again, still the same two sales

    item = sorted(fake.items)[0]
    before = fake.stock(item)
    container.modes.set_mode("stock_counts", "*", "draft", actor="test")
    proposal = Proposal(
        id="5b0c9a36-0000-4000-8000-0000000000cc",
        kind="stock_adjustment",
        workflow="stock_counts",
        proposed_by="workflow:stock_counts@1.0",
        connection_id=conn.id,
        location_external_id=MERCHANT,
        created_at=datetime.now(UTC),
        summary="adjust -1",
        payload={"sku": item, "location_external_id": MERCHANT, "delta": -1},
    )
    with container.uow() as uow:
        uow.proposals.add(proposal)
    run(container.approvals.route_new())
    admin = Principal(
        kind="user", id="ada", role="admin", permissions=permissions_of("admin", None)
    )
    applied = run(container.approvals.approve(proposal.id, admin))
    assert applied.status == "applied", applied.result
    assert fake.stock(item) == before - 1
    assert json.dumps(applied.result).count(item) >= 1
    assert container.audit.verify().ok
