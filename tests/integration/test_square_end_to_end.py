"""Square, end to end against its local fake (tests/fakes/square.py), through the real
composition root: OAuth install → backfill → a signed payment webhook whose order is fetched →
an approved stock adjustment written back — every step through the same inbox, pipeline and
governance as production."""

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

from tests.fakes.square import AUTH_CODE, FakeSquare
from tests.helpers import make_settings, pump, run
from tests.unit.connectors.square._fake import APP
from tillwise.api.app import create_app
from tillwise.bootstrap import Container, build_container
from tillwise.connectors.square import SquareConnector
from tillwise.connectors.square.backfill import make_api
from tillwise.connectors.square.oauth import SquareOAuth
from tillwise.connectors.square.writeback import SquareWriteBack
from tillwise.domain.locations import Location
from tillwise.domain.proposals import Proposal
from tillwise.domain.sales import Transaction
from tillwise.governance.oauth_state import complete_install
from tillwise.governance.principal import Principal, permissions_of
from tillwise.ports.platform import Installed
from tillwise.ports.repositories import Page

PUBLIC = "https://tillwise.example"
SIGNATURE_KEY = "sq-subscription-signature-key"
PAID_ORDER = "lgwOlEityYPJtcuvKTVKT1pA986YY"  # COMPLETED in the fake


class FakeSquareOAuth(SquareOAuth):
    """Square's OAuth, talking to the fake."""

    def __init__(self, app: Mapping[str, str], transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(app)
        self._transport = transport

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        return await super().exchange(params, redirect_uri=redirect_uri, transport=self._transport)


@pytest.fixture
def fake() -> FakeSquare:
    return FakeSquare()


@pytest.fixture
def container(sqlite_url: str, tmp_path: Path, fake: FakeSquare) -> Iterator[Container]:
    transport = httpx.ASGITransport(app=fake.app())
    connector = SquareConnector(APP)
    connector.oauth = FakeSquareOAuth(APP, transport)
    connector.api = lambda ctx: make_api(ctx, app=APP, transport=transport)
    connector.writeback = SquareWriteBack(APP, transport=transport)
    c = build_container(
        make_settings(sqlite_url, tmp_path, public_url=PUBLIC), connectors={"square": connector}
    )
    yield c
    run(c.close())


def records(container: Container, kind: type[Any], connection_id: str) -> list[Any]:
    with container.uow() as uow:
        return uow.records.find(kind, connection_id=connection_id, page=Page(limit=1000))


def test_install_backfill_webhook_and_write_back(container: Container, fake: FakeSquare) -> None:
    # install: our state, then the code exchanged at the fake; tokens stored encrypted
    state = container.oauth_states.issue("square", {})
    conn = run(
        complete_install(
            container.connectors["square"],
            container.connections,
            container.oauth_states,
            {"code": AUTH_CODE, "state": state},
            redirect_uri=container.oauth_redirect_uri("square"),
        )
    )
    assert container.connections.credentials_for(conn.id).access_token  # type: ignore[union-attr]
    container.connections.add_secret(conn.id, SIGNATURE_KEY, actor="test")  # the subscription's

    # backfill: locations, catalog, customers, orders... into the inbox, then the pipeline
    counts = run(container.backfill.run(conn.id, since=None))
    assert counts["locations"] == 2 and sum(counts.values()) > 5
    run(pump(container))
    assert {loc.external_id for loc in records(container, Location, conn.id)} == {
        "18YC4JDH91E1H",
        "3Z4V4WHQK64X9",
    }
    backfilled_sales = {t.external_id for t in records(container, Transaction, conn.id)}
    assert PAID_ORDER in backfilled_sales

    # a webhook: an in-person payment names its order; the pipeline fetches it
    body = json.loads(
        Path("tests/fixtures/payloads/square/webhook__payment_created_event.json").read_bytes()
    )
    body["data"]["object"]["payment"]["order_id"] = PAID_ORDER
    raw = json.dumps(body).encode()
    url = f"{PUBLIC}/webhooks/square/{conn.id}"
    signature = base64.b64encode(
        hmac.new(SIGNATURE_KEY.encode(), url.encode() + raw, hashlib.sha256).digest()
    ).decode()
    with TestClient(create_app(container)) as client:
        forged = client.post(
            f"/webhooks/square/{conn.id}",
            content=raw,
            headers={"x-square-hmacsha256-signature": "AAAA" + signature[4:]},
        )
        assert forged.status_code == 401
        ok = client.post(
            f"/webhooks/square/{conn.id}",
            content=raw,
            headers={"x-square-hmacsha256-signature": signature},
        )
        assert ok.status_code == 200, ok.text
    run(pump(container))
    [sale] = [t for t in records(container, Transaction, conn.id) if t.external_id == PAID_ORDER]
    assert sale.total.currency == "USD" and sale.total.amount > 0

    # write-back: an approved stock correction reaches the fake's inventory once
    count = fake.counts[0]
    before = int(count["quantity"])
    container.modes.set_mode("stock_counts", "*", "draft", actor="test")
    proposal = Proposal(
        id="5b0c9a36-0000-4000-8000-0000000000aa",
        kind="stock_adjustment",
        workflow="stock_counts",
        proposed_by="workflow:stock_counts@1.0",
        connection_id=conn.id,
        location_external_id=count["location_id"],
        created_at=datetime.now(UTC),
        summary="Count 20 vs book 22: adjust -2",
        payload={
            "sku": count["catalog_object_id"],
            "location_external_id": count["location_id"],
            "delta": -2,
            "book_on_hand": before,
            "counted": before - 2,
        },
    )
    with container.uow() as uow:
        uow.proposals.add(proposal)
    run(container.approvals.route_new())
    admin = Principal(
        kind="user", id="ada", role="admin", permissions=permissions_of("admin", None)
    )
    applied = run(container.approvals.approve(proposal.id, admin))
    assert applied.status == "applied", applied.result
    assert int(fake.counts[0]["quantity"]) == before - 2
    run(container.approvals.write_approved())  # nothing left to write: no second effect
    assert int(fake.counts[0]["quantity"]) == before - 2
    assert container.audit.verify().ok
