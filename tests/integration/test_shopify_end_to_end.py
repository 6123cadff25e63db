"""Shopify, end to end against its local fake (tests/fakes/shopify.py), through the real
composition root: OAuth install (the callback's hex HMAC) → backfill → a signed orders/paid
webhook → an approved stock correction written back through GraphQL once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.fakes.shopify import AUTH_CODE, CLIENT_SECRET, SHOP, FakeShopify
from tests.helpers import make_settings, pump, run
from tests.unit.connectors.shopify._fake import APP
from tillwise.api.app import create_app
from tillwise.bootstrap import Container, build_container
from tillwise.connectors.shopify import make_connector
from tillwise.connectors.shopify.backfill import make_api
from tillwise.connectors.shopify.oauth import ShopifyOAuth
from tillwise.connectors.shopify.writeback import ShopifyWriteBack
from tillwise.domain.customers import Customer
from tillwise.domain.locations import Location
from tillwise.domain.proposals import Proposal
from tillwise.governance.oauth_state import complete_install
from tillwise.governance.principal import Principal, permissions_of
from tillwise.ports.platform import Installed
from tillwise.ports.repositories import Page

PINK, BERLIN = "808950810", "1034478814"  # an inventory item and a location in the fake


class FakeShopifyOAuth(ShopifyOAuth):
    def __init__(self, app: Mapping[str, str], transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(app)
        self._transport = transport

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        return await super().exchange(params, redirect_uri=redirect_uri, transport=self._transport)


@pytest.fixture
def fake() -> FakeShopify:
    return FakeShopify()


@pytest.fixture
def container(sqlite_url: str, tmp_path: Path, fake: FakeShopify) -> Iterator[Container]:
    transport = httpx.ASGITransport(app=fake.app())
    connector = make_connector(APP)
    connector.oauth = FakeShopifyOAuth(APP, transport)
    connector.api = lambda ctx: make_api(ctx, app=APP, transport=transport)
    connector.writeback = ShopifyWriteBack(APP, transport=transport)
    c = build_container(make_settings(sqlite_url, tmp_path), connectors={"shopify": connector})
    yield c
    run(c.close())


def signed_callback(params: dict[str, str]) -> dict[str, str]:
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    digest = hmac.new(CLIENT_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {**params, "hmac": digest}


def test_install_backfill_webhook_and_write_back(container: Container, fake: FakeShopify) -> None:
    state = container.oauth_states.issue("shopify", {"shop": SHOP})
    query = signed_callback({"code": AUTH_CODE, "shop": SHOP, "state": state, "timestamp": "1"})
    forged = {**query, "shop": "evil.myshopify.com"}
    with pytest.raises(Exception, match="(?i)hmac|signature"):
        run(
            complete_install(
                container.connectors["shopify"],
                container.connections,
                container.oauth_states,
                forged,
                redirect_uri=container.oauth_redirect_uri("shopify"),
            )
        )
    state = container.oauth_states.issue("shopify", {"shop": SHOP})
    query = signed_callback({"code": AUTH_CODE, "shop": SHOP, "state": state, "timestamp": "1"})
    conn = run(
        complete_install(
            container.connectors["shopify"],
            container.connections,
            container.oauth_states,
            query,
            redirect_uri=container.oauth_redirect_uri("shopify"),
        )
    )
    assert conn.config["shop"] == SHOP and conn.secret_count == 1  # the app secret signs

    counts = run(container.backfill.run(conn.id, since=None))
    assert counts["locations"] == 2 and sum(counts.values()) > 5
    run(pump(container))
    with container.uow() as uow:
        locations = uow.records.find(Location, connection_id=conn.id, page=Page(limit=100))
        customers = uow.records.find(Customer, connection_id=conn.id, page=Page(limit=100))
    assert BERLIN in {loc.external_id for loc in locations} and customers

    body = Path("tests/fixtures/payloads/shopify/rest_2024-04__order__test_14.json").read_bytes()
    order = json.loads(body)["order"]
    raw = json.dumps(order).encode()
    signature = base64.b64encode(hmac.new(CLIENT_SECRET.encode(), raw, hashlib.sha256).digest())
    headers = {
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Webhook-Id": "wh-1",
        "X-Shopify-Shop-Domain": SHOP,
        "Content-Type": "application/json",
    }
    with TestClient(create_app(container)) as client:
        bad = client.post(
            f"/webhooks/shopify/{conn.id}",
            content=raw,
            headers={**headers, "X-Shopify-Hmac-Sha256": base64.b64encode(b"x" * 32).decode()},
        )
        assert bad.status_code == 401
        ok = client.post(
            f"/webhooks/shopify/{conn.id}",
            content=raw,
            headers={**headers, "shopify-hmac-sha256": signature.decode()},  # the new spelling
        )
        assert ok.status_code == 200 and ok.json()["status"] == "accepted", ok.text
        again = client.post(  # Shopify retries with the same webhook id: stored once
            f"/webhooks/shopify/{conn.id}",
            content=raw,
            headers={**headers, "X-Shopify-Hmac-Sha256": signature.decode()},
        )
        assert again.json()["status"] == "duplicate"
    run(pump(container))

    before = fake.levels[(PINK, BERLIN)]["available"]
    container.modes.set_mode("stock_counts", "*", "draft", actor="test")
    proposal = Proposal(
        id="5b0c9a36-0000-4000-8000-0000000000ee",
        kind="stock_adjustment",
        workflow="stock_counts",
        proposed_by="workflow:stock_counts@1.0",
        connection_id=conn.id,
        location_external_id=BERLIN,
        created_at=datetime.now(UTC),
        summary="adjust +2",
        payload={"sku": "IPOD2008PINK", "location_external_id": BERLIN, "delta": 2},
    )
    with container.uow() as uow:
        uow.proposals.add(proposal)
    run(container.approvals.route_new())
    admin = Principal(
        kind="user", id="ada", role="admin", permissions=permissions_of("admin", None)
    )
    applied = run(container.approvals.approve(proposal.id, admin))
    assert applied.status == "applied", applied.result
    assert fake.levels[(PINK, BERLIN)]["available"] == before + 2
    run(container.approvals.write_approved())
    assert fake.levels[(PINK, BERLIN)]["available"] == before + 2
    assert container.audit.verify().ok
