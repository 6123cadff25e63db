"""Write-back against the fake: stock, purchase orders, customer notes; keys and reversal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tillwise.connectors._http import RetryPolicy
from tillwise.connectors.lightspeed_r.writeback import LightspeedRWriteBack, ref_num
from tillwise.domain.proposals import Proposal
from tillwise.ports.platform import ConnectionContext
from tillwise.ports.writeback import NotSupported, WriteBackError, WriteProgress, WriteTarget

from ._env import APP, Env

TARGET = WriteTarget(connection_id="con_r", platform="lightspeed-r", api_base_url=None)


def _proposal(kind: str, payload: dict[str, Any]) -> Proposal:
    return Proposal(
        id="prop-1",
        kind=kind,
        workflow="test",
        connection_id="con_r",
        created_at=datetime(2024, 5, 1, tzinfo=UTC),
        summary="s",
        payload=payload,
    )


def _writeback(env: Env) -> LightspeedRWriteBack:
    async def context_for(target: WriteTarget) -> ConnectionContext:
        ctx = env.ctx()  # the stored credentials: the latest the client saved, if any
        return replace(ctx, credentials=env.saved[-1]) if env.saved else ctx

    return LightspeedRWriteBack(
        APP,
        context_for=context_for,
        transport=env.transport,
        oauth_transport=env.transport,
        sleep=env.clock.sleep,
        retry=RetryPolicy(max_attempts=4),
    )


PO = {
    "vendor": {"external_id": "7", "name": "Maple Supply Co"},
    "location_external_id": "1",
    "currency": "CAD",
    "lines": [
        {"sku": "SPOON", "quantity": 24, "unit_cost": "1.10"},
        {"item_id": "12", "quantity": 6},
    ],
}


async def test_stock_adjustment_sets_qoh_and_reverts() -> None:
    env = Env()
    wb = _writeback(env)
    prop = _proposal(
        "stock_adjustment",
        {"sku": "MUG-1", "location_external_id": "2", "delta": -3, "book_on_hand": 4},
    )
    result = await wb.apply(TARGET, prop, idempotency_key="key-1")
    assert env.fake.item_shop("11", "2")["qoh"] == "1"
    assert result.details["before"] == "4" and result.details["after"] == "1"
    assert result.details["replayed"] is False
    puts = [h for m, _, h in env.fake.requests if m == "PUT"]
    assert [h["idempotency-key"] for h in puts] == ["key-1"]

    again = await wb.apply(TARGET, prop, idempotency_key="key-1")  # a re-run writes nothing
    assert again.details["replayed"] is True and env.fake.item_shop("11", "2")["qoh"] == "1"

    await wb.revert(TARGET, prop, result, idempotency_key="key-1:revert")
    assert env.fake.item_shop("11", "2")["qoh"] == "4"


async def test_a_5xx_is_retried_with_the_same_idempotency_key() -> None:
    env = Env()
    wb = _writeback(env)
    prop = _proposal(
        "stock_adjustment", {"sku": "210000000012", "location_external_id": "1", "delta": 2}
    )
    env.fake.fail_next = []
    original = env.fake._route

    calls = {"n": 0}

    async def flaky(request: Any, path: str) -> Any:
        if request.method == "PUT" and calls["n"] == 0:
            calls["n"] += 1
            from tests.fakes.lightspeed_r import _error

            return _error(503, "Temporary failure.")
        return await original(request, path)

    env.fake._route = flaky  # type: ignore[method-assign]
    await wb.apply(TARGET, prop, idempotency_key="key-2")
    keys = [h["idempotency-key"] for m, _, h in env.fake.requests if m == "PUT"]
    assert keys == ["key-2", "key-2"]
    assert env.fake.item_shop("12", "1")["qoh"] == "5"  # applied once: 3 + 2


async def test_purchase_order_is_written_once_and_a_retry_reuses_it() -> None:
    env = Env()
    wb = _writeback(env)
    prop = _proposal("draft_purchase_order", PO)
    result = await wb.apply(TARGET, prop, idempotency_key="po-key")
    [order] = [o for o in env.fake.store["Order"] if o.get("refNum") == ref_num("po-key")]
    assert (order["vendorID"], order["shopID"]) == ("7", "1")
    lines = [x for x in env.fake.store["OrderLine"] if x["orderID"] == order["orderID"]]
    assert [(x["itemID"], x["quantity"], x.get("price")) for x in lines] == [
        ("13", "24", "1.10"),
        ("12", "6", None),
    ]
    assert result.reference == order["orderID"]

    again = await wb.apply(TARGET, prop, idempotency_key="po-key")
    assert again.reference == result.reference and again.details["replayed"] is True
    assert len([o for o in env.fake.store["Order"] if o.get("refNum") == ref_num("po-key")]) == 1
    assert len([x for x in env.fake.store["OrderLine"] if x["orderID"] == order["orderID"]]) == 2

    await wb.revert(TARGET, prop, result, idempotency_key="po-key:revert")
    assert order["archived"] == "true"


class _TimeoutAfterAccept(httpx.AsyncBaseTransport):
    """The platform creates the object, then the answer is lost (a read timeout)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str) -> None:
        self.inner, self.path, self.tripped = inner, path, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith(self.path) and not self.tripped:
            self.tripped = True
            await resp.aread()
            raise httpx.ReadTimeout("read timed out", request=request)
        return resp


