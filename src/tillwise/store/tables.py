"""Tables of the canonical store: one per canonical record kind, plus events, daily sales,
processed messages and the outbox.

Every record table has the same shape: the canonical id, where the record came from, its
freshness (what :mod:`tillwise.domain.merge` compares), when Tillwise first saw and last changed
it, the whole record as a JSON document (``data``, the source of truth when reading back) and a
few indexed columns copied out of it for queries. Storage shape is not domain shape: the
conversion both ways lives in :mod:`tillwise.store.mappers`.

All times are stored in UTC.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)

from tillwise.domain.catalog import Product, Variant, Vendor
from tillwise.domain.customers import Customer
from tillwise.domain.ids import SourceRecord
from tillwise.domain.inventory import InventoryLevel, InventoryMovement
from tillwise.domain.locations import Location
from tillwise.domain.purchasing import PurchaseOrder
from tillwise.domain.sales import Payment, Refund, Transaction
from tillwise.domain.staff import Employee, Shift
from tillwise.domain.till import TillEvent
from tillwise.store.metadata import JsonDoc, metadata

# Lengths follow the domain's limits (SourceRef) so anything the domain accepts fits.
PLATFORM = String(32)
CONNECTION_ID = String(64)
EXTERNAL_ID = String(255)
CURRENCY = String(3)

# Columns every record table has; the rest of a record table's columns are query columns.
RECORD_COLUMNS = (
    "id",
    "platform",
    "connection_id",
    "external_id",
    "source_version",
    "source_updated_at",
    "first_seen_at",
    "updated_at",
    "data",
)


def _utc() -> DateTime:
    return DateTime(timezone=True)


def _query(name: str, type_: Any, *, nullable: bool = True) -> Column[Any]:
    """An indexed column copied out of the record for queries."""
    return Column(name, type_, nullable=nullable, index=True)


def _record_table(name: str, *query_columns: Column[Any]) -> Table:
    return Table(
        name,
        metadata,
        Column("id", String(36), primary_key=True),  # = record.id (uuid5 of the source ref)
        Column("platform", PLATFORM, nullable=False),
        Column("connection_id", CONNECTION_ID, nullable=False),
        Column("external_id", EXTERNAL_ID, nullable=False),
        Column("source_version", BigInteger, nullable=True),
        Column("source_updated_at", _utc(), nullable=True),
        Column("first_seen_at", _utc(), nullable=False),
        Column("updated_at", _utc(), nullable=False),
        Column("data", JsonDoc, nullable=False),  # record.model_dump(mode="json")
        *query_columns,
        UniqueConstraint("platform", "connection_id", "external_id"),
        Index(f"ix_{name}_connection_id_external_id", "connection_id", "external_id"),
    )


def _sale_columns() -> tuple[Column[Any], ...]:
    """Query columns shared by transactions and refunds."""
    return (
        _query("location_external_id", EXTERNAL_ID),
        _query("customer_external_id", EXTERNAL_ID),
        _query("occurred_at", _utc(), nullable=False),
        _query("currency", CURRENCY, nullable=False),
        _query("total_amount", BigInteger, nullable=False),  # minor units
        _query("issue_count", Integer, nullable=False),
    )


locations = _record_table(
    "locations", _query("name", String(255), nullable=False), _query("time_zone", String(64))
)
products = _record_table("products")
variants = _record_table(
    "variants",
    _query("sku", String(128), nullable=False),
    _query("gtin", String(14)),  # normalized GTIN-14
    _query("product_external_id", EXTERNAL_ID),
)
vendors = _record_table("vendors")
customers = _record_table("customers", _query("email", String(320)))
transactions = _record_table("transactions", *_sale_columns())
refunds = _record_table("refunds", *_sale_columns())
payments = _record_table(
    "payments",
    _query("transaction_external_id", EXTERNAL_ID),
    _query("location_external_id", EXTERNAL_ID),
    _query("occurred_at", _utc(), nullable=False),
    _query("status", String(16), nullable=False),
    _query("currency", CURRENCY, nullable=False),
    _query("amount_minor", BigInteger, nullable=False),  # minor units, positive
)
inventory_levels = _record_table(
    "inventory_levels",
    _query("sku", String(128), nullable=False),
    _query("location_external_id", EXTERNAL_ID, nullable=False),
    _query("on_hand", Numeric(), nullable=False),
)
inventory_movements = _record_table("inventory_movements")
purchase_orders = _record_table("purchase_orders")
employees = _record_table("employees")
shifts = _record_table("shifts")
till_events = _record_table(
    "till_events",
    _query("event", String(16), nullable=False),  # no_sale | price_override
    _query("location_external_id", EXTERNAL_ID),
    _query("employee_external_id", EXTERNAL_ID),
    _query("occurred_at", _utc(), nullable=False),
)

# One table per kind of tillwise.domain.normalized.CanonicalRecord (a test keeps them in step).
RECORD_TABLES: dict[type[SourceRecord], Table] = {
    Location: locations,
    Product: products,
    Variant: variants,
    Vendor: vendors,
    Customer: customers,
    Transaction: transactions,
    Refund: refunds,
    Payment: payments,
    InventoryLevel: inventory_levels,
    InventoryMovement: inventory_movements,
    PurchaseOrder: purchase_orders,
    Employee: employees,
    Shift: shifts,
    TillEvent: till_events,
}


def record_table(record_type: type[SourceRecord]) -> Table:
    try:
        return RECORD_TABLES[record_type]
    except KeyError:
        raise TypeError(f"{record_type.__name__} is not a canonical record kind") from None


# Canonical events as derived from deliveries (append-only; the id is the envelope's id).
events = Table(
    "events",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("type", String(128), nullable=False, index=True),
    Column("source", String(255), nullable=False),
    Column("subject", String(255), nullable=True),
    Column("time", _utc(), nullable=True),
    Column("platform", PLATFORM, nullable=False),
    Column("connection_id", CONNECTION_ID, nullable=False),
    Column("data", JsonDoc, nullable=False),
    Column("recorded_at", _utc(), nullable=False, index=True),
)

# Sales and refunds per store, local calendar day and currency (kept by the reporting workflow).
daily_sales = Table(
    "daily_sales",
    metadata,
    Column("connection_id", CONNECTION_ID, primary_key=True),
    Column("location_external_id", EXTERNAL_ID, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("currency", CURRENCY, primary_key=True),
    Column("sales_count", BigInteger, nullable=False),
    Column("sales_amount", BigInteger, nullable=False),  # minor units
    Column("refunds_count", BigInteger, nullable=False),
    Column("refunds_amount", BigInteger, nullable=False),  # minor units, positive
)

# What each sale or refund currently adds to ``daily_sales`` (one row per record), so that a
# re-delivered or corrected record replaces its contribution instead of adding a second one.
sales_contributions = Table(
    "sales_contributions",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("connection_id", CONNECTION_ID, nullable=False),
    Column("location_external_id", EXTERNAL_ID, nullable=False),
    Column("day", Date, nullable=False),
    Column("currency", CURRENCY, nullable=False),
    Column("sales_count", BigInteger, nullable=False),
    Column("sales_amount", BigInteger, nullable=False),
    Column("refunds_count", BigInteger, nullable=False),
    Column("refunds_amount", BigInteger, nullable=False),
)

# Which consumer handled which message (exactly-once effects under at-least-once delivery).
processed_messages = Table(
    "processed_messages",
    metadata,
    Column("consumer", String(128), primary_key=True),
    Column("message_id", String(255), primary_key=True),
    Column("processed_at", _utc(), nullable=False),
)

# Bus messages written in the same transaction as their cause; the relay publishes them.
outbox = Table(
    "outbox",
    metadata,
    # BIGINT on PostgreSQL; INTEGER on SQLite so the column is the rowid (autoincrementing).
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("topic", String(64), nullable=False),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("payload", JsonDoc, nullable=False),
    Column("created_at", _utc(), nullable=False),
    Column("published_at", _utc(), nullable=True, index=True),
)
