"""Who is calling: a person with a dashboard session, or a machine with an API token.

A principal carries its role's permissions (narrowed by a token's scopes) and its *store scope*:
the store keys (``<connection_id>:<location_external_id>``) it may see and act on, or ``None``
for every store (admin, viewer). Routes check both on the server: the permission by
dependency, the scope on every record, proposal and audit entry they return or change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tillwise.governance.rbac import PERMISSIONS, ROLES, grant_matches, has_permission


@dataclass(frozen=True, kw_only=True)
class Principal:
    kind: str = "token"  # "token" | "user"
    id: str
    role: str
    name: str = ""
    scopes: tuple[str, ...] | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)
    stores: frozenset[str] | None = None  # None: every store
    csrf_token: str | None = None  # dashboard sessions only

    @property
    def actor(self) -> str:
        """How this principal is named in the audit log (``user:<id>``, ``token:<id>``)."""
        return f"{self.kind}:{self.id}"

    def can(self, permission: str) -> bool:
        if not has_permission(self.role, permission):
            return False
        return self.scopes is None or any(grant_matches(s, permission) for s in self.scopes)

    def sees(self, store: str | None) -> bool:
        """Whether ``store`` is in scope. Records with no store are visible only to principals
        that see every store."""
        if self.stores is None:
            return True
        return store is not None and store in self.stores

    def may_approve(self, kind: str) -> bool:
        found = ROLES.get(self.role)
        return found is not None and self.can("proposals:approve") and found.may_approve(kind)


def scope_for(role: str, stores: Iterable[str] | None) -> frozenset[str] | None:
    """The store scope of a role given these stores: unscoped roles see every store; a scoped
    role sees exactly the stores given (none if none)."""
    found = ROLES.get(role)
    if found is not None and not found.scoped:
        return None
    return frozenset(stores or ())


def permissions_of(role: str, scopes: tuple[str, ...] | None) -> frozenset[str]:
    return frozenset(
        p
        for p in PERMISSIONS
        if has_permission(role, p) and (scopes is None or any(grant_matches(s, p) for s in scopes))
    )
