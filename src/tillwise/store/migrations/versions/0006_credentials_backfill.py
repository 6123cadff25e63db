"""connections: config and credentials; backfill checkpoints

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Frozen copies of the column types in tillwise.store.tables_governance.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "backfill_checkpoints",
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("since", _UTC, nullable=True),
        sa.Column("cursor", sa.String(length=2000), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("objects", _ID, nullable=False),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "resource", name=op.f("pk_backfill_checkpoints")),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("config", _JSON, nullable=True))
        batch_op.add_column(sa.Column("credentials_encrypted", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("credentials_encrypted")
        batch_op.drop_column("config")

    op.drop_table("backfill_checkpoints")
