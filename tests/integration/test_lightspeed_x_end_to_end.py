"""Lightspeed X-Series, end to end against its local fake (tests/fakes/lightspeed_x.py), through
the real composition root: OAuth install (store-specific token endpoint) → backfill → a signed,
form-encoded webhook → an approved purchase order written back as an OPEN supplier consignment."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.fakes.lightspeed_x import FakeLightspeedX
from tests.helpers import make_settings, pump, run
from tests.unit.connectors.lightspeed_x._fake import APP
from tillwise.api.app import create_app
from tillwise.bootstrap import Container, build_container
from tillwise.connectors.lightspeed_x import make_connector
from tillwise.connectors.lightspeed_x.backfill import make_api
from tillwise.connectors.lightspeed_x.oauth import LightspeedXOAuth
from tillwise.connectors.lightspeed_x.writeback import LightspeedXWriteBack
from tillwise.domain.customers import Customer
from tillwise.domain.proposals import Proposal
from tillwise.governance.oauth_state import complete_install
from tillwise.governance.principal import Principal, permissions_of
from tillwise.ports.platform import Installed
from tillwise.ports.repositories import Page

OUTLET = "b1e04bd8-f019-11e3-a0f5-b8ca3a64f8f4"
PRODUCT = "b8ca3a65-0183-11e4-fbb5-7988a6ed80f8"
SUPPLIER = "dc85058a-a683-11e5-ef46-08f9a926615e"
FIXTURE = Path("tests/fixtures/payloads/lightspeed_x/webhook__customer_update__docs_example.json")


class FakeOAuth(LightspeedXOAuth):
    def __init__(self, app: Mapping[str, str], transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(app)
        self._transport = transport

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        return await super().exchange(params, redirect_uri=redirect_uri, transport=self._transport)


@pytest.fixture
def fake() -> FakeLightspeedX:
    return FakeLightspeedX()


@pytest.fixture
def container(sqlite_url: str, tmp_path: Path, fake: FakeLightspeedX) -> Iterator[Container]:
    transport = httpx.ASGITransport(app=fake.app)
    connector = make_connector(APP)
    connector.oauth = FakeOAuth(APP, transport)
    connector.api = lambda ctx: make_api(ctx, transport=transport)
    connector.writeback = LightspeedXWriteBack(APP, transport=transport)
    c = build_container(
        make_settings(sqlite_url, tmp_path, lightspeed_x_currency="NZD"),
        connectors={"lightspeed-x": connector},
    )
    yield c
    run(c.close())


def test_install_backfill_webhook_and_purchase_order(
    container: Container, fake: FakeLightspeedX
) -> None:
    state = container.oauth_states.issue("lightspeed-x", {})
    conn = run(
        complete_install(
            container.connectors["lightspeed-x"],
            container.connections,
            container.oauth_states,
            {"code": "good-code", "domain_prefix": "acme", "state": state},
            redirect_uri=container.oauth_redirect_uri("lightspeed-x"),
        )
    )
    assert conn.config["domain_prefix"] == "acme"
    assert conn.config["currency"] == "NZD"  # the app's default, for objects that name none

    counts = run(container.backfill.run(conn.id, since=None))
    assert sum(counts.values()) > 5
    run(pump(container))
    # a reconciliation sweep continues each versioned collection from the largest version the
    # backfill saw, not from version 0: nothing changed, nothing is read again (suppliers have
    # no versions, so they are read whole)
    fake.requests.clear()
    swept = run(container.backfill.reconcile(conn.id))
    assert {r: n for r, n in swept.items() if n} == {"suppliers": counts["suppliers"]}
    newest = max(int(s["version"]) for s in fake.store["sales"])
    assert [r["query"].get("after") for r in fake.api_requests("/sales")] == [str(newest)]

    payload = json.loads(FIXTURE.read_bytes())
    payload = payload.get("payload", payload)
    body = urlencode({"payload": json.dumps(payload), "type": "customer.update"}).encode()
    secret = APP["client_secret"].encode()
    signature = "signature=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with TestClient(create_app(container)) as client:
        bad = client.post(
            f"/webhooks/lightspeed-x/{conn.id}",
            content=body,
            headers={**form, "X-Signature": "signature=00, algorithm=HMAC-SHA256"},
        )
        assert bad.status_code == 401
        ok = client.post(
            f"/webhooks/lightspeed-x/{conn.id}",
            content=body,
            headers={**form, "X-Signature": f"{signature}, algorithm=HMAC-SHA256"},
        )
        assert ok.status_code == 200, ok.text
    run(pump(container))
    with container.uow() as uow:
        customers = uow.records.find(Customer, connection_id=conn.id, page=Page(limit=100))
    assert str(payload["id"]) in {c.external_id for c in customers}

    container.modes.set_mode("replenishment", "*", "draft", actor="test")
    proposal = Proposal(
        id="5b0c9a36-0000-4000-8000-0000000000ff",
        kind="draft_purchase_order",
        workflow="replenishment",
        proposed_by="workflow:replenishment@1",
        connection_id=conn.id,
        location_external_id=OUTLET,
        created_at=datetime.now(UTC),
        summary="Reorder 12",
        payload={
            "vendor_external_id": SUPPLIER,
            "location_external_id": OUTLET,
            "lines": [{"sku": PRODUCT, "quantity": 12, "unit_cost": "2.95"}],
        },
    )
    with container.uow() as uow:
        uow.proposals.add(proposal)
    run(container.approvals.route_new())
    buyer = Principal(
        kind="user", id="ada", role="admin", permissions=permissions_of("admin", None)
    )
    applied = run(container.approvals.approve(proposal.id, buyer))
    assert applied.status == "applied", applied.result
    reference = applied.result["reference"]  # type: ignore[index]
    made = next(c for c in fake.store["consignments"] if c["id"] == reference)
    assert (made["type"], made["status"], made["supplier_id"]) == ("SUPPLIER", "OPEN", SUPPLIER)
    assert fake.consignment_products[reference][0]["count"] == "12"
    assert container.audit.verify().ok
