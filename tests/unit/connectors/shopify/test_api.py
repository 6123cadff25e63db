"""The Shopify client, backfill and fetch-on-notify against the local fake (tests/fakes)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.fakes.shopify import SHOP
from tillwise.connectors._http import ApiError
from tillwise.connectors.shopify.backfill import ShopifyApi
from tillwise.connectors.shopify.normalize import normalize
from tillwise.domain.normalized import Fetch, NormalizedBatch
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import Fetched, ResourcePage, resource_topic

from ._fake import NOW, Clock, Saved, api, context, fake_shop, sync, transport

PINK, GREEN, FIFTH_AVE, BERLIN = "808950810", "39072856", "487838322", "1034478814"


async def _all(a: ShopifyApi, resource: str, cursor: str | None = None) -> list[ResourcePage]:
    return [p async for p in a.pages(resource, since=None, cursor=cursor)]


def _ids(pages: list[ResourcePage]) -> list[str]:
    return [f.event_id for p in pages for f in p.objects]


def _delivery(f: Fetched) -> RawDelivery:
    return RawDelivery(
        platform="shopify",
        connection_id="con_sh",
        event_id=f.event_id,
        topic=resource_topic(f.resource),
        body=f.body,
        received_at=NOW,
    )


@sync
async def test_rest_backfill_follows_the_link_header_page_by_page() -> None:
    fake = fake_shop(page_size=1)
    a = api(fake, context(fake))
    pages = await _all(a, "orders")
    await a.aclose()
    assert [json.loads(f.body)["id"] for p in pages for f in p.objects] == [450789469, 450789470]
    assert pages[0].cursor is not None and pages[-1].cursor is None
    calls = fake.api_requests("/orders.json")
    # the first page carries the filters; later pages only page_info and limit (Shopify's rule)
    assert calls[0]["query"] == {"limit": "250", "status": "any"}
    assert calls[1]["query"] == {"limit": "250", "page_info": pages[0].cursor}
    assert all(r["token"] and r["token"].startswith("shpat_") for r in fake.requests)
    assert all(r["path"].startswith("/admin/api/2024-04/") for r in fake.requests)


@sync
async def test_a_checkpoint_cursor_resumes_where_the_run_stopped() -> None:
    fake = fake_shop(page_size=1)
    a = api(fake, context(fake))
    for resource in ("locations", "inventory_levels"):
        full = _ids(await _all(a, resource))
        first = None
        async for page in a.pages(resource, since=None, cursor=None):
            first = page
            break  # the run dies after its first page; the checkpoint is page.cursor
        assert first is not None and first.cursor is not None
        rest = _ids(await _all(a, resource, first.cursor))
        assert _ids([first]) + rest == full and rest
    await a.aclose()


@sync
async def test_inventory_levels_come_from_graphql_with_their_sku_page_by_page() -> None:
    fake = fake_shop(page_size=1)
    a = api(fake, context(fake))
    pages = await _all(a, "inventory_levels")
    await a.aclose()
    levels = [json.loads(f.body) for p in pages for f in p.objects]
    assert len(pages) == 3  # one inventory item per page
    assert {(lv["sku"], lv["location_id"], lv["available"], lv["on_hand"]) for lv in levels} == {
        ("IPOD2008GREEN", FIFTH_AVE, 27, 28),
        ("IPOD2008PINK", FIFTH_AVE, 9, 10),
        ("IPOD2008PINK", BERLIN, 6, 7),
    }
    afters = [r["body"]["variables"].get("after") for r in fake.api_requests("/graphql.json")]
    assert afters[0] is None and all(afters[1:]) and len(afters) == 3


@sync
async def test_locations_read_and_fetched_get_the_shops_time_zone_read_once() -> None:
    fake = fake_shop(page_size=1)
    a = api(fake, context(fake))
    pages = await _all(a, "locations")
    fetched = await a.fetch([Fetch(resource="locations", ids=(BERLIN,))])
    await a.aclose()
    objects = [f for p in pages for f in p.objects] + fetched
    assert len(objects) == 3
    locations = [normalize(_delivery(f)).records[0] for f in objects]
    assert {loc.time_zone for loc in locations} == {"America/New_York"}
    assert objects[-1].event_id.endswith(":America/New_York")  # re-stored when the zone is new
    [shop] = fake.api_requests("/shop.json")
    assert shop["query"] == {"fields": "iana_timezone"}
    assert shop["path"] == "/admin/api/2024-04/shop.json"


@sync
async def test_a_nearly_full_rest_bucket_waits_before_the_next_call() -> None:
    clock = Clock()
    fake = fake_shop(clock, page_size=1)
    fake.bucket_used = 37  # 38/40 after the first call: two left, the client's headroom
    a = api(fake, context(fake), clock)
    pages = await _all(a, "locations")
    await a.aclose()
    assert len(pages) == 2
    # before shop.json (the locations' zone) and before page 2: (38 - 38 + 1) / 2 per second
    assert clock.waits == [0.5, 0.5]
    assert fake.api_requests("/locations.json")[0]["query"] == {"limit": "250"}
    assert len(fake.api_requests("/locations.json")) == 2  # no 429 was provoked


@sync
async def test_429_waits_retry_after_then_succeeds() -> None:
    clock = Clock()
    fake = fake_shop(clock, page_size=10)
    a = api(fake, context(fake), clock)
    fake.throttle(2)
    pages = await _all(a, "customers")
    await a.aclose()
    assert [json.loads(f.body)["id"] for f in pages[0].objects] == [207119551]
    assert clock.waits == [2.0, 2.0]  # Retry-After: 2.0, not backoff
    assert len(fake.api_requests("/customers.json")) == 3


@sync
async def test_429_beyond_the_attempts_is_a_retryable_error() -> None:
    clock = Clock()
    fake = fake_shop(clock)
    a = api(fake, context(fake), clock, max_attempts=3)
    fake.throttle(10)
    with pytest.raises(ApiError) as err:
        await _all(a, "locations")
    await a.aclose()
    assert err.value.retryable and err.value.status == 429
    assert clock.waits == [2.0, 2.0]


@sync
async def test_graphql_throttled_waits_for_the_points_it_lacks() -> None:
    clock = Clock()
    fake = fake_shop(clock, page_size=1)
    fake.graphql_available = 11.0  # a page costs 1 + first(50) = 51 points
    a = api(fake, context(fake), clock)
    pages = await _all(a, "inventory_levels")
    await a.aclose()
    assert len(pages) == 3
    # (51 - 11) / 50 = 0.8 s, then (51 - 0) / 50 = 1.02 s for each later page
    assert clock.waits == pytest.approx([0.8, 1.02, 1.02])
    calls = fake.api_requests("/graphql.json")
    assert len(calls) == 6  # each page: THROTTLED once, then answered


@sync
async def test_401_refreshes_saves_then_retries_and_the_old_refresh_token_is_spent() -> None:
    fake = fake_shop(page_size=10)
    _, refresh = fake.issue_token()
    saved = Saved()
    # a token Shopify no longer accepts, though its expiry says it is fine
    ctx = context(
        fake, access="shpat_gone", refresh=refresh, expires_at=NOW + timedelta(hours=1), saved=saved
    )
    a = api(fake, ctx)
    pages = await _all(a, "locations")
    assert len(pages[0].objects) == 2
    [new] = saved.credentials
    assert new.access_token in fake.tokens and new.refresh_token in fake.refresh_tokens
    assert new.refresh_token != refresh and refresh not in fake.refresh_tokens  # rotated
    assert new.expires_at == NOW + timedelta(seconds=3600)
    assert [r["token"] for r in fake.api_requests("/locations.json")] == [
        "shpat_gone",
        new.access_token,
    ]
    [grant] = fake.token_requests
    assert grant["grant_type"] == "refresh_token" and grant["refresh_token"] == refresh
    # a second 401 later uses the NEW refresh token (the client kept it)
    del fake.tokens[new.access_token or ""]
    await _all(a, "locations")
    assert len(saved.credentials) == 2
    assert fake.token_requests[-1]["refresh_token"] == new.refresh_token
    await a.aclose()


@sync
async def test_a_spent_refresh_token_is_refused() -> None:
    fake = fake_shop()
    _, refresh = fake.issue_token()
    saved = Saved()
    first = api(fake, context(fake, access="shpat_gone", refresh=refresh, saved=saved))
    await _all(first, "locations")
    await first.aclose()
    # a stale copy of the connection (the rotated token was not reloaded) cannot refresh
    stale = api(fake, context(fake, access="shpat_gone", refresh=refresh))
    with pytest.raises(ApiError) as err:
        await _all(stale, "locations")
    await stale.aclose()
    assert err.value.status == 400 and "invalid" in err.value.detail
    assert len(saved.credentials) == 1


@sync
async def test_a_token_about_to_expire_is_refreshed_before_it_is_used() -> None:
    fake = fake_shop(page_size=10)
    access, refresh = fake.issue_token()
    saved = Saved()
    ctx = context(
        fake, access=access, refresh=refresh, expires_at=NOW + timedelta(minutes=2), saved=saved
    )
    a = api(fake, ctx)
    await _all(a, "locations")
    await a.aclose()
    [new] = saved.credentials
    assert {r["token"] for r in fake.requests} == {new.access_token}


@sync
async def test_without_a_refresh_token_a_401_is_an_error() -> None:
    fake = fake_shop()
    a = api(fake, context(fake, access="shpat_gone"))
    with pytest.raises(ApiError) as err:
        await _all(a, "locations")
    await a.aclose()
    assert err.value.status == 401 and not err.value.retryable
    assert "shpat_gone" not in err.value.detail


@sync
async def test_an_inventory_webhook_is_completed_by_fetching_the_level_with_its_sku() -> None:
    fake = fake_shop()
    a = api(fake, context(fake))
    body = fake.rest_level(PINK, BERLIN)  # what inventory_levels/update carries: no SKU
    webhook = RawDelivery(
        platform="shopify",
        connection_id="con_sh",
        event_id="wh-1",
        topic="inventory_levels/update",
        body=json.dumps(body).encode(),
        received_at=NOW,
    )
    first = normalize(webhook)
    assert first.records == ()
    assert first.fetches == (Fetch(resource="inventory_levels", ids=(f"{PINK}:{BERLIN}",)),)
    [got] = await a.fetch(first.fetches)
    [level] = normalize(_delivery(got)).records
    assert level.kind == "inventory_level"
    assert (level.sku, level.location_external_id) == ("IPOD2008PINK", BERLIN)
    assert (level.on_hand, level.available) == (7, 6)
    [call] = fake.api_requests("/graphql.json")
    assert call["body"]["variables"] == {
        "item": f"gid://shopify/InventoryItem/{PINK}",
        "location": f"gid://shopify/Location/{BERLIN}",
    }
    # a level that does not exist (item not stocked there) yields nothing, not an error
    assert await a.fetch([Fetch(resource="inventory_levels", ids=(f"{GREEN}:{BERLIN}",))]) == []
    await a.aclose()


@sync
async def test_fetch_on_notify_reads_rest_objects_and_skips_deleted_ones() -> None:
    fake = fake_shop()
    a = api(fake, context(fake))
    got = await a.fetch([Fetch(resource="orders", ids=("450789469", "1", "450789469"))])
    await a.aclose()
    assert [(f.resource, f.event_id) for f in got] == [
        ("orders", "450789469:2008-01-10T11:00:00-05:00")
    ]
    assert [r["path"] for r in fake.requests] == [
        "/admin/api/2024-04/orders/450789469.json",
        "/admin/api/2024-04/orders/1.json",
    ]


def _webhook(topic: str, obj: Any, n: int) -> RawDelivery:
    return RawDelivery(
        platform="shopify",
        connection_id="con_sh",
        event_id=f"wh-{n}",
        topic=topic,
        body=json.dumps(obj).encode(),
        received_at=NOW,
    )


def _records(batches: list[NormalizedBatch]) -> dict[str, Any]:
    return {r.id: r.model_dump(mode="json") for b in batches for r in b.records}


@sync
async def test_backfilled_store_equals_the_webhook_fed_store() -> None:
    fake = fake_shop(page_size=2)
    a = api(fake, context(fake))
    backfilled: list[NormalizedBatch] = []
    for resource in a.resources:
        async for page in a.pages(resource, since=None, cursor=None):
            backfilled += [normalize(_delivery(f)) for f in page.objects]

    # the same store as Shopify would push it: full REST objects, unwrapped
    pushed: list[NormalizedBatch] = []
    n = 0
    for topic, objects in (
        ("products/update", fake.products.values()),
        ("customers/update", fake.customers.values()),
        ("orders/updated", fake.orders.values()),
    ):
        for obj in objects:
            n += 1
            pushed.append(normalize(_webhook(topic, obj, n)))
    for location in fake.locations.values():
        n += 1
        batch = normalize(_webhook("locations/update", location, n))
        assert batch.records == () and batch.fetches  # no time zone in the body: fetched
        pushed += [normalize(_delivery(f)) for f in await a.fetch(batch.fetches)]
    for item_id, location_id in fake.levels:
        n += 1
        batch = normalize(
            _webhook("inventory_levels/update", fake.rest_level(item_id, location_id), n)
        )
        assert batch.records == () and batch.fetches  # no SKU in the body: fetched
        pushed += [normalize(_delivery(f)) for f in await a.fetch(batch.fetches)]
    await a.aclose()

    want, got = _records(backfilled), _records(pushed)
    kinds = sorted(r["kind"] for r in want.values())
    assert kinds.count("location") == 2 and kinds.count("inventory_level") == 3
    assert kinds.count("customer") == 1 and kinds.count("product") >= 1
    assert len(want) > 2 + 3 + 1 + 1
    assert got == want


@sync
async def test_the_fake_refuses_other_parameters_with_page_info() -> None:
    """Why the client sends only page_info and limit after the first page."""
    fake = fake_shop(page_size=1)
    access, _ = fake.issue_token()
    async with httpx.AsyncClient(transport=transport(fake), base_url=f"https://{SHOP}") as http:
        headers = {"X-Shopify-Access-Token": access}
        first = await http.get("/admin/api/2024-04/orders.json?status=any", headers=headers)
        nxt = first.headers["Link"].split(";")[0].strip("<>")
        assert (await http.get(nxt, headers=headers)).status_code == 200
        mixed = await http.get(nxt + "&status=any", headers=headers)
    assert mixed.status_code == 400


@sync
async def test_an_order_backfill_without_the_all_orders_scope_says_its_history_is_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = fake_shop(page_size=5)
    for scopes, warned in ((("read_orders",), True), (("read_orders", "read_all_orders"), False)):
        ctx = context(fake)
        ctx = replace(ctx, credentials=replace(ctx.credentials, scopes=scopes))
        caplog.clear()
        a = api(fake, ctx)
        assert len(_ids(await _all(a, "orders"))) == 2  # what the shop gives is still read
        await a.aclose()
        said = [r.getMessage() for r in caplog.records if "read_all_orders" in r.getMessage()]
        assert bool(said) is warned, scopes
        assert not said or "the last 60 days only" in said[0]
