"""Roles and permissions, as data.

A permission is ``"<resource>:<action>"`` (``transactions:read``, ``connections:write``,
``deadletters:replay``). A role grants a set of *grants*: a permission, or a pattern with
``*`` for a whole part — ``"*"`` (everything), ``"*:read"`` (read anything),
``"proposals:*"`` (any action on proposals). Patterns keep roles correct as resources are added.

Roles are also *scoped*: a store-scoped role (associate, store manager, buyer, loss prevention,
regional manager) sees and acts on the stores (and regions) its user or token is given, and
nothing else; admin and viewer see every store. Which proposal kinds a role may approve is
data too (:attr:`Role.approves`), and :data:`SENIOR_APPROVERS` are the roles that can give
the approvals a threshold reserves for a regional manager.

To add a role, add a :class:`Role` to :data:`ROLES`; nothing else changes.
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
        "proposals:create",
        "workflows:read",
        "workflows:write",
        "audit:export",
        "users:read",
        "users:write",
        "settings:read",
        "settings:write",
        "risk:read",  # the loss-prevention review queue, cases and exception reports
        "risk:decide",  # work cases: assign, review, confirm or dismiss
        "risk:score",  # POST /v1/risk/score (a POS extension in the checkout path)
        "replenishment:write",  # stop / resume reordering a SKU at a store
        "costs:read",  # unit costs and purchase-order values (governance.costs)
    }
)


ANY_KIND = "*"


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    grants: frozenset[str]
    scoped: bool = True  # limited to the stores/regions it is given
    approves: frozenset[str] = frozenset()  # proposal kinds (or ANY_KIND) it may approve

    def __post_init__(self) -> None:
        for grant in self.grants:
            if not _GRANT.match(grant):
                raise ValueError(f"role {self.name!r}: malformed grant {grant!r}")

    def allows(self, permission: str) -> bool:
        return any(grant_matches(g, permission) for g in self.grants)

    def may_approve(self, kind: str) -> bool:
        return self.allows("proposals:approve") and (
            ANY_KIND in self.approves or kind in self.approves
        )


def grant_matches(grant: str, permission: str) -> bool:
    """Whether ``grant`` (a permission or a ``*`` pattern) covers ``permission``."""
    if not _PERMISSION.match(permission):
        return False
    if grant == "*":
        return True
    g_res, _, g_act = grant.partition(":")
    p_res, _, p_act = permission.partition(":")
    return g_res in ("*", p_res) and g_act in ("*", p_act)


_STORE_READS = frozenset(
    {
        "transactions:read",
        "products:read",
        "inventory:read",
        "locations:read",
        "reports:read",
        "proposals:read",
    }
)

ROLES: Mapping[str, Role] = MappingProxyType(
    {
        "associate": Role(
            "associate",
            "works the floor of a store: reads its sales, stock and proposals (not what stock "
            "costs); approves nothing",
            _STORE_READS,
        ),
        "store_manager": Role(
            "store_manager",
            "runs their store: approves its proposals of every kind, reads its audit trail",
            _STORE_READS
            | {"customers:read", "proposals:approve", "proposals:create", "audit:read"}
            | {"workflows:read", "risk:read", "replenishment:write", "costs:read"},
            approves=frozenset({ANY_KIND}),
        ),
        "buyer": Role(
            "buyer",
            "buys stock for their stores: approves purchase orders, transfers and stock changes",
            _STORE_READS
            | {"proposals:approve", "proposals:create", "workflows:read", "replenishment:write"}
            | {"costs:read"},
            approves=frozenset({"draft_purchase_order", "transfer", "stock_adjustment"}),
        ),
        "loss_prevention": Role(
            "loss_prevention",
            "guards against loss: works risk cases, approves risk decisions, returns and "
            "stock corrections",
            _STORE_READS
            | {"customers:read", "proposals:approve", "audit:read", "audit:export"}
            | {"workflows:read", "risk:read", "risk:decide", "costs:read"},
            approves=frozenset({"risk_decision", "return_draft", "stock_adjustment"}),
        ),
        "regional_manager": Role(
            "regional_manager",
            "runs a region: approves anything in it, sets workflow modes and rollouts there",
            _STORE_READS
            | {"customers:read", "proposals:approve", "proposals:create", "audit:read"}
            | {"audit:export", "workflows:read", "workflows:write", "settings:read"}
            | {"users:read", "risk:read", "replenishment:write", "costs:read"},
            approves=frozenset({ANY_KIND}),
        ),
        "pos_extension": Role(
            "pos_extension",
            "a POS extension at the till of its stores: scores carts before tender, reads nothing",
            frozenset({"risk:score"}),
        ),
        "admin": Role(
            "admin",
            "everything, every store",
            frozenset({"*"}),
            scoped=False,
            approves=frozenset({ANY_KIND}),
        ),
        "viewer": Role(
            "viewer",
            "read everything in every store, change nothing (monitoring, BI exports)",
            frozenset({"*:read"}),
            scoped=False,
        ),
    }
)

# Roles whose approval satisfies a threshold that "needs a regional manager".
SENIOR_APPROVERS: frozenset[str] = frozenset({"regional_manager", "admin"})


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


def role(name: str) -> Role | None:
    return ROLES.get(name)
