"""pipeline: inbox, SQL bus (subscriptions + queue), dead letters

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("connection_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("headers", _JSON, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint(
            "platform",
            "connection_id",
            "event_id",
            name=op.f("uq_inbox_platform_connection_id_event_id"),
        ),
    )
    op.create_index("ix_inbox_connection_received", "inbox", ["connection_id", "received_at"])

    op.create_table(
        "bus_subscriptions",
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("consumer", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("topic", "consumer", name=op.f("pk_bus_subscriptions")),
    )

    op.create_table(
        "bus_queue",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("consumer", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("message_id", sa.String(512), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bus_queue")),
        sa.UniqueConstraint(
            "consumer", "message_id", name=op.f("uq_bus_queue_consumer_message_id")
        ),
    )
    op.create_index("ix_bus_queue_consumer_topic_id", "bus_queue", ["consumer", "topic", "id"])

    op.create_table(
        "dead_letters",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("consumer", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("message_id", sa.String(512), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_replayed_at", "dead_letters", ["replayed_at"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_replayed_at", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index("ix_bus_queue_consumer_topic_id", table_name="bus_queue")
    op.drop_table("bus_queue")
    op.drop_table("bus_subscriptions")
    op.drop_index("ix_inbox_connection_received", table_name="inbox")
    op.drop_table("inbox")
