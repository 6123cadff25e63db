"""replenishment: the SKUs a person stopped reordering at a store

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reorder_stops",
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("location_external_id", sa.String(length=255), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("stopped_by", sa.String(length=200), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "connection_id", "location_external_id", "sku", name=op.f("pk_reorder_stops")
        ),
    )


def downgrade() -> None:
    op.drop_table("reorder_stops")
