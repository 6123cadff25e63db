"""replenishment: demand history, stock-out days, plan snapshots

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Frozen copies of the column types in tillwise.store.tables_replenishment.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_UTC = sa.DateTime(timezone=True)
_CONN = sa.String(length=64)
_EXT = sa.String(length=255)
_SKU = sa.String(length=128)


def upgrade() -> None:
    op.create_table(
        "demand_contributions",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("sku", _SKU, nullable=False),
        sa.Column("connection_id", _CONN, nullable=False),
        sa.Column("location_external_id", _EXT, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sold", sa.Numeric(), nullable=False),
        sa.Column("returned", sa.Numeric(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "sku", name=op.f("pk_demand_contributions")),
    )
    op.create_index(
        "ix_demand_contributions_store_day",
        "demand_contributions",
        ["connection_id", "location_external_id", "day"],
    )
    op.create_table(
        "stock_out_days",
        sa.Column("connection_id", _CONN, nullable=False),
        sa.Column("location_external_id", _EXT, nullable=False),
        sa.Column("sku", _SKU, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint(
            "connection_id", "location_external_id", "sku", "day", name=op.f("pk_stock_out_days")
        ),
    )
    op.create_table(
        "stock_states",
        sa.Column("connection_id", _CONN, nullable=False),
        sa.Column("location_external_id", _EXT, nullable=False),
        sa.Column("sku", _SKU, nullable=False),
        sa.Column("on_hand", sa.Numeric(), nullable=False),
        sa.Column("as_of", _UTC, nullable=False),
        sa.Column("zero_since", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint(
            "connection_id", "location_external_id", "sku", name=op.f("pk_stock_states")
        ),
    )
    op.create_table(
        "replenishment_plans",
        sa.Column("connection_id", _CONN, nullable=False),
        sa.Column("location_external_id", _EXT, nullable=False),
        sa.Column("planned_at", _UTC, nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "connection_id", "location_external_id", name=op.f("pk_replenishment_plans")
        ),
    )
    op.create_table(
        "replenishment_plan_items",
        sa.Column("connection_id", _CONN, nullable=False),
        sa.Column("location_external_id", _EXT, nullable=False),
        sa.Column("sku", _SKU, nullable=False),
        sa.Column("reorder_point", sa.Integer(), nullable=False),
        sa.Column("order_up_to", sa.Integer(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "connection_id",
            "location_external_id",
            "sku",
            name=op.f("pk_replenishment_plan_items"),
        ),
    )


def downgrade() -> None:
    op.drop_table("replenishment_plan_items")
    op.drop_table("replenishment_plans")
    op.drop_table("stock_states")
    op.drop_table("stock_out_days")
    op.drop_index("ix_demand_contributions_store_day", table_name="demand_contributions")
    op.drop_table("demand_contributions")
