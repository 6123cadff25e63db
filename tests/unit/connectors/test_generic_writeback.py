"""Generic write-back client: the documented request, retries that follow the server's hints,
clear non-retryable errors, and the round trip against the simulator POS."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tillwise.connectors._http import backoff, retry_after_seconds
from tillwise.connectors._signatures import verify_headers
from tillwise.connectors.generic import GenericWriteBack, connector
from tillwise.connectors.simulator import SimulatorPos
from tillwise.connectors.simulator.replay import Replay, SimEvent
from tillwise.domain.proposals import Proposal
from tillwise.ports.writeback import NotSupported, WriteBackError, WriteResult, WriteTarget

SECRET = "whsec_wb"
WALL = 1_700_000_000.0
API = "http://pos.test/simulator"
TARGET = WriteTarget(connection_id="con_1", platform="generic", api_base_url=API, secrets=(SECRET,))
OK = {
    "id": "adj_1",
    "location_id": "sim-gb",
    "sku": "85123A",
    "delta": -3,
    "on_hand": 7,
    "version": 5,
}


def _proposal(**payload: Any) -> Proposal:
    return Proposal(
        id="prop-1",
        kind="stock_adjustment",
        workflow="stock_counts",
        connection_id="con_1",
        created_at=datetime(2024, 3, 1, tzinfo=UTC),
        summary="Count 7 vs book 10 for SKU 85123A at sim-gb: adjust \u22123",
        payload={
            "sku": "85123A",
            "location_external_id": "sim-gb",
            "delta": -3,
            "book_on_hand": 10,
            "counted": 7,
            **payload,
        },
    )


class Pos:
    """A scripted POS: answers in turn (a status, (status, headers), a dict body or an
    exception), then 201 OK; records every request."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.script.pop(0) if self.script else 201
        if isinstance(outcome, Exception):
            raise outcome
        headers: dict[str, str] = {}
        if isinstance(outcome, tuple):
            outcome, headers = outcome
        if isinstance(outcome, dict):
            return httpx.Response(outcome.pop("status"), json=outcome, headers=headers)
        body = OK if outcome < 300 else {"detail": "scripted"}
        return httpx.Response(outcome, json=body, headers=headers)


def _writeback(
    pos: Callable[[httpx.Request], httpx.Response], sleeps: list[float]
) -> GenericWriteBack:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return GenericWriteBack(
        transport=httpx.MockTransport(pos),
        sleep=sleep,
        jitter=lambda: 0.5,
        wall_clock=lambda: WALL,
    )


def _apply(
    pos: Pos, proposal: Proposal | None = None, target: WriteTarget = TARGET
) -> tuple[WriteResult, list[float]]:
    sleeps: list[float] = []
    wb = _writeback(pos, sleeps)
    result = asyncio.run(wb.apply(target, proposal or _proposal(), idempotency_key="prop-1"))
    return result, sleeps


def _failure(
    pos: Pos, proposal: Proposal | None = None, target: WriteTarget = TARGET
) -> tuple[WriteBackError, list[float]]:
    sleeps: list[float] = []
    wb = _writeback(pos, sleeps)
    with pytest.raises(WriteBackError) as info:
        asyncio.run(wb.apply(target, proposal or _proposal(), idempotency_key="prop-1"))
    return info.value, sleeps


def test_apply_posts_the_documented_signed_request() -> None:
    pos = Pos()
    result, sleeps = _apply(pos)

    [request] = pos.requests
    assert request.method == "POST"
    assert str(request.url) == "http://pos.test/simulator/inventory/adjustments"
    assert json.loads(request.content) == {
        "location_id": "sim-gb",
        "sku": "85123A",
        "delta": -3,
        "reason": "count",
        "reference": "prop-1",
    }
    assert request.headers["Idempotency-Key"] == "prop-1"
    assert request.headers["Content-Type"] == "application/json"
    # signed like a generic webhook: HMAC over "<t>." + the raw body, with the first secret
    assert verify_headers(request.content, request.headers, [SECRET], WALL) == int(WALL)
    assert result == WriteResult(
        reference="adj_1",
        details={
            "adjustment_id": "adj_1",
            "location_id": "sim-gb",
            "sku": "85123A",
            "delta": -3,
            "applied": -3,
            "on_hand": 7,
            "version": 5,
            "attempts": 1,
            "replayed": False,
        },
    )
    assert sleeps == []


def test_5xx_and_network_errors_are_retried_with_the_same_key() -> None:
    pos = Pos(503, httpx.ConnectError("refused"), 502)
    result, sleeps = _apply(pos)
    assert len(pos.requests) == 4 and result.details["attempts"] == 4
    assert {r.headers["Idempotency-Key"] for r in pos.requests} == {"prop-1"}
    # full jitter (here the midpoint) of 0.5 s doubling
    assert sleeps == [0.25, 0.5, 1.0]


def test_retry_after_in_seconds_and_as_an_http_date_is_obeyed() -> None:
    in_7s = "Tue, 14 Nov 2023 22:13:27 GMT"  # WALL is 22:13:20 GMT
    pos = Pos((429, {"Retry-After": "3"}), (503, {"Retry-After": in_7s}))
    _, sleeps = _apply(pos)
    assert sleeps == [3.0, 7.0]


def test_giving_up_after_the_attempts_is_retryable() -> None:
    err, sleeps = _failure(Pos(500, 500, 500, 500, 500))
    assert err.retryable and "HTTP 500" in err.detail and "4 attempts" in err.detail
    assert len(sleeps) == 3


