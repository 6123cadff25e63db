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
    Column("api_base_url", String(500), nullable=True),  # where write-backs go
    Column("config", JsonDoc, nullable=True),  # non-secret: shop domain, merchant id, region...
    Column("credentials_encrypted", LargeBinary(), nullable=True),  # OAuth tokens (Fernet)
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
    Column("stores", JsonDoc, nullable=True),  # store scope; null: every store
)

# People who use the dashboard. Passwords: argon2id hashes only. ``stores`` and ``regions`` scope
# the user (store keys ``<connection_id>:<location_external_id>``; region names).
users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(64), nullable=False),
    Column("stores", JsonDoc, nullable=True),
    Column("regions", JsonDoc, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("disabled_at", UtcDateTime(), nullable=True),
    Column("last_login_at", UtcDateTime(), nullable=True),
)

# Dashboard sessions: only the SHA-256 of the cookie's secret is stored; the CSRF token is not
# a secret from the browser (it is echoed in a header), so it is stored as is.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Index(None, "user_id"),
)

# Regions group stores for regional managers.
regions = Table(
    "regions",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("store", String(330), primary_key=True),
)

# Every proposal any workflow (or person) made, and what became of it.
proposals = Table(
    "proposals",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("workflow", String(64), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("store", String(330), nullable=True),
    Column("status", String(16), nullable=False),
    Column("mode", String(16), nullable=True),  # the store × workflow mode it was routed under
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("proposed_by", String(200), nullable=False),
    Column("value_amount", _BigId, nullable=True),
    Column("value_currency", String(3), nullable=True),
    Column("required_role", String(64), nullable=True),
    Column("required_approvals", Integer(), nullable=False),
    Column("approvals", JsonDoc, nullable=False),
    Column("data", JsonDoc, nullable=False),  # the Proposal as proposed (and as edited)
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("reason", String(1000), nullable=True),
    Column("result", JsonDoc, nullable=True),  # what the write-back answered, or its error
    # an approved proposal being written by one caller (the approver or the sweep) since then
    Column("write_claimed_at", UtcDateTime(), nullable=True),
    # an approved proposal whose write was deferred: the sweep retries it from then on
    Column("write_after", UtcDateTime(), nullable=True),
    CheckConstraint(
        "status IN ('new', 'discarded', 'shadow', 'pending', 'approved', 'applied', 'failed',"
        " 'rejected', 'expired', 'reverted', 'merged', 'reverting')",
        name="status",
    ),
    Index(None, "status", "created_at"),
    Index(None, "store"),
    Index(None, "workflow"),
)

# Per store × workflow mode (store "*": the workflow's default for stores without their own).
workflow_modes = Table(
    "workflow_modes",
    metadata,
    Column("workflow", String(64), primary_key=True),
    Column("store", String(330), primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("auto_limit", String(40), nullable=True),  # decimal, in the proposal's currency
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
    CheckConstraint("mode IN ('off', 'shadow', 'draft', 'auto')", name="mode"),
)

# Approval thresholds per proposal kind and store ("*" for any); amounts are decimals.
approval_rules = Table(
    "approval_rules",
    metadata,
    Column("kind", String(64), primary_key=True),
    Column("store", String(330), primary_key=True),
    Column("regional_above", String(40), nullable=True),
    Column("two_approvers_above", String(40), nullable=True),
    Column("new_vendor_needs_regional", Integer(), nullable=False),
    Column("expire_after_hours", Integer(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

# Canary rollouts of a workflow's mode through stores, with a guardrail that rolls back.
rollouts = Table(
    "rollouts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("workflow", String(64), nullable=False),
    Column("target_mode", String(16), nullable=False),
    Column("fallback_mode", String(16), nullable=False),
    Column("stores", JsonDoc, nullable=False),  # ordered: the canary order
    Column("steps", JsonDoc, nullable=False),  # cumulative store counts per step
    Column("stage", Integer(), nullable=False),  # steps taken
    Column("status", String(16), nullable=False),
    Column("guardrail", JsonDoc, nullable=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("reason", String(1000), nullable=True),
    Column("auto_limit", String(40), nullable=True),  # set on every store; NULL: each keeps its own
    Column("previous_limits", JsonDoc, nullable=True),  # store → its auto_limit before enrolling
)

# Backfill and reconciliation progress per connection and resource (resumable).
backfill_checkpoints = Table(
    "backfill_checkpoints",
    metadata,
    Column("connection_id", String(64), primary_key=True),
    Column("resource", String(64), primary_key=True),
    Column("since", UtcDateTime(), nullable=True),  # the run's lower bound
    Column("cursor", String(2000), nullable=True),  # continues after the last stored page
    Column("done", Integer(), nullable=False),
    Column("objects", _BigId, nullable=False),  # stored by this run so far
    Column("started_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