async def test_a_create_whose_answer_is_lost_is_not_sent_again() -> None:
    for lost in ("/Order.json", "/OrderLine.json"):
        # given the platform accepts the create but its answer times out
        env = Env()
        env.transport = _TimeoutAfterAccept(env.transport, lost)
        wb = _writeback(env)
        prop = _proposal("draft_purchase_order", PO)
        # then that attempt fails as retryable instead of posting a second one
        with pytest.raises(WriteBackError) as err:
            await wb.apply(TARGET, prop, idempotency_key="po-key")
        assert err.value.retryable, lost
        # and the next attempt finds what was created by its refNum: one order, lines once
        result = await wb.apply(TARGET, prop, idempotency_key="po-key")
        orders = [o for o in env.fake.store["Order"] if o.get("refNum") == ref_num("po-key")]
        assert [o["orderID"] for o in orders] == [result.reference], lost
        lines = [x for x in env.fake.store["OrderLine"] if x["orderID"] == result.reference]
        assert sorted((x["itemID"], x["quantity"]) for x in lines) == [
            ("12", "6"),
            ("13", "24"),
        ], lost


class _LostPutAnswers(httpx.AsyncBaseTransport):
    """Every PUT is applied by the platform, then its answer is lost (a read timeout)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.lose = inner, True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        if request.method == "PUT" and self.lose:
            await resp.aread()
            raise httpx.ReadTimeout("read timed out", request=request)
        return resp


async def test_an_adjustment_whose_answers_were_lost_is_not_made_twice_by_the_retry() -> None:
    env = Env()
    lossy = _LostPutAnswers(env.transport)
    env.transport = lossy
    wb = _writeback(env)
    prop = _proposal(
        "stock_adjustment", {"sku": "210000000012", "location_external_id": "1", "delta": 2}
    )
    target = replace(TARGET, progress=WriteProgress())  # as governance gives it
    with pytest.raises(WriteBackError) as lost:
        await wb.apply(target, prop, idempotency_key="key-3")
    assert lost.value.retryable and env.fake.item_shop("12", "1")["qoh"] == "5"  # 3 + 2
    lossy.lose = False

    again = await wb.apply(target, prop, idempotency_key="key-3")  # governance's retry

    assert again.details["replayed"] is True
    assert env.fake.item_shop("12", "1")["qoh"] == "5"  # not 7


async def test_a_received_order_cannot_be_reverted() -> None:
    env = Env()
    wb = _writeback(env)
    prop = _proposal("draft_purchase_order", PO)
    result = await wb.apply(TARGET, prop, idempotency_key="po-2")
    for line in env.fake.store["OrderLine"]:
        if line["orderID"] == result.reference:
            line["numReceived"] = "3"
    with pytest.raises(WriteBackError, match="received"):
        await wb.revert(TARGET, prop, result, idempotency_key="po-2:revert")


async def test_customer_note_is_appended_once_and_removed_on_revert() -> None:
    env = Env()
    wb = _writeback(env)
    prop = _proposal("customer_note", {"customer_external_id": "5", "note": "Asked about teapots"})
    result = await wb.apply(TARGET, prop, idempotency_key="note-1")
    await wb.apply(TARGET, prop, idempotency_key="note-1")
    [customer] = env.fake.store["Customer"]
    assert (
        customer["Note"]["note"]
        == f"Prefers email\nAsked about teapots [tillwise {ref_num('note-1')}]"
    )
    await wb.revert(TARGET, prop, result, idempotency_key="note-1:revert")
    assert customer["Note"]["note"] == "Prefers email"


async def test_unknown_kinds_and_bad_payloads_are_refused() -> None:
    env = Env()
    wb = _writeback(env)
    with pytest.raises(NotSupported):
        await wb.apply(TARGET, _proposal("discount", {}), idempotency_key="k")
    with pytest.raises(WriteBackError, match="SKU 'NOPE'"):
        await wb.apply(
            TARGET,
            _proposal("stock_adjustment", {"sku": "NOPE", "location_external_id": "1", "delta": 1}),
            idempotency_key="k",
        )