def test_a_retry_after_longer_than_we_wait_is_handed_back_as_retryable() -> None:
    pos = Pos((429, {"Retry-After": "3600"}))
    err, sleeps = _failure(pos)
    assert err.retryable and "3600 s" in err.detail
    assert sleeps == [] and len(pos.requests) == 1


def test_a_4xx_is_final_and_carries_the_pos_problem_detail() -> None:
    problem = {"status": 422, "detail": "delta: must not be 0", "field": "delta"}
    pos = Pos(problem)
    err, sleeps = _failure(pos)
    assert not err.retryable
    assert err.detail == "HTTP 422 from the POS: delta: must not be 0 (field delta)"
    assert len(pos.requests) == 1 and sleeps == []


def test_a_connection_without_an_api_base_url_or_secret_is_refused_before_any_request() -> None:
    pos = Pos()
    for target in (
        WriteTarget("con_1", "generic", None, (SECRET,)),
        WriteTarget("con_1", "generic", API, ()),
    ):
        err, _ = _failure(pos, target=target)
        assert not err.retryable and "con_1" in err.detail
    assert pos.requests == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"delta": 0}, "delta"), ({"delta": "3"}, "delta"), ({"sku": ""}, "sku")],
)
def test_a_proposal_it_cannot_read_is_refused(payload: dict[str, Any], field: str) -> None:
    err, _ = _failure(Pos(), _proposal(**payload))
    assert not err.retryable and f"payload.{field}" in err.detail


def test_other_kinds_are_not_supported() -> None:
    other = _proposal().model_copy(update={"kind": "discount"})
    err, _ = _failure(Pos(), other)
    assert isinstance(err, NotSupported)


def test_revert_undoes_what_the_pos_applied() -> None:
    pos = Pos()
    wb = _writeback(pos, [])
    applied = WriteResult("adj_1", {"applied": -2, "on_hand": 0})  # only 2 were on the shelf
    asyncio.run(wb.revert(TARGET, _proposal(), applied, idempotency_key="prop-1:revert"))
    [request] = pos.requests
    body = json.loads(request.content)
    assert (body["delta"], body["reference"]) == (2, "prop-1:revert")
    assert request.headers["Idempotency-Key"] == "prop-1:revert"


def test_reverting_an_adjustment_that_changed_nothing_sends_nothing() -> None:
    pos = Pos()
    applied = WriteResult("adj_1", {"applied": 0, "on_hand": 0})
    result = asyncio.run(
        _writeback(pos, []).revert(TARGET, _proposal(), applied, idempotency_key="k")
    )
    assert pos.requests == [] and result.details["reverted"] is False


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("7", WALL) == 7.0
    assert retry_after_seconds(" 1.5 ", WALL) == 1.5
    assert retry_after_seconds("Tue, 14 Nov 2023 22:13:27 GMT", WALL) == 7.0
    assert retry_after_seconds("Mon, 13 Nov 2023 00:00:00 GMT", WALL) == 0.0  # past: now
    assert retry_after_seconds("soon", WALL) is None
    assert retry_after_seconds(None, WALL) is None
    assert [backoff(a, 0.999, base=0.5, cap=8.0) for a in (1, 2, 5, 9)] == pytest.approx(
        [0.4995, 0.999, 7.992, 7.992]
    )
    assert backoff(3, 0.0, base=0.5, cap=8.0) == 0.0


def test_the_generic_connector_writes_stock_adjustments() -> None:
    assert isinstance(connector.writeback, GenericWriteBack)
    assert connector.writeback.kinds == {"stock_adjustment", "draft_purchase_order", "transfer"}
    assert connector.writeback.reversible == {"stock_adjustment"}


def test_round_trip_against_the_simulator_pos() -> None:
    # given the simulator POS with 10 units of 85123A at sim-gb
    reports: list[dict[str, Any]] = []

    def tillwise(request: httpx.Request) -> httpx.Response:
        reports.append(json.loads(request.content)["data"])
        return httpx.Response(200, json={"status": "accepted", "delivery_id": len(reports)})

    async def go() -> tuple[WriteResult, WriteResult, WriteResult, int]:
        client = httpx.AsyncClient(transport=httpx.MockTransport(tillwise))
        async with SimulatorPos(
            "http://tillwise.test", "con_1", SECRET, client=client, wall_clock=lambda: WALL
        ) as pos:
            pos.load(Replay(steps=[], opening={("sim-gb", "85123A"): 10}))
            pos.play(
                SimEvent(
                    "s", "location.updated", datetime(2011, 1, 1, tzinfo=UTC), {"id": "sim-gb"}
                )
            )
            wb = GenericWriteBack(
                transport=httpx.ASGITransport(app=pos.app), wall_clock=lambda: WALL
            )
            target = WriteTarget("con_1", "generic", "http://pos.test", (SECRET,))
            # when the approved proposal is written, retried, then reverted
            first = await wb.apply(target, _proposal(), idempotency_key="prop-1")
            again = await wb.apply(target, _proposal(), idempotency_key="prop-1")
            undone = await wb.revert(target, _proposal(), first, idempotency_key="prop-1:revert")
            await pos.drain()
            return first, again, undone, pos.stock.level(("sim-gb", "85123A")).on_hand

    first, again, undone, on_hand = asyncio.run(go())

    # then the POS applied it once, answered the retry with the same adjustment, and the revert
    # put the stock back; every change was reported to Tillwise
    assert first.details["on_hand"] == 7
    assert again.reference == first.reference and again.details["replayed"] is True
    assert undone.reference != first.reference and undone.details["on_hand"] == 10
    assert on_hand == 10
    assert sorted((r["version"], r["on_hand"]) for r in reports) == [(1, 7), (2, 10)]
