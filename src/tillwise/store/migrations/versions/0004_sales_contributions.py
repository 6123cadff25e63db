"""reporting: per-record contributions to daily sales

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_contributions",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("location_external_id", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("sales_count", sa.BigInteger(), nullable=False),
        sa.Column("sales_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunds_count", sa.BigInteger(), nullable=False),
        sa.Column("refunds_amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_sales_contributions")),
    )


def downgrade() -> None:
    op.drop_table("sales_contributions")
