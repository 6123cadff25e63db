"""Governance tables: the hash-chained audit log, POS connections (encrypted secrets), API tokens.

Migration: ``0003_governance``. Timestamps are timezone-aware UTC on both databases
(:class:`UtcDateTime`); JSON documents are JSONB on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)
from sqlalchemy.types import TypeDecorator

from tillwise.store.metadata import JsonDoc, metadata


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that only accepts aware datetimes and always returns UTC.

    SQLite has no time zone type: values are stored as naive UTC and given ``UTC`` back on
    the way out, so both databases hand the same aware datetime to Python.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# BIGINT on PostgreSQL; INTEGER on SQLite (its 64-bit integer type).
_BigId = BigInteger().with_variant(Integer(), "sqlite")

# Append-only, hash-chained. Ids are assigned by AuditLog as previous id + 1 while it holds the
# append lock (not by a sequence, which would leave gaps on rollback), so a gap means a deletion.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("store", String(200), nullable=True),
    Column("inputs", JsonDoc, nullable=True),
    Column("outputs", JsonDoc, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "actor"),
    Index(None, "action"),
    Index(None, "at"),
    Index(None, "store"),
)

# POS connections: one per merchant/store integration; webhook secrets encrypted (Fernet).
connections = Table(
    "connections",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("platform", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("secrets_encrypted", LargeBinary(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    CheckConstraint("status IN ('active', 'revoked')", name="status"),
)

# API bearer tokens for machines: only the SHA-256 of the secret part is stored.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(64), nullable=False),
    Column("scopes", JsonDoc, nullable=True),
    Column("token_hash", String(64), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
)
