"""Transfers written back: the generic contract's ``POST /transfers`` against the simulator POS,
and the shared two-adjustment path (connectors/_transfers.py) for a platform with stock
adjustments but no transfer API, against the Square fake."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fakes.square import FakeSquare
from tillwise.connectors._po_documents import PurchaseOrderDocuments, with_documents
from tillwise.connectors._transfers import TransfersAsAdjustments, with_transfers
from tillwise.connectors.generic import GenericWriteBack
from tillwise.connectors.simulator import SimulatorPos
from tillwise.connectors.simulator.replay import Replay, SimEvent
from tillwise.connectors.simulator.transfers import TRANSIT_DAYS
from tillwise.domain.proposals import Proposal
from tillwise.ports.platform import ConnectionContext
from tillwise.ports.writeback import (
    NotSupported,
    WriteBackError,
    WriteProgress,
    WriteResult,
    WriteTarget,
)

from .square._fake import APP, Clock, context, transport

SECRET = "whsec_tr"
WALL = 1_700_000_000.0
T0 = datetime(2011, 1, 10, 9, 0, tzinfo=UTC)
SKU = "85123A"


def _transfer(source: str, destination: str, quantity: int, pid: str = "tr-1") -> Proposal:
    return Proposal(
        id=pid,
        kind="transfer",
        workflow="replenishment",
        connection_id="con_1",
        location_external_id=destination,
        created_at=datetime(2026, 1, 2, 9, 30, tzinfo=UTC),
        summary=f"Move {quantity} units of {SKU} from {source} to {destination}",
        payload={
            "sku": SKU,
            "from_location": source,
            "to_location": destination,
            "quantity": quantity,
            "reason": "test",
            "rule": "transfer_before_buying",
        },
    )


# -- the generic contract against the simulator POS --------------------------------------------


def test_the_simulator_ships_at_once_and_delivers_after_transit() -> None:
    reports: list[dict[str, Any]] = []

    def tillwise(request: httpx.Request) -> httpx.Response:
        reports.append(json.loads(request.content)["data"])
        return httpx.Response(200, json={"status": "accepted", "delivery_id": len(reports)})

    wall = [WALL]

    async def go() -> tuple[WriteResult, WriteResult, WriteBackError, SimulatorPos, int]:
        client = httpx.AsyncClient(transport=httpx.MockTransport(tillwise))
        async with SimulatorPos(
            "http://tillwise.test", "con_1", SECRET, client=client, wall_clock=lambda: wall[0]
        ) as pos:
            pos.load(Replay(steps=[], opening={("gb", SKU): 10, ("fr", SKU): 50}))
            for loc in ("gb", "fr", "de"):
                pos.play(SimEvent(f"l-{loc}", "location.updated", T0, {"id": loc}))
            wb = GenericWriteBack(
                transport=httpx.ASGITransport(app=pos.app), wall_clock=lambda: wall[0]
            )
            target = WriteTarget("con_1", "generic", "http://pos.test", (SECRET,))
            # 80 asked, 50 there: 50 move
            first = await wb.apply(target, _transfer("fr", "gb", 80), idempotency_key="tr-1")
            again = await wb.apply(target, _transfer("fr", "gb", 80), idempotency_key="tr-1")
            with pytest.raises(WriteBackError) as refused:
                await wb.apply(target, _transfer("de", "gb", 5, "tr-2"), idempotency_key="tr-2")
            await pos.drain()
            before = pos.stock.level(("gb", SKU)).on_hand
            pos.speed = 86_400.0  # a simulated day per second
            wall[0] += TRANSIT_DAYS * 1.01
            delivered = await pos.deliver_due()
            await pos.drain()
            assert before == 10 and delivered == 1
            return first, again, refused.value, pos, delivered

    first, again, refused, pos, _ = asyncio.run(go())

    assert first.details["via"] == "transfer"
    assert (first.details["quantity"], first.details["moved"]) == (80, 50)
    assert first.details["status"] == "in_transit"
    shipped = datetime.fromisoformat(first.details["expected_at"].replace("Z", "+00:00"))
    assert shipped == T0 + timedelta(days=TRANSIT_DAYS)
    assert again.reference == first.reference and again.details["replayed"] is True
    assert not refused.retryable and "409" in refused.detail
    assert "has no '85123A' to move" in refused.detail
    assert pos.stock.level(("fr", SKU)).on_hand == 0
    assert pos.stock.level(("gb", SKU)).on_hand == 60
    moves = [(r["location_id"], r["on_hand"], r.get("reason")) for r in reports]
    assert moves == [("fr", 0, "transfer_out"), ("gb", 60, "transfer_in")]


def test_a_transfer_to_the_same_store_or_an_unknown_one_is_refused() -> None:
    async def go() -> list[str]:
        client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
        async with SimulatorPos(
            "http://tillwise.test", "con_1", SECRET, client=client, wall_clock=lambda: WALL
        ) as pos:
            pos.load(Replay(steps=[], opening={("fr", SKU): 5}))
            pos.play(SimEvent("l", "location.updated", T0, {"id": "fr"}))
            wb = GenericWriteBack(
                transport=httpx.ASGITransport(app=pos.app), wall_clock=lambda: WALL
            )
            target = WriteTarget("con_1", "generic", "http://pos.test", (SECRET,))
            out = []
            for proposal in (_transfer("fr", "fr", 1), _transfer("fr", "xx", 1)):
                with pytest.raises(WriteBackError) as info:
                    await wb.apply(target, proposal, idempotency_key=proposal.id)
                out.append(info.value.detail)
            raw = {"reference": "r", "sku": SKU, "from_location_id": "fr"}
            raw |= {"to_location_id": "fr", "quantity": 1}
            resp = await httpx.AsyncClient(transport=httpx.ASGITransport(app=pos.app)).post(
                "http://pos.test/transfers", json=raw
            )
            out.append(str(resp.status_code))
            return out

    same, unknown, unsigned = asyncio.run(go())
    assert "same store" in same  # refused before anything is sent
    assert "422" in unknown and "to_location_id" in unknown
    assert unsigned == "401"


# -- two adjustments where the platform has no transfer API ------------------------------------

BATCH = "/v2/inventory/changes/batch-create"
SQ_TARGET = WriteTarget(connection_id="con_sq", platform="square", api_base_url=None)
SQ_SKU, SQ_FROM, SQ_TO = "W62UWFY35CWMYGVWK6TWJDNI", "C6W5YS5QM06F5", "L2ND"


class Failing(httpx.AsyncBaseTransport):
    """The Square fake, answering the first ``times`` inventory writes with the idempotency key
    ``key`` with ``status`` instead (the fake never sees them)."""

    def __init__(self, fake: FakeSquare, key: str, times: int, status: int) -> None:
        self.inner = transport(fake)
        self.key, self.times, self.status = key, times, status

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = json.loads(request.content or b"{}").get("idempotency_key")
        if request.url.path == BATCH and self.times > 0 and key == self.key:
            self.times -= 1
            code = "BAD_REQUEST" if self.status == 400 else "SERVICE_UNAVAILABLE"
            return httpx.Response(
                self.status,
                json={"errors": [{"category": "INVALID_REQUEST_ERROR", "code": code}]},
            )
        return await self.inner.handle_async_request(request)


def _square(
    fail: str | None = None, times: int = 1, status: int = 400
) -> tuple[FakeSquare, TransfersAsAdjustments]:
    from tillwise.connectors.square.writeback import SquareWriteBack

    fake = FakeSquare()
    second = copy.deepcopy(next(c for c in fake.counts if c["catalog_object_id"] == SQ_SKU))
    second["location_id"] = SQ_TO  # the same item at a second store, 22 on hand at the first
    second["quantity"] = "3"
    fake.counts.append(second)
    ctx = context(fake)

    async def context_for(target: WriteTarget) -> ConnectionContext:
        return ctx

    square = SquareWriteBack(
        APP,
        context_for=context_for,
        transport=Failing(fake, fail, times, status) if fail else transport(fake),
        sleep=Clock().sleep,
        jitter=lambda: 0.5,
    )
    wrapped = with_transfers(square)
    assert isinstance(wrapped, TransfersAsAdjustments)
    return fake, wrapped


def _on_hand(fake: FakeSquare, location: str) -> int:
    [count] = [
        c for c in fake.counts if c["catalog_object_id"] == SQ_SKU and c["location_id"] == location
    ]
    return int(count["quantity"])


def _sq_transfer(quantity: int) -> Proposal:
    p = _transfer(SQ_FROM, SQ_TO, quantity, "tr-sq")
    return p.model_copy(update={"payload": {**p.payload, "sku": SQ_SKU}})


def test_square_gets_the_transfer_as_two_adjustments_with_derived_keys() -> None:
    fake, wb = _square()
    assert "transfer" in wb.kinds and "transfer" not in wb.reversible

    result = asyncio.run(wb.apply(SQ_TARGET, _sq_transfer(5), idempotency_key="k"))

    calls = fake.api_requests("/v2/inventory/changes/batch-create")
    bodies = [c["body"] for c in calls]
    assert [b["idempotency_key"] for b in bodies] == ["k:out", "k:in"]
    out, into = (b["changes"][0]["adjustment"] for b in bodies)
    assert (out["location_id"], out["quantity"], out["to_state"]) == (SQ_FROM, "5", "WASTE")
    assert (into["location_id"], into["quantity"], into["to_state"]) == (SQ_TO, "5", "IN_STOCK")
    assert (out["reference_id"], into["reference_id"]) == ("tr-sq:out", "tr-sq:in")
    assert (_on_hand(fake, SQ_FROM), _on_hand(fake, SQ_TO)) == (17, 8)
    assert result.details["via"] == "adjustments" and result.details["moved"] == 5
    assert result.details["expected_at"] is None  # both at once: no transit


def test_a_failure_between_the_two_is_completed_by_the_retry_moving_once() -> None:
    # the "in" adjustment answers 503 through all the client's own 5 attempts, then recovers
    fake, wb = _square(fail="k:in", times=5, status=503)
    target = dataclasses.replace(SQ_TARGET, progress=WriteProgress())

    with pytest.raises(WriteBackError) as info:
        asyncio.run(wb.apply(target, _sq_transfer(4), idempotency_key="k"))
    assert info.value.retryable
    assert f"4 units of {SQ_SKU} left {SQ_FROM}" in info.value.detail
    assert (_on_hand(fake, SQ_FROM), _on_hand(fake, SQ_TO)) == (18, 3)
    # governance keeps it with the proposal
    assert target.progress.done["out"]["reference"] == "tr-sq:out"
    assert "in" not in target.progress.done

    asyncio.run(wb.apply(target, _sq_transfer(4), idempotency_key="k"))

    # the retry did not send the out again (a POS without idempotency keys would take it
    # twice): it completed the in
    keys = [c["body"]["idempotency_key"] for c in fake.api_requests(BATCH)]
    assert keys == ["k:out", "k:in"]
    assert len(fake.writes_applied) == 2
    assert (_on_hand(fake, SQ_FROM), _on_hand(fake, SQ_TO)) == (18, 7)


def test_units_the_destination_refuses_are_put_back_at_the_source() -> None:
    fake, wb = _square(fail="k:in")  # the "in" adjustment is refused (400: for good)

    with pytest.raises(WriteBackError) as info:
        asyncio.run(wb.apply(SQ_TARGET, _sq_transfer(4), idempotency_key="k"))

    assert not info.value.retryable
    assert f"{SQ_TO} refused 4 units of {SQ_SKU}" in info.value.detail
    assert f"they were put back at {SQ_FROM}" in info.value.detail
    bodies = [c["body"] for c in fake.api_requests(BATCH)]
    assert [b["idempotency_key"] for b in bodies] == ["k:out", "k:back"]  # the in was refused
    back = bodies[-1]["changes"][0]["adjustment"]
    assert (back["location_id"], back["quantity"], back["to_state"]) == (SQ_FROM, "4", "IN_STOCK")
    assert (_on_hand(fake, SQ_FROM), _on_hand(fake, SQ_TO)) == (22, 3)  # as before


def test_only_write_backs_that_adjust_stock_gain_transfers(tmp_path: Any) -> None:
    documents = PurchaseOrderDocuments(tmp_path)
    assert with_transfers(None) is None
    assert with_transfers(documents) is documents  # purchase orders only: nothing to adjust
    both = with_documents(with_transfers(GenericWriteBack()), documents)
    assert {"transfer", "draft_purchase_order", "stock_adjustment"} <= both.kinds
    _, wb = _square()
    with pytest.raises(NotSupported):
        asyncio.run(
            wb.revert(SQ_TARGET, _sq_transfer(1), WriteResult("r"), idempotency_key="k:revert")
        )
