"""The Clover client, backfill and fetch-on-notify against the local fake (tests/fakes/clover)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest

from tests.fakes.clover import CLIENT_ID, CLIENT_SECRET, MERCHANT, FakeClover, Gate
from tillwise.connectors._http import ApiError, RetryPolicy
from tillwise.connectors.clover import CloverApi, CloverRateLimiter, make_connector
from tillwise.connectors.clover.client import api_base_url
from tillwise.domain.normalized import Fetch
from tillwise.domain.sales import Transaction
from tillwise.ports.platform import ConnectionContext, Credentials

from ._golden import delivery

T = TypeVar("T")
APP = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "region": "na"}


class Clock:
    """Fake time: ``sleep`` records the wait and moves the clock (nothing really sleeps)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.t += seconds


class Rig:
    def __init__(self, fake: FakeClover | None = None, *, expires_at: datetime | None = None):
        self.fake = fake or FakeClover()
        self.clock = Clock()
        self.saved: list[Credentials] = []
        self.connector = make_connector(APP)
        self.connector.limiter = CloverRateLimiter(clock=self.clock, sleep=self.clock.sleep)
        self.transport = httpx.ASGITransport(app=self.fake.app())
        self.ctx = ConnectionContext(
            connection_id="con_clover",
            platform="clover",
            config={"merchant_id": MERCHANT, "region": "na"},
            credentials=Credentials(
                access_token=self.fake.access_token,
                refresh_token=self.fake.refresh_token,
                expires_at=expires_at,
            ),
            save_credentials=self._save,
        )

    async def _save(self, creds: Credentials) -> None:
        self.saved.append(creds)

    def api(self, page_size: int = 100) -> CloverApi:
        session = self.connector.session(
            self.ctx,
            transport=self.transport,
            sleep=self.clock.sleep,
            jitter=lambda: 0.5,
            now=lambda: datetime.fromtimestamp(self.fake.now_s, tz=UTC),
            retry=RetryPolicy(max_attempts=5),
        )
        return CloverApi(session, page_size=page_size)


def run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


async def _all_pages(api: CloverApi, resource: str, **kw: Any) -> list[Any]:
    return [
        page async for page in api.pages(resource, since=kw.get("since"), cursor=kw.get("cursor"))
    ]


def test_regional_hosts() -> None:
    assert api_base_url({"region": "eu"}) == "https://api.eu.clover.com"
    assert api_base_url({"region": "la"}) == "https://api.la.clover.com"
    assert api_base_url({"region": "sandbox"}) == "https://apisandbox.dev.clover.com"
    assert api_base_url({}, {"region": "na"}) == "https://api.clover.com"
    assert api_base_url({"region": "eu"}, {"api_base_url": "http://fake/"}) == "http://fake"
    with pytest.raises(ValueError):
        api_base_url({"region": "mars"})


def test_backfill_pages_with_limit_offset_and_resumes_from_the_checkpoint() -> None:
    rig = Rig()
    for n in range(5):
        rig.fake.customers[f"CUST{n:09d}"] = {"id": f"CUST{n:09d}", "firstName": f"C{n}"}

    async def go() -> tuple[list[Any], list[Any]]:
        api = rig.api(page_size=2)
        pages = await _all_pages(api, "customers")
        resumed = await _all_pages(api, "customers", cursor=pages[0].cursor)
        await api.aclose()
        return pages, resumed

    pages, resumed = run(go)
    ids = [f.event_id.split(":")[0] for p in pages for f in p.objects]
    assert len(ids) == 6 == len(set(ids))  # 1 corpus customer + 5, none twice
    # a full page may be the last: limit/offset only knows from the next (empty) page
    assert [p.cursor for p in pages] == ["2", "4", "6", None]
    assert pages[-1].objects == ()
    assert [f.event_id for p in resumed for f in p.objects] == [
        f.event_id for p in pages[1:] for f in p.objects
    ]
    offsets = [q.get("offset") for m, path, q in rig.fake.requests if path.endswith("/customers")]
    assert offsets[:3] == ["0", "2", "4"]


