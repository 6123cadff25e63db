"""The live simulator POS: its adjustments API (signature, idempotency, validation), the
webhooks it sends after a change, and a replay that keeps what was written back mid-way."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from tillwise.connectors._signatures import sign
from tillwise.connectors.generic import connector
from tillwise.connectors.generic.writeback import GenericWriteBack
from tillwise.connectors.simulator import SimulatorPos, replay_events, simulate
from tillwise.connectors.simulator.dataset import Invoice, InvoiceLine
from tillwise.connectors.simulator.replay import (
    Replay,
    SimEvent,
    StockChange,
    build_replay,
)
from tillwise.domain.proposals import Proposal
from tillwise.ports.platform import ConnectorError
from tillwise.ports.writeback import WriteTarget

SECRET = "whsec_pos"
TILLWISE = "http://tillwise.test"
POS_URL = "http://pos.test"
CONN = "con_sim"
WALL = 1_700_000_000.0  # the real clock both sides agree on (signatures use real time)
T0 = datetime(2011, 1, 10, 9, 0, tzinfo=UTC)
STORE = "store-united-kingdom"


class Tillwise:
    """A fake Tillwise webhook endpoint: verifies like the real one, records what it got, and can
    react to an event (as governance does when it writes an approved proposal back)."""

    def __init__(self, wall_clock: Callable[[], float] = lambda: WALL) -> None:
        self.wall_clock = wall_clock
        self.received: list[dict[str, Any]] = []
        self.on_event: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        try:
            connector.verify(
                request.content,
                request.headers,
                [SECRET],
                datetime.fromtimestamp(self.wall_clock(), UTC),
            )
        except ConnectorError as exc:
            return httpx.Response(exc.status, json={"detail": exc.detail, "field": exc.field})
        payload = json.loads(request.content)
        payload["event_id"] = request.headers["Tillwise-Event-Id"]
        self.received.append(payload)
        if self.on_event is not None:
            await self.on_event(payload)
        return httpx.Response(200, json={"status": "accepted", "delivery_id": len(self.received)})

    def levels(self) -> list[tuple[int, int]]:
        """(on_hand, version) of every inventory.updated received, in version order."""
        got = [
            (p["data"]["on_hand"], p["data"]["version"])
            for p in self.received
            if p["event"] == "inventory.updated"
        ]
        return sorted(got, key=lambda x: x[1])


def _pos(tillwise: Tillwise) -> SimulatorPos:
    client = httpx.AsyncClient(transport=httpx.MockTransport(tillwise))
    return SimulatorPos(TILLWISE, CONN, SECRET, client=client, wall_clock=lambda: WALL)


def _store_event(store: str = STORE) -> SimEvent:
    return SimEvent(
        f"sim:location.updated:{store}",
        "location.updated",
        T0,
        {"id": store, "name": store, "time_zone": "Europe/London", "currency": "GBP"},
    )


def _api(pos: SimulatorPos) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=pos.app), base_url=POS_URL)


def _signed(body: bytes, *, secret: str = SECRET, t: float = WALL) -> dict[str, str]:
    return {"Content-Type": "application/json", "Tillwise-Signature": sign(body, secret, int(t))}


def _body(**changes: Any) -> bytes:
    payload: dict[str, Any] = {
        "location_id": STORE,
        "sku": "85123A",
        "delta": -3,
        "reason": "count",
        "reference": "prop-1",
    }
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    return json.dumps(payload).encode()


Scenario = Callable[[SimulatorPos, httpx.AsyncClient, Tillwise], Awaitable[Any]]


def _run(scenario: Scenario, *, opening: int = 10) -> Any:
    """A POS that has announced its store and opened 85123A at ``opening`` units."""

    async def go() -> Any:
        tillwise = Tillwise()
        async with _pos(tillwise) as pos, _api(pos) as api:
            pos.load(Replay(steps=[], opening={(STORE, "85123A"): opening}))
            pos.play(_store_event())
            result = await scenario(pos, api, tillwise)
            await pos.drain()
            return result, tillwise, pos

    return asyncio.run(go())


async def _adjust(api: httpx.AsyncClient, body: bytes, key: str | None = "k-1", **kw: Any):  # type: ignore[no-untyped-def]
    headers = _signed(body, **kw)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await api.post("/inventory/adjustments", content=body, headers=headers)


# -- the adjustments endpoint ----------------------------------------------------------------


def test_an_adjustment_changes_the_stock_and_is_reported_back() -> None:
    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, _: Tillwise) -> Any:
        return await _adjust(api, _body())

    resp, tillwise, pos = _run(scenario)

    assert resp.status_code == 201, resp.text
    answer = resp.json()
    assert answer["id"].startswith("adj_")
    assert {k: v for k, v in answer.items() if k != "id"} == {
        "location_id": STORE,
        "sku": "85123A",
        "delta": -3,
        "applied": -3,
        "on_hand": 7,
        "version": 1,
    }
    assert pos.stock.level((STORE, "85123A")).on_hand == 7
    # the canonical copy is told, with the new level and version, as a valid generic webhook
    [report] = tillwise.received
    assert report["event"] == "inventory.updated"
    assert report["event_id"] == f"sim:inventory.updated:{STORE}:85123A:v1"
    assert report["data"]["on_hand"] == 7 and report["data"]["version"] == 1


def test_a_repeated_idempotency_key_returns_the_first_answer_and_changes_nothing() -> None:
    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, _: Tillwise) -> Any:
        first = await _adjust(api, _body())
        again = await _adjust(api, _body(), t=WALL + 30)  # a retry, signed later
        other = await _adjust(api, _body(), key="k-2")
        return first, again, other

    (first, again, other), tillwise, pos = _run(scenario)

    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert other.json()["id"] != first.json()["id"]  # another key is another adjustment
    assert pos.stock.level((STORE, "85123A")).on_hand == 10 - 3 - 3
    assert tillwise.levels() == [(7, 1), (4, 2)]  # one report per change, none for the repeat


def test_a_key_reused_for_another_request_is_a_conflict() -> None:
    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, _: Tillwise) -> Any:
        await _adjust(api, _body())
        return await _adjust(api, _body(delta=-5))

    resp, _, pos = _run(scenario)
    assert resp.status_code == 409
    assert resp.json()["field"] == "Idempotency-Key"
    assert pos.stock.level((STORE, "85123A")).on_hand == 7


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing"),
        ({"Tillwise-Signature": "t=1700000000"}, "no v1"),
        ({"secret": "not-the-secret"}, "matches"),
        ({"t": WALL - 3600}, "outside"),
    ],
)
def test_a_bad_signature_is_a_401_and_changes_nothing(headers: dict[str, Any], detail: str) -> None:
    body = _body()

    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, _: Tillwise) -> Any:
        if "secret" in headers or "t" in headers:
            sent = _signed(body, **headers)
        else:
            sent = {"Content-Type": "application/json", **headers}
        sent["Idempotency-Key"] = "k-1"
        return await api.post("/inventory/adjustments", content=body, headers=sent)

    resp, tillwise, pos = _run(scenario)
    assert resp.status_code == 401
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["field"] == "Tillwise-Signature" and detail in problem["detail"]
    assert pos.stock.level((STORE, "85123A")).on_hand == 10
    assert tillwise.received == []


def test_a_body_changed_after_signing_is_refused() -> None:
    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, _: Tillwise) -> Any:
        headers = {**_signed(_body()), "Idempotency-Key": "k-1"}
        return await api.post("/inventory/adjustments", content=_body(delta=-300), headers=headers)

    resp, _, pos = _run(scenario)
    assert resp.status_code == 401
    assert pos.stock.level((STORE, "85123A")).on_hand == 10


def test_the_idempotency_key_is_required() -> None:
    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, _: Tillwise) -> Any:
        return await _adjust(api, _body(), key=None)

    resp, _, pos = _run(scenario)
    assert resp.status_code == 400 and resp.json()["field"] == "Idempotency-Key"
    assert pos.stock.level((STORE, "85123A")).on_hand == 10


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"delta": 0}, 422, "delta"),
        ({"delta": "3"}, 422, "delta"),
        ({"delta": 2.5}, 422, "delta"),
        ({"delta": None}, 422, "delta"),
        ({"sku": ""}, 422, "sku"),
        ({"sku": 85123}, 422, "sku"),
        ({"location_id": "store-atlantis"}, 422, "location_id"),
        ({"reason": "magic"}, 422, "reason"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    change: dict[str, Any], status: int, field: str
) -> None:
    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, _: Tillwise) -> Any:
        return await _adjust(api, _body(**change))

    resp, tillwise, pos = _run(scenario)
    assert resp.status_code == status, resp.text
    assert resp.json()["field"] == field
    assert pos.stock.level((STORE, "85123A")).on_hand == 10
    assert tillwise.received == []


def test_a_body_that_is_not_a_json_object_is_a_400() -> None:
    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, _: Tillwise) -> Any:
        return [await _adjust(api, raw, key=f"k{i}") for i, raw in enumerate([b"[1]", b"{"])]

    responses, _, _ = _run(scenario)
    assert [(r.status_code, r.json()["field"]) for r in responses] == [(400, "body")] * 2


def test_stock_never_goes_below_zero() -> None:
    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, _: Tillwise) -> Any:
        return await _adjust(api, _body(delta=-5))

    resp, tillwise, _ = _run(scenario, opening=2)
    assert (resp.json()["applied"], resp.json()["on_hand"]) == (-2, 0)
    assert tillwise.levels() == [(0, 1)]


def test_reading_a_level_is_signed_too() -> None:
    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, _: Tillwise) -> Any:
        await _adjust(api, _body())
        path = f"/inventory/{STORE}/85123A"
        return (
            await api.get(path, headers=_signed(b"")),
            await api.get(path),
            await api.get("/inventory/store-atlantis/85123A", headers=_signed(b"")),
        )

    (ok, unsigned, unknown), _, _ = _run(scenario)
    assert ok.json() == {"location_id": STORE, "sku": "85123A", "on_hand": 7, "version": 1}
    assert unsigned.status_code == 401
    assert unknown.status_code == 404 and unknown.json()["field"] == "location_id"


def test_the_pos_app_works_mounted_under_a_prefix() -> None:
    async def go() -> Any:
        tillwise = Tillwise()
        async with _pos(tillwise) as pos:
            pos.play(_store_event())
            server = FastAPI()
            server.mount("/simulator", pos.app)
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url=TILLWISE) as api:
                body = _body(delta=4)
                headers = {**_signed(body), "Idempotency-Key": "k-1"}
                made = await api.post(
                    "/simulator/inventory/adjustments", content=body, headers=headers
                )
                missing = await api.get("/simulator/nothing-here")
            return made, missing

    made, missing = asyncio.run(go())
    assert made.status_code == 201 and made.json()["on_hand"] == 4
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_an_unreachable_tillwise_keeps_the_adjustment_and_records_the_lost_report() -> None:
    async def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "no such connection"})

    async def go() -> Any:
        client = httpx.AsyncClient(transport=httpx.MockTransport(down))
        async with (
            SimulatorPos(TILLWISE, CONN, SECRET, client=client, wall_clock=lambda: WALL) as pos,
            _api(pos) as api,
        ):
            pos.play(_store_event())
            resp = await _adjust(api, _body(delta=5))
            await pos.drain()
            return resp, pos

    resp, pos = asyncio.run(go())
    assert resp.status_code == 201
    assert pos.stock.level((STORE, "85123A")).on_hand == 5
    [lost] = pos.undelivered
    assert lost.status == 404 and lost.event.event_id == f"sim:inventory.updated:{STORE}:85123A:v1"


# -- replay and write-back together ----------------------------------------------------------


def _invoices() -> list[Invoice]:
    def inv(number: str, minutes: int, qty: int) -> Invoice:
        return Invoice(
            invoice=number,
            invoiced_at=T0 + timedelta(minutes=minutes),
            customer_id=None,
            country="United Kingdom",
            lines=(InvoiceLine("85123A", "WHITE HANGING HEART", qty, Decimal("2.55")),),
        )

    # 12 units sold over the window: opening stock 6
    return [inv("500", 0, 4), inv("501", 10, 4), inv("502", 20, 4)]


def _stock_adjustment(delta: int) -> Proposal:
    return Proposal(
        id="prop-restock",
        kind="stock_adjustment",
        workflow="stock_counts",
        connection_id=CONN,
        created_at=T0,
        summary="test",
        payload={
            "sku": "85123A",
            "location_external_id": STORE,
            "delta": delta,
            "book_on_hand": 0,
            "counted": delta,
        },
    )


def test_an_adjustment_written_back_mid_replay_is_kept_by_later_sales() -> None:
    # given a replay of three sales of 4 (opening stock 6), and a Tillwise that, on seeing the
    # first sale's stock level, writes back an adjustment of +10 through the generic client
    replay = build_replay(_invoices())
    tillwise = Tillwise()

    async def go() -> Any:
        async with _pos(tillwise) as pos:
            writeback = GenericWriteBack(
                transport=httpx.ASGITransport(app=pos.app), wall_clock=lambda: WALL
            )
            target = WriteTarget(CONN, "generic", POS_URL, (SECRET,))

            async def react(payload: dict[str, Any]) -> None:
                if payload["event_id"] == f"sim:inventory.updated:{STORE}:85123A:v1":
                    await writeback.apply(
                        target, _stock_adjustment(10), idempotency_key="prop-restock"
                    )

            tillwise.on_event = react
            pos.load(replay)
            return await simulate(
                TILLWISE, CONN, SECRET, pos=pos, speed=None, concurrency=1, events=replay
            )

    # when it is replayed
    asyncio.run(go())

    # then the levels reported build on the adjustment instead of overwriting it:
    # 6 - 4 = 2 (v1), + 10 = 12 (v2, the write-back), - 4 = 8 (v3), - 4 = 4 (v4)
    assert tillwise.levels() == [(2, 1), (12, 2), (8, 3), (4, 4)]
    # without the write-back the same replay sells out: 2, then 0 (v2), then nothing to change
    untouched = Tillwise()

    async def plain() -> Any:
        async with _pos(untouched) as pos:
            return await simulate(TILLWISE, CONN, SECRET, pos=pos, speed=None, events=replay)

    asyncio.run(plain())
    assert untouched.levels() == [(2, 1), (0, 2)]


def test_a_cycle_count_counts_the_live_stock() -> None:
    # given a stock change followed by a count that finds 2 units fewer than the book
    change = StockChange(STORE, "85123A", -1, T0, cause="900", count_shrink=2)

    async def scenario(pos: SimulatorPos, api: httpx.AsyncClient, tillwise: Tillwise) -> Any:
        await _adjust(api, _body(delta=20))  # written back before the count: 10 + 20 = 30
        await replay_events([_store_event(), change], pos.webhooks, pos=pos, speed=None)

    _, tillwise, _ = _run(scenario)
    counted = [p for p in tillwise.received if p["event"] == "inventory.counted"]
    assert [p["data"] for p in counted] == [
        {
            "sku": "85123A",
            "location_id": STORE,
            "counted": 30 - 1 - 2,
            "counted_at": "2011-01-10T09:00:00Z",
            "count_id": f"count:{STORE}:85123A:900",
        }
    ]
    # the count is sent after the change it follows
    names = [p["event"] for p in tillwise.received]
    assert names.index("inventory.counted") > names.index("inventory.updated")


def test_simulate_refuses_a_pos_reporting_elsewhere() -> None:
    async def go() -> None:
        async with _pos(Tillwise()) as pos:
            await simulate("http://other.test", CONN, SECRET, pos=pos, events=[])

    with pytest.raises(ValueError, match="reports to"):
        asyncio.run(go())


def test_stock_changes_need_a_live_pos() -> None:
    change = StockChange(STORE, "85123A", -1, T0, cause="900")

    async def go() -> None:
        async with _pos(Tillwise()) as pos:
            await replay_events([change], pos.webhooks, speed=None)

    with pytest.raises(ValueError, match="SimulatorPos"):
        asyncio.run(go())


def test_a_limit_counts_events_sent_not_replay_steps() -> None:
    # the replay of three sales: 1 store, 6 vendors, 2 cashiers, 1 product, then (sale, stock
    # change) per invoice
    replay = build_replay(_invoices())
    tillwise = Tillwise(wall_clock=time.time)  # a POS made by simulate() signs in real time

    async def go() -> Any:
        client = httpx.AsyncClient(transport=httpx.MockTransport(tillwise))
        return await simulate(
            TILLWISE, CONN, SECRET, client=client, speed=None, limit=13, events=replay
        )

    counts = asyncio.run(go())
    assert counts.total == 13
    assert [p["event_id"] for p in tillwise.received] == [
        f"sim:location.updated:{STORE}",
        *(f"sim:vendor.updated:ven-0{n}" for n in range(1, 7)),
        *(f"sim:employee.updated:{STORE}:emp-{n}" for n in (1, 2)),
        "sim:product.created:85123A",
        "sim:sale.completed:500",
        f"sim:inventory.updated:{STORE}:85123A:v1",
        "sim:sale.completed:501",
    ]


def test_an_order_due_before_a_sale_is_on_the_shelf_for_that_sale() -> None:
    from tillwise.connectors.simulator.purchasing import OrderIn

    t0 = datetime(2010, 12, 1, 9, tzinfo=UTC)
    pos = SimulatorPos("http://tillwise", "con_x", "whsec_x")
    pos.play(SimEvent("sim:loc", "location.updated", t0, {"id": "UK"}))
    # given 10 ordered from a vendor with a short lead time, and nothing on the shelf
    order = pos.orders.book(
        "po_1",
        OrderIn(
            reference="prop-1",
            vendor_id="ven-01",
            location_id="UK",
            currency="GBP",
            lines=[{"sku": "85123A", "quantity": 10}],
        ),
        t0,
    )
    sale_at = order.due_at + timedelta(days=3)
    # when the next replayed step is a sale of 3 after the order was due
    events = pos.play(StockChange("UK", "85123A", -3, sale_at, "inv-1"))
    # then the delivery lands first and the sale takes from it: 7 left, reported in that order
    assert pos.stock.level(("UK", "85123A")).on_hand == 7
    levels = [
        (e.data["on_hand"], e.data.get("reason")) for e in events if e.event == "inventory.updated"
    ]
    assert levels[0] == (10, "receipt") and levels[-1][0] == 7


def test_after_a_replay_the_clock_races_only_while_an_order_is_on_its_way() -> None:
    wall = [WALL]

    async def go() -> None:
        tillwise = Tillwise(wall_clock=lambda: wall[0])
        client = httpx.AsyncClient(transport=httpx.MockTransport(tillwise))
        pos = SimulatorPos(TILLWISE, CONN, SECRET, client=client, wall_clock=lambda: wall[0])
        async with pos, _api(pos) as api:
            pos.play(_store_event())  # the replay ends at T0, played at a day a second
            pos.speed = 86_400.0
            # given ten idle minutes: the clock runs at real time, near the replay's end
            wall[0] += 600
            assert pos.now() == T0 + timedelta(seconds=600)
            # when an order from a 2-day vendor is booked, it is dated by that clock
            body = json.dumps(
                {
                    "reference": "prop-1",
                    "vendor_id": "ven-01",
                    "location_id": STORE,
                    "currency": "GBP",
                    "lines": [{"sku": "85123A", "quantity": 10}],
                }
            ).encode()
            headers = {**_signed(body, t=wall[0]), "Idempotency-Key": "po-1"}
            resp = await api.post("/purchase-orders", content=body, headers=headers)
            assert resp.status_code == 201, resp.text
            [order] = pos.orders.open_orders()
            assert order.ordered_at == T0 + timedelta(seconds=600)
            assert order.due_at == order.ordered_at + timedelta(days=2)
            # then while it is on its way the clock races: two seconds later it is delivered
            wall[0] += 1.9
            assert await pos.deliver_due() == 0
            wall[0] += 0.2
            assert await pos.deliver_due() > 0
            assert pos.stock.level((STORE, "85123A")).on_hand == 10
            # and with nothing on its way the clock runs at real time again
            before = pos.now()
            wall[0] += 600
            assert pos.now() - before == timedelta(seconds=600)

    asyncio.run(go())


def _order_body(location_id: str = STORE, vendor_id: str = "ven-01") -> bytes:
    return json.dumps(
        {
            "reference": "prop-1",
            "vendor_id": vendor_id,
            "location_id": location_id,
            "currency": "GBP",
            "lines": [{"sku": "85123A", "quantity": 10}],
        }
    ).encode()


async def _order(api: httpx.AsyncClient, body: bytes, t: float = WALL) -> httpx.Response:
    headers = {**_signed(body, t=t), "Idempotency-Key": "po-1"}
    return await api.post("/purchase-orders", content=body, headers=headers)


def test_an_orders_expected_day_is_the_stores_own_day_of_its_delivery() -> None:
    # a store in Sydney (UTC+11 in summer): at 17:04 UTC on 28 Feb it is 04:04 on 1 Mar there
    at = datetime(2011, 2, 28, 17, 4, tzinfo=UTC)
    sydney = "store-australia"

    async def go() -> tuple[Tillwise, list[SimEvent]]:
        tillwise = Tillwise()
        async with _pos(tillwise) as pos, _api(pos) as api:
            store = {"id": sydney, "name": "Australia", "time_zone": "Australia/Sydney"}
            pos.play(SimEvent(f"sim:location.updated:{sydney}", "location.updated", at, store))
            # when an order from a 2-day vendor is booked there
            resp = await _order(api, _order_body(sydney))
            assert resp.status_code == 201, resp.text
            [order] = pos.orders.open_orders()
            delivered = pos.deliveries(order.due_at)
        return tillwise, delivered

    tillwise, delivered = asyncio.run(go())
    # then it arrives at 04:04 on 3 Mar, Sydney time: the day the order says, booked and
    # received (not 2 Mar, the day in UTC: delivered the day after it was expected)
    [receipt] = [e.data for e in delivered if e.event == "inventory.updated"]
    arrived = datetime.fromisoformat(receipt["updated_at"]).astimezone(ZoneInfo("Australia/Sydney"))
    assert arrived.date() == date(2011, 3, 3)
    [booked] = [p["data"] for p in tillwise.received if p["event"] == "purchase_order.updated"]
    [received] = [e.data for e in delivered if e.event == "purchase_order.updated"]
    assert (booked["status"], booked["expected_on"]) == ("open", "2011-03-03")
    assert (received["status"], received["expected_on"]) == ("received", "2011-03-03")


class _StatusOutage:
    """A Tillwise that answers 503 to order statuses while ``down``, and a simulator POS that
    reports to it (two attempts, no waiting between them)."""

    def __init__(self) -> None:
        self.wall = [WALL]
        self.tillwise = Tillwise(wall_clock=lambda: self.wall[0])
        self.down = False

    async def _flaky(self, request: httpx.Request) -> httpx.Response:
        if self.down and json.loads(request.content)["event"] == "purchase_order.updated":
            return httpx.Response(503, json={"detail": "restarting"})
        return await self.tillwise(request)

    def pos(self) -> SimulatorPos:
        async def no_wait(_: float) -> None:
            return None

        return SimulatorPos(
            TILLWISE,
            CONN,
            SECRET,
            client=httpx.AsyncClient(transport=httpx.MockTransport(self._flaky)),
            wall_clock=lambda: self.wall[0],
            max_attempts=2,
            sleep=no_wait,
        )


def test_a_lost_order_status_is_sent_again_by_the_delivery_loop_until_it_arrives() -> None:
    outage = _StatusOutage()
    wall, tillwise = outage.wall, outage.tillwise

    def received() -> list[str]:
        return [
            p["event_id"]
            for p in tillwise.received
            if p["event"] == "purchase_order.updated" and p["data"]["status"] == "received"
        ]

    async def go() -> None:
        pos = outage.pos()
        async with pos, _api(pos) as api:
            pos.play(_store_event())
            pos.speed = 86_400.0
            resp = await _order(api, _order_body(), t=wall[0])
            assert resp.status_code == 201, resp.text
            await pos.drain()
            [order] = pos.orders.open_orders()
            # given the order is delivered while Tillwise is down: its status report is lost
            outage.down = True
            wall[0] += 3  # three days on the POS's racing clock: the 2-day order is due
            assert await pos.deliver_due() > 0
            await pos.drain()
            assert received() == []
            assert pos.undelivered[-1].event.event_id == (
                f"sim:purchase_order.updated:{order.id}:v2"
            )
            assert await pos.deliver_due() == 0  # still down: kept for the next pass
            await pos.drain()
            assert received() == []
            assert len(pos.undelivered) == 1  # recorded once, not once per pass
            # when Tillwise is back, the delivery loop's next pass reports it received
            outage.down = False
            await pos.deliver_due()
            await pos.drain()
            assert received() == [f"sim:purchase_order.updated:{order.id}:v2"]
            # and once delivered it is not sent again
            await pos.deliver_due()
            await pos.drain()
            assert len(received()) == 1

    asyncio.run(go())


def test_a_lost_status_the_order_has_moved_on_from_is_not_sent_again() -> None:
    outage = _StatusOutage()
    wall, tillwise = outage.wall, outage.tillwise

    async def go() -> list[str]:
        pos = outage.pos()
        async with pos, _api(pos) as api:
            pos.play(_store_event())
            # given the order's "open" status is lost while Tillwise is down
            outage.down = True
            resp = await _order(api, _order_body(), t=wall[0])
            assert resp.status_code == 201, resp.text
            await pos.drain()
            [order] = pos.orders.open_orders()
            # and the replay then delivers it (its "received" status goes out with the replay)
            pos.deliveries(order.due_at)
            outage.down = False
            await pos.deliver_due()
            await pos.drain()
        return [
            p["data"]["status"] for p in tillwise.received if p["event"] == "purchase_order.updated"
        ]

    # then the stale "open" is not sent after the order was received
    assert asyncio.run(go()) == []


def test_an_order_keeps_its_days_on_the_stores_clock_across_a_dst_change() -> None:
    # 23:30 in Berlin on Saturday 28 March 2026; clocks go forward that night
    at = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)
    berlin = "store-germany"

    async def go() -> list[SimEvent]:
        tillwise = Tillwise()
        async with _pos(tillwise) as pos, _api(pos) as api:
            store = {"id": berlin, "name": "Germany", "time_zone": "Europe/Berlin"}
            pos.play(SimEvent(f"sim:location.updated:{berlin}", "location.updated", at, store))
            assert (await _order(api, _order_body(berlin))).status_code == 201
            [order] = pos.orders.open_orders()
            return pos.deliveries(order.due_at)

    [received] = [e.data for e in asyncio.run(go()) if e.event == "purchase_order.updated"]
    # two days on the store's calendar: Monday 30 March (not 00:30 on the 31st)
    assert received["expected_on"] == "2026-03-30"


def test_a_store_whose_time_zone_is_not_one_books_orders_in_utc() -> None:
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    store_id = "store-odd"

    async def go() -> int:
        tillwise = Tillwise()
        async with _pos(tillwise) as pos, _api(pos) as api:
            store = {"id": store_id, "name": "Odd", "time_zone": "Europe"}  # a tzdata folder
            pos.play(SimEvent(f"sim:location.updated:{store_id}", "location.updated", at, store))
            return (await _order(api, _order_body(store_id))).status_code

    assert asyncio.run(go()) == 201


def test_an_order_asking_for_a_later_day_arrives_that_day_and_never_before_the_lead_time() -> None:
    at = datetime(2011, 2, 28, 17, 4, tzinfo=UTC)  # London keeps UTC in February

    async def booked_for(expected_on: str) -> str:
        async with _pos(Tillwise()) as pos, _api(pos) as api:
            pos.play(dataclasses.replace(_store_event(), at=at))
            body = {**json.loads(_order_body()), "expected_on": expected_on}
            assert (await _order(api, json.dumps(body).encode())).status_code == 201
            [order] = pos.orders.open_orders()
            [received] = [
                e.data for e in pos.deliveries(order.due_at) if e.event == "purchase_order.updated"
            ]
            return str(received["expected_on"])

    # a 2-day vendor asked for Thursday 3 March delivers then, not on Wednesday
    assert asyncio.run(booked_for("2011-03-03")) == "2011-03-03"
    # asked for the next day, it still needs its two
    assert asyncio.run(booked_for("2011-03-01")) == "2011-03-02"
