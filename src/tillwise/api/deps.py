"""Typed dependencies: the container, the authenticated principal, permission checks.

Two ways in, both checked on the server for every route:

* ``Authorization: Bearer tw_…`` — an API token (machines); no cookies involved, so no CSRF.
* the ``tillwise_session`` cookie — a person logged in to the dashboard (HttpOnly,
  SameSite=Strict). Requests that change anything (POST, PUT, PATCH, DELETE) must also carry
  the session's CSRF token in ``X-CSRF-Token`` (compared in constant time).

Authorization happens here, once, not inside route bodies: :func:`require` checks the role's
permission; routes then keep to the principal's store scope (``principal.sees(store)``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from tillwise.bootstrap import Container
from tillwise.governance.principal import Principal
from tillwise.governance.users import same_secret

from .problems import Problem

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tillwise"'}
SESSION_COOKIE = "tillwise_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def _unauthenticated(code: str, detail: str) -> Problem:
    return Problem(401, code, detail, field="Authorization", headers=_CHALLENGE)


async def current_principal(request: Request, container: ContainerDep) -> Principal:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated(
                "missing_token", "send an API token as 'Authorization: Bearer <token>'"
            )
        principal = container.tokens.authenticate(token.strip())
        if principal is None:
            raise _unauthenticated("invalid_token", "the API token is unknown, expired or revoked")
        return principal
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        raise _unauthenticated(
            "missing_token",
            "log in to the dashboard, or send an API token as 'Authorization: Bearer <token>'",
        )
    principal = container.users.authenticate_session(session)
    if principal is None:
        raise _unauthenticated("session_expired", "the session has ended; log in again")
    if request.method not in _SAFE_METHODS and not same_secret(
        request.headers.get(CSRF_HEADER), principal.csrf_token
    ):
        raise Problem(
            403,
            "csrf_failed",
            f"a change from the dashboard must carry the session's {CSRF_HEADER} header",
            field=CSRF_HEADER,
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: str) -> Any:
    """Dependency factory: the principal must hold ``permission``."""

    def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Problem(
                403,
                "forbidden",
                f"role {principal.role!r} lacks permission {permission!r}",
            )
        return principal

    return Depends(_check)


def in_scope(principal: Principal, store: str | None, noun: str, ident: str) -> None:
    """404 (not 403: existence is not disclosed) when ``store`` is outside the scope."""
    if not principal.sees(store):
        raise Problem(404, "not_found", f"no {noun} {ident!r}", field=f"{noun}_id")
