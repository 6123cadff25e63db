"""Clover write-back against the fake: stock adjustments, customer notes, discounts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fakes.clover import MERCHANT
from tillwise.connectors.clover import CloverSession
from tillwise.connectors.clover.writeback import CloverWriteBack
from tillwise.domain.proposals import Proposal
from tillwise.ports.writeback import NotSupported, WriteBackError, WriteTarget

from .test_api import Rig

TARGET = WriteTarget(connection_id="con_clover", platform="clover", api_base_url=None)
ITEM = "NFB3QFXEJ303E"


def _proposal(kind: str = "stock_adjustment", **payload: Any) -> Proposal:
    return Proposal(
        id="prop-1",
        kind=kind,
        workflow="manual",
        connection_id="con_clover",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        summary="test",
        payload=payload or {"sku": ITEM, "location_external_id": MERCHANT, "delta": -3},
    )


def _wb(rig: Rig) -> CloverWriteBack:
    async def session_for(target: WriteTarget) -> CloverSession:
        assert target.connection_id == "con_clover"
        return rig.api().session

    rig.connector.use_sessions(session_for)
    wb = rig.connector.writeback
    assert isinstance(wb, CloverWriteBack)
    return wb


def test_stock_adjustment_applies_the_delta_as_an_absolute_quantity_with_the_key() -> None:
    rig = Rig()
    wb = _wb(rig)
    result = asyncio.run(wb.apply(TARGET, _proposal(), idempotency_key="prop-1"))
    assert rig.fake.stock(ITEM) == 47
    assert result.details == {"item_id": ITEM, "before": 50, "after": 47, "applied": -3}
    assert "prop-1" in rig.fake.replays  # the Idempotency-Key header was sent


def test_a_throttled_write_is_retried_with_the_same_key_and_one_effect() -> None:
    rig = Rig()
    wb = _wb(rig)
    rig.fake.write_throttles = ["token"]  # the read passes, the first POST gets a 429
    result = asyncio.run(wb.apply(TARGET, _proposal(), idempotency_key="prop-1"))
    posts = [r for r in rig.fake.requests if r[0] == "POST"]
    assert len(posts) == 2  # throttled once, then sent again (with the same key and body)
    assert rig.fake.write_keys == ["prop-1", "prop-1"]
    assert rig.fake.stock(ITEM) == 47 and result.details["applied"] == -3
    assert rig.clock.waits.count(1.0) == 1  # the 1 s back-off before the retry


def test_revert_undoes_what_was_applied() -> None:
    rig = Rig()
    wb = _wb(rig)
    applied = asyncio.run(wb.apply(TARGET, _proposal(), idempotency_key="prop-1"))
    rig.fake.items[ITEM]["itemStock"]["quantity"] = 40  # a sale happened meanwhile
    asyncio.run(wb.revert(TARGET, _proposal(), applied, idempotency_key="prop-1:revert"))
    assert rig.fake.stock(ITEM) == 43


def test_customer_note_is_set_and_restored() -> None:
    rig = Rig()
    wb = _wb(rig)
    p = _proposal("customer_note", customer_external_id="CUSTOMER00001", note="VIP: call back")
    applied = asyncio.run(wb.apply(TARGET, p, idempotency_key="prop-1"))
    assert rig.fake.customers["CUSTOMER00001"]["metadata"]["note"] == "VIP: call back"
    asyncio.run(wb.revert(TARGET, p, applied, idempotency_key="prop-1:revert"))
    assert rig.fake.customers["CUSTOMER00001"]["metadata"]["note"] == "prefers email"


def test_discount_is_created_then_deleted() -> None:
    rig = Rig()
    wb = _wb(rig)
    p = _proposal("discount", name="10 off", percentage=10)
    applied = asyncio.run(wb.apply(TARGET, p, idempotency_key="prop-1"))
    assert rig.fake.discounts[applied.reference] == {
        "id": applied.reference,
        "name": "10 off",
        "percentage": 10,
    }
    again = asyncio.run(wb.apply(TARGET, p, idempotency_key="prop-1"))
    assert again.reference == applied.reference and len(rig.fake.discounts) == 1
    asyncio.run(wb.revert(TARGET, p, applied, idempotency_key="prop-1:revert"))
    assert rig.fake.discounts == {}


def test_purchase_orders_are_not_supported() -> None:
    wb = _wb(Rig())
    assert "draft_purchase_order" not in wb.kinds
    with pytest.raises(NotSupported):
        asyncio.run(wb.apply(TARGET, _proposal("draft_purchase_order"), idempotency_key="k"))


@pytest.mark.parametrize(
    "payload",
    [
        {"sku": ITEM, "location_external_id": "OTHERMERCHANT", "delta": 1},
        {"sku": ITEM, "location_external_id": MERCHANT, "delta": 0},
        {"sku": ITEM, "location_external_id": MERCHANT, "delta": 1.5},
        {"location_external_id": MERCHANT, "delta": 1},
    ],
)
def test_bad_proposals_are_refused_without_writing(payload: dict[str, Any]) -> None:
    rig = Rig()
    wb = _wb(rig)
    with pytest.raises(WriteBackError) as err:
        asyncio.run(wb.apply(TARGET, _proposal(**payload), idempotency_key="k"))
    assert not err.value.retryable
    assert rig.fake.stock(ITEM) == 50
    assert not [r for r in rig.fake.requests if r[0] == "POST"]


def test_unknown_item_is_a_permanent_failure() -> None:
    rig = Rig()
    wb = _wb(rig)
    p = _proposal(sku="NOSUCHITEM001", location_external_id=MERCHANT, delta=2)
    with pytest.raises(WriteBackError) as err:
        asyncio.run(wb.apply(TARGET, p, idempotency_key="k"))
    assert not err.value.retryable and "not found" in err.value.detail


def test_without_a_session_provider_nothing_is_written() -> None:
    wb = CloverWriteBack(session_for=None)
    with pytest.raises(WriteBackError) as err:
        asyncio.run(wb.apply(TARGET, _proposal(), idempotency_key="k"))
    assert not err.value.retryable
