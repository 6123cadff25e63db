"""``Connections.configure``: a connection's non-secret config (e.g. its ``currency``) is set,
changed and removed key by key, validated, audited — and never carries a secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tillwise.governance.audit import AuditLog
from tillwise.governance.connections import Connections, InvalidConnection
from tillwise.governance.secrets import SecretBox
from tillwise.store.engine import make_engine

T0 = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)
SECRET = "whsec_configure-test-secret-93"


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def env(sqlite_url: str) -> Iterator[tuple[Connections, AuditLog, Clock]]:
    engine = make_engine(sqlite_url)
    clock = Clock()
    audit = AuditLog(engine, clock)
    yield Connections(engine, SecretBox([SecretBox.generate_key()]), audit, clock), audit, clock
    engine.dispose()


def test_set_change_and_remove_keys(env: tuple[Connections, AuditLog, Clock]) -> None:
    connections, _, clock = env
    conn = connections.create("lightspeed_x", "Main St", [SECRET], actor="cli")
    assert conn.config == {}

    clock.at = T0 + timedelta(minutes=1)
    one = connections.configure(conn.id, {"currency": " nzd ", "region": "ap"}, actor="cli")
    assert one.config == {"currency": "NZD", "region": "ap"}  # code trimmed and upper-cased
    assert one.updated_at == clock.at
    assert connections.get(conn.id) == one

    two = connections.configure(conn.id, {"currency": "AUD"}, actor="cli")
    assert two.config == {"currency": "AUD", "region": "ap"}  # other keys untouched

    three = connections.configure(conn.id, {"region": None, "absent": None}, actor="cli")
    assert three.config == {"currency": "AUD"}  # removing a missing key is harmless
    assert connections.secrets_for(conn.id) == [SECRET]  # secrets untouched


@pytest.mark.parametrize("bad", ["XYZ", "dollars", "", "US"])
def test_an_invalid_currency_is_refused_naming_the_field(
    env: tuple[Connections, AuditLog, Clock], bad: str
) -> None:
    connections, audit, _ = env
    conn = connections.create("generic", "Main St", [SECRET], actor="cli")
    connections.configure(conn.id, {"currency": "USD"}, actor="cli")
    with pytest.raises(InvalidConnection, match=r"^config\.currency: .*ISO 4217"):
        connections.configure(conn.id, {"currency": bad, "region": "eu"}, actor="cli")
    after = connections.get(conn.id)
    assert after is not None and after.config == {"currency": "USD"}  # nothing applied
    assert len(audit.list(action="connection.configured")) == 1


@pytest.mark.parametrize("key", ["api_key", "client_secret", "access_token", "password"])
def test_a_secret_is_refused_as_config(env: tuple[Connections, AuditLog, Clock], key: str) -> None:
    connections, audit, _ = env
    conn = connections.create("generic", "Main St", [SECRET], actor="cli")
    with pytest.raises(InvalidConnection, match=rf"^config\.{key}: a secret"):
        connections.configure(conn.id, {key: "sk_live_abc123"}, actor="cli")
    after = connections.get(conn.id)
    assert after is not None and after.config == {}
    assert audit.list(action="connection.configured") == []


def test_configure_is_audited_without_secrets(env: tuple[Connections, AuditLog, Clock]) -> None:
    connections, audit, _ = env
    conn = connections.create("clover", "Main St", [SECRET], actor="cli")
    connections.configure(conn.id, {"currency": "eur", "merchant_id": "M1"}, actor="user:ann")
    connections.configure(conn.id, {"merchant_id": None}, actor="user:bob")

    entries = {e.actor: e for e in audit.list(action="connection.configured")}
    first, second = entries["user:ann"], entries["user:bob"]
    assert (first.actor, first.store) == ("user:ann", conn.id)
    assert first.inputs == {"id": conn.id, "changes": {"currency": "EUR", "merchant_id": "M1"}}
    assert first.outputs == {"config": {"currency": "EUR", "merchant_id": "M1"}}
    assert (second.actor, second.inputs["changes"]) == ("user:bob", {"merchant_id": None})
    assert second.outputs == {"config": {"currency": "EUR"}}
    every = json.dumps([(e.inputs, e.outputs) for e in audit.list()], default=str)
    assert SECRET not in every


def test_an_unknown_connection_is_refused(env: tuple[Connections, AuditLog, Clock]) -> None:
    connections, _, _ = env
    with pytest.raises(LookupError):
        connections.configure("con_doesnotexist0000", {"currency": "USD"}, actor="cli")


def test_the_write_back_api_is_moved_audited_and_checked(
    env: tuple[Connections, AuditLog, Clock],
) -> None:
    connections, audit, clock = env
    conn = connections.create(
        "generic", "Main St", [SECRET], actor="cli", api_base_url="http://127.0.0.1:8001"
    )
    clock.at = T0 + timedelta(minutes=1)
    moved = connections.set_api_base_url(conn.id, "https://pos.example/api", actor="user:ann")
    assert moved.api_base_url == "https://pos.example/api" and moved.updated_at == clock.at
    assert connections.get(conn.id) == moved  # not the cached connection
    (entry,) = audit.list(action="connection.api_changed")
    assert (entry.actor, entry.store) == ("user:ann", conn.id)
    assert entry.inputs == {"id": conn.id, "api_base_url": "https://pos.example/api"}
    assert entry.outputs == {"previous": "http://127.0.0.1:8001"}

    with pytest.raises(InvalidConnection, match=r"^api_base_url must be an http\(s\) URL"):
        connections.set_api_base_url(conn.id, "ftp://pos.example", actor="cli")
    after = connections.get(conn.id)
    assert after is not None and after.api_base_url == "https://pos.example/api"  # unchanged
    assert len(audit.list(action="connection.api_changed")) == 1

    assert connections.set_api_base_url(conn.id, None, actor="cli").api_base_url is None
    assert connections.secrets_for(conn.id) == [SECRET]
    with pytest.raises(LookupError):
        connections.set_api_base_url("con_doesnotexist0000", None, actor="cli")
