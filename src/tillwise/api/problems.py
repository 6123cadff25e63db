"""RFC 9457 problem details: every error the API returns has this shape.

{"type": "urn:tillwise:problem:<code>", "title": ..., "status": 4xx, "detail": ...,
 "instance": "/path", "code": "<code>", "errors": [{"field": ..., "message": ...}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
            {"field": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        names = ", ".join(e["field"] for e in errors)
        return problem_response(
            request, 422, "validation_failed", f"invalid fields: {names}", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem_response(
            request, exc.status_code, code, str(exc.detail), headers=exc.headers
        )
