"""Canonical store: one table per record kind, events, daily sales, processed messages, outbox.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types in tillwise.store (a migration never follows later changes).
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_TIME = sa.DateTime(timezone=True)
PLATFORM = sa.String(32)
CONNECTION_ID = sa.String(64)
EXTERNAL_ID = sa.String(255)
CURRENCY = sa.String(3)


def _sale_columns() -> list[sa.Column]:
    return [
        sa.Column("location_external_id", EXTERNAL_ID),
        sa.Column("customer_external_id", EXTERNAL_ID),
        sa.Column("occurred_at", UTC_TIME, nullable=False),
        sa.Column("currency", CURRENCY, nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("issue_count", sa.Integer(), nullable=False),
    ]


def _record_tables() -> dict[str, list[sa.Column]]:
    """Table → its query columns (each indexed); new Column objects on every call."""
    return {
        "locations": [
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("time_zone", sa.String(64)),
        ],
        "products": [],
        "variants": [
            sa.Column("sku", sa.String(128), nullable=False),
            sa.Column("gtin", sa.String(14)),
            sa.Column("product_external_id", EXTERNAL_ID),
        ],
        "vendors": [],
        "customers": [sa.Column("email", sa.String(320))],
        "transactions": _sale_columns(),
        "refunds": _sale_columns(),
        "inventory_levels": [
            sa.Column("sku", sa.String(128), nullable=False),
            sa.Column("location_external_id", EXTERNAL_ID, nullable=False),
            sa.Column("on_hand", sa.Numeric(), nullable=False),
        ],
        "inventory_movements": [],
        "purchase_orders": [],
        "employees": [],
        "shifts": [],
    }


def _create_record_table(name: str, query_columns: list[sa.Column]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("platform", PLATFORM, nullable=False),
        sa.Column("connection_id", CONNECTION_ID, nullable=False),
        sa.Column("external_id", EXTERNAL_ID, nullable=False),
        sa.Column("source_version", sa.BigInteger(), nullable=True),
        sa.Column("source_updated_at", UTC_TIME, nullable=True),
        sa.Column("first_seen_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        *query_columns,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint(
            "platform",
            "connection_id",
            "external_id",
            name=op.f(f"uq_{name}_platform_connection_id_external_id"),
        ),
    )
    op.create_index(f"ix_{name}_connection_id_external_id", name, ["connection_id", "external_id"])
    for column in query_columns:
        op.create_index(op.f(f"ix_{name}_{column.name}"), name, [column.name])


def upgrade() -> None:
    for name, query_columns in _record_tables().items():
        _create_record_table(name, query_columns)

    op.create_table(
        "events",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("time", UTC_TIME, nullable=True),
        sa.Column("platform", PLATFORM, nullable=False),
        sa.Column("connection_id", CONNECTION_ID, nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("recorded_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_type"), "events", ["type"])
    op.create_index(op.f("ix_events_recorded_at"), "events", ["recorded_at"])

    op.create_table(
        "daily_sales",
        sa.Column("connection_id", CONNECTION_ID, nullable=False),
        sa.Column("location_external_id", EXTERNAL_ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", CURRENCY, nullable=False),
        sa.Column("sales_count", sa.BigInteger(), nullable=False),
        sa.Column("sales_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunds_count", sa.BigInteger(), nullable=False),
        sa.Column("refunds_amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "connection_id",
            "location_external_id",
            "day",
            "currency",
            name=op.f("pk_daily_sales"),
        ),
    )

    op.create_table(
        "processed_messages",
        sa.Column("consumer", sa.String(128), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("processed_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_id", name=op.f("pk_processed_messages")),
    )

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("published_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index(op.f("ix_outbox_published_at"), "outbox", ["published_at"])


def downgrade() -> None:
    for name in ("outbox", "processed_messages", "daily_sales", "events"):
        op.drop_table(name)
    for name in reversed(_record_tables()):
        op.drop_table(name)
