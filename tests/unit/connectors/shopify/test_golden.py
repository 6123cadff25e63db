"""Golden tests: each Shopify corpus payload → canonical records, events and fetches, compared
with JSON written by hand in tests/fixtures/payloads/shopify/*.expected.json (from the documented
semantics in docs/platforms/shopify.md, not from the code's output).

The corpus files are REST responses (``{"order": {...}}``, ``{"locations": [...]}``); each object
is delivered unwrapped, as Shopify's webhooks and Tillwise's backfill both deliver it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tillwise.connectors.shopify import make_connector
from tillwise.connectors.shopify.webhooks import sign
from tillwise.domain.ids import SourceRef
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.platform import PayloadError

from .._coverage import assert_corpus_covered

PAYLOADS = Path(__file__).resolve().parents[3] / "fixtures" / "payloads" / "shopify"
# documented in docs/platforms/shopify.md ("Canonical events")
EVENT_NAMESPACE = uuid.UUID("5a0e7c1d-9b3f-4e28-8d61-2f4b6c8a0e93")
SECRET = "shpss_golden"
CASES = sorted(p.name.removesuffix(".expected.json") for p in PAYLOADS.glob("*.expected.json"))
connector = make_connector({"client_secret": SECRET})


def _resolve(value: Any, conn: str, webhook_id: str) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, conn, webhook_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, conn, webhook_id) for v in value]
    if isinstance(value, str) and value.startswith(("$id:", "$event:")):
        tag, kind, external_id = value.split(":", 2)
        ref = SourceRef(platform="shopify", connection_id=conn, external_id=external_id)
        canonical = ref.canonical_id(kind)
        if tag == "$id":
            return canonical
        key = f"shopify\x1f{conn}\x1f{webhook_id}\x1f{canonical}"
        return str(uuid.uuid5(EVENT_NAMESPACE, key))
    return value


def objects(case: str, unwrap: str) -> list[bytes]:
    doc = json.loads((PAYLOADS / f"{case}.json").read_text())
    inner = doc[unwrap]
    items = inner if isinstance(inner, list) else [inner]
    return [json.dumps(o).encode() for o in items]


def deliver(body: bytes, topic: str, conn: str, webhook_id: str) -> RawDelivery:
    now = datetime(2024, 4, 2, 15, 0, tzinfo=UTC)
    if not topic.startswith("resource:"):
        headers = {
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(body, SECRET),
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Shop-Domain": "golden.myshopify.com",
        }
        verified = connector.verify(body, headers, [SECRET], now)
        assert (verified.event_id, verified.topic) == (webhook_id, topic)
    return RawDelivery("shopify", conn, webhook_id, topic, body, now)


# corpus files that hold none of the stored kinds (docs/platforms/shopify.md, "Not normalized")
_INVENTORY_ITEM = (
    "an InventoryItem (SKU, unit cost, tracked) is keyed by inventory_item_id and names neither "
    "the variant nor its vendor: no canonical record to upsert (a Variant from it would blank the "
    "variant's name and price), and Tillwise's unit cost is a vendor's (VendorItem), which "
    "Shopify has no object for"
)
_DRAFT = "a draft order is a quote, not a sale; once completed the sale arrives as its Order"
_DISCOUNT = "discount configuration (Tillwise writes it back), none of the stored kinds"
NOT_STORED = {
    "rest__access_scopes.json": "an OAuth body (the scopes granted to the app)",
    "rest__graphql.json": "the Shop (the account: currency, time zone), not a location",
    "rest__events.json": "Shopify's activity log about other objects, which arrive themselves",
    "rest__refund_calculate.json": "refunds/calculate: a suggested refund, not one that happened",
    "rest_2024-04__fulfillment_order__test_9.json": "fulfilment work (what to ship from where)",
    "rest__draft_order.json": _DRAFT,
    "rest__draft_order_completed.json": _DRAFT,
    "rest_2024-04__draft_order__test_8.json": _DRAFT,
    "rest__price_rule.json": _DISCOUNT,
    "rest_2024-04__price_rule__test_5.json": _DISCOUNT,
    "rest__discount_code.json": _DISCOUNT,
    "rest_2024-04__discount_code__test_7.json": _DISCOUNT,
    "rest__inventory_item.json": _INVENTORY_ITEM,
    "rest__inventory_items.json": _INVENTORY_ITEM,
    "rest_2024-04__inventory_item__test_1.json": _INVENTORY_ITEM,
}


def test_every_corpus_payload_of_a_stored_kind_has_a_golden() -> None:
    assert_corpus_covered(PAYLOADS, NOT_STORED, at_least=37)


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    expected = json.loads((PAYLOADS / f"{case}.expected.json").read_text())
    conn = expected["connection_id"]
    bodies = objects(case, expected["unwrap"])
    assert len(bodies) == len(expected["objects"])
    for i, (body, want) in enumerate(zip(bodies, expected["objects"], strict=True)):
        webhook_id = f"wh-{case}-{i}"
        delivery = deliver(body, expected["topic"], conn, webhook_id)
        got = connector.normalize(delivery, expected.get("config"))
        assert got.model_dump(mode="json") == _resolve(want, conn, webhook_id), f"object {i}"


def test_api_object_and_webhook_give_the_same_records() -> None:
    [body] = objects("rest_2024-04__order__test_14", "order")
    hook = connector.normalize(deliver(body, "orders/updated", "c", "wh-1"))
    api = connector.normalize(deliver(body, "resource:orders", "c", "450789469:2024-04-02"))
    assert hook.records == api.records


def test_pending_order_is_not_a_sale_but_a_cancelled_one_is_voided_and_says_so() -> None:
    [body] = objects("rest_2024-04__order__test_14", "order")
    order = json.loads(body)
    pending = connector.normalize(
        deliver(
            json.dumps({**order, "financial_status": "pending"}).encode(),
            "orders/create",
            "c",
            "w1",
        )
    )
    assert [r.kind for r in pending.records] == ["customer"] and not pending.events

    def cancel(financial_status: str, webhook: str) -> Any:
        body = {**order, "cancelled_at": "2024-04-02T10:00:00-05:00"}
        body["financial_status"] = financial_status
        return connector.normalize(
            deliver(json.dumps(body).encode(), "orders/cancelled", "c", webhook)
        )

    cancelled = cancel("paid", "w2")
    [txn] = [r for r in cancelled.records if r.kind == "transaction"]
    assert txn.status == "voided"
    # no money given back: what the order added to sales and demand is withdrawn
    assert [(e.type, e.subject) for e in cancelled.events] == [("sale.voided", txn.id)]
    # cancelled and refunded: it stays a sale, and its refunds net it out
    refunded = cancel("refunded", "w3")
    assert [r.status for r in refunded.records if r.kind == "transaction"] == ["voided"]
    assert not [e for e in refunded.events if e.type == "sale.voided"]


def test_shop_money_wins_over_presentment_money() -> None:
    [body] = objects("rest_2024-04__order__test_14", "order")
    order = json.loads(body)
    order["presentment_currency"] = "CAD"
    for li in order["line_items"]:
        li["price_set"]["presentment_money"] = {"amount": "265.00", "currency_code": "CAD"}
    batch = connector.normalize(deliver(json.dumps(order).encode(), "orders/paid", "c", "w"))
    [txn] = [r for r in batch.records if r.kind == "transaction"]
    assert [line.unit_price.amount for line in txn.lines[:3]] == [19900, 19900, 19900]
    assert {line.unit_price.currency for line in txn.lines} == {"USD"}


def test_large_ids_stay_exact_strings() -> None:
    [body] = objects("rest__customer", "customer")
    big = body.replace(b'"id": 207119551', b'"id": 820982911946154508')
    batch = connector.normalize(deliver(big, "customers/update", "c", "w"))
    assert batch.records[0].external_id == "820982911946154508"


def test_enriched_inventory_level_becomes_a_record() -> None:
    body = json.dumps(
        {
            "inventory_item_id": 808950810,
            "location_id": 905684977,
            "available": 6,
            "on_hand": 8,
            "updated_at": "2018-05-07T15:51:26-04:00",
            "sku": "IPOD2008PINK",
        }
    ).encode()
    batch = connector.normalize(deliver(body, "resource:inventory_levels", "c", "e1"))
    [level] = batch.records
    assert level.model_dump(mode="json")["on_hand"] == "8"
    assert (level.sku, level.location_external_id, level.external_id) == (
        "IPOD2008PINK",
        "905684977",
        "808950810:905684977",
    )
    assert batch.events[0].type == "inventory.updated"


@pytest.mark.parametrize("name", sorted(NOT_STORED))
def test_payloads_of_no_stored_kind_normalize_to_an_empty_batch(name: str) -> None:
    body = (PAYLOADS / name).read_bytes()
    topics = (
        "app/uninstalled",
        "draft_orders/create",
        "draft_orders/update",
        "inventory_items/create",
        "inventory_items/update",
        "resource:inventory_items",
        "resource:draft_orders",
        "resource:price_rules",
        "resource:discount_codes",
        "resource:fulfillment_orders",
        "resource:events",
        "resource:shop",
    )
    for topic in topics:
        batch = connector.normalize(deliver(body, topic, "c", f"w-{name}"))
        assert not batch.records and not batch.events and not batch.fetches


def test_customer_orders_payload_normalizes_with_its_refund() -> None:
    [body] = objects("rest_2024-04__customer__test_28", "orders")
    batch = connector.normalize(deliver(body, "orders/updated", "c", "w"))
    kinds = [r.kind for r in batch.records]
    assert kinds == ["customer", "transaction", "refund", "payment"]
    txn = batch.records[1]
    assert txn.total.amount == 59894 and not txn.issues
    refund = batch.records[2]
    assert refund.total.amount == 20900 and refund.location_external_id == "487838322"
    payment = batch.records[3]  # the refund's transaction: upserted, no event of its own here
    assert (payment.payment_kind, payment.parent_external_id) == ("refund", "801038806")
    assert [e.type for e in batch.events] == ["sale.completed"]


def test_a_transaction_webhook_is_a_payment_and_names_its_currency_or_is_refused() -> None:
    doc = json.loads((PAYLOADS / "rest__transaction.json").read_text())["transaction"]
    body = json.dumps(doc).encode()
    with pytest.raises(PayloadError) as err:  # no currency in it, none configured
        connector.normalize(deliver(body, "order_transactions/create", "c", "w-t"))
    assert err.value.field == "$.currency"
    batch = connector.normalize(
        deliver(body, "order_transactions/create", "c", "w-t"), {"currency": "CAD"}
    )
    [payment] = batch.records
    assert (payment.kind, payment.currency) == ("payment", "CAD")
    assert [e.type for e in batch.events] == ["payment.updated"]


def test_variant_prices_without_a_currency_take_the_connections() -> None:
    doc = json.loads((PAYLOADS / "rest__variant.json").read_text())["variant"]
    body = json.dumps(doc).encode()
    [without] = connector.normalize(deliver(body, "resource:variants", "c", "v")).records
    [priced] = connector.normalize(
        deliver(body, "resource:variants", "c", "v"), {"currency": "USD"}
    ).records
    assert without.price is None  # type: ignore[union-attr]
    assert priced.price is not None and priced.price.currency == "USD"  # type: ignore[union-attr]


def test_a_line_restocks_by_its_restock_type_else_by_the_refunds_restock_flag() -> None:
    refund = json.loads((PAYLOADS / "rest__refund.json").read_text())["refund"]
    assert refund["restock"] is True  # the real payload: one flag, no restock_type on lines

    def restocks(doc: dict[str, Any]) -> list[bool]:
        batch = connector.normalize(deliver(json.dumps(doc).encode(), "refunds/create", "c", "w"))
        return [line.restock for line in batch.records[0].lines]

    assert restocks(refund) == [True, True]
    assert restocks({**refund, "restock": False}) == [False, False]
    lines = refund["refund_line_items"]
    typed = [{**lines[0], "restock_type": "no_restock"}, {**lines[1], "restock_type": "return"}]
    assert restocks({**refund, "refund_line_items": typed}) == [False, True]
