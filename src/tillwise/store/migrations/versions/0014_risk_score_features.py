"""risk: the supervised model's input kept with each score, what a label of the event trains on

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # scores made before have none: their labels are left out of training, never re-scored
    with op.batch_alter_table("risk_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("features", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("risk_scores", schema=None) as batch_op:
        batch_op.drop_column("features")
