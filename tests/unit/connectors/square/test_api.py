"""The Square client, backfill and fetch-on-notify against the local fake (tests/fakes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.square import FakeSquare, corpus
from tillwise.connectors._http import ApiError
from tillwise.connectors.square.backfill import SquareApi
from tillwise.connectors.square.normalize import normalize
from tillwise.domain.normalized import Fetch, NormalizedBatch
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import Fetched, resource_topic

from ._fake import NOW, Clock, Saved, api, context, sync


async def _all(a: SquareApi, resource: str, cursor: str | None = None) -> list[Any]:
    pages = []
    async for page in a.pages(resource, since=None, cursor=cursor):
        pages.append(page)
    return pages


def _delivery(f: Fetched) -> RawDelivery:
    return RawDelivery(
        platform="square",
        connection_id="con_sq",
        event_id=f.event_id,
        topic=resource_topic(f.resource),
        body=f.body,
        received_at=NOW,
    )


@sync
async def test_backfill_walks_every_resource_page_by_page_with_version_and_token() -> None:
    fake = FakeSquare(page_size=1)
    a = api(fake, context(fake))
    got: dict[str, list[str]] = {}
    for resource in a.resources:
        pages = await _all(a, resource)
        assert pages[-1].cursor is None
        assert all(p.cursor is not None for p in pages[:-1])
        got[resource] = [f.event_id for p in pages for f in p.objects]
    await a.aclose()

    assert a.resources.index("locations") < a.resources.index("items") < a.resources.index("orders")
    # locations carry no updated_at or version: their event id ends in a digest of the JSON
    assert [e.split(":")[0] for e in got["locations"]] == ["18YC4JDH91E1H", "3Z4V4WHQK64X9"]
    assert all(e.split(":")[1].startswith("sha256-") for e in got["locations"])
    # only completed (and cancelled) orders are asked for: the OPEN one is not a sale
    assert got["orders"] == [
        "lgwOlEityYPJtcuvKTVKT1pA986YY:2019-08-06T02:47:37.140Z",
        "CAISENgvlJ6jLWAzERDzjyHVybY:2020-01-17T20:47:53.293Z",
    ]
    assert got["inventory_counts"] == [
        "C6W5YS5QM06F5:W62UWFY35CWMYGVWK6TWJDNI:2016-11-16T22:28:01.223Z",
        "YYQR03DGCTXA4:FGQ5JJWT2PYTHF35CKZ2DSKP:2019-10-29T18:38:45.10296Z",
    ]
    assert len(got["items"]) == 3 and len(got["customers"]) == 2 and len(got["refunds"]) == 2
    assert len(got["team_members"]) == 2 and len(got["vendors"]) == 2
    # Square-Version 2024-07-17 predates the timecards rename: the shifts endpoint is used
    assert len(got["timecards"]) == 2 and fake.api_requests("/v2/labor/shifts/search")
    assert {r["version"] for r in fake.requests} == {"2024-07-17"}
    assert all(r["authorization"].startswith("Bearer EAAA-") for r in fake.requests)
    # Search* endpoints get the cursor in the body, List* in the query
    searches = fake.api_requests("/v2/catalog/search")
    assert [r["body"].get("cursor") is not None for r in searches] == [False, True, True]
    refunds = fake.api_requests("/v2/refunds")
    assert [("cursor" in r["query"]) for r in refunds] == [False, True]


@sync
async def test_checkpoint_cursor_resumes_where_the_run_stopped() -> None:
    fake = FakeSquare(page_size=1)
    a = api(fake, context(fake))
    full = [f.event_id for p in await _all(a, "items") for f in p.objects]
    first = None
    async for page in a.pages("items", since=None, cursor=None):
        first = page
        break  # the run dies after its first page; the checkpoint is page.cursor
    assert first is not None and first.cursor is not None
    rest = [f.event_id for p in await _all(a, "items", first.cursor) for f in p.objects]
    assert [f.event_id for f in first.objects] + rest == full

    # orders: SearchOrders takes ≤ 10 locations, so the checkpoint also names the batch
    for i in range(10):
        fake.locations[f"L{i:02d}"] = {**fake.locations["18YC4JDH91E1H"], "id": f"L{i:02d}"}
    fake.orders["CAISENgvlJ6jLWAzERDzjyHVybY"]["location_id"] = "L09"
    orders = await _all(a, "orders")
    assert [len(r["body"]["location_ids"]) for r in fake.api_requests("/v2/orders/search")] == [
        10,
        2,
    ]
    assert [p.cursor for p in orders] == ["1|", None]
    resumed = await _all(a, "orders", "1|")
    assert [f.event_id for p in resumed for f in p.objects] == [orders[1].objects[0].event_id]
    await a.aclose()


@sync
async def test_since_filters_on_the_server_side() -> None:
    fake = FakeSquare(page_size=10)
    a = api(fake, context(fake))
    since = datetime(2020, 1, 1, tzinfo=UTC)
    items = [f async for p in a.pages("items", since=since, cursor=None) for f in p.objects]
    assert [json.loads(f.body)["id"] for f in items] == ["GPOKJPTV2KDLVKCADJ7I77EZ"]
    assert (
        fake.api_requests("/v2/catalog/search")[-1]["body"]["begin_time"] == "2020-01-01T00:00:00Z"
    )
    await a.aclose()


@sync
async def test_an_invalid_cursor_is_square_s_error() -> None:
    fake = FakeSquare()
    a = api(fake, context(fake))
    with pytest.raises(ApiError) as err:
        await _all(a, "customers", cursor="bm9wZQ==")
    assert err.value.status == 400 and "INVALID_CURSOR" in err.value.detail
    await a.aclose()


@sync
async def test_429_rate_limited_backs_off_exponentially_then_succeeds() -> None:
    fake = FakeSquare(page_size=10)
    clock = Clock()
    a = api(fake, context(fake), clock)
    fake.throttle(3)
    pages = await _all(a, "customers")
    assert len(pages[0].objects) == 2
    assert clock.waits == [1.0, 2.0, 4.0]  # Square sends no Retry-After: 1 s, 2 s, 4 s
    assert len(fake.api_requests("/v2/customers/search")) == 4
    await a.aclose()


@sync
async def test_429_beyond_the_attempts_is_a_retryable_error() -> None:
    fake = FakeSquare()
    clock = Clock()
    a = api(fake, context(fake), clock, max_attempts=3)
    fake.throttle(10)
    with pytest.raises(ApiError) as err:
        await _all(a, "locations")
    assert err.value.retryable and err.value.status == 429
    assert len(clock.waits) == 2
    await a.aclose()


@sync
async def test_401_refreshes_persists_then_retries() -> None:
    fake = FakeSquare(page_size=10)
    _, refresh = fake.issue_token()
    saved = Saved()
    # a token Square no longer knows (revoked or expired early)
    ctx = context(
        fake, access="EAAA-gone", refresh=refresh, expires_at=NOW + timedelta(days=9), saved=saved
    )
    a = api(fake, ctx)
    pages = await _all(a, "locations")
    assert len(pages[0].objects) == 2
    [new] = saved.credentials
    assert new.access_token != "EAAA-gone" and new.refresh_token == refresh  # code flow: same
    assert [r["authorization"] for r in fake.api_requests("/v2/locations")] == [
        "Bearer EAAA-gone",
        f"Bearer {new.access_token}",
    ]
    await a.aclose()


@sync
async def test_a_token_about_to_expire_is_refreshed_before_it_is_used() -> None:
    fake = FakeSquare(page_size=10)
    access, refresh = fake.issue_token()
    saved = Saved()
    ctx = context(
        fake, access=access, refresh=refresh, expires_at=NOW + timedelta(minutes=2), saved=saved
    )
    a = api(fake, ctx)
    await _all(a, "locations")
    [new] = saved.credentials
    assert [r["authorization"] for r in fake.requests] == [f"Bearer {new.access_token}"]
    await a.aclose()


@sync
async def test_without_a_refresh_token_a_401_is_an_error() -> None:
    fake = FakeSquare()
    a = api(fake, context(fake, access="EAAA-gone"))
    with pytest.raises(ApiError) as err:
        await _all(a, "locations")
    assert err.value.status == 401 and not err.value.retryable
    await a.aclose()


@sync
async def test_fetch_on_notify_batch_retrieves_orders_and_skips_unknown_ids() -> None:
    fake = FakeSquare()
    a = api(fake, context(fake))
    got = await a.fetch(
        [
            Fetch(
                resource="orders",
                ids=("lgwOlEityYPJtcuvKTVKT1pA986YY", "nope", "lgwOlEityYPJtcuvKTVKT1pA986YY"),
            )
        ]
    )
    assert [(f.resource, f.event_id) for f in got] == [
        ("orders", "lgwOlEityYPJtcuvKTVKT1pA986YY:2019-08-06T02:47:37.140Z")
    ]
    [call] = fake.api_requests("/v2/orders/batch-retrieve")
    assert call["body"] == {"order_ids": ["lgwOlEityYPJtcuvKTVKT1pA986YY", "nope"]}
    await a.aclose()


@sync
async def test_a_pos_sale_arrives_as_payment_plus_fetched_order() -> None:
    """Square POS-app sales emit no order.created: the payment is a Payment record and names the
    order, the pipeline fetches it through Api.fetch, and the fetched order becomes the sale."""
    fake = FakeSquare()
    a = api(fake, context(fake))
    webhook = corpus("webhook__payment_created_event.json")
    webhook["data"]["object"]["payment"]["order_id"] = "lgwOlEityYPJtcuvKTVKT1pA986YY"
    delivery = RawDelivery(
        platform="square",
        connection_id="con_sq",
        event_id=webhook["event_id"],
        topic=webhook["type"],
        body=json.dumps(webhook).encode(),
        received_at=NOW,
    )
    first = normalize(delivery)
    assert [r.kind for r in first.records] == ["payment"]
    assert first.fetches == (Fetch(resource="orders", ids=("lgwOlEityYPJtcuvKTVKT1pA986YY",)),)
    [order] = await a.fetch(first.fetches)
    sale = normalize(_delivery(order))
    [txn] = sale.records
    assert txn.kind == "transaction" and txn.total.amount == 2000
    assert [t.amount.amount for t in txn.tenders] == [1000, 1000]
    assert [e.type for e in sale.events] == ["sale.completed"]
    await a.aclose()


def _webhook(type_: str, key: str, obj: Any, n: int) -> RawDelivery:
    body = {
        "merchant_id": "MLQW2MYBY81PZ",
        "type": type_,
        "event_id": f"evt-{n}",
        "created_at": "2026-01-01T00:00:00Z",
        "data": {
            "type": key,
            "id": obj.get("id", "x") if isinstance(obj, dict) else "x",
            "object": {key: obj},
        },
    }
    return RawDelivery(
        platform="square",
        connection_id="con_sq",
        event_id=f"evt-{n}",
        topic=type_,
        body=json.dumps(body).encode(),
        received_at=NOW,
    )


def _records(batches: list[NormalizedBatch]) -> dict[str, Any]:
    return {r.id: r.model_dump(mode="json") for b in batches for r in b.records}


@sync
async def test_backfilled_store_equals_the_webhook_fed_store() -> None:
    fake = FakeSquare(page_size=2)
    a = api(fake, context(fake))
    backfilled: list[NormalizedBatch] = []
    fetched: dict[str, list[dict[str, Any]]] = {}
    for resource in a.resources:
        async for page in a.pages(resource, since=None, cursor=None):
            for f in page.objects:
                backfilled.append(normalize(_delivery(f)))
                fetched.setdefault(resource, []).append(json.loads(f.body))

    # the same objects as Square would push them: snapshots, or summaries to fetch
    n = 0
    pushed: list[NormalizedBatch] = []
    snapshots = {
        "customers": ("customer.updated", "customer"),
        "refunds": ("refund.updated", "refund"),
        "vendors": ("vendor.updated", "vendor"),
        "team_members": ("team_member.updated", "team_member"),
        "timecards": ("labor.timecard.updated", "timecard"),
    }
    for resource, (type_, key) in snapshots.items():
        for obj in fetched[resource]:
            n += 1
            pushed.append(normalize(_webhook(type_, key, obj, n)))
    n += 1
    pushed.append(
        normalize(
            _webhook("inventory.count.updated", "inventory_counts", fetched["inventory_counts"], n)
        )
    )
    notices = [
        _webhook("location.updated", "location", obj, n + i)
        for i, obj in enumerate(fetched["locations"])
    ]
    notices += [
        _webhook(
            "order.updated", "order_updated", {"order_id": o["id"], "state": o["state"]}, n + 10 + i
        )
        for i, o in enumerate(fetched["orders"])
    ]
    notices.append(
        _webhook(
            "catalog.version.updated",
            "catalog_version",
            {"updated_at": "2000-01-01T00:00:00Z"},
            n + 99,
        )
    )
    for notice in notices:
        batch = normalize(notice)
        assert batch.records == () and batch.fetches
        for f in await a.fetch(batch.fetches):
            pushed.append(normalize(_delivery(f)))
    await a.aclose()

    want, got = _records(backfilled), _records(pushed)
    # locations, team, vendors, 3 items + 4 variants, customers, counts, orders, refunds, timecards
    assert len(want) == 2 + 2 + 2 + 3 + 4 + 2 + 2 + 2 + 2 + 2
    assert got == want
