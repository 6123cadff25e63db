"""proposals: the ``reverting`` status (a revert claimed, the POS being asked to undo it)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BEFORE = (
    "'new', 'discarded', 'shadow', 'pending', 'approved', 'applied', 'failed', 'rejected', "
    "'expired', 'reverted', 'merged'"
)
AFTER = BEFORE + ", 'reverting'"


def _status_check(statuses: str) -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_proposals_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_proposals_status"), f"status IN ({statuses})"
        )


def upgrade() -> None:
    _status_check(AFTER)


def downgrade() -> None:
    # a revert in flight is released: the proposal stays applied, the revert may be retried
    op.execute("UPDATE proposals SET status = 'applied' WHERE status = 'reverting'")
    _status_check(BEFORE)
