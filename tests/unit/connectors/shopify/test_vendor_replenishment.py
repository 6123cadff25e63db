"""A Shopify store gets draft purchase orders: the product's ``vendor`` text ("Apple" in the
corpus product) becomes a canonical Vendor the product's variants name, so the planner (run
here with the test forecaster double of tests/replenishment.py) groups their reorder under it,
with the planner's default lead time (the vendor states none)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests.replenishment import MeanForecaster
from tillwise.connectors.shopify.normalize import normalize, vendor_external_id
from tillwise.domain.catalog import Variant, Vendor
from tillwise.domain.ids import SourceRef
from tillwise.domain.inventory import InventoryLevel
from tillwise.ports.inbox import RawDelivery
from tillwise.ports.repositories import DemandDay, StockOuts
from tillwise.workflows.replenishment.planner import (
    PO,
    PlanSettings,
    StoreInputs,
    Supply,
    build_plan,
    history_for,
    horizon_for,
    run_forecast,
)

PAYLOADS = Path(__file__).resolve().parents[3] / "fixtures" / "payloads" / "shopify"
CONN = "con_shop"
LOCATION = "905684977"
SKU = "IPOD2008PINK"
TODAY = date(2024, 4, 20)


def test_vendor_id_is_the_casefolded_collapsed_name() -> None:
    assert vendor_external_id("Apple") == "vendor:apple"
    assert vendor_external_id("  ACME   Supply\tCo ") == "vendor:acme supply co"


def test_a_product_without_vendor_names_none() -> None:
    product = json.loads((PAYLOADS / "rest__product.json").read_text())["product"]
    product["vendor"] = "  "
    body = json.dumps(product).encode()
    now = datetime(2024, 4, 2, tzinfo=UTC)
    batch = normalize(RawDelivery("shopify", CONN, "e1", "resource:products", body, now))
    assert [r.kind for r in batch.records][:2] == ["product", "variant"]
    assert all(getattr(r, "vendor_external_id", None) is None for r in batch.records)


def test_a_shopify_store_gets_a_draft_purchase_order_from_the_product_vendor() -> None:
    body = (PAYLOADS / "rest__product.json").read_bytes()
    now = datetime(2024, 4, 2, tzinfo=UTC)
    batch = normalize(RawDelivery("shopify", CONN, "e1", "products/update", body, now))
    vendors = {r.external_id: r for r in batch.records if isinstance(r, Vendor)}
    variants = [r for r in batch.records if isinstance(r, Variant)]
    assert list(vendors) == ["vendor:apple"] and vendors["vendor:apple"].name == "Apple"
    assert {v.vendor_external_id for v in variants} == {"vendor:apple"}

    # the store as the planner reads it: 2 pink iPods sold a day for 14 days, none left
    level = InventoryLevel(
        source=SourceRef(platform="shopify", connection_id=CONN, external_id="808950810:1"),
        sku=SKU,
        location_external_id=LOCATION,
        on_hand=Decimal(0),
        as_of=datetime(2024, 4, 19, tzinfo=UTC),
    )
    inputs = StoreInputs(
        connection_id=CONN,
        location_external_id=LOCATION,
        location=None,
        demand=[
            DemandDay(SKU, TODAY - timedelta(days=d), Decimal(2), Decimal(0)) for d in range(1, 15)
        ],
        stock_outs=StockOuts(),
        levels={SKU: level},
        names={v.sku: v.name for v in variants},
        vendors=vendors,
        variant_vendor={v.sku: v.vendor_external_id for v in variants if v.vendor_external_id},
        supply=Supply(),
        others={},
    )
    settings = PlanSettings()
    history = history_for(inputs, TODAY)
    forecast = run_forecast(MeanForecaster(), history, horizon_for(inputs, settings))
    plan = build_plan(
        inputs,
        forecast,
        planned_at=datetime(2024, 4, 20, 3, tzinfo=UTC),
        today=TODAY,
        run_key="plan:2024-04-20",
        settings=settings,
    )

    [proposal] = [p for p in plan.proposals if p.kind == PO]
    payload = proposal.payload
    assert payload["vendor"] == {"external_id": "vendor:apple", "name": "Apple", "email": None}
    assert payload["lead_time_days"] == settings.default_lead_time_days == 7
    assert payload["expected_on"] == (TODAY + timedelta(days=7)).isoformat()
    assert [line["sku"] for line in payload["lines"]] == [SKU]
    assert payload["lines"][0]["quantity"] > 0
