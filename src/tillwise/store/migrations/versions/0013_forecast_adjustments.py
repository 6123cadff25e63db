"""replenishment: a buyer's adjustment of a SKU's forecast at a store over some days

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_adjustments",
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("location_external_id", sa.String(length=255), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("factor", sa.Float(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "connection_id", "location_external_id", "sku", name=op.f("pk_forecast_adjustments")
        ),
    )


def downgrade() -> None:
    op.drop_table("forecast_adjustments")
