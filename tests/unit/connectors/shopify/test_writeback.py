"""Shopify write-back against the local fake: stock adjustments, discounts, customer notes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fakes.shopify import FakeShopify
from tillwise.connectors._http import RetryPolicy
from tillwise.connectors.shopify import make_connector
from tillwise.connectors.shopify.writeback import ShopifyWriteBack
from tillwise.domain.proposals import Proposal
from tillwise.ports.writeback import NotSupported, WriteBackError, WriteTarget

from ._fake import APP, Clock, context, fake_shop, sync, transport

PINK, BERLIN, FIFTH_AVE = "808950810", "1034478814", "487838322"


def _target(fake: FakeShopify, api_version: str | None = None) -> WriteTarget:
    access, _ = fake.issue_token()
    # a token without a recorded expiry: write-back runs on the wall clock, the fake does not
    ctx = context(fake, access=access)
    if api_version is not None:  # the connection's own API version
        ctx = dataclasses.replace(ctx, config={**ctx.config, "api_version": api_version})
    return WriteTarget(connection_id="con_sh", platform="shopify", api_base_url=None, context=ctx)


def _proposal(kind: str, payload: dict[str, Any], pid: str = "prop-1") -> Proposal:
    return Proposal(
        id=pid,
        kind=kind,
        workflow="stock",
        connection_id="con_sh",
        location_external_id=BERLIN,
        created_at=datetime(2026, 1, 2, 9, 30, tzinfo=UTC),
        summary="test",
        payload=payload,
    )


def _writeback(fake: FakeShopify, clock: Clock | None = None) -> ShopifyWriteBack:
    return ShopifyWriteBack(
        APP,
        transport=transport(fake),
        sleep=(clock or Clock()).sleep,
        jitter=lambda: 0.5,
        retry=RetryPolicy(max_attempts=4),
    )


def _stock(delta: int, **extra: Any) -> Proposal:
    payload = {"sku": "IPOD2008PINK", "location_external_id": BERLIN, "delta": delta, **extra}
    return _proposal("stock_adjustment", payload)


def test_kinds_without_purchase_orders() -> None:
    wb = make_connector(APP).writeback
    assert wb is not None and wb.kinds == {"stock_adjustment", "discount", "customer_note"}


@sync
async def test_stock_adjustment_finds_the_item_by_sku_and_adjusts_available() -> None:
    fake = fake_shop()
    result = await _writeback(fake).apply(_target(fake), _stock(5), idempotency_key="key-1")
    lookup, mutation = fake.api_requests("/graphql.json")
    assert lookup["body"]["variables"] == {"query": 'sku:"IPOD2008PINK"'}
    assert mutation["idempotency_key"] == "key-1"
    assert mutation["body"]["variables"]["input"] == {
        "reason": "correction",
        "name": "available",
        "referenceDocumentUri": "gid://tillwise/Proposal/prop-1",
        "changes": [
            {
                "delta": 5,
                "inventoryItemId": f"gid://shopify/InventoryItem/{PINK}",
                "locationId": f"gid://shopify/Location/{BERLIN}",
            }
        ],
    }
    assert fake.levels[(PINK, BERLIN)]["available"] == 11  # 6 + 5
    assert result.reference.startswith("gid://shopify/InventoryAdjustmentGroup/")
    assert result.details == {
        "inventory_item_id": PINK,
        "location_id": BERLIN,
        "delta": 5,
        "reverted": False,
    }


@sync
async def test_a_lost_answer_is_retried_with_the_same_key_and_applied_once() -> None:
    fake = fake_shop()
    clock = Clock()
    fake.fail_after_write(1)  # applied, then the answer is lost (500)
    result = await _writeback(fake, clock).apply(
        _target(fake, "2026-04"), _stock(-2, inventory_item_id=PINK), idempotency_key="key-2"
    )
    calls = fake.api_requests("/graphql.json")
    # the key travels in the documented @idempotent directive, so Shopify applies it once
    assert [c["body"]["variables"]["idempotencyKey"] for c in calls] == ["key-2", "key-2"]
    assert all("@idempotent(key: $idempotencyKey)" in c["body"]["query"] for c in calls)
    assert calls[0]["body"] == calls[1]["body"]
    assert len(fake.writes_applied) == 1
    assert fake.levels[(PINK, BERLIN)]["available"] == 4  # 6 - 2, once
    assert len(clock.waits) == 1
    assert result.details["delta"] == -2


@sync
async def test_with_no_version_configured_a_lost_answer_is_still_applied_once() -> None:
    # an app set up without TILLWISE_SHOPIFY_API_VERSION: the client's own default must be a
    # version Shopify still serves as asked and whose adjustments carry the key (2026-01 on)
    fake = fake_shop()
    fake.fail_after_write(1)  # applied, then the answer is lost (500)
    app = {k: v for k, v in APP.items() if k != "api_version"}
    target = _target(fake)
    target = dataclasses.replace(target, context=dataclasses.replace(target.context, app=app))
    wb = ShopifyWriteBack(app, transport=transport(fake), sleep=Clock().sleep, jitter=lambda: 0.5)
    await wb.apply(target, _stock(-2, inventory_item_id=PINK), idempotency_key="key-3")
    calls = fake.api_requests("/graphql.json")
    versions = {c["path"].split("/")[3] for c in calls}
    assert len(versions) == 1 and min(versions) >= "2026-04"
    assert all("@idempotent(key: $idempotencyKey)" in c["body"]["query"] for c in calls)
    assert fake.levels[(PINK, BERLIN)]["available"] == 4  # 6 - 2, once


@sync
async def test_before_api_2026_01_a_lost_answer_is_not_sent_again_by_the_client() -> None:
    fake = fake_shop()
    fake.fail_after_write(1)  # applied, then the answer is lost (500)
    with pytest.raises(WriteBackError) as lost:
        await _writeback(fake).apply(
            _target(fake), _stock(-2, inventory_item_id=PINK), idempotency_key="key-2"
        )
    # no key Shopify honours on this version: resending could take the stock twice, so the
    # client leaves it to governance (deferred), and the level moved once
    assert lost.value.retryable
    assert len(fake.api_requests("/graphql.json")) == 1
    assert fake.levels[(PINK, BERLIN)]["available"] == 4


@sync
async def test_a_throttled_mutation_waits_and_is_sent_again_with_the_same_key() -> None:
    fake = fake_shop()
    clock = Clock()
    fake.graphql_available = 0.0
    fake.clock = clock.monotonic
    await _writeback(fake, clock).apply(
        _target(fake), _stock(1, inventory_item_id=PINK), idempotency_key="key-3"
    )
    calls = fake.api_requests("/graphql.json")
    assert len(calls) == 2 and {c["idempotency_key"] for c in calls} == {"key-3"}
    # a mutation costs 10 points, 50 come back per second (ShopifyWriteBack's limiter reads the
    # wall clock, which the recorded sleep does not move: it may wait a second, tiny time)
    assert clock.waits[0] == pytest.approx(10 / 50)
    assert fake.levels[(PINK, BERLIN)]["available"] == 7


@sync
async def test_revert_adjusts_by_the_opposite_delta() -> None:
    fake = fake_shop()
    wb = _writeback(fake)
    target = _target(fake)
    proposal = _stock(4)
    applied = await wb.apply(target, proposal, idempotency_key="key-4")
    assert fake.levels[(PINK, BERLIN)]["available"] == 10
    undone = await wb.revert(target, proposal, applied, idempotency_key="key-4-revert")
    assert fake.levels[(PINK, BERLIN)]["available"] == 6
    last = fake.api_requests("/graphql.json")[-1]["body"]["variables"]["input"]
    assert last["referenceDocumentUri"] == "gid://tillwise/Proposal/prop-1/revert"
    assert undone.details["delta"] == -4 and undone.details["reverted"] is True


@sync
async def test_an_item_not_stocked_at_the_location_is_refused() -> None:
    fake = fake_shop()
    with pytest.raises(WriteBackError) as err:
        await _writeback(fake).apply(
            _target(fake),
            _proposal(
                "stock_adjustment",
                {"sku": "IPOD2008GREEN", "location_external_id": BERLIN, "delta": 1},
            ),
            idempotency_key="k",
        )
    assert "not stocked" in err.value.detail and fake.writes_applied == []


@sync
async def test_an_unknown_sku_writes_nothing() -> None:
    fake = fake_shop()
    with pytest.raises(WriteBackError) as err:
        await _writeback(fake).apply(_target(fake), _stock(1, sku="NOPE"), idempotency_key="k")
    assert "0 Shopify inventory items" in err.value.detail and fake.writes_applied == []


@sync
async def test_discount_makes_a_price_rule_and_code_a_replay_finds_it_and_revert_deletes() -> None:
    fake = fake_shop()
    wb = _writeback(fake)
    target = _target(fake)
    proposal = _proposal("discount", {"code": "LOYAL10", "value_type": "percentage", "value": "10"})
    applied = await wb.apply(target, proposal, idempotency_key="key-d")
    [rule] = fake.price_rules.values()
    assert rule["value"] == "-10" and rule["title"] == "LOYAL10"
    assert rule["starts_at"] == "2026-01-02T09:30:00+00:00"
    [code] = fake.discount_codes.values()
    assert applied.details == {
        "discount_code_id": str(code["id"]),
        "price_rule_id": str(rule["id"]),
        "code": "LOYAL10",
        "replayed": False,
    }
    # the job is run again (its first answer was lost): the code exists, nothing new is made
    again = await wb.apply(target, proposal, idempotency_key="key-d")
    assert again.details == {**applied.details, "replayed": True}
    assert len(fake.price_rules) == 1 and len(fake.discount_codes) == 1
    await wb.revert(target, proposal, applied, idempotency_key="key-d-r")
    assert fake.price_rules == {} and fake.discount_codes == {}
    # reverting twice: already gone is fine
    await wb.revert(target, proposal, applied, idempotency_key="key-d-r")


@sync
async def test_customer_note_is_written() -> None:
    fake = fake_shop()
    result = await _writeback(fake).apply(
        _target(fake),
        _proposal("customer_note", {"customer_external_id": "207119551", "note": "VIP"}),
        idempotency_key="key-n",
    )
    assert fake.customers["207119551"]["note"] == "VIP"
    [put] = [r for r in fake.requests if r["method"] == "PUT"]
    assert put["body"] == {"customer": {"id": 207119551, "note": "VIP"}}
    assert put["idempotency_key"] == "key-n" and result.reference == "207119551"


@sync
async def test_purchase_orders_are_not_supported() -> None:
    fake = fake_shop()
    with pytest.raises(NotSupported):
        await _writeback(fake).apply(
            _target(fake), _proposal("draft_purchase_order", {"lines": []}), idempotency_key="k"
        )
    assert fake.requests == []
