"""Transfers written back: the generic contract's ``POST /transfers`` against the simulator POS,
the shared two-adjustment path (connectors/_transfers.py) for a platform with stock
adjustments but no transfer API, and Square's own transfer change against the Square fake."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from dataclasses import dataclass, field
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
    WriteBack,
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


@dataclass
class StockBook:
    """A POS with stock adjustments and no transfer API that honours no idempotency key (as
    R-Series, X-Series or Shopify before API 2026-01): every adjustment sent changes its stock.
    ``refuse[key]``: the errors the writes under that key answer with first."""

    on_hand: dict[str, int]
    kinds: frozenset[str] = frozenset({"stock_adjustment"})
    reversible: frozenset[str] = frozenset({"stock_adjustment"})
    sent: list[tuple[str, str, int]] = field(default_factory=list)  # key, reason, delta
    refuse: dict[str, list[WriteBackError]] = field(default_factory=dict)

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        errors = self.refuse.get(idempotency_key)
        if errors:
            raise errors.pop(0)
        p = proposal.payload
        self.sent.append((idempotency_key, p["reason"], p["delta"]))
        self.on_hand[p["location_external_id"]] += p["delta"]
        return WriteResult(reference=proposal.id, details={"delta": p["delta"]})

    async def revert(
        self, target: WriteTarget, proposal: Proposal, applied: WriteResult, *, idempotency_key: str
    ) -> WriteResult:
        raise NotSupported("not in this test")


TARGET = WriteTarget(connection_id="con_1", platform="lightspeed-r", api_base_url=None)


def _book(**refuse: list[WriteBackError]) -> tuple[StockBook, TransfersAsAdjustments]:
    book = StockBook({"shop-1": 22, "shop-2": 3}, refuse=dict(refuse))
    wrapped = with_transfers(book)
    assert isinstance(wrapped, TransfersAsAdjustments)
    return book, wrapped


def test_a_pos_without_a_transfer_api_gets_two_adjustments_with_derived_keys() -> None:
    book, wb = _book()
    assert "transfer" in wb.kinds and "transfer" not in wb.reversible

    result = asyncio.run(wb.apply(TARGET, _transfer("shop-1", "shop-2", 5), idempotency_key="k"))

    assert book.sent == [("k:out", "transfer_out", -5), ("k:in", "transfer_in", 5)]
    assert book.on_hand == {"shop-1": 17, "shop-2": 8}
    assert result.details["via"] == "adjustments" and result.details["moved"] == 5
    assert result.details["expected_at"] is None  # both at once: no transit


def test_a_failure_between_the_two_is_completed_by_the_retry_moving_once() -> None:
    book, wb = _book(**{"k:in": [WriteBackError("HTTP 503", retryable=True)]})
    target = dataclasses.replace(TARGET, progress=WriteProgress())
    transfer = _transfer("shop-1", "shop-2", 4)

    with pytest.raises(WriteBackError) as info:
        asyncio.run(wb.apply(target, transfer, idempotency_key="k"))
    assert info.value.retryable
    assert "4 units of 85123A left shop-1" in info.value.detail
    assert book.on_hand == {"shop-1": 18, "shop-2": 3}
    assert target.progress.done["out"]["reference"] == "tr-1:out"  # kept with the proposal

    asyncio.run(wb.apply(target, transfer, idempotency_key="k"))

    # the retry did not take the stock out again (this POS would have): it added it
    assert [key for key, _, _ in book.sent] == ["k:out", "k:in"]
    assert book.on_hand == {"shop-1": 18, "shop-2": 7}


def test_units_the_destination_refuses_are_put_back_at_the_source() -> None:
    book, wb = _book(**{"k:in": [WriteBackError("item 12 has no stock record at shop-2")]})

    with pytest.raises(WriteBackError) as info:
        asyncio.run(wb.apply(TARGET, _transfer("shop-1", "shop-2", 4), idempotency_key="k"))

    assert not info.value.retryable
    assert "shop-2 refused 4 units of 85123A: item 12 has no stock record" in info.value.detail
    assert "they were put back at shop-1 (adjustment tr-1:back)" in info.value.detail
    assert book.sent == [("k:out", "transfer_out", -4), ("k:back", "transfer_back", 4)]
    assert book.on_hand == {"shop-1": 22, "shop-2": 3}  # as before


def test_only_write_backs_that_adjust_stock_gain_transfers(tmp_path: Any) -> None:
    documents = PurchaseOrderDocuments(tmp_path)
    assert with_transfers(None) is None
    assert with_transfers(documents) is documents  # purchase orders only: nothing to adjust
    both = with_documents(with_transfers(GenericWriteBack()), documents)
    assert {"transfer", "draft_purchase_order", "stock_adjustment"} <= both.kinds
    _, wb = _book()
    with pytest.raises(NotSupported):
        asyncio.run(
            wb.revert(
                TARGET, _transfer("shop-1", "shop-2", 1), WriteResult("r"), idempotency_key="k:r"
            )
        )


# -- Square: its own transfer change -------------------------------------------------------------

SQ_TARGET = WriteTarget(connection_id="con_sq", platform="square", api_base_url=None)
SQ_SKU, SQ_FROM, SQ_TO = "W62UWFY35CWMYGVWK6TWJDNI", "C6W5YS5QM06F5", "L2ND"
WRITTEN = datetime(2026, 1, 4, 8, 0, tzinfo=UTC)


def _square() -> tuple[FakeSquare, WriteBack]:
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
        transport=transport(fake),
        sleep=Clock().sleep,
        jitter=lambda: 0.5,
        clock=lambda: WRITTEN,
    )
    wrapped = with_transfers(square)
    assert wrapped is not None
    return fake, wrapped


def _on_hand(fake: FakeSquare, location: str) -> int:
    [count] = [
        c for c in fake.counts if c["catalog_object_id"] == SQ_SKU and c["location_id"] == location
    ]
    return int(count["quantity"])


def test_square_moves_the_stock_with_one_transfer_change_and_a_retry_moves_it_once() -> None:
    fake, wb = _square()
    assert "transfer" in wb.kinds
    p = _transfer(SQ_FROM, SQ_TO, 5, "tr-sq")
    transfer = p.model_copy(update={"payload": {**p.payload, "sku": SQ_SKU}})

    result = asyncio.run(wb.apply(SQ_TARGET, transfer, idempotency_key="k"))
    again = asyncio.run(wb.apply(SQ_TARGET, transfer, idempotency_key="k"))

    [body, repeat] = [c["body"] for c in fake.api_requests("/v2/inventory/changes/batch-create")]
    assert body == repeat and body["idempotency_key"] == "k"
    # Square's InventoryTransfer: no WASTE at the giver, no stock out of nowhere at the taker
    assert body["changes"] == [
        {
            "type": "TRANSFER",
            "transfer": {
                "reference_id": "tr-sq",
                "catalog_object_id": SQ_SKU,
                "state": "IN_STOCK",
                "from_location_id": SQ_FROM,
                "to_location_id": SQ_TO,
                "quantity": "5",
                "occurred_at": "2026-01-04T08:00:00Z",
            },
        }
    ]
    assert len(fake.writes_applied) == 1
    assert (_on_hand(fake, SQ_FROM), _on_hand(fake, SQ_TO)) == (17, 8)
    assert result.details["via"] == "transfer" and result.details["moved"] == 5
    assert result.details["expected_at"] is None  # Square moves it at once
    assert again.details == result.details