def test_orders_are_expanded_and_filtered_by_modified_time() -> None:
    rig = Rig()
    since = datetime.fromtimestamp(1546559000, tz=UTC)

    async def go() -> list[Any]:
        api = rig.api()
        pages = await _all_pages(api, "orders", since=since)
        await api.aclose()
        return pages

    [page] = run(go)
    assert [f.event_id for f in page.objects] == ["ZK6BEAGXBPGST:1546559370000"]
    _, _, query = rig.fake.requests[-1]
    assert query["filter"] == "modifiedTime>=1546559000000"
    assert set(query["expand"].split(",")) >= {"lineItems", "payments", "discounts", "refunds"}


def test_token_429_slows_that_merchant_and_app_429_slows_every_merchant() -> None:
    rig = Rig()
    rig.fake.throttles = ["token", "token", "app"]

    async def go() -> list[Any]:
        api = rig.api()
        pages = await _all_pages(api, "employees")
        await api.aclose()
        return pages

    [page] = run(go)
    assert [f.event_id.split(":")[0] for f in page.objects] == ["DFLTEMPLOYEE"]
    limiter = rig.connector.limiter
    # waits of 1 s, 2 s (this token's strikes), then 1 s (the app's first strike)
    assert [w for w in rig.clock.waits if w >= 1] == [1.0, 2.0, 1.0]
    assert limiter.paused_until("ANOTHERMERCH1") == limiter.paused_until(MERCHANT)
    assert limiter._paused[MERCHANT] < limiter._paused["app"]


def test_token_limit_does_not_pause_other_merchants() -> None:
    clock = Clock()
    limiter = CloverRateLimiter(clock=clock, sleep=clock.sleep)
    resp = httpx.Response(429, headers={"X-RateLimit-tokenLimit": "16"})
    assert limiter.after("M1", resp) == 1.0
    assert limiter.after("M1", resp) == 2.0
    assert limiter.paused_until("M1") == clock.t + 2.0
    assert limiter.paused_until("M2") == 0.0
    asyncio.run(limiter.before("M2"))
    assert clock.waits == []  # M2 goes at once
    asyncio.run(limiter.before("M1"))
    assert clock.waits == [2.0]
    limiter.after("M1", httpx.Response(200))
    assert limiter.after("M1", resp) == 1.0  # a success resets the back-off


def test_pacing_keeps_a_token_under_16_requests_per_second() -> None:
    clock = Clock()
    limiter = CloverRateLimiter(clock=clock, sleep=clock.sleep)

    async def burst() -> None:
        for _ in range(17):
            await limiter.before("M1")

    asyncio.run(burst())
    assert clock.t - 1000.0 == pytest.approx(1.0)  # the 17th request starts 1 s after the 1st


def test_retry_after_wins_over_backoff() -> None:
    clock = Clock()
    limiter = CloverRateLimiter(clock=clock, sleep=clock.sleep)
    resp = httpx.Response(429, headers={"X-RateLimit-tokenLimit": "1", "Retry-After": "7"})
    assert limiter.after("M1", resp) == 7.0


def test_expired_token_is_refreshed_once_saved_first_and_the_request_repeated() -> None:
    rig = Rig()
    rig.fake.expire_token()

    async def go() -> list[Any]:
        api = rig.api()
        out = await api.fetch([Fetch(resource="customers", ids=(f"{MERCHANT}/CUSTOMER00001",))])
        await api.aclose()
        return out

    [fetched] = run(go)
    assert json.loads(fetched.body)["firstName"] == "Ada"
    [saved] = rig.saved
    assert saved.refresh_token == rig.fake.refresh_token != "rt-0"
    assert saved.access_token == rig.fake.access_token
    assert "rt-0" in rig.fake.used_refresh_tokens


def test_token_near_expiry_is_refreshed_before_the_request() -> None:
    fake = FakeClover()
    rig = Rig(fake, expires_at=datetime.fromtimestamp(fake.now_s + 30, tz=UTC))

    async def go() -> None:
        api = rig.api()
        await api.fetch([Fetch(resource="employees", ids=("DFLTEMPLOYEE",))])
        await api.aclose()

    run(go)
    assert len(rig.saved) == 1
    assert len([r for r in rig.fake.requests if r[1].endswith("DFLTEMPLOYEE")]) == 1


