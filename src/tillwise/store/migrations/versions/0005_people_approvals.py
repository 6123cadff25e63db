"""governance: people, sessions, regions, proposals, modes, rules, rollouts

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen copies of the column types in tillwise.store.tables_governance.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approval_rules",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=330), nullable=False),
        sa.Column("regional_above", sa.String(length=40), nullable=True),
        sa.Column("two_approvers_above", sa.String(length=40), nullable=True),
        sa.Column("new_vendor_needs_regional", sa.Integer(), nullable=False),
        sa.Column("expire_after_hours", sa.Integer(), nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("kind", "store", name=op.f("pk_approval_rules")),
    )
    op.create_table(
        "proposals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("workflow", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=330), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("expires_at", _UTC, nullable=True),
        sa.Column("proposed_by", sa.String(length=200), nullable=False),
        sa.Column("value_amount", _ID, nullable=True),
        sa.Column("value_currency", sa.String(length=3), nullable=True),
        sa.Column("required_role", sa.String(length=64), nullable=True),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("approvals", _JSON, nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", _UTC, nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("result", _JSON, nullable=True),
        sa.CheckConstraint(
            "status IN ('new', 'discarded', 'shadow', 'pending', 'approved', 'applied', 'failed',"
            " 'rejected', 'expired', 'reverted')",
            name=op.f("ck_proposals_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proposals_status"), ["status", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_proposals_store"), ["store"], unique=False)
        batch_op.create_index(batch_op.f("ix_proposals_workflow"), ["workflow"], unique=False)

    op.create_table(
        "regions",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("store", sa.String(length=330), nullable=False),
        sa.PrimaryKeyConstraint("name", "store", name=op.f("pk_regions")),
    )
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workflow", sa.String(length=64), nullable=False),
        sa.Column("target_mode", sa.String(length=16), nullable=False),
        sa.Column("fallback_mode", sa.String(length=16), nullable=False),
        sa.Column("stores", _JSON, nullable=False),
        sa.Column("steps", _JSON, nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("guardrail", _JSON, nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollouts")),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("expires_at", _UTC, nullable=False),
        sa.Column("last_seen_at", _UTC, nullable=False),
        sa.Column("revoked_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("stores", _JSON, nullable=True),
        sa.Column("regions", _JSON, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("disabled_at", _UTC, nullable=True),
        sa.Column("last_login_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "workflow_modes",
        sa.Column("workflow", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=330), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("auto_limit", sa.String(length=40), nullable=True),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "mode IN ('off', 'shadow', 'draft', 'auto')", name=op.f("ck_workflow_modes_mode")
        ),
        sa.PrimaryKeyConstraint("workflow", "store", name=op.f("pk_workflow_modes")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stores", _JSON, nullable=True))

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_base_url", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("api_base_url")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("stores")

    op.drop_table("workflow_modes")
    op.drop_table("users")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_user_id"))

    op.drop_table("sessions")
    op.drop_table("rollouts")
    op.drop_table("regions")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposals_workflow"))
        batch_op.drop_index(batch_op.f("ix_proposals_store"))
        batch_op.drop_index(batch_op.f("ix_proposals_status"))

    op.drop_table("proposals")
    op.drop_table("approval_rules")
