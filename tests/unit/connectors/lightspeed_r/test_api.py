"""Backfill, reconciliation, fetch-on-notify and OAuth against the fake R-Series API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from tillwise.connectors._http import ApiError
from tillwise.connectors.lightspeed_r import make_connector
from tillwise.connectors.lightspeed_r.backfill import RESOURCES
from tillwise.connectors.lightspeed_r.oauth import LightspeedROAuth
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.normalized import Fetch
from tillwise.domain.purchasing import PurchaseOrder, PurchaseOrderStatus
from tillwise.domain.staff import Shift
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import resource_topic

from ._env import APP, NOW, Env


def _deliver(fetched: object, resource: str, conn: str = "con_r") -> RawDelivery:
    return RawDelivery(
        platform="lightspeed-r",
        connection_id=conn,
        event_id=fetched.event_id,  # type: ignore[attr-defined]
        topic=resource_topic(resource),
        body=fetched.body,  # type: ignore[attr-defined]
        received_at=NOW,
    )


async def test_backfill_pages_resume_from_the_checkpoint_cursor() -> None:
    env = Env(page_size=2)
    api = env.api()
    first = [p async for p in api.pages("Item", since=None, cursor=None)]
    assert [[f.event_id for f in p.objects] for p in first] == [
        ["11:2024-03-01T10:00:00+00:00", "12:2024-03-02T10:00:00+00:00"],
        ["13:2024-03-03T10:00:00+00:00"],
    ]
    resumed = [p async for p in api.pages("Item", since=None, cursor=first[0].cursor)]
    await api.aclose()
    assert [[f.event_id for f in p.objects] for p in resumed] == [["13:2024-03-03T10:00:00+00:00"]]
    assert resumed[-1].cursor is None


async def test_the_sweep_filters_on_timestamp_and_asks_for_relations() -> None:
    env = Env()
    api = env.api()
    pages = [
        p async for p in api.pages("Item", since=datetime(2024, 3, 1, 12, tzinfo=UTC), cursor=None)
    ]
    sales = [p async for p in api.pages("Sale", since=None, cursor=None)]
    await api.aclose()
    assert [f.event_id.split(":")[0] for p in pages for f in p.objects] == ["12", "13"]
    item_query = parse_qs(urlsplit(env.fake.requests[0][1]).query)
    assert item_query["timeStamp"] == [">,2024-03-01T12:00:00+00:00"]
    sale_query = parse_qs(urlsplit(env.fake.requests[1][1]).query)
    assert "SaleLines.Item" in json.loads(sale_query["load_relations"][0])
    assert [f.resource for p in sales for f in p.objects] == ["Sale"]


async def test_fetch_on_notify_gets_each_object_and_skips_deleted_ones() -> None:
    env = Env()
    api = env.api()
    got = await api.fetch(
        [Fetch(resource="Order", ids=("3", "999")), Fetch(resource="Shop", ids=("2",))]
    )
    await api.aclose()
    assert [(f.resource, f.event_id) for f in got] == [
        ("Order", "3:2024-03-04T12:00:00+00:00"),
        ("Shop", "2:2024-01-01T09:00:00+00:00"),
    ]
    [order] = make_connector({}).normalize(_deliver(got[0], "Order"), {"currency": "CAD"}).records
    assert isinstance(order, PurchaseOrder)
    assert order.status is PurchaseOrderStatus.OPEN
    assert [(line.sku, str(line.quantity), line.unit_cost) for line in order.lines] == [
        ("MUG-1", "12", order.lines[0].unit_cost)
    ]
    assert order.lines[0].unit_cost is not None and order.lines[0].unit_cost.amount == 610


async def test_backfilled_records_equal_normalizing_the_same_objects() -> None:
    env = Env(page_size=2)
    connector = make_connector({})
    config = {"currency": "CAD"}  # the connection's, for API objects and stored ones alike
    api = env.api(env.ctx(currency="CAD"))
    from_api = []
    for resource in RESOURCES:
        async for page in api.pages(resource, since=None, cursor=None):
            for fetched in page.objects:
                from_api.extend(connector.normalize(_deliver(fetched, resource), config).records)
    await api.aclose()

    from_store = []
    for resource in RESOURCES:
        for obj in env.fake.store[resource]:
            body = env.fake._with(resource, obj, ["Item", "OrderLines", "OrderLines.Item"])
            delivery = RawDelivery(
                "lightspeed-r",
                "con_r",
                "x",
                resource_topic(resource),
                json.dumps(body).encode(),
                NOW,
            )
            from_store.extend(connector.normalize(delivery, config).records)

    assert from_api == from_store
    kinds = {r.kind for r in from_api}
    assert kinds == {
        "location",
        "vendor",
        "employee",
        "customer",
        "product",
        "variant",
        "inventory_level",
        "purchase_order",
        "transaction",
        "payment",
        "shift",
    }
    levels = [r for r in from_api if isinstance(r, InventoryLevel)]
    assert {(lv.sku, lv.location_external_id, str(lv.on_hand)) for lv in levels} == {
        ("MUG-1", "1", "5"),
        ("MUG-1", "2", "4"),
        ("210000000012", "1", "3"),
        ("SPOON", "1", "0"),
    }  # the shopID 0 all-shops totals are not a location
    [shift] = [r for r in from_api if isinstance(r, Shift)]
    assert (shift.ends_at - shift.starts_at).total_seconds() == 8.5 * 3600  # type: ignore[operator]
    assert all(getattr(r, "currency", "CAD") in (None, "CAD") for r in from_api)


def test_authorize_url_carries_state_scope_and_redirect() -> None:
    url = LightspeedROAuth(APP).authorize_url(
        state="st-1", redirect_uri="https://tw.example/cb", params={}
    )
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("cloud.lightspeedapp.com", "/auth/oauth/authorize")
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["client-abc"],
        "scope": ["employee:all"],
        "state": ["st-1"],
        "redirect_uri": ["https://tw.example/cb"],
    }


async def test_exchange_gets_tokens_and_the_account_id() -> None:
    env = Env()
    oauth = LightspeedROAuth(
        {**APP, "oauth_base_url": "https://cloud.lightspeedapp.com"}, now=lambda: NOW
    )
    installed = await oauth.exchange(
        {"code": "good-code", "state": "st-1"},
        redirect_uri="https://tw.example/cb",
        transport=env.transport,
    )
    assert installed.config == {"account_id": "12345"}
    assert installed.name == "West Bolduc Retail"
    assert installed.credentials.refresh_token == "refresh-2"
    assert "good-code" not in env.fake.codes


async def test_refresh_rotates_and_the_old_refresh_token_is_single_use() -> None:
    env = Env()
    oauth = LightspeedROAuth(APP, now=lambda: NOW)
    ctx = env.ctx()
    fresh = await oauth.refresh(ctx, transport=env.transport)
    assert fresh.refresh_token == "refresh-2" and fresh.access_token == "access-2"
    with pytest.raises(ApiError) as err:
        await oauth.refresh(ctx, transport=env.transport)
    assert err.value.status == 400 and "revoked" in err.value.detail
