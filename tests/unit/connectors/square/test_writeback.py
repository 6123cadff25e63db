"""Square write-back against the local fake: adjustments, catalog discounts, customer notes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.square import FakeSquare, corpus
from tillwise.connectors._http import RetryPolicy
from tillwise.connectors.square import make_connector
from tillwise.connectors.square.writeback import SquareWriteBack
from tillwise.domain.proposals import Proposal
from tillwise.ports.platform import ConnectionContext
from tillwise.ports.writeback import (
    NotSupported,
    WriteBackError,
    WriteProgress,
    WriteResult,
    WriteTarget,
)

from ._fake import APP, Clock, context, sync, transport

TARGET = WriteTarget(connection_id="con_sq", platform="square", api_base_url=None)
APPROVED_AT = datetime(2026, 1, 4, 8, 0, tzinfo=UTC)  # two days after the proposal was made
SKU, LOC = "W62UWFY35CWMYGVWK6TWJDNI", "C6W5YS5QM06F5"  # 22 on hand in the fake


def _proposal(kind: str, payload: dict[str, Any], pid: str = "prop-1") -> Proposal:
    return Proposal(
        id=pid,
        kind=kind,
        workflow="stock",
        connection_id="con_sq",
        location_external_id=LOC,
        created_at=datetime(2026, 1, 2, 9, 30, tzinfo=UTC),
        summary="test",
        payload=payload,
    )


def _writeback(
    fake: FakeSquare, clock: Clock | None = None, now: list[datetime] | None = None
) -> SquareWriteBack:
    wall = now or [APPROVED_AT]
    ctx = context(fake)

    async def context_for(target: WriteTarget) -> ConnectionContext:
        assert target.connection_id == "con_sq"
        return ctx

    return SquareWriteBack(
        APP,
        context_for=context_for,
        transport=transport(fake),
        sleep=(clock or Clock()).sleep,
        jitter=lambda: 0.5,
        retry=RetryPolicy(max_attempts=4),
        clock=lambda: wall[0],
    )


def _on_hand(fake: FakeSquare) -> str:
    [count] = [c for c in fake.counts if c["catalog_object_id"] == SKU]
    return str(count["quantity"])


def test_kinds_without_purchase_orders() -> None:
    wb = make_connector(APP).writeback
    assert wb is not None
    assert wb.kinds == {"stock_adjustment", "transfer", "discount", "customer_note"}
    assert "draft_purchase_order" not in wb.kinds


@sync
async def test_stock_adjustment_sends_the_documented_body_with_the_key_in_it() -> None:
    fake = FakeSquare()
    result = await _writeback(fake).apply(
        TARGET,
        _proposal("stock_adjustment", {"sku": SKU, "location_external_id": LOC, "delta": 5}),
        idempotency_key="key-1",
    )
    [call] = fake.api_requests("/v2/inventory/changes/batch-create")
    body = call["body"]
    # the shape of Square's own BatchChangeInventory example (corpus)
    documented = corpus("api__batch_change_inventory_request.json")
    assert set(body) == set(documented)
    assert body["idempotency_key"] == "key-1"
    assert body["changes"] == [
        {
            "type": "ADJUSTMENT",
            "adjustment": {
                "reference_id": "prop-1",
                "catalog_object_id": SKU,
                "location_id": LOC,
                "from_state": "NONE",
                "to_state": "IN_STOCK",
                "quantity": "5",
                # when it is written: Square refuses one more than 24 hours old, and the
                # proposal (2026-01-02) waited two days for its approval
                "occurred_at": "2026-01-04T08:00:00Z",
            },
        }
    ]
    assert call["version"] == "2024-07-17"
    assert _on_hand(fake) == "27"
    assert result.reference == "prop-1" and result.details["on_hand"] == "27"


@sync
async def test_a_lost_answer_is_retried_with_the_same_key_and_applied_once() -> None:
    fake = FakeSquare()
    clock = Clock()
    fake.fail_after_write(1)  # applied, then the answer is lost (500)
    result = await _writeback(fake, clock).apply(
        TARGET,
        _proposal("stock_adjustment", {"sku": SKU, "location_external_id": LOC, "delta": -3}),
        idempotency_key="key-2",
    )
    calls = fake.api_requests("/v2/inventory/changes/batch-create")
    assert [c["body"]["idempotency_key"] for c in calls] == ["key-2", "key-2"]
    assert calls[0]["body"] == calls[1]["body"]
    assert len(fake.writes_applied) == 1 and _on_hand(fake) == "19"
    assert len(clock.waits) == 1
    assert result.details["from_state"] == "IN_STOCK" and result.details["to_state"] == "WASTE"


@sync
async def test_a_deferred_retry_sends_the_first_attempts_time_under_the_same_key() -> None:
    fake = FakeSquare()
    fake.throttle(10)  # 429s through the client's own four attempts: governance retries later
    now = [APPROVED_AT]
    wb = _writeback(fake, now=now)
    target = dataclasses.replace(TARGET, progress=WriteProgress())
    proposal = _proposal("stock_adjustment", {"sku": SKU, "location_external_id": LOC, "delta": 2})
    with pytest.raises(WriteBackError) as deferred:
        await wb.apply(target, proposal, idempotency_key="key-9")
    assert deferred.value.retryable
    fake.throttle(0)
    now[0] = APPROVED_AT + timedelta(hours=1)
    await wb.apply(target, proposal, idempotency_key="key-9")
    bodies = [c["body"] for c in fake.api_requests("/v2/inventory/changes/batch-create")]
    # the same body under the same key (Square refuses a key reused with another body)
    assert {b["changes"][0]["adjustment"]["occurred_at"] for b in bodies} == {
        "2026-01-04T08:00:00Z"
    }
    assert _on_hand(fake) == "24"


@sync
async def test_a_write_still_deferred_after_a_day_fails_saying_why_rather_than_risk_twice() -> None:
    fake = FakeSquare()
    fake.throttle(10)
    now = [APPROVED_AT]
    wb = _writeback(fake, now=now)
    target = dataclasses.replace(TARGET, progress=WriteProgress())
    proposal = _proposal("stock_adjustment", {"sku": SKU, "location_external_id": LOC, "delta": 2})
    with pytest.raises(WriteBackError):
        await wb.apply(target, proposal, idempotency_key="key-10")
    fake.throttle(0)
    now[0] = APPROVED_AT + timedelta(hours=25)
    with pytest.raises(WriteBackError) as stale:
        await wb.apply(target, proposal, idempotency_key="key-10")
    assert not stale.value.retryable
    assert "Square refuses an inventory change dated so long ago" in stale.value.detail
    assert _on_hand(fake) == "22"  # nothing written


@sync
async def test_rate_limited_write_is_retried_with_the_same_key() -> None:
    fake = FakeSquare()
    fake.throttle(2)
    await _writeback(fake).apply(
        TARGET,
        _proposal("stock_adjustment", {"sku": SKU, "location_external_id": LOC, "delta": 1}),
        idempotency_key="key-3",
    )
    calls = fake.api_requests("/v2/inventory/changes/batch-create")
    assert len(calls) == 3 and {c["body"]["idempotency_key"] for c in calls} == {"key-3"}
    assert _on_hand(fake) == "23"


@sync
async def test_revert_posts_the_opposite_adjustment() -> None:
    fake = FakeSquare()
    wb = _writeback(fake)
    proposal = _proposal("stock_adjustment", {"sku": SKU, "location_external_id": LOC, "delta": 4})
    applied = await wb.apply(TARGET, proposal, idempotency_key="key-4")
    assert _on_hand(fake) == "26"
    undone = await wb.revert(TARGET, proposal, applied, idempotency_key="key-4-revert")
    assert _on_hand(fake) == "22"
    last = fake.api_requests("/v2/inventory/changes/batch-create")[-1]["body"]
    assert last["changes"][0]["adjustment"]["reference_id"] == "prop-1:revert"
    assert undone.details["delta"] == -4


@sync
async def test_the_same_key_with_another_body_is_refused_not_retried() -> None:
    fake = FakeSquare()
    wb = _writeback(fake)
    await wb.apply(
        TARGET,
        _proposal("stock_adjustment", {"sku": SKU, "location_external_id": LOC, "delta": 1}),
        idempotency_key="key-5",
    )
    with pytest.raises(WriteBackError) as err:
        await wb.apply(
            TARGET,
            _proposal("stock_adjustment", {"sku": SKU, "location_external_id": LOC, "delta": 2}),
            idempotency_key="key-5",
        )
    assert "IDEMPOTENCY_KEY_REUSED" in err.value.detail and not err.value.retryable


@pytest.mark.parametrize(
    "payload",
    [
        {"sku": SKU, "location_external_id": LOC, "delta": 0},
        {"sku": SKU, "location_external_id": LOC, "delta": 1.5},
        {"location_external_id": LOC, "delta": 1},
    ],
)
@sync
async def test_bad_adjustment_payloads_write_nothing(payload: dict[str, Any]) -> None:
    fake = FakeSquare()
    with pytest.raises(WriteBackError):
        await _writeback(fake).apply(
            TARGET, _proposal("stock_adjustment", payload), idempotency_key="k"
        )
    assert fake.writes_applied == []


@sync
async def test_discount_is_a_catalog_discount_and_revert_deletes_it() -> None:
    fake = FakeSquare()
    wb = _writeback(fake)
    proposal = _proposal("discount", {"name": "Loyal customers", "percentage": "5.4"})
    applied = await wb.apply(TARGET, proposal, idempotency_key="key-d")
    [call] = fake.api_requests("/v2/catalog/object")
    assert call["body"] == {
        "idempotency_key": "key-d",
        "object": {
            "type": "DISCOUNT",
            "id": "#tillwise-prop-1",
            "discount_data": {
                "name": "Loyal customers",
                "discount_type": "FIXED_PERCENTAGE",
                "percentage": "5.4",
            },
        },
    }
    assert applied.reference in fake.catalog_writes
    undone = await wb.revert(TARGET, proposal, applied, idempotency_key="key-d-r")
    assert undone.details["deleted"] is True and fake.catalog_writes == {}
    again = await wb.revert(TARGET, proposal, applied, idempotency_key="key-d-r")
    assert again.details["deleted"] is False  # already gone: no error


@sync
async def test_fixed_amount_discount_in_minor_units() -> None:
    fake = FakeSquare()
    proposal = _proposal("discount", {"name": "2 off", "amount_minor": 200, "currency": "USD"})
    await _writeback(fake).apply(TARGET, proposal, idempotency_key="key-f")
    data = fake.api_requests("/v2/catalog/object")[0]["body"]["object"]["discount_data"]
    assert data["discount_type"] == "FIXED_AMOUNT"
    assert data["amount_money"] == {"amount": 200, "currency": "USD"}


@sync
async def test_customer_note_sets_the_note_and_revert_restores_it() -> None:
    fake = FakeSquare()
    wb = _writeback(fake)
    customer = "JDKYHBWT1D4F8MFH63DBMEN8Y4"
    proposal = _proposal("customer_note", {"customer_external_id": customer, "note": "VIP"})
    applied = await wb.apply(TARGET, proposal, idempotency_key="key-n")
    assert fake.customers[customer]["note"] == "VIP"
    assert applied.details["previous_note"] == "a customer"
    [put] = [r for r in fake.requests if r["method"] == "PUT"]
    assert put["body"] == {"note": "VIP", "version": 1}  # optimistic concurrency on version
    await wb.revert(TARGET, proposal, applied, idempotency_key="key-n-r")
    assert fake.customers[customer]["note"] == "a customer"


@sync
async def test_purchase_orders_are_not_supported() -> None:
    fake = FakeSquare()
    with pytest.raises(NotSupported):
        await _writeback(fake).apply(
            TARGET, _proposal("draft_purchase_order", {"lines": []}), idempotency_key="k"
        )
    with pytest.raises(NotSupported):
        await _writeback(fake).revert(
            TARGET,
            _proposal("draft_purchase_order", {}),
            WriteResult(reference="x"),
            idempotency_key="k",
        )


@sync
async def test_without_credentials_nothing_is_written() -> None:
    wb = SquareWriteBack(APP)
    with pytest.raises(WriteBackError) as err:
        await wb.apply(
            TARGET,
            _proposal("stock_adjustment", {"sku": SKU, "location_external_id": LOC, "delta": 1}),
            idempotency_key="k",
        )
    assert "access token" in err.value.detail
