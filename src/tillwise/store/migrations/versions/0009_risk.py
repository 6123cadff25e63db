"""risk: till events (no-sales, price overrides), risk scores, the review queue, labels and
the scorer's state

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Frozen copies of the column types in tillwise.store (a migration never follows later changes).
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC_TIME = sa.DateTime(timezone=True)
EXTERNAL_ID = sa.String(255)
TILL_EVENTS = "till_events"


def _query_columns() -> list[sa.Column]:
    return [
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("location_external_id", EXTERNAL_ID),
        sa.Column("employee_external_id", EXTERNAL_ID),
        sa.Column("occurred_at", UTC_TIME, nullable=False),
    ]


def _till_events() -> None:
    query_columns = _query_columns()
    op.create_table(
        TILL_EVENTS,
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
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TILL_EVENTS}")),
        sa.UniqueConstraint(
            "platform",
            "connection_id",
            "external_id",
            name=op.f(f"uq_{TILL_EVENTS}_platform_connection_id_external_id"),
        ),
    )
    op.create_index(
        f"ix_{TILL_EVENTS}_connection_id_external_id", TILL_EVENTS, ["connection_id", "external_id"]
    )
    for column in query_columns:
        op.create_index(op.f(f"ix_{TILL_EVENTS}_{column.name}"), TILL_EVENTS, [column.name])


def _risk_tables() -> None:
    conn, ext, day = sa.String(64), EXTERNAL_ID, sa.Date()
    op.create_table(
        "risk_scores",
        sa.Column("event_key", sa.String(255), nullable=False),
        sa.Column("event_id", ext, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("connection_id", conn, nullable=False),
        sa.Column("location_external_id", ext, nullable=False),
        sa.Column("employee_id", ext, nullable=True),
        sa.Column("occurred_at", UTC_TIME, nullable=False),
        sa.Column("local_day", day, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reasons", JSON_DOC, nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("scored_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("event_key", name=op.f("pk_risk_scores")),
    )
    op.create_index(
        "ix_risk_scores_store_employee",
        "risk_scores",
        ["connection_id", "location_external_id", "employee_id", "occurred_at"],
    )
    op.create_index(
        "ix_risk_scores_store_time",
        "risk_scores",
        ["connection_id", "location_external_id", "occurred_at"],
    )
    op.create_table(
        "risk_cases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("connection_id", conn, nullable=False),
        sa.Column("location_external_id", ext, nullable=False),
        sa.Column("store", sa.String(320), nullable=False),
        sa.Column("event_key", sa.String(255), nullable=False),
        sa.Column("event_id", ext, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=True),
        sa.Column("employee_id", ext, nullable=True),
        sa.Column("register_id", ext, nullable=True),
        sa.Column("customer_id", ext, nullable=True),
        sa.Column("occurred_at", UTC_TIME, nullable=False),
        sa.Column("local_day", day, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("reasons", JSON_DOC, nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("event", JSON_DOC, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(100), nullable=True),
        sa.Column("sla_due", UTC_TIME, nullable=False),
        sa.Column("proposal_id", sa.String(36), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", UTC_TIME, nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_cases")),
        sa.UniqueConstraint("event_key", name=op.f("uq_risk_cases_event_key")),
    )
    for column in ("store", "employee_id", "state", "owner", "created_at"):
        op.create_index(op.f(f"ix_risk_cases_{column}"), "risk_cases", [column])
    op.create_table(
        "risk_labels",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("store", sa.String(320), nullable=False),
        sa.Column("event", JSON_DOC, nullable=False),
        sa.Column("label", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("decided_at", UTC_TIME, nullable=False),
        sa.Column("learned_version", sa.String(64), nullable=True),
        sa.Column("learned_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_risk_labels")),
    )
    for column in ("store", "decided_at"):
        op.create_index(op.f(f"ix_risk_labels_{column}"), "risk_labels", [column])
    op.create_table(
        "risk_scorer_state",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("events_seen", sa.BigInteger(), nullable=False),
        sa.Column("labels_learned", sa.Integer(), nullable=False),
        sa.Column("saved_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_risk_scorer_state")),
    )


def upgrade() -> None:
    _till_events()
    _risk_tables()


def downgrade() -> None:
    for name in ("risk_scorer_state", "risk_labels", "risk_cases", "risk_scores", TILL_EVENTS):
        op.drop_table(name)
