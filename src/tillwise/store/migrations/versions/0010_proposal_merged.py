"""proposals: the ``merged`` status (a merge request folded into an open draft)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BEFORE = (
    "'new', 'discarded', 'shadow', 'pending', 'approved', 'applied', 'failed', 'rejected', "
    "'expired', 'reverted'"
)
AFTER = BEFORE + ", 'merged'"


def _status_check(statuses: str) -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_proposals_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_proposals_status"), f"status IN ({statuses})"
        )


def upgrade() -> None:
    _status_check(AFTER)


def downgrade() -> None:
    # merged requests were discarded in effect: their lines live on in the draft
    op.execute("UPDATE proposals SET status = 'discarded' WHERE status = 'merged'")
    _status_check(BEFORE)
