"""Lightspeed R-Series, end to end against its local fake (tests/fakes/lightspeed_r.py), through
the real composition root. R-Series sends no webhooks, so the data path is OAuth install →
backfill → the reconciliation sweep (what changed since) → an approved purchase order written
back as an R-Series Order with its lines."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.lightspeed_r import FakeRSeries
from tests.helpers import make_settings, pump, run
from tests.unit.connectors.lightspeed_r._env import APP
from tillwise.bootstrap import Container, build_container
from tillwise.connectors.lightspeed_r import make_connector
from tillwise.connectors.lightspeed_r.backfill import LightspeedRApi
from tillwise.connectors.lightspeed_r.oauth import LightspeedROAuth
from tillwise.connectors.lightspeed_r.writeback import LightspeedRWriteBack, ref_num
from tillwise.domain.customers import Customer
from tillwise.domain.proposals import Proposal
from tillwise.domain.sales import Transaction
from tillwise.governance.oauth_state import complete_install
from tillwise.governance.principal import Principal, permissions_of
from tillwise.ports.platform import Installed
from tillwise.ports.repositories import Page


class FakeOAuth(LightspeedROAuth):
    def __init__(self, app: Mapping[str, str], transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(app)
        self._transport = transport

    async def exchange(
        self, params: Mapping[str, str], *, redirect_uri: str, transport: Any = None
    ) -> Installed:
        return await super().exchange(params, redirect_uri=redirect_uri, transport=self._transport)


@pytest.fixture
def fake() -> FakeRSeries:
    return FakeRSeries()


@pytest.fixture
def container(sqlite_url: str, tmp_path: Path, fake: FakeRSeries) -> Iterator[Container]:
    transport = httpx.ASGITransport(app=fake.app)
    connector = make_connector(APP)
    # the app's default currency is what a new connection is installed with (R-Series objects
    # name none); its deliveries are normalized with the connection's configured currency
    connector.oauth = FakeOAuth({**APP, "currency": "CAD"}, transport)
    connector.api = lambda ctx: LightspeedRApi(
        ctx, app=APP, transport=transport, oauth_transport=transport
    )
    connector.writeback = LightspeedRWriteBack(APP, transport=transport, oauth_transport=transport)
    c = build_container(
        make_settings(sqlite_url, tmp_path, lightspeed_r_currency="CAD"),
        connectors={"lightspeed-r": connector},
    )
    yield c
    run(c.close())


def found(container: Container, kind: type[Any], connection_id: str) -> dict[str, Any]:
    with container.uow() as uow:
        items = uow.records.find(kind, connection_id=connection_id, page=Page(limit=1000))
    return {r.external_id: r for r in items}


def test_install_backfill_reconcile_and_purchase_order(
    container: Container, fake: FakeRSeries
) -> None:
    state = container.oauth_states.issue("lightspeed-r", {})
    conn = run(
        complete_install(
            container.connectors["lightspeed-r"],
            container.connections,
            container.oauth_states,
            {"code": "good-code", "state": state},
            redirect_uri=container.oauth_redirect_uri("lightspeed-r"),
        )
    )
    assert conn.config["account_id"] and conn.secret_count == 0  # no webhooks to sign
    assert conn.config["currency"] == "CAD"

    counts = run(container.backfill.run(conn.id, since=None))
    assert sum(counts.values()) > 5
    run(pump(container))
    assert found(container, Transaction, conn.id)
    customers = found(container, Customer, conn.id)
    assert customers

    # a change made on the POS, which no webhook will announce: the sweep finds it
    customer = fake.store["Customer"][0]
    customer["firstName"] = "Renamed"
    customer["timeStamp"] = datetime.now(UTC).isoformat()
    swept = run(container.backfill.reconcile(conn.id))
    assert swept.get("Customer", 0) >= 1
    run(pump(container))
    renamed = found(container, Customer, conn.id)[str(customer["customerID"])]
    assert "Renamed" in renamed.model_dump_json()

    container.modes.set_mode("replenishment", "*", "draft", actor="test")
    proposal = Proposal(
        id="5b0c9a36-0000-4000-8000-0000000000dd",
        kind="draft_purchase_order",
        workflow="replenishment",
        proposed_by="workflow:replenishment@1",
        connection_id=conn.id,
        location_external_id="1",
        created_at=datetime.now(UTC),
        summary="Reorder spoons",
        payload={
            "vendor": {"external_id": "7", "name": "Maple Supply Co"},
            "location_external_id": "1",
            "currency": "CAD",
            "lines": [{"sku": "SPOON", "quantity": 24, "unit_cost": "1.10"}],
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
    [order] = [o for o in fake.store["Order"] if o.get("refNum") == ref_num(proposal.id)]
    assert (order["vendorID"], order["shopID"]) == ("7", "1")
    assert container.audit.verify().ok