def test_a_used_refresh_token_is_refused() -> None:
    rig = Rig()
    rig.fake.used_refresh_tokens.add("rt-0")
    rig.fake.refresh_token = "rt-9"  # someone else rotated it already
    rig.fake.expire_token()

    async def go() -> None:
        api = rig.api()
        try:
            await api.fetch([Fetch(resource="employees", ids=("DFLTEMPLOYEE",))])
        finally:
            await api.aclose()

    with pytest.raises(ApiError) as err:
        run(go)
    assert err.value.status == 401
    assert rig.saved == []


def test_fetch_on_notify_skips_other_merchants_and_deleted_objects() -> None:
    rig = Rig()

    async def go() -> list[Any]:
        api = rig.api()
        out = await api.fetch(
            [
                Fetch(
                    resource="orders",
                    ids=(
                        f"{MERCHANT}/ZK6BEAGXBPGST",
                        "OTHERMERCHANT/ZK6BEAGXBPGST",
                        f"{MERCHANT}/GONE",
                    ),
                ),
                Fetch(resource="merchant", ids=(f"{MERCHANT}/{MERCHANT}",)),
            ]
        )
        await api.aclose()
        return out

    fetched = run(go)
    assert [(f.resource, f.event_id) for f in fetched] == [
        ("orders", "ZK6BEAGXBPGST:1546559370000"),
        ("merchant", f"{MERCHANT}:0"),
    ]
    paths = [p for _, p, _ in rig.fake.requests]
    assert not any("OTHERMERCHANT" in p for p in paths)


def test_notification_to_fetch_to_records() -> None:
    """Doorbell → fetches → API objects → the same sale the order describes."""
    rig = Rig()
    conn = make_connector(APP)
    note = {
        "merchants": {
            MERCHANT: [{"objectId": "O:ZK6BEAGXBPGST", "type": "UPDATE", "ts": 1}],
            "OTHERMERCHANT": [{"objectId": "O:X", "type": "UPDATE", "ts": 1}],
        }
    }
    batch = conn.normalize(delivery(json.dumps(note).encode(), "notification", "e"))

    async def go() -> list[Any]:
        api = rig.api()
        out = await api.fetch(batch.fetches)
        await api.aclose()
        return out

    [fetched] = run(go)
    records = conn.normalize(
        delivery(fetched.body, f"resource:{fetched.resource}", fetched.event_id)
    ).records
    txn, payment = records  # the sale, and its expanded payment as a Payment of its own
    assert isinstance(txn, Transaction)
    assert txn.total.amount == 1545 and txn.location_external_id == MERCHANT
    assert [t.type.value for t in txn.tenders] == ["cash"]
    assert (payment.kind, payment.transaction_external_id) == ("payment", "ZK6BEAGXBPGST")


def test_backfill_equals_webhook_fed_state() -> None:
    """Backfilling the fake store gives the same canonical records as the webhooks naming
    the same objects (notification → fetch → normalize)."""
    rig = Rig()
    conn = make_connector(APP)

    def records_of(fetched: list[Any]) -> dict[str, Any]:
        out = {}
        for f in fetched:
            batch = conn.normalize(delivery(f.body, f"resource:{f.resource}", f.event_id))
            for r in batch.records:
                out[r.id] = r
        return out

    async def backfill() -> list[Any]:
        api = rig.api(page_size=1)
        got = []
        for resource in ("merchant", "employees", "items", "customers", "orders"):
            async for page in api.pages(resource, since=None, cursor=None):
                got.extend(page.objects)
        await api.aclose()
        return got

    async def webhooks() -> list[Any]:
        changes = [{"objectId": f"M:{MERCHANT}", "type": "UPDATE", "ts": 1}]
        changes += [{"objectId": f"E:{i}", "type": "UPDATE", "ts": 1} for i in rig.fake.employees]
        changes += [{"objectId": f"I:{i}", "type": "UPDATE", "ts": 1} for i in rig.fake.items]
        changes += [{"objectId": f"C:{i}", "type": "CREATE", "ts": 1} for i in rig.fake.customers]
        changes += [
            {"objectId": f"P:{o['payments']['elements'][0]['id']}", "type": "CREATE", "ts": 1}
            for o in rig.fake.orders.values()
        ]
        note = json.dumps({"merchants": {MERCHANT: changes}}).encode()
        batch = conn.normalize(delivery(note, "notification", "e"))
        api = rig.api()
        fetched = await api.fetch(batch.fetches)  # payments are not in the fake: 404, skipped
        orders = [Fetch(resource="orders", ids=tuple(f"{MERCHANT}/{o}" for o in rig.fake.orders))]
        fetched += await api.fetch(orders)
        await api.aclose()
        return fetched

    backfilled = records_of(run(backfill))
    webhooked = records_of(run(webhooks))
    kinds = sorted({r.kind for r in backfilled.values()})
    assert kinds == [
        "customer",
        "employee",
        "inventory_level",
        "location",
        "payment",
        "product",
        "transaction",
        "variant",
    ]
    assert backfilled == webhooked


