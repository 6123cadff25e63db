"""Token parsing and the Principal (no database)."""

from __future__ import annotations

from tillwise.governance.principal import Principal
from tillwise.governance.tokens import hash_secret, parse_token

SECRET = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"


def test_parse_token() -> None:
    assert parse_token(f"tw_0123456789abcdef_{SECRET}") == ("0123456789abcdef", SECRET)
    assert parse_token(f"tw_0123456789abcdef_{SECRET[:-1]}_") == (
        "0123456789abcdef",
        SECRET[:-1] + "_",
    )
    for bad in (
        "",
        "tw_nope_nope",
        f"tw_0123456789ABCDEF_{SECRET}",
        f"xx_0123456789abcdef_{SECRET}",
        f"tw_0123456789abcdef_{SECRET}x",
        None,
    ):
        assert parse_token(bad) is None  # type: ignore[arg-type]


def test_hash_secret_is_sha256_hex() -> None:
    assert hash_secret("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_principal_checks_role_and_scopes() -> None:
    admin = Principal(id="t1", role="admin")
    assert admin.kind == "token" and admin.actor == "token:t1"
    assert admin.can("connections:write")
    scoped = Principal(id="t2", role="admin", scopes=("audit:read",))
    assert scoped.can("audit:read") and not scoped.can("connections:write")
    viewer = Principal(id="t3", role="viewer", scopes=("connections:*",))
    assert viewer.can("connections:read") and not viewer.can("connections:write")
    assert not Principal(id="t4", role="nobody").can("audit:read")
