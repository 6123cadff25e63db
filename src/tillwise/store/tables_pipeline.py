"""Tables of the event spine: the raw-delivery inbox, the SQL bus and the dead-letter list.

The outbox (rows waiting to be put on the bus) lives in :mod:`tillwise.store.tables`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tillwise.store.metadata import JsonDoc, metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("headers", JsonDoc, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("platform", "connection_id", "event_id"),
    Index("ix_inbox_connection_received", "connection_id", "received_at"),
)

# Which durable consumers a topic has (SqlBus): a publish adds one queue row per consumer.
bus_subscriptions = Table(
    "bus_subscriptions",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("consumer", String(255), primary_key=True),
)

# One row per (consumer, message) not yet acked; leased while a worker handles it.
bus_queue = Table(
    "bus_queue",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("consumer", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("message_id", String(512), nullable=False),
    Column("payload", JsonDoc, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("available_at", DateTime(timezone=True), nullable=False),
    Column("leased_until", DateTime(timezone=True), nullable=True),
    UniqueConstraint("consumer", "message_id"),
    Index("ix_bus_queue_consumer_topic_id", "consumer", "topic", "id"),
)

# Messages a consumer gave up on after its last attempt; a person can replay them.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("consumer", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("message_id", String(512), nullable=False),
    Column("payload", JsonDoc, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True), nullable=True),
    Index("ix_dead_letters_replayed_at", "replayed_at"),
)
