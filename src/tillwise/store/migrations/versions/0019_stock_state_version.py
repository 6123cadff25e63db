"""stock_states: ``version``, the POS's version of the last level the event trigger saw

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # levels seen before have no version: the next report is compared by its time, as before
    with op.batch_alter_table("stock_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stock_states", schema=None) as batch_op:
        batch_op.drop_column("version")
