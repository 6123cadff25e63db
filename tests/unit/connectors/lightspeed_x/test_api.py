"""Client, backfill and fetch-on-notify against the local fake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.fakes.lightspeed_x import FakeLightspeedX
from tillwise.connectors._http import ApiError
from tillwise.connectors.lightspeed_x import make_connector
from tillwise.connectors.lightspeed_x.backfill import LightspeedXApi
from tillwise.connectors.lightspeed_x.webhooks import sign
from tillwise.domain.normalized import Fetch
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import Fetched, resource_topic

from ._fake import Saved, Sleeps, api, context
from ._golden import RECEIVED

CONFIG = {"currency": "NZD"}  # the connection's (X-Series objects name no currency)


def sync(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    run.__name__ = fn.__name__
    return run


async def _walk(a: LightspeedXApi, resource: str, cursor: str | None = None) -> list[Any]:
    return [p async for p in a.pages(resource, since=None, cursor=cursor)]


@sync
async def test_backfill_walks_every_resource_by_version_with_the_bearer_token() -> None:
    fake = FakeLightspeedX()
    a = api(fake, context(fake), page_size=2)
    got: dict[str, list[str]] = {}
    for resource in a.resources:
        pages = await _walk(a, resource)
        assert pages[-1].cursor is None
        got[resource] = [f.event_id for p in pages for f in p.objects]
    await a.aclose()
    assert a.resources.index("outlets") < a.resources.index("products") < a.resources.index("sales")
    assert got["outlets"] == [
        "b8ca3a65-0183-11e4-fbb5-2816d2677218:816974914",
        "b1e04bd8-f019-11e3-a0f5-b8ca3a64f8f4:909257071",
        "06bf537b-c783-11e6-f6b9-53a81bd6b215:1690497245",
    ]
    assert len(got["inventory"]) == 6 and len(got["suppliers"]) == 3
    # only SUPPLIER consignments are purchase orders
    assert got["consignments"] == ["7dbe52cd-0ae4-11e4-a0f5-b8ca3a64f8f4:827406"]
    outlets = fake.api_requests("/outlets")
    assert [r["query"].get("after") for r in outlets] == [None, "909257071", "1690497245"]
    assert all(r["query"]["page_size"] == "2" for r in outlets)
    assert all(r["authorization"] == "Bearer lsx-access-1" for r in fake.requests)


@sync
async def test_a_run_resumes_from_its_checkpoint_cursor() -> None:
    fake = FakeLightspeedX()
    a = api(fake, context(fake), page_size=1)
    first = await a.pages("outlets", since=None, cursor=None).__anext__()
    assert first.cursor == "816974914"
    rest = await _walk(a, "outlets", cursor=first.cursor)
    ids = [f.event_id.split(":")[0] for p in rest for f in p.objects]
    assert ids == ["b1e04bd8-f019-11e3-a0f5-b8ca3a64f8f4", "06bf537b-c783-11e6-f6b9-53a81bd6b215"]
    await a.aclose()


@sync
async def test_every_page_carries_the_largest_version_seen_as_its_watermark() -> None:
    fake = FakeLightspeedX()
    a = api(fake, context(fake), page_size=2)
    pages = await _walk(a, "outlets")
    later = await _walk(a, "outlets", cursor=pages[-1].watermark)
    suppliers = await _walk(a, "suppliers")
    await a.aclose()
    assert [(p.cursor, p.watermark) for p in pages] == [
        ("909257071", "909257071"),
        ("1690497245", "1690497245"),
        (None, "1690497245"),  # the last, empty page: nothing newer, the mark stays
    ]
    assert [(p.objects, p.watermark) for p in later] == [((), "1690497245")]
    assert [p.watermark for p in suppliers] == [None]  # unversioned: no change feed


@sync
async def test_a_429_waits_until_the_retry_after_date() -> None:
    fake = FakeLightspeedX()
    fake.throttle(2)
    sleeps = Sleeps()
    a = api(fake, context(fake), sleeps)
    pages = await _walk(a, "users")
    await a.aclose()
    assert [f.event_id for p in pages for f in p.objects] == [
        "b1ed6158-f019-11e3-a0f5-b8ca3a64f8f4:5020"
    ]
    # Retry-After is an HTTP date 7 s after the fake's clock: each retry waits exactly that
    assert sleeps.waits[:2] == [7.0, 7.0]
    assert len(fake.api_requests("/users")) == 4  # 2 throttled + the page + the empty end


@sync
async def test_an_expired_token_is_refreshed_once_rotated_and_saved_before_use() -> None:
    fake = FakeLightspeedX()
    saved = Saved()
    a = api(fake, context(fake, saved))
    fake.expired = True
    pages = await _walk(a, "shifts")
    await a.aclose()
    assert len([f for p in pages for f in p.objects]) == 2
    assert [c.refresh_token for c in saved.credentials] == ["lsx-refresh-2"]
    assert fake.token_requests[0]["refresh_token"] == "lsx-refresh-1"
    assert fake.requests[-1]["authorization"] == "Bearer lsx-access-2"


@sync
async def test_errors_carry_the_platform_message() -> None:
    fake = FakeLightspeedX()
    a = api(fake, context(fake, refresh_token=None, access_token="wrong"))
    with pytest.raises(ApiError) as err:
        await _walk(a, "users")
    await a.aclose()
    assert err.value.status == 401 and "Unauthorized" in err.value.detail


@sync
async def test_fetch_on_notify_turns_a_consignment_line_webhook_into_a_purchase_order() -> None:
    fake = FakeLightspeedX()
    c = make_connector({"client_secret": "s"})
    a = api(fake, context(fake))
    # a consignment.receive line naming the SUPPLIER consignment of the store
    body = (
        b"type=consignment.receive&payload="
        + b"%7B%22id%22%3A%22l1%22%2C%22consignment_id%22%3A%22"
        + b"7dbe52cd-0ae4-11e4-a0f5-b8ca3a64f8f4%22"
        + b"%2C%22product_id%22%3A%22p%22%2C%22count%22%3A%221%22%7D"
    )
    v = c.verify(body, {"X-Signature": sign(body, "s")}, ["s"], RECEIVED)
    delivery = RawDelivery("lightspeed-x", "con_lsx", v.event_id, v.topic, body, RECEIVED)
    batch = c.normalize(delivery, CONFIG)
    assert batch.fetches == (
        Fetch(resource="consignments", ids=("7dbe52cd-0ae4-11e4-a0f5-b8ca3a64f8f4",)),
    )
    fetched = await a.fetch(batch.fetches)
    fetched += await a.fetch(
        [Fetch(resource="sales", ids=("b8ca3a65-0183-11e4-fbb5-39f7fce5e39b", "gone"))]
    )
    await a.aclose()
    assert [f.resource for f in fetched] == ["consignments", "sales"]
    (po,) = c.normalize(_delivery(fetched[0]), CONFIG).records
    assert po.kind == "purchase_order" and len(po.lines) == 2  # type: ignore[union-attr]
    assert po.vendor_external_id == "dc85058a-a683-11e5-ef46-08f9a926615e"  # type: ignore[union-attr]


def _delivery(f: Fetched) -> RawDelivery:
    return RawDelivery(
        "lightspeed-x", "con_lsx", f.event_id, resource_topic(f.resource), f.body, RECEIVED
    )


@sync
async def test_a_backfilled_store_equals_a_webhook_fed_store() -> None:
    """The same objects, fetched through the API (2.0 shape) or delivered as 1.0 webhooks that
    describe them, give the same canonical records."""
    fake = FakeLightspeedX()
    c = make_connector({"client_secret": "s"})
    a = api(fake, context(fake))
    backfilled = {}
    for resource in ("customers", "inventory", "products", "sales"):
        for page in await _walk(a, resource):
            for f in page.objects:
                for r in c.normalize(_delivery(f), CONFIG).records:
                    backfilled[r.id] = r
    await a.aclose()
    # the same objects as webhooks: the 1.0 shape of each (what sale.update etc. carry)
    customer = fake.store["customers"][0]
    level = fake.store["inventory"][0]
    sale = fake.store["sales"][0]
    webhooks = {
        "customer.update": {
            k: customer[k]
            for k in ("id", "first_name", "last_name", "email", "phone", "updated_at", "version")
        }
        | {
            "customer_code": customer["customer_code"],
            "contact": {"physical_country_id": customer["physical_country_id"]},
        },
        "inventory.update": {
            "id": level["id"],
            "outlet_id": level["outlet_id"],
            "product_id": level["product_id"],
            "count": level["inventory_level"],
            "version": level["version"],
        },
        "sale.update": {
            "id": sale["id"],
            "status": "CLOSED",
            "register_id": sale["register_id"],
            "outlet_id": sale["outlet_id"],
            "customer_id": sale["customer_id"],
            "user_id": sale["user_id"],
            "sale_date": sale["sale_date"],
            "updated_at": sale["updated_at"],
            "version": sale["version"],
            "register_sale_products": [
                {
                    "product_id": li["product_id"],
                    "quantity": li["quantity"],
                    "price": f"{li['price']:.5f}",
                    "discount": "0.00000",
                    "price_total": f"{li['price_total']:.5f}",
                    "tax": f"{li['tax']:.5f}",
                    "tax_total": f"{li['tax_total']:.5f}",
                }
                for li in sale["line_items"]
            ],
            "adjustments": sale["adjustments"],
            "register_sale_payments": [
                {"amount": p["amount"], "payment_type_id": 1} for p in sale["payments"]
            ],
            "totals": {"total_price": "201.50000", "total_tax": "30.00000"},
        },
    }
    for topic, obj in webhooks.items():
        from urllib.parse import urlencode

        body = urlencode({"type": topic, "payload": json.dumps(obj)}).encode()
        v = c.verify(body, {"X-Signature": sign(body, "s")}, ["s"], RECEIVED)
        records = c.normalize(
            RawDelivery("lightspeed-x", "con_lsx", v.event_id, v.topic, body, RECEIVED), CONFIG
        ).records
        assert records, topic
        for record in records:
            assert record == backfilled[record.id], topic
