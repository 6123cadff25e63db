"""RFC 9457 problem details: every error the API returns has this shape.

{"type": "urn:tillwise:problem:<code>", "title": ..., "status": 4xx, "detail": ...,
 "instance": "/path", "code": "<code>", "errors": [{"field": ..., "message": ...}]}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raise from a route to answer with a problem-details response."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = headers


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:tillwise:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(
        body, status_code=status, media_type=MEDIA_TYPE, headers=dict(headers or {})
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def problem_for(request: Request, exc: Problem) -> JSONResponse:
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
    return problem_response(
        request, exc.status, exc.code, exc.detail, errors=errors, headers=exc.headers
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_for(request, exc)

    from tillwise.governance.approvals import ApprovalError, UnknownProposal
    from tillwise.governance.connections import InvalidConnection
    from tillwise.governance.forecast_adjustments import NoForecastAdjustment
    from tillwise.governance.reorder_stops import NoReorderStop
    from tillwise.governance.rollout import InvalidSetting, UnknownRollout
    from tillwise.governance.tokens import InvalidToken
    from tillwise.governance.users import InvalidUser, UnknownUser
    from tillwise.ports.writeback import WriteBackError

    # The governance services' own errors, each with a stable code and the field at fault.
    statuses: dict[type[Exception], int] = {
        UnknownProposal: 404,
        UnknownRollout: 404,
        UnknownUser: 404,
        NoReorderStop: 404,
        NoForecastAdjustment: 404,
        InvalidSetting: 422,
        InvalidUser: 422,
        InvalidToken: 422,
        InvalidConnection: 422,
        WriteBackError: 502,
    }

    async def _domain(request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status", None) or next(
            code for kind, code in statuses.items() if isinstance(exc, kind)
        )
        detail = getattr(exc, "detail", None) or str(exc)
        field = getattr(exc, "field", None)
        errors = [{"field": field, "message": detail}] if field else None
        return problem_response(request, status, exc.code, detail, errors=errors)  # type: ignore[attr-defined]

    handled: list[type[Exception]] = [ApprovalError, *statuses]
    for kind in handled:
        app.add_exception_handler(kind, _domain)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                # a body that is not JSON at all is the body's fault, not a character offset's
                "field": "body"
                if e.get("type") == "json_invalid"
                else _field_path(tuple(e.get("loc", ()))),
                "message": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        names = ", ".join(e["field"] for e in errors)
        return problem_response(
            request, 422, "validation_failed", f"invalid fields: {names}", errors=errors
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # a bug, not a refusal: logged with its traceback, answered without its details
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return problem_response(request, 500, "internal_error", "the server failed; see its log")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem_response(
            request, exc.status_code, code, str(exc.detail), headers=exc.headers
        )


class RefuseNul:
    """ASGI middleware: a JSON body or a query parameter holding a NUL character — which no
    database text column stores — is refused with 422 naming the field, before any route runs.
    Webhook deliveries pass untouched (what a POS sends is kept exactly as sent)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/webhooks/"):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        field = next((k for k, v in query if "\0" in k + v), None)
        if field is None and scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            messages: list[Message] = []
            more = True
            while more:
                message = await receive()
                messages.append(message)
                more = message["type"] == "http.request" and message.get("more_body", False)
            body = b"".join(m.get("body", b"") for m in messages)
            if b"\\u0000" in body or b"\0" in body:
                field = _nul_at(body)
            replay = iter(messages)

            async def receive_again() -> Message:
                return next(replay, None) or await receive()

            receive = receive_again
        if field is None:
            await self.app(scope, receive, send)
            return
        detail = f"{field} must not contain NUL characters"
        body_out = {
            "type": "urn:tillwise:problem:validation_failed",
            "title": _TITLES[422],
            "status": 422,
            "detail": detail,
            "instance": scope["path"],
            "code": "validation_failed",
            "errors": [{"field": field, "message": "must not contain NUL characters"}],
        }
        response = JSONResponse(body_out, status_code=422, media_type=MEDIA_TYPE)
        await response(scope, receive, send)


def _nul_at(body: bytes) -> str | None:
    """The dotted path of the first JSON string (or key) holding a NUL; ``body`` when the body
    is not JSON; None when the NUL is only an escaped backslash's text."""
    try:
        data = json.loads(body)
    except ValueError:
        return "body" if b"\0" in body else None

    def walk(value: Any, path: str) -> str | None:
        if isinstance(value, str):
            return (path or "body") if "\0" in value else None
        if isinstance(value, dict):
            items: Any = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            return None
        for key, item in items:
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\0" in key:
                return here
            found = walk(item, here)
            if found is not None:
                return found
        return None

    return walk(data, "")
