"""replenishment: the retailer's vendor terms, laid over the POS's vendors

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "vendor_terms",
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("vendor_external_id", sa.String(length=255), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "connection_id", "vendor_external_id", name=op.f("pk_vendor_terms")
        ),
    )


def downgrade() -> None:
    op.drop_table("vendor_terms")