# -- concurrency caps: 5 in flight per token, 10 per app (configurable) ---------------------


def _session(connector: Any, fake: FakeClover, clock: Clock) -> Any:
    ctx = ConnectionContext(
        connection_id=f"con_{fake.merchant_id}",
        platform="clover",
        config={"merchant_id": fake.merchant_id, "region": "na"},
        credentials=Credentials(access_token=fake.access_token),
    )
    return connector.session(
        ctx,
        transport=httpx.ASGITransport(app=fake.app()),
        sleep=clock.sleep,
        jitter=lambda: 0.5,
        retry=RetryPolicy(max_attempts=1),
    )


def _paced_by(connector: Any, clock: Clock) -> Any:
    connector.limiter.clock, connector.limiter.sleep = clock, clock.sleep  # no real pacing waits
    return connector


def test_never_more_than_five_requests_in_flight_per_token() -> None:
    clock = Clock()
    connector = _paced_by(make_connector(APP), clock)
    fake = FakeClover()
    caps = connector.limiter.concurrency
    assert (caps.per_key, caps.total) == (5, 10)  # Clover's documented caps, by default

    async def go() -> list[Any]:
        fake.gate = gate = Gate()
        session = _session(connector, fake, clock)
        calls = [asyncio.create_task(session.get("/customers")) for _ in range(12)]
        await gate.until(lambda: gate.in_flight >= 5)
        # five are held open by the fake; the other seven queue in the client, not on the wire
        assert (gate.in_flight, caps.in_flight(MERCHANT), caps.waiting(MERCHANT)) == (5, 5, 7)
        gate.open()
        bodies = await asyncio.gather(*calls)
        assert (caps.in_flight(), caps.waiting()) == (0, 0)
        await session.aclose()
        return bodies

    bodies = run(go)
    assert len(bodies) == 12 and all("elements" in b for b in bodies)
    assert fake.peak_in_flight == 5
    assert len(fake.requests) == 12


def test_the_app_cap_holds_across_merchants_and_both_caps_are_configurable() -> None:
    clock = Clock()
    app = {**APP, "max_concurrent_per_token": "3", "max_concurrent_per_app": "4"}
    connector = _paced_by(make_connector(app), clock)
    fakes = [FakeClover(), FakeClover(merchant_id="MERCHANTB0002")]
    caps = connector.limiter.concurrency

    async def go() -> None:
        gate = Gate()
        for fake in fakes:
            fake.gate = gate
        sessions = [_session(connector, fake, clock) for fake in fakes]
        calls = [
            asyncio.create_task(session.get("/customers")) for _ in range(5) for session in sessions
        ]
        await gate.until(lambda: gate.in_flight >= 4)
        assert gate.in_flight == 4 and caps.waiting() == 6  # the app's 4, none beyond
        assert all(fake.in_flight <= 3 for fake in fakes)
        gate.open()
        await asyncio.gather(*calls)
        assert gate.peak == 4
        for session in sessions:
            await session.aclose()

    run(go)
    assert all(fake.peak_in_flight <= 3 for fake in fakes)
    assert [len(fake.requests) for fake in fakes] == [5, 5]


@pytest.mark.parametrize("value", ["0", "-1", "five"])
def test_a_bad_concurrency_setting_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="max_concurrent_per_token"):
        make_connector({**APP, "max_concurrent_per_token": value})


def test_an_app_wide_concurrency_429_pauses_every_merchant() -> None:
    clock = Clock()
    limiter = CloverRateLimiter(clock=clock, sleep=clock.sleep)
    throttled = httpx.Response(429, headers={"X-RateLimit-crossTokenConcurrentLimit": "1"})
    assert limiter.after("MERCHANTA", throttled) == 1.0
    assert limiter.paused_until("MERCHANTB") == clock.t + 1.0
