"""Connections, API tokens and the audit log. Every write is audited by the governance services."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, SecretStr

from tillwise.governance.principal import Principal

from ..deps import ContainerDep, require
from ..problems import Problem
from ..schemas.common import ListPublic

router = APIRouter(prefix="/v1")


class ConnectionCreate(BaseModel):
    platform: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    secret: SecretStr = Field(description="webhook signing secret (stored encrypted)")


class ConnectionPublic(BaseModel):
    id: str
    platform: str
    name: str
    status: str
    created_at: datetime
    webhook_path: str


def _connection_public(c: Any) -> ConnectionPublic:
    return ConnectionPublic(
        id=c.id,
        platform=c.platform,
        name=c.name,
        status=c.status,
        created_at=c.created_at,
        webhook_path=f"/webhooks/{c.platform}/{c.id}",
    )


@router.get(
    "/connections",
    response_model=ListPublic[ConnectionPublic],
    tags=["connections"],
    operation_id="connections-list",
    dependencies=[require("connections:read")],
)
def list_connections(container: ContainerDep) -> dict[str, Any]:
    data = [_connection_public(c) for c in container.connections.list()]
    return {"data": data, "count": len(data)}


@router.post(
    "/connections",
    response_model=ConnectionPublic,
    status_code=201,
    tags=["connections"],
    operation_id="connections-create",
)
def create_connection(
    body: ConnectionCreate,
    container: ContainerDep,
    principal: Principal = require("connections:write"),
) -> ConnectionPublic:
    if body.platform not in container.connectors:
        known = ", ".join(sorted(container.connectors))
        raise Problem(
            422, "unknown_platform", f"platform must be one of: {known}", field="platform"
        )
    created = container.connections.create(
        body.platform, body.name, [body.secret.get_secret_value()], actor=f"token:{principal.id}"
    )
    return _connection_public(created)


class TokenCreate(BaseModel):
    role: str
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenCreated(BaseModel):
    id: str
    role: str
    name: str
    expires_at: datetime | None
    token: str = Field(description="shown once; store it now")


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=201,
    tags=["tokens"],
    operation_id="tokens-create",
)
def create_token(
    body: TokenCreate,
    container: ContainerDep,
    principal: Principal = require("tokens:write"),
) -> TokenCreated:
    from tillwise.governance.rbac import ROLES

    if body.role not in ROLES:
        raise Problem(
            422, "unknown_role", f"role must be one of: {', '.join(sorted(ROLES))}", field="role"
        )
    expires = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    info, plaintext = container.tokens.create(
        body.role, name=body.name, actor=f"token:{principal.id}", expires_in=expires
    )
    return TokenCreated(
        id=info.id, role=info.role, name=info.name, expires_at=info.expires_at, token=plaintext
    )


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    store: str | None
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    prev_hash: str
    hash: str


@router.get(
    "/audit",
    response_model=ListPublic[AuditEntryPublic],
    tags=["audit"],
    operation_id="audit-list",
    dependencies=[require("audit:read")],
)
def list_audit(
    container: ContainerDep,
    actor: str | None = None,
    action: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    entries = container.audit.list(actor=actor, action=action, limit=limit)
    data = [AuditEntryPublic.model_validate(e, from_attributes=True) for e in entries]
    return {"data": data, "count": len(data)}
