"""Connections, API tokens and the audit log. Every write is audited by the governance services."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, SecretStr

from tillwise.governance import costs, vendor_terms
from tillwise.governance.principal import Principal

from ..deps import ContainerDep, require
from ..problems import Problem
from ..schemas.common import ListPublic, RequestBody
from .governance import known_stores

router = APIRouter(prefix="/v1")


class ConnectionCreate(RequestBody):
    platform: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    secret: SecretStr = Field(description="webhook signing secret (stored encrypted)")
    api_base_url: str | None = Field(
        default=None, max_length=500, description="the POS API that approved write-backs go to"
    )


class ConnectionPublic(BaseModel):
    id: str
    platform: str
    name: str
    status: str
    created_at: datetime
    webhook_path: str
    api_base_url: str | None = None


def _connection_public(c: Any) -> ConnectionPublic:
    return ConnectionPublic(
        id=c.id,
        platform=c.platform,
        name=c.name,
        status=c.status,
        created_at=c.created_at,
        webhook_path=f"/webhooks/{c.platform}/{c.id}",
        api_base_url=c.api_base_url,
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
        body.platform,
        body.name,
        [body.secret.get_secret_value()],
        actor=principal.actor,
        api_base_url=body.api_base_url,
    )
    return _connection_public(created)


class ConnectionChange(RequestBody):
    api_base_url: str | None = Field(
        max_length=500, description="the POS API that approved write-backs go to; null: none"
    )


@router.patch(
    "/connections/{connection_id}",
    response_model=ConnectionPublic,
    tags=["connections"],
    operation_id="connections-update",
)
def update_connection(
    connection_id: str,
    body: ConnectionChange,
    container: ContainerDep,
    principal: Principal = require("connections:write"),
) -> ConnectionPublic:
    """Point a connection's write-backs at another POS API (audited as
    ``connection.api_changed``)."""
    from tillwise.governance.connections import UnknownConnection

    try:
        changed = container.connections.set_api_base_url(
            connection_id, body.api_base_url, actor=principal.actor
        )
    except UnknownConnection as exc:
        raise Problem(404, "unknown_connection", str(exc), field="connection_id") from None
    return _connection_public(changed)


class PlatformPublic(BaseModel):
    platform: str
    oauth: bool = Field(description="stores connect by OAuth (GET /oauth/{platform}/start)")
    api: bool = Field(description="backfill and reconciliation from the platform's API")
    writes: list[str] = Field(description="proposal kinds it writes back")
    oauth_params: list[str] = Field(description="what identifies the store when connecting")


@router.get(
    "/platforms",
    response_model=ListPublic[PlatformPublic],
    tags=["connections"],
    operation_id="platforms-list",
    dependencies=[require("connections:read")],
)
def list_platforms(container: ContainerDep) -> dict[str, Any]:
    data = [
        PlatformPublic(
            platform=name,
            oauth=c.oauth is not None,
            api=c.api is not None,
            writes=sorted(w.kinds) if (w := container.approvals.writeback_for(name)) else [],
            oauth_params=list(getattr(c.oauth, "store_params", ())),
        )
        for name, c in sorted(container.connectors.items())
    ]
    return {"data": data, "count": len(data)}


class TokenCreate(RequestBody):
    role: str
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    stores: list[str] | None = Field(
        default=None, description="store scope (store-scoped roles); null: every store"
    )


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
        body.role, name=body.name, actor=principal.actor, expires_in=expires, stores=body.stores
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
    costs_hidden: bool = Field(
        default=False, description="costs left out: the caller lacks costs:read"
    )


class AuditList(BaseModel):
    data: list[AuditEntryPublic]
    count: int
    next_before_id: int | None = None


def _audit_filters(
    actor: str | None = Query(None, max_length=200),
    action: str | None = Query(None, max_length=100),
    store: str | None = Query(None, max_length=330),
    since: datetime | None = Query(None, description="inclusive, RFC 3339 with offset"),
    until: datetime | None = Query(None, description="exclusive, RFC 3339 with offset"),
) -> dict[str, Any]:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise Problem(422, "naive_datetime", f"{name} needs a UTC offset", field=name)
    return {"actor": actor, "action": action, "store": store, "since": since, "until": until}


AuditFilters = Annotated[dict[str, Any], Depends(_audit_filters)]


def _scope(container: Any, principal: Principal) -> dict[str, Any]:
    """What a caller's audit entries may be about: the stores in its scope, and — for a
    connection whose every store is in its scope — the entries about the whole connection that
    concern them: its vendor terms (which setting needs), or all of them for a caller who may
    read connections."""
    if principal.stores is None:
        return {"stores": None}
    stores: dict[str, set[str]] = {}
    for s in known_stores(container):
        stores.setdefault(s.connection_id, set()).add(s.store)
    whole = sorted(conn for conn, theirs in stores.items() if theirs <= principal.stores)
    if principal.can("connections:read"):
        return {"stores": principal.stores | set(whole)}
    return {
        "stores": principal.stores,
        "connection_entries": dict.fromkeys(whole, (vendor_terms.IMPORTED,)),
    }


@router.get(
    "/audit",
    response_model=AuditList,
    tags=["audit"],
    operation_id="audit-list",
)
def list_audit(
    container: ContainerDep,
    filters: AuditFilters,
    limit: int = Query(100, ge=1, le=1000),
    before_id: int | None = Query(
        None, ge=1, le=2**63 - 1, description="id of the last entry seen"
    ),
    principal: Principal = require("audit:read"),
) -> dict[str, Any]:
    """Newest first. A store-scoped caller sees only entries about its stores; a caller
    without ``costs:read``, the entries without their costs."""
    entries = container.audit.list(
        **filters,
        limit=limit,
        before_id=before_id,
        newest_first=True,
        **_scope(container, principal),
    )
    data = [
        AuditEntryPublic.model_validate(e) for e in costs.audit_entries_shown_to(principal, entries)
    ]
    next_before = data[-1].id if len(data) == limit else None
    return {"data": data, "count": len(data), "next_before_id": next_before}


@router.get(
    "/audit/export",
    tags=["audit"],
    operation_id="audit-export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
def export_audit(
    container: ContainerDep,
    filters: AuditFilters,
    format: Literal["csv", "jsonl"] = Query("jsonl"),
    principal: Principal = require("audit:export"),
) -> StreamingResponse:
    """Every matching entry, oldest first, as CSV or JSON Lines (hashes included, so a copy
    can be checked against the chain). The export itself is audited. Entries hold costs, and a
    copy without them would not verify, so it needs ``costs:read``."""
    if not principal.can(costs.PERMISSION):
        raise Problem(
            403,
            "forbidden",
            "the export holds costs (a verifiable copy of the chain cannot leave them out): "
            "it needs the costs:read permission",
        )
    container.audit.append(
        actor=principal.actor,
        action="audit.exported",
        inputs={**{k: v for k, v in filters.items() if v is not None}, "format": format},
    )
    rows = container.audit.export(format, **filters, **_scope(container, principal))
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    filename = f"tillwise-audit.{format}"
    return StreamingResponse(
        rows,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
