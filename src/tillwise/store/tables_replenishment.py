"""Tables of replenishment: demand history, stock-out days, and each store's latest plan.

* ``demand_contributions``: what each sale or refund adds to its store's daily demand for one
  SKU (one row per record and SKU), so a re-delivered or corrected record replaces its share
  instead of adding a second one. Daily demand is their sum per store, SKU and local day.
  Returns are kept apart from sales (``returned``), never netted.
* ``stock_out_days``: the local days on which a SKU's level at a store was zero at some point
  (a day's sales are then a lower bound of its demand: censored, not zero demand), and
  ``stock_states``: the last level seen per SKU and store, to fill the days in between.
* ``replenishment_plans`` / ``replenishment_plan_items``: the store's latest plan (its reorder
  points, order-up-to levels and forecasts), read by the event trigger and the dashboard.
* ``vendor_terms``: what the retailer told Tillwise of a vendor (lead time, e-mail, minimum
  order value, per-SKU cost / case pack / MOQ), laid over the POS's vendor by the planner;
  written by ``governance.vendor_terms`` (``tillwise vendors import``).
* ``reorder_stops``: the SKUs a person stopped reordering at a store (discontinued or phased
  out), with why, who and when; written by ``governance.reorder_stops``, read by the planner.
* ``forecast_adjustments``: a buyer's change of a SKU's forecast at a store over some days
  (a display, a local event the forecast cannot know): a factor, the days, why, who and when;
  written by ``governance.forecast_adjustments``, applied by the planner.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    Numeric,
    String,
    Table,
)

from tillwise.store.metadata import JsonDoc, metadata

CONNECTION_ID = String(64)
EXTERNAL_ID = String(255)
SKU = String(128)


def _utc() -> DateTime:
    return DateTime(timezone=True)


demand_contributions = Table(
    "demand_contributions",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("sku", SKU, primary_key=True),
    Column("connection_id", CONNECTION_ID, nullable=False),
    Column("location_external_id", EXTERNAL_ID, nullable=False),
    Column("day", Date, nullable=False),  # the store's local calendar day
    Column("sold", Numeric(), nullable=False),  # units sold
    Column("returned", Numeric(), nullable=False),  # units given back (refunds)
    Index("ix_demand_contributions_store_day", "connection_id", "location_external_id", "day"),
)

stock_out_days = Table(
    "stock_out_days",
    metadata,
    Column("connection_id", CONNECTION_ID, primary_key=True),
    Column("location_external_id", EXTERNAL_ID, primary_key=True),
    Column("sku", SKU, primary_key=True),
    Column("day", Date, primary_key=True),
)

stock_states = Table(
    "stock_states",
    metadata,
    Column("connection_id", CONNECTION_ID, primary_key=True),
    Column("location_external_id", EXTERNAL_ID, primary_key=True),
    Column("sku", SKU, primary_key=True),
    Column("on_hand", Numeric(), nullable=False),
    Column("as_of", _utc(), nullable=False),
    Column("zero_since", Date, nullable=True),  # local day the level last fell to zero
    Column("version", BigInteger, nullable=True),  # the POS's version of that level, if any
)

replenishment_plans = Table(
    "replenishment_plans",
    metadata,
    Column("connection_id", CONNECTION_ID, primary_key=True),
    Column("location_external_id", EXTERNAL_ID, primary_key=True),
    Column("planned_at", _utc(), nullable=False),
    Column("model", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("data", JsonDoc, nullable=False),  # summary: horizon, service level, counts
)

replenishment_plan_items = Table(
    "replenishment_plan_items",
    metadata,
    Column("connection_id", CONNECTION_ID, primary_key=True),
    Column("location_external_id", EXTERNAL_ID, primary_key=True),
    Column("sku", SKU, primary_key=True),
    Column("reorder_point", Integer, nullable=False),
    Column("order_up_to", Integer, nullable=False),
    Column("data", JsonDoc, nullable=False),  # outlook, terms, forecast rows, accuracy
)

reorder_stops = Table(
    "reorder_stops",
    metadata,
    Column("connection_id", CONNECTION_ID, primary_key=True),
    Column("location_external_id", EXTERNAL_ID, primary_key=True),
    Column("sku", SKU, primary_key=True),
    Column("reason", String(500), nullable=False),
    Column("stopped_by", String(200), nullable=False),
    Column("stopped_at", _utc(), nullable=False),
)

forecast_adjustments = Table(
    "forecast_adjustments",
    metadata,
    Column("connection_id", CONNECTION_ID, primary_key=True),
    Column("location_external_id", EXTERNAL_ID, primary_key=True),
    Column("sku", SKU, primary_key=True),
    Column("factor", Float, nullable=False),  # the forecast times this, on its days
    Column("starts_on", Date, nullable=False),  # the store's local days, inclusive
    Column("ends_on", Date, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("set_at", _utc(), nullable=False),
)

vendor_terms = Table(
    "vendor_terms",
    metadata,
    Column("connection_id", CONNECTION_ID, primary_key=True),
    Column("vendor_external_id", EXTERNAL_ID, primary_key=True),
    Column("data", JsonDoc, nullable=False),  # domain.catalog.VendorTerms
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", _utc(), nullable=False),
)
