"""Roles and permissions, as data.

A permission is ``"<resource>:<action>"`` (``transactions:read``, ``connections:write``,
``deadletters:replay``). A role grants a set of *grants*: a permission, or a pattern with
``*`` for a whole part — ``"*"`` (everything), ``"*:read"`` (read anything),
``"proposals:*"`` (any action on proposals). Patterns keep roles correct as resources are added.

To add a role, add a :class:`Role` to :data:`ROLES`; nothing else changes. (Store-scoped roles
— associate, store manager, buyer — will add a scope check beside the permission check.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

_PART = r"[a-z][a-z0-9_-]*"
_PERMISSION = re.compile(rf"^{_PART}:{_PART}$")
_GRANT = re.compile(rf"^(\*|(\*|{_PART}):(\*|{_PART}))$")

# Every permission the code checks today (the catalogue: documentation, token scope
# validation, and the expansion shown in Principal.permissions).
PERMISSIONS: frozenset[str] = frozenset(
    {
        "transactions:read",
        "products:read",
        "inventory:read",
        "customers:read",
        "locations:read",
        "events:read",
        "stats:read",
        "reports:read",
        "connections:read",
        "connections:write",
        "tokens:read",
        "tokens:write",
        "audit:read",
        "deadletters:read",
        "deadletters:replay",
        "inbox:replay",
        "proposals:read",
        "proposals:approve",
        "workflows:read",
        "workflows:write",
    }
)


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    grants: frozenset[str]

    def __post_init__(self) -> None:
        for grant in self.grants:
            if not _GRANT.match(grant):
                raise ValueError(f"role {self.name!r}: malformed grant {grant!r}")

    def allows(self, permission: str) -> bool:
        return any(grant_matches(g, permission) for g in self.grants)


def grant_matches(grant: str, permission: str) -> bool:
    """Whether ``grant`` (a permission or a ``*`` pattern) covers ``permission``."""
    if not _PERMISSION.match(permission):
        return False
    if grant == "*":
        return True
    g_res, _, g_act = grant.partition(":")
    p_res, _, p_act = permission.partition(":")
    return g_res in ("*", p_res) and g_act in ("*", p_act)


ROLES: Mapping[str, Role] = MappingProxyType(
    {
        "admin": Role("admin", "everything", frozenset({"*"})),
        "viewer": Role("viewer", "read everything, change nothing", frozenset({"*:read"})),
    }
)


def has_permission(role: str, permission: str) -> bool:
    """Whether ``role`` grants ``permission``; an unknown role grants nothing."""
    found = ROLES.get(role)
    return found is not None and found.allows(permission)


def permissions_for(role: str) -> frozenset[str]:
    """The catalogued permissions ``role`` grants (empty for an unknown role)."""
    return frozenset(p for p in PERMISSIONS if has_permission(role, p))


def is_valid_grant(grant: str) -> bool:
    return bool(_GRANT.match(grant))


def validate_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Check token scopes: each a catalogued permission or a ``*`` pattern. Sorted, unique."""
    out = set()
    for scope in scopes:
        if not isinstance(scope, str) or not is_valid_grant(scope):
            raise ValueError(f"malformed scope {scope!r}: expected 'resource:action'")
        if "*" not in scope and scope not in PERMISSIONS:
            raise ValueError(f"unknown permission {scope!r} in scopes")
        out.add(scope)
    return tuple(sorted(out))
