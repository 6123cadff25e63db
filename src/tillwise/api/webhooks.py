"""POST /webhooks/{platform}/{connection_id}: raw bytes → verify → inbox (durable) → 2xx.

Order matters: the body is read as bytes (bounded), the connector verifies the signature on
exactly those bytes, and only a verified delivery is stored — before the POS gets its 2xx.
Anything wrong gets a problem-details 4xx and nothing is stored or published.
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from tillwise.bootstrap import Container
from tillwise.ports.inbox import InvalidDelivery, RawDelivery
from tillwise.ports.platform import ConnectorError, PayloadError

from .problems import Problem, problem_for

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])

# Headers worth keeping with the raw delivery (never credentials).
_KEPT_HEADERS = ("content-type", "user-agent", "tillwise-event-id", "tillwise-signature")


class WebhookAccepted(BaseModel):
    status: str  # "accepted" | "duplicate"
    delivery_id: int


def _too_large(limit: int) -> Problem:
    return Problem(413, "body_too_large", f"body exceeds {limit} bytes", field="body")


async def _read_body(request: Request, limit: int) -> bytes:
    """The body as bytes, refusing it as soon as it passes ``limit`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            if chunk:
                chunks.append(chunk)
    except ClientDisconnect as exc:  # the sender hung up: nothing to store, nobody to answer
        raise Problem(
            400, "client_disconnected", "the request body was not received whole", field="body"
        ) from exc
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)  # one chunk: no copy


@router.post(
    "/webhooks/{platform}/{connection_id}",
    response_model=None,
    responses={200: {"model": WebhookAccepted, "description": "stored (or a duplicate)"}},
    summary="Receive a POS webhook",
)
async def receive_webhook(platform: str, connection_id: str, request: Request) -> Response:
    # The hot path: no dependency injection and no response model, one pass over the headers.
    container: Container = request.app.state.container
    connector = container.connectors.get(platform)
    if connector is None:
        raise Problem(404, "unknown_platform", f"no connector for {platform!r}", field="platform")
    body = await _read_body(request, container.settings.max_body_bytes)
    secrets = container.connections.secrets_for(connection_id, platform=platform)
    if not secrets:
        raise Problem(
            404,
            "unknown_connection",
            f"no active {platform} connection {connection_id!r}",
            field="connection_id",
        )
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers.raw}
    now = container.clock.now()
    public = container.settings.public_url
    # The URL the platform was told to call (Square signs it): the configured public URL, not
    # whatever host and scheme a proxy forwarded.
    url = f"{public.rstrip('/')}{request.url.path}" if public else str(request.url)
    if public and request.url.query:
        url += f"?{request.url.query}"
    try:
        verified = connector.verify(body, headers, secrets, now, url=url)
    except PayloadError as exc:
        status = 400 if exc.field in (None, "body") else 422
        raise Problem(status, exc.code, exc.detail, field=exc.field or "body") from exc
    except ConnectorError as exc:
        raise Problem(exc.status, exc.code, exc.detail, field=exc.field) from exc
    if verified.reply is not None:  # a handshake (e.g. Clover's verification code): not an event
        log.warning(
            "%s connection %s sent a verification handshake: %s",
            platform,
            connection_id,
            verified.reply,
        )
        return Response(json.dumps(verified.reply), media_type="application/json")
    try:
        result = await container.inbox.accept(
            RawDelivery(
                platform=platform,
                connection_id=connection_id,
                event_id=verified.event_id,
                topic=verified.topic,
                body=body,
                received_at=now,
                headers={k: headers[k] for k in _KEPT_HEADERS if k in headers},
            )
        )
    except InvalidDelivery as exc:
        raise Problem(422, "invalid_delivery_key", exc.detail, field=exc.field) from exc
    outcome = "duplicate" if result.duplicate else "accepted"
    return Response(
        f'{{"status":"{outcome}","delivery_id":{result.delivery_id}}}',
        media_type="application/json",
    )


class WebhookFastPath:
    """ASGI middleware that hands ``POST /webhooks/{platform}/{connection_id}`` straight to
    :func:`receive_webhook`, skipping the router's per-request work (the route stays registered
    for OpenAPI and behaves the same: errors are the same problem-details responses)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            parts = scope["path"].split("/")
            if len(parts) == 4 and parts[1] == "webhooks" and parts[2] and parts[3]:
                request = Request(scope, receive)
                try:
                    response = await receive_webhook(parts[2], parts[3], request)
                except Problem as exc:
                    response = problem_for(request, exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
