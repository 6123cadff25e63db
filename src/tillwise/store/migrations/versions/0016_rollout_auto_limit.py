"""rollouts: the auto_limit a rollout sets, and each store's limit before it (for a roll-back)

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # rollouts started before have neither: their stores keep the limits they have now
    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_limit", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("previous_limits", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollouts", schema=None) as batch_op:
        batch_op.drop_column("previous_limits")
        batch_op.drop_column("auto_limit")
