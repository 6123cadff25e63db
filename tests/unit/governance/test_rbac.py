"""Roles and permissions as data."""

from __future__ import annotations

import pytest

from tillwise.governance.rbac import (
    PERMISSIONS,
    ROLES,
    Role,
    grant_matches,
    has_permission,
    permissions_for,
    validate_scopes,
)


def test_admin_has_everything() -> None:
    assert all(has_permission("admin", p) for p in PERMISSIONS)
    assert has_permission("admin", "future:thing")
    assert permissions_for("admin") == PERMISSIONS


def test_viewer_reads_everything_and_writes_nothing() -> None:
    for permission in PERMISSIONS:
        assert has_permission("viewer", permission) is permission.endswith(":read")
    for write in ("connections:write", "tokens:write", "deadletters:replay", "inbox:replay"):
        assert not has_permission("viewer", write)
    assert has_permission("viewer", "transactions:read")
    assert has_permission("viewer", "audit:read")


@pytest.mark.parametrize("role", ["", "root", "Admin", "store manager"])
def test_unknown_role_has_no_permissions(role: str) -> None:
    assert not has_permission(role, "transactions:read")
    assert permissions_for(role) == frozenset()


@pytest.mark.parametrize("perm", ["", "*", "transactions", "transactions:*", "a:b:c", "A:read"])
def test_malformed_permissions_are_never_granted(perm: str) -> None:
    assert not has_permission("admin", perm)


def test_grant_patterns() -> None:
    assert grant_matches("proposals:*", "proposals:approve")
    assert not grant_matches("proposals:*", "audit:read")
    assert grant_matches("*:read", "audit:read")
    assert grant_matches("audit:read", "audit:read")
    assert not grant_matches("audit:read", "audit:write")


def test_roles_are_data_and_validated() -> None:
    assert set(ROLES) == {
        "associate",
        "store_manager",
        "buyer",
        "loss_prevention",
        "regional_manager",
        "pos_extension",
        "admin",
        "viewer",
    }
    with pytest.raises(TypeError):
        ROLES["x"] = Role("x", "", frozenset())  # type: ignore[index]
    with pytest.raises(ValueError, match="malformed grant"):
        Role("bad", "", frozenset({"transactions"}))
    buyer = Role("buyer", "purchasing", frozenset({"purchasing:*", "*:read"}))
    assert buyer.allows("purchasing:approve") and not buyer.allows("tokens:write")


def test_validate_scopes() -> None:
    assert validate_scopes(["audit:read", "deadletters:*", "audit:read"]) == (
        "audit:read",
        "deadletters:*",
    )
    with pytest.raises(ValueError, match="unknown permission"):
        validate_scopes(["audit:raed"])
    with pytest.raises(ValueError, match="malformed"):
        validate_scopes(["audit"])


def test_who_approves_what() -> None:
    assert not ROLES["associate"].may_approve("stock_adjustment")
    assert not ROLES["viewer"].may_approve("stock_adjustment")
    assert ROLES["store_manager"].may_approve("draft_purchase_order")
    assert ROLES["buyer"].may_approve("draft_purchase_order")
    assert not ROLES["buyer"].may_approve("risk_decision")
    assert ROLES["loss_prevention"].may_approve("risk_decision")
    assert not ROLES["loss_prevention"].may_approve("draft_purchase_order")
    assert ROLES["admin"].may_approve("anything_new")


def test_only_admin_and_viewer_see_every_store() -> None:
    assert {name for name, r in ROLES.items() if not r.scoped} == {"admin", "viewer"}


def test_store_roles_cannot_administer() -> None:
    for name in ("associate", "store_manager", "buyer", "loss_prevention", "regional_manager"):
        for permission in ("users:write", "connections:write", "tokens:write", "inbox:replay"):
            assert not has_permission(name, permission), (name, permission)
