"""payments: a canonical record table for payments / tenders

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Frozen copies of the column types in tillwise.store (a migration never follows later changes).
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_TIME = sa.DateTime(timezone=True)
EXTERNAL_ID = sa.String(255)
NAME = "payments"


def _query_columns() -> list[sa.Column]:
    return [
        sa.Column("transaction_external_id", EXTERNAL_ID),
        sa.Column("location_external_id", EXTERNAL_ID),
        sa.Column("occurred_at", UTC_TIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    query_columns = _query_columns()
    op.create_table(
        NAME,
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("connection_id", sa.String(64), nullable=False),
        sa.Column("external_id", EXTERNAL_ID, nullable=False),
        sa.Column("source_version", sa.BigInteger(), nullable=True),
        sa.Column("source_updated_at", UTC_TIME, nullable=True),
        sa.Column("first_seen_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        *query_columns,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{NAME}")),
        sa.UniqueConstraint(
            "platform",
            "connection_id",
            "external_id",
            name=op.f(f"uq_{NAME}_platform_connection_id_external_id"),
        ),
    )
    op.create_index(f"ix_{NAME}_connection_id_external_id", NAME, ["connection_id", "external_id"])
    for column in query_columns:
        op.create_index(op.f(f"ix_{NAME}_{column.name}"), NAME, [column.name])


def downgrade() -> None:
    op.drop_table(NAME)
