"""Connecting a store by OAuth from the dashboard, and starting a backfill.

``GET /oauth/{platform}/start`` (a person with ``connections:write``) redirects to the
platform's authorize page with a signed, expiring, single-use ``state``;
``GET /oauth/{platform}/callback`` is where the platform sends the person back: the state and
the platform's own signature are checked, the code is exchanged, and the connection is stored
with its tokens encrypted — the same install as ``tillwise connect``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from tillwise.governance.oauth_state import complete_install
from tillwise.governance.principal import Principal
from tillwise.ports.platform import ConnectorError

from ..deps import ContainerDep, require
from ..problems import Problem
from ..schemas.common import RequestBody

log = logging.getLogger(__name__)
router = APIRouter()
_RESERVED = {"state", "redirect_uri"}


def _oauth(container: Any, platform: str) -> Any:
    connector = container.connectors.get(platform)
    if connector is None or connector.oauth is None:
        raise Problem(404, "no_oauth", f"{platform!r} has no OAuth install", field="platform")
    return connector


@router.get(
    "/oauth/{platform}/start",
    tags=["connections"],
    operation_id="oauth-start",
    response_class=RedirectResponse,
    status_code=302,
)
def oauth_start(
    platform: str,
    request: Request,
    container: ContainerDep,
    _principal: Principal = require("connections:write"),
) -> RedirectResponse:
    """Redirect to the platform's authorize page (query parameters identify the store, e.g.
    ``?shop=my-shop.myshopify.com``)."""
    connector = _oauth(container, platform)
    params = {k: v for k, v in request.query_params.items() if k not in _RESERVED}
    state = container.oauth_states.issue(platform, params)
    url = connector.oauth.authorize_url(
        state=state, redirect_uri=container.oauth_redirect_uri(platform), params=params
    )
    return RedirectResponse(url, status_code=302)


@router.get(
    "/oauth/{platform}/callback",
    tags=["connections"],
    operation_id="oauth-callback",
    response_class=RedirectResponse,
    status_code=303,
)
async def oauth_callback(
    platform: str, request: Request, container: ContainerDep
) -> RedirectResponse:
    """The platform's redirect after the person approved the app (authenticated by the signed
    state and the platform's own callback signature, not by a session)."""
    connector = _oauth(container, platform)
    query = dict(request.query_params)
    try:
        conn = await complete_install(
            connector,
            container.connections,
            container.oauth_states,
            query,
            redirect_uri=container.oauth_redirect_uri(platform),
        )
    except ConnectorError as exc:
        raise Problem(exc.status, exc.code, exc.detail, field=exc.field) from exc
    return RedirectResponse(f"/#/connections?installed={conn.id}", status_code=303)


class BackfillBody(RequestBody):
    since: datetime | None = Field(default=None, description="only objects changed since")
    resources: list[str] | None = None


class BackfillStarted(BaseModel):
    connection_id: str
    resources: list[str]


_running: set[asyncio.Task[Any]] = set()


@router.post(
    "/v1/connections/{connection_id}/backfill",
    response_model=BackfillStarted,
    status_code=202,
    tags=["connections"],
    operation_id="connections-backfill",
)
async def start_backfill(
    connection_id: str,
    body: BackfillBody,
    container: ContainerDep,
    principal: Principal = require("connections:write"),
) -> Any:
    """Start pulling the connection's history in the background (progress is checkpointed;
    the objects flow through the pipeline like webhooks)."""
    if body.since is not None and body.since.tzinfo is None:
        raise Problem(422, "naive_datetime", "since needs a UTC offset", field="since")
    conn = container.connections.get(connection_id)
    if conn is None:
        raise Problem(404, "not_found", f"no connection {connection_id!r}", field="connection_id")
    connector = container.connectors.get(conn.platform)
    if connector is None or connector.api is None:
        raise Problem(
            409, "no_api", f"the {conn.platform} connector has no API", field="connection_id"
        )
    container.audit.append(
        actor=principal.actor,
        action="connection.backfill_started",
        store=connection_id,
        inputs={"since": body.since, "resources": body.resources},
    )

    async def run() -> None:
        try:
            counts = await container.backfill.run(
                connection_id, since=body.since, resources=body.resources
            )
            log.info("backfill of %s done: %s", connection_id, counts)
        except Exception:
            log.exception("backfill of %s failed; start it again to resume", connection_id)

    task = asyncio.create_task(run())
    _running.add(task)
    task.add_done_callback(_running.discard)
    return BackfillStarted(connection_id=connection_id, resources=body.resources or [])
