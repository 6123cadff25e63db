"""The event spine: inbox (durable raw deliveries), outbox relay, bus backends, workers.

Backends: ``backends.memory.MemoryBus`` (unit tests), ``backends.sql.SqlBus`` (embedded default:
a leased queue table), ``backends.jetstream.JetStreamBus`` (scale-out). Built in
:mod:`tillwise.bootstrap`, never at import time.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """SQLite gives timestamps back naive; everything we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
