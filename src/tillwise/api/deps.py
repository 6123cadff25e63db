"""Typed dependencies: the container, the authenticated principal, permission checks.

Authorization happens here, once, not inside route bodies.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from tillwise.bootstrap import Container
from tillwise.governance.principal import Principal

from .problems import Problem

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tillwise"'}


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def current_principal(request: Request, container: ContainerDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "missing_token",
            "send an API token as 'Authorization: Bearer <token>'",
            field="Authorization",
            headers=_CHALLENGE,
        )
    principal = container.tokens.authenticate(token.strip())
    if principal is None:
        raise Problem(
            401,
            "invalid_token",
            "the API token is unknown, expired or revoked",
            field="Authorization",
            headers=_CHALLENGE,
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
