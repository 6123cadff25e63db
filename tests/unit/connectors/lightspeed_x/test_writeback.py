"""Write-back against the fake: consignments as purchase orders, stock adjustments, notes."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.fakes.lightspeed_x import FakeLightspeedX
from tillwise.connectors._http import RetryPolicy
from tillwise.connectors.lightspeed_x.writeback import LightspeedXWriteBack
from tillwise.domain.proposals import Proposal
from tillwise.ports.writeback import (
    NotSupported,
    WriteBackError,
    WriteProgress,
    WriteResult,
    WriteTarget,
)

from ._fake import APP, Sleeps, context

OUTLET = "b1e04bd8-f019-11e3-a0f5-b8ca3a64f8f4"
PRODUCT = "b8ca3a65-0183-11e4-fbb5-7988a6ed80f8"
OTHER_PRODUCT = "b8ca3a65-0183-11e4-fbb5-000000000002"


def _setup() -> tuple[FakeLightspeedX, LightspeedXWriteBack, WriteTarget]:
    fake = FakeLightspeedX()
    wb = LightspeedXWriteBack(
        APP,
        transport=httpx.ASGITransport(app=fake.app),
        retry=RetryPolicy(max_attempts=3),
        sleep=Sleeps(),
        jitter=lambda: 0.0,
    )
    target = WriteTarget("con_lsx", "lightspeed-x", None, context=context(fake))
    return fake, wb, target


def _proposal(kind: str, payload: dict[str, Any]) -> Proposal:
    return Proposal(
        id="p-1",
        kind=kind,
        workflow="replenishment",
        connection_id="con_lsx",
        created_at=datetime(2024, 3, 1, tzinfo=UTC),
        summary="Reorder",
        payload=payload,
    )


PO = {
    "vendor_external_id": "dc85058a-a683-11e5-ef46-08f9a926615e",
    "location_external_id": OUTLET,
    "expected_on": "2024-03-15",
    "lines": [{"sku": PRODUCT, "quantity": 12, "unit_cost": "2.95"}],
}


def _ours(fake: FakeLightspeedX, key: str) -> list[dict[str, Any]]:
    """The SUPPLIER consignments written under ``key`` (their name carries its marker)."""
    return [
        c
        for c in fake.store["consignments"]
        if c.get("type") == "SUPPLIER" and c.get("name", "").endswith(f"TW-{key[:12]}")
    ]


def _apply_until_done(
    wb: LightspeedXWriteBack, target: WriteTarget, proposal: Proposal, key: str
) -> WriteResult:
    """Governance: a write that failed with a retryable error is tried again, same key."""
    for _ in range(6):
        try:
            return asyncio.run(wb.apply(target, proposal, idempotency_key=key))
        except WriteBackError as exc:
            assert exc.retryable, exc.detail
    raise AssertionError("never applied")


def test_a_purchase_order_becomes_an_open_supplier_consignment_with_its_lines() -> None:
    fake, wb, target = _setup()
    fake.fail_writes(1)  # the first POST fails: not sent again, the write is retried later
    with pytest.raises(WriteBackError) as failed:
        asyncio.run(
            wb.apply(target, _proposal("draft_purchase_order", PO), idempotency_key="key-1")
        )
    assert failed.value.retryable
    result = asyncio.run(
        wb.apply(target, _proposal("draft_purchase_order", PO), idempotency_key="key-1")
    )
    posts = fake.api_requests("/consignments", "POST")
    assert [p["idempotency_key"] for p in posts] == ["key-1", "key-1"]
    created = next(c for c in fake.store["consignments"] if c["id"] == result.reference)
    assert (created["type"], created["status"], created["outlet_id"]) == (
        "SUPPLIER",
        "OPEN",
        OUTLET,
    )
    assert created["supplier_id"] == PO["vendor_external_id"]
    assert fake.consignment_products[result.reference][0]["count"] == "12"
    assert fake.consignment_products[result.reference][0]["cost"] == "2.95"
    # applying again with the same key finds it and creates nothing new
    again = asyncio.run(
        wb.apply(target, _proposal("draft_purchase_order", PO), idempotency_key="key-1")
    )
    assert again.reference == result.reference and again.details["replayed"] is True
    assert again.details["lines_written"] == []
    assert len([c for c in fake.store["consignments"] if c.get("type") == "SUPPLIER"]) == 2
    assert len(fake.consignment_products[result.reference]) == 1
    # reverting deletes it while OPEN
    asyncio.run(
        wb.revert(
            target, _proposal("draft_purchase_order", PO), result, idempotency_key="key-1:undo"
        )
    )
    assert all(c["id"] != result.reference for c in fake.store["consignments"])


def test_a_timeout_after_the_consignment_is_created_does_not_duplicate_it() -> None:
    fake, wb, target = _setup()  # like X-Series, the fake ignores Idempotency-Key
    fake.lose_responses(1, on="POST /consignments")
    proposal = _proposal("draft_purchase_order", PO)
    result = _apply_until_done(wb, target, proposal, "5b0c9a36-0000-4000-8000-000000000001")
    [made] = _ours(fake, "5b0c9a36-0000-4000-8000-000000000001")
    assert result.reference == made["id"] and result.details["replayed"] is True
    assert [x["product_id"] for x in fake.consignment_products[made["id"]]] == [PRODUCT]


def test_a_line_refused_with_503_is_added_once_by_the_retry_in_the_same_consignment() -> None:
    fake, wb, target = _setup()
    fake.fail_writes(3, on="POST /consignments/.*/products")  # as many as the client tries
    proposal = _proposal("draft_purchase_order", PO)
    result = _apply_until_done(wb, target, proposal, "key-503")
    [made] = _ours(fake, "key-503")
    assert result.reference == made["id"]
    assert [x["product_id"] for x in fake.consignment_products[made["id"]]] == [PRODUCT]


def test_a_line_whose_answer_was_lost_is_not_added_twice() -> None:
    fake, wb, target = _setup()
    fake.store["products"].append({**fake.store["products"][0], "id": OTHER_PRODUCT})
    payload = {
        **PO,
        "lines": [
            {"sku": PRODUCT, "quantity": 12, "unit_cost": "2.95"},
            {"product_id": OTHER_PRODUCT, "quantity": 6},
        ],
    }
    fake.lose_responses(1, on="POST /consignments/.*/products")  # the first line is made
    result = _apply_until_done(wb, target, _proposal("draft_purchase_order", payload), "k-lost")
    [made] = _ours(fake, "k-lost")
    lines = fake.consignment_products[made["id"]]
    assert [(x["product_id"], x["count"]) for x in lines] == [
        (PRODUCT, "12"),
        (OTHER_PRODUCT, "6"),
    ]
    assert result.details["lines_written"] == [OTHER_PRODUCT]


def test_a_sent_consignment_cannot_be_reverted() -> None:
    fake, wb, target = _setup()
    result = asyncio.run(
        wb.apply(target, _proposal("draft_purchase_order", PO), idempotency_key="k")
    )
    next(c for c in fake.store["consignments"] if c["id"] == result.reference)["status"] = "SENT"
    with pytest.raises(NotSupported, match="SENT"):
        asyncio.run(
            wb.revert(target, _proposal("draft_purchase_order", PO), result, idempotency_key="u")
        )


def test_a_purchase_order_without_lines_or_outlet_is_refused_before_any_call() -> None:
    fake, wb, target = _setup()
    for payload in ({**PO, "lines": []}, {**PO, "location_external_id": None}):
        with pytest.raises(WriteBackError):
            asyncio.run(
                wb.apply(target, _proposal("draft_purchase_order", payload), idempotency_key="k")
            )
    assert not [r for r in fake.requests if r["method"] != "GET"]


def test_a_purchase_order_for_a_vendor_known_only_by_name_is_refused_before_any_write() -> None:
    fake, wb, target = _setup()
    payload = {k: v for k, v in PO.items() if k != "vendor_external_id"}
    for vendor, field in (
        ({"vendor": {"name": "Acme Wholesale"}}, "payload.vendor.external_id"),
        ({}, "payload.vendor_external_id"),
    ):
        with pytest.raises(WriteBackError, match=field) as refused:
            asyncio.run(
                wb.apply(
                    target,
                    _proposal("draft_purchase_order", {**payload, **vendor}),
                    idempotency_key="no-vendor",
                )
            )
        assert not refused.value.retryable
    assert not [r for r in fake.requests if r["method"] != "GET"]


def test_a_line_refused_for_good_deletes_the_consignment_made_for_it() -> None:
    fake, wb, target = _setup()
    payload = {**PO, "lines": [*PO["lines"], {"product_id": "no-such-product", "quantity": 1}]}
    with pytest.raises(WriteBackError, match="product_id is invalid") as refused:
        asyncio.run(
            wb.apply(target, _proposal("draft_purchase_order", payload), idempotency_key="k422")
        )
    assert not refused.value.retryable
    assert "was deleted" in refused.value.detail
    assert _ours(fake, "k422") == []
    assert len(fake.api_requests("/consignments", "POST")) == 1


def test_a_half_made_consignment_that_cannot_be_deleted_is_named_in_the_error() -> None:
    fake, wb, target = _setup()
    payload = {**PO, "lines": [*PO["lines"], {"product_id": "no-such-product", "quantity": 1}]}
    fake.fail_writes(3, on="DELETE /consignments/.*")
    with pytest.raises(WriteBackError, match="product_id is invalid") as refused:
        asyncio.run(
            wb.apply(target, _proposal("draft_purchase_order", payload), idempotency_key="k422")
        )
    [left] = _ours(fake, "k422")
    assert not refused.value.retryable
    assert f"consignment {left['id']} is left on the POS" in refused.value.detail


def test_a_stock_adjustment_counts_the_new_level_and_reverts() -> None:
    fake, wb, target = _setup()
    payload = {"sku": PRODUCT, "location_external_id": OUTLET, "delta": -4}
    result = asyncio.run(
        wb.apply(target, _proposal("stock_adjustment", payload), idempotency_key="adj")
    )
    level = next(
        r
        for r in fake.store["inventory"]
        if r["product_id"] == PRODUCT and r["outlet_id"] == OUTLET
    )
    assert Decimal(str(level["inventory_level"])) == 15  # 19 - 4
    assert result.details["from"] == "19" and result.details["to"] == "15"
    asyncio.run(
        wb.revert(
            target, _proposal("stock_adjustment", payload), result, idempotency_key="adj:undo"
        )
    )
    assert Decimal(str(level["inventory_level"])) == 19


def test_a_stock_adjustment_whose_completion_answer_was_lost_is_not_counted_twice() -> None:
    fake, wb, target = _setup()
    target = dataclasses.replace(target, progress=WriteProgress())  # as governance gives it
    fake.lose_responses(3, on="PUT /consignments/.*")  # the count completes; no answer arrives
    adjustment = _proposal(
        "stock_adjustment", {"sku": PRODUCT, "location_external_id": OUTLET, "delta": -4}
    )

    result = _apply_until_done(wb, target, adjustment, "adj")

    level = next(
        r
        for r in fake.store["inventory"]
        if r["product_id"] == PRODUCT and r["outlet_id"] == OUTLET
    )
    assert Decimal(str(level["inventory_level"])) == 15  # 19 - 4, once (not 11)
    assert result.details["replayed"] is True and result.details["from"] == "19"
    ours = [c for c in fake.store["consignments"] if c.get("name", "").endswith("TW-adj")]
    assert len(ours) == 1  # one count


def test_a_customer_note_is_appended_and_reverted() -> None:
    fake, wb, target = _setup()
    cid = "b8ca3a65-0183-11e4-fbb5-4f73f02a9d1c"
    fake.store["customers"][0]["note"] = "VIP"
    payload = {"customer_external_id": cid, "note": "Prefers email"}
    result = asyncio.run(wb.apply(target, _proposal("customer_note", payload), idempotency_key="n"))
    assert fake.store["customers"][0]["note"] == "VIP\nPrefers email"
    asyncio.run(
        wb.revert(target, _proposal("customer_note", payload), result, idempotency_key="n:undo")
    )
    assert fake.store["customers"][0]["note"] == "VIP"


def test_unknown_kinds_are_not_supported() -> None:
    _, wb, target = _setup()
    with pytest.raises(NotSupported):
        asyncio.run(wb.apply(target, _proposal("discount", {}), idempotency_key="d"))
