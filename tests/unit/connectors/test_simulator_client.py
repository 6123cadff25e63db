"""Simulator sender against an in-process httpx.MockTransport that verifies with the real verify."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tillwise.connectors.generic import connector
from tillwise.connectors.simulator import (
    SimulatorError,
    WebhookSender,
    replay_events,
    simulate,
)
from tillwise.connectors.simulator.client import retry_delay, should_retry
from tillwise.connectors.simulator.replay import SimEvent
from tillwise.ports.platform import ConnectorError

SECRET = "whsec_sim"
BASE = "http://tillwise.test"
CONN = "con_sim"
T0 = datetime(2011, 1, 10, 9, 0, tzinfo=UTC)


def _events() -> list[SimEvent]:
    loc = {
        "id": "store-eire",
        "name": "EIRE",
        "time_zone": "Europe/Dublin",
        "country_code": "IE",
        "currency": "GBP",
    }
    sale = {
        "id": "536365",
        "location_id": "store-eire",
        "customer_id": None,
        "line_items": [{"sku": "85123A", "name": "HEART", "quantity": 2, "price": "2.55"}],
        "total_money": {"amount": 510, "currency": "GBP"},
    }
    return [
        SimEvent("sim:location.updated:store-eire", "location.updated", T0, loc),
        SimEvent(
            "sim:location.updated:store-uk",
            "location.updated",
            T0,
            {**loc, "id": "store-uk", "time_zone": "Europe/London"},
        ),
        SimEvent(
            "sim:product.created:85123A",
            "product.created",
            T0,
            {"id": "85123A", "name": "HEART", "sku": "85123A", "price": "2.55", "currency": "GBP"},
        ),
        SimEvent("sim:sale.completed:536365", "sale.completed", T0 + timedelta(hours=1), sale),
        SimEvent(
            "sim:inventory.updated:store-eire:85123A:v1",
            "inventory.updated",
            T0 + timedelta(hours=1),
            {
                "sku": "85123A",
                "location_id": "store-eire",
                "on_hand": 3,
                "version": 1,
                "updated_at": "2011-01-10T10:00:00Z",
            },
        ),
        SimEvent(
            "sim:sale.completed:536366",
            "sale.completed",
            T0 + timedelta(hours=2),
            {**sale, "id": "536366"},
        ),
    ]


class FakeServer:
    """Verifies every request like the real endpoint; can script failures per event id."""

    def __init__(self, script: dict[str, list[Any]] | None = None) -> None:
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.accepted: list[str] = []
        self.attempts: Counter[str] = Counter()
        self.paths: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        event_id = request.headers.get("Tillwise-Event-Id", "")
        self.attempts[event_id] += 1
        self.paths.add(request.url.path)
        scripted = self.script.get(event_id)
        if scripted:
            outcome = scripted.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return httpx.Response(outcome, json={"detail": "scripted", "field": "x"})
        assert request.headers["Content-Type"] == "application/json"
        try:
            verified = connector.verify(
                request.content, request.headers, [SECRET], datetime.now(UTC)
            )
        except ConnectorError as exc:
            return httpx.Response(exc.status, json={"detail": exc.detail, "field": exc.field})
        assert verified.event_id == event_id  # the header is the idempotency key
        duplicate = event_id in self.accepted
        self.accepted.append(event_id)
        return httpx.Response(
            200,
            json={
                "status": "duplicate" if duplicate else "accepted",
                "delivery_id": len(self.accepted),
            },
        )


def _client(server: FakeServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(server))


def _run(server: FakeServer, events: list[SimEvent], **kw: Any) -> Any:
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def go() -> Any:
        async with (
            _client(server) as client,
            WebhookSender(
                BASE, CONN, SECRET, client=client, sleep=fake_sleep, jitter=lambda: 0.0
            ) as sender,
        ):
            return await replay_events(events, sender, speed=None, **kw)

    return asyncio.run(go()), sleeps


def test_every_event_is_signed_and_delivered_once() -> None:
    server = FakeServer()
    counts, _ = _run(server, _events(), concurrency=3)
    assert sorted(server.accepted) == sorted(e.event_id for e in _events())
    assert server.paths == {f"/webhooks/generic/{CONN}"}
    assert counts.total == 6 and counts.retries == 0 and counts.duplicates == 0
    assert counts.by_event["sale.completed"] == 2
    # the stores are acknowledged before anything else is sent
    assert server.accepted[:2] == [
        "sim:location.updated:store-eire",
        "sim:location.updated:store-uk",
    ]


def test_a_503_is_retried_with_backoff() -> None:
    server = FakeServer({"sim:sale.completed:536365": [503, 503]})
    counts, sleeps = _run(server, _events())
    assert server.attempts["sim:sale.completed:536365"] == 3
    assert server.accepted.count("sim:sale.completed:536365") == 1
    assert counts.retries == 2 and counts.total == 6
    assert sleeps == [0.5, 1.0]


def test_connection_errors_are_retried() -> None:
    boom = httpx.ConnectError("connection refused")
    server = FakeServer({"sim:product.created:85123A": [boom]})
    counts, _ = _run(server, _events())
    assert counts.retries == 1 and "sim:product.created:85123A" in server.accepted


def test_retry_after_is_obeyed_on_429() -> None:
    events = _events()

    def handler(request: httpx.Request) -> httpx.Response:
        if not handler.done:  # type: ignore[attr-defined]
            handler.done = True  # type: ignore[attr-defined]
            return httpx.Response(429, headers={"Retry-After": "7"})
        return httpx.Response(200, json={"status": "accepted"})

    handler.done = False  # type: ignore[attr-defined]
    sleeps: list[float] = []

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            sender = WebhookSender(BASE, CONN, SECRET, client=client, sleep=fake_sleep)
            async with sender:
                await sender.send(events[0])

    asyncio.run(go())
    assert sleeps == [7.0]


def test_a_4xx_stops_the_run_naming_the_event() -> None:
    server = FakeServer({"sim:sale.completed:536365": [422]})
    with pytest.raises(SimulatorError) as info:
        _run(server, _events(), concurrency=1)
    err = info.value
    assert err.status == 422 and err.event.event_id == "sim:sale.completed:536365"
    assert "sale.completed" in str(err) and "sim:sale.completed:536365" in str(err)
    assert "HTTP 422" in str(err)
    assert "sim:sale.completed:536366" not in server.accepted  # nothing after it was sent


def test_a_wrong_secret_is_a_clear_401() -> None:
    server = FakeServer()

    async def go() -> None:
        async with (
            _client(server) as client,
            WebhookSender(BASE, CONN, "not-the-secret", client=client) as sender,
        ):
            await replay_events(_events(), sender, speed=None)

    with pytest.raises(SimulatorError, match="HTTP 401.*Tillwise-Signature"):
        asyncio.run(go())


def test_giving_up_after_the_retry_limit() -> None:
    server = FakeServer({"sim:location.updated:store-eire": [500] * 10})
    with pytest.raises(SimulatorError, match="giving up .* after 6 attempts"):
        _run(server, _events())


def test_re_running_is_recognised_as_duplicates() -> None:
    server = FakeServer()
    _run(server, _events())
    counts, _ = _run(server, _events())
    assert counts.duplicates == 6


def test_accelerated_clock_waits_in_simulated_time() -> None:
    clock = {"now": 100.0}
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 6))
        clock["now"] += seconds

    server = FakeServer()

    async def go() -> None:
        async with (
            _client(server) as client,
            WebhookSender(BASE, CONN, SECRET, client=client) as sender,
        ):
            await replay_events(
                _events(), sender, speed=3600.0, monotonic=lambda: clock["now"], sleep=fake_sleep
            )

    asyncio.run(go())
    # one simulated hour per real second: the sale at +1 h waits 1 s, the next at +2 h 1 s more
    assert sleeps == [1.0, 1.0]
    assert len(server.accepted) == 6


def test_simulate_returns_counts_and_respects_limit() -> None:
    server = FakeServer()

    async def go() -> Any:
        async with _client(server) as client:
            return await simulate(
                BASE,
                CONN,
                SECRET,
                speed=None,
                limit=4,
                progress=False,
                client=client,
                events=_events(),
            )

    counts = asyncio.run(go())
    assert counts.total == 4 and len(server.accepted) == 4
    assert counts.as_dict()["total"] == 4
    assert "4 events" in str(counts)


def test_simulate_with_a_progress_bar() -> None:
    server = FakeServer()

    async def go() -> Any:
        async with _client(server) as client:
            return await simulate(
                BASE, CONN, SECRET, speed=None, progress=True, client=client, events=_events()
            )

    assert asyncio.run(go()).total == 6


def test_argument_checks() -> None:
    with pytest.raises(ValueError):
        WebhookSender("tillwise.test", CONN, SECRET)
    with pytest.raises(ValueError):
        WebhookSender(BASE, CONN, "")

    async def go(speed: float) -> None:
        async with WebhookSender(BASE, CONN, SECRET) as sender:
            await replay_events(_events(), sender, speed=speed)

    with pytest.raises(ValueError):
        asyncio.run(go(0))


def test_retry_policy_is_pure() -> None:
    assert [retry_delay(a) for a in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert retry_delay(1, 3.0) == 3.0
    assert retry_delay(4, jitter=0.999) >= 2.0
    assert should_retry(None, 1, 6) and should_retry(503, 1, 6) and should_retry(429, 1, 6)
    assert not should_retry(503, 6, 6)
    assert not should_retry(400, 1, 6) and not should_retry(404, 1, 6)


def test_signature_uses_real_time_not_simulated_time() -> None:
    sender = WebhookSender(BASE, CONN, SECRET, wall_clock=lambda: 1_700_000_000.0)
    headers = sender.headers_for(_events()[3], b"{}")
    assert headers["Tillwise-Signature"].startswith("t=1700000000,v1=")
    assert headers["Tillwise-Event-Id"] == "sim:sale.completed:536365"
    assert time.time() > 1_700_000_000
