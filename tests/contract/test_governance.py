"""Governance services on both databases: connections, tokens, the audit chain, migration 0003."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text

from tests.helpers import FakeClock
from tillwise.governance.audit import GENESIS_HASH, AuditLog, entry_hash
from tillwise.governance.connections import (
    ConnectionRevoked,
    Connections,
    InvalidConnection,
    UnknownConnection,
)
from tillwise.governance.secrets import KnownSecrets, SecretBox
from tillwise.governance.tokens import InvalidToken, Tokens, UnknownToken, hash_secret
from tillwise.ports.platform import Credentials
from tillwise.store.engine import make_engine
from tillwise.store.migrate import alembic_config, upgrade
from tillwise.store.tables_governance import api_tokens, audit_log, connections

T0 = datetime(2024, 6, 1, 9, 30, 0, 123456, tzinfo=UTC)
SECRET = "whsec_Zq8-very-secret-value-41"
SECRET_2 = "whsec_second-rotation-secret-77"


@dataclass
class Gov:
    url: str
    engine: Engine
    clock: FakeClock
    key: str
    box: SecretBox
    audit: AuditLog
    connections: Connections
    tokens: Tokens

    def dump(self, *tables: Any) -> str:
        """Every column of every row of ``tables``, as text (bytes included as latin-1)."""
        parts: list[str] = []
        with self.engine.connect() as conn:
            for table in tables:
                for row in conn.execute(select(table)):
                    for value in row:
                        if isinstance(value, bytes | memoryview):
                            parts.append(bytes(value).decode("latin-1"))
                        else:
                            parts.append(json.dumps(value, default=str))
        return "\n".join(parts)

    def raw_bytes(self) -> bytes:
        """The SQLite database files as stored on disk (empty for PostgreSQL)."""
        if not self.url.startswith("sqlite"):
            return b""
        path = Path(self.url.split(":///", 1)[1])
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


@pytest.fixture
def gov(database_url: str) -> Iterator[Gov]:
    engine = make_engine(database_url)
    clock = FakeClock(T0)
    key = SecretBox.generate_key()
    box = SecretBox([key])
    audit = AuditLog(engine, clock)
    yield Gov(
        url=database_url,
        engine=engine,
        clock=clock,
        key=key,
        box=box,
        audit=audit,
        connections=Connections(engine, box, audit, clock),
        tokens=Tokens(engine, audit, clock),
    )
    engine.dispose()


# --------------------------------------------------------------------------- migration


def test_migration_0003_creates_and_drops_the_governance_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        names = set(inspect(engine).get_table_names())
        assert {"audit_log", "connections", "api_tokens"} <= names
        command.downgrade(alembic_config(database_url), "0002")
        names = set(inspect(engine).get_table_names())
        assert not {"audit_log", "connections", "api_tokens"} & names
        upgrade(database_url)
        assert {"audit_log", "connections", "api_tokens"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- connections


def test_connection_create_get_list_and_secrets(gov: Gov) -> None:
    created = gov.connections.create("generic", "Main St", [SECRET], actor="user:alice")

    assert created.id.startswith("con_") and len(created.id) == 20
    assert created.status == "active" and created.secret_count == 1
    assert created.created_at == T0
    assert not hasattr(created, "secrets")
    assert gov.connections.get(created.id) == created
    assert gov.connections.list() == [created]
    assert gov.connections.secrets_for(created.id) == [SECRET]
    assert gov.connections.get("con_doesnotexist0000") is None
    assert gov.connections.secrets_for("con_doesnotexist0000") is None
    assert gov.connections.secrets_for("x" * 500) is None

    [entry] = gov.audit.list(action="connection.created")
    assert entry.actor == "user:alice" and entry.store == created.id
    assert entry.outputs == {"id": created.id, "status": "active"}
    assert entry.inputs == {
        "platform": "generic",
        "name": "Main St",
        "secret_count": 1,
        "api_base_url": None,
    }


def test_connection_secret_is_never_stored_or_audited_in_clear(gov: Gov) -> None:
    conn = gov.connections.create("generic", "Main St", [SECRET], actor="cli")
    gov.connections.add_secret(conn.id, SECRET_2, actor="cli")
    gov.connections.remove_secret(conn.id, SECRET, actor="cli")
    gov.connections.revoke(conn.id, actor="cli")

    rows = gov.dump(connections, audit_log, api_tokens)
    assert conn.id in rows  # the scan does see the rows
    for secret in (SECRET, SECRET_2):
        assert secret not in rows
        assert secret.encode() not in gov.raw_bytes()
    actions = [e.action for e in gov.audit.list()]
    assert actions == [
        "connection.created",
        "connection.secret_added",
        "connection.secret_removed",
        "connection.revoked",
    ]


def test_stored_secrets_are_ciphertext_that_only_the_key_opens(gov: Gov) -> None:
    conn = gov.connections.create("generic", "Main St", [SECRET], actor="cli")
    with gov.engine.connect() as db:
        blob = db.execute(
            select(connections.c.secrets_encrypted).where(connections.c.id == conn.id)
        ).scalar_one()
    assert json.loads(gov.box.decrypt(bytes(blob))) == [SECRET]
    other = Connections(gov.engine, SecretBox([SecretBox.generate_key()]), gov.audit, gov.clock)
    with pytest.raises(ValueError, match="cannot decrypt"):
        other.secrets_for(conn.id)


def test_connection_secret_rotation_keeps_both_until_the_old_one_is_removed(gov: Gov) -> None:
    conn = gov.connections.create("generic", "Main St", [SECRET], actor="cli")
    assert gov.connections.secrets_for(conn.id) == [SECRET]  # now cached

    rotated = gov.connections.add_secret(conn.id, SECRET_2, actor="user:alice")
    assert rotated.secret_count == 2
    assert gov.connections.secrets_for(conn.id) == [SECRET_2, SECRET]  # newest first

    again = gov.connections.add_secret(conn.id, SECRET_2, actor="user:alice")  # no-op
    assert again.secret_count == 2
    assert len(gov.audit.list(action="connection.secret_added")) == 1

    gov.connections.remove_secret(conn.id, SECRET, actor="user:alice")
    assert gov.connections.secrets_for(conn.id) == [SECRET_2]
    with pytest.raises(InvalidConnection, match="last secret"):
        gov.connections.remove_secret(conn.id, SECRET_2, actor="user:alice")
    with pytest.raises(InvalidConnection, match="not one of"):
        gov.connections.remove_secret(conn.id, "whsec_never-added-xyz", actor="user:alice")
    assert gov.connections.secrets_for(conn.id) == [SECRET_2]


def test_revoked_connection_has_no_secrets_and_refuses_changes(gov: Gov) -> None:
    conn = gov.connections.create("generic", "Main St", [SECRET], actor="cli")
    assert gov.connections.secrets_for(conn.id) == [SECRET]
    gov.clock.advance(minutes=5)

    revoked = gov.connections.revoke(conn.id, actor="user:alice")

    assert revoked.status == "revoked" and revoked.revoked_at == gov.clock.now()
    assert gov.connections.get(conn.id) == revoked
    assert gov.connections.secrets_for(conn.id) is None  # cache invalidated at once
    assert gov.connections.list(status="active") == []
    assert revoked.has_credentials is False
    assert gov.connections.revoke(conn.id, actor="user:alice") == revoked  # idempotent
    assert len(gov.audit.list(action="connection.revoked")) == 1
    with pytest.raises(ConnectionRevoked):
        gov.connections.add_secret(conn.id, SECRET_2, actor="user:alice")
    with pytest.raises(UnknownConnection):
        gov.connections.revoke("con_doesnotexist0000", actor="user:alice")


def test_revoking_erases_the_pos_tokens_at_rest(gov: Gov) -> None:
    tokens = Credentials(access_token="shpat_live_ACCESS_123456", refresh_token="shprt_REF_654")
    conn = gov.connections.create("shopify", "Shop", [], actor="oauth", credentials=tokens)
    assert conn.has_credentials

    revoked = gov.connections.revoke(conn.id, actor="user:alice")

    assert revoked.has_credentials is False
    with gov.engine.connect() as db:
        stored = db.execute(
            select(connections.c.credentials_encrypted).where(connections.c.id == conn.id)
        ).scalar_one()
    assert stored is None


def test_secrets_cache_sees_other_processes_changes_after_its_ttl(gov: Gov) -> None:
    conn = gov.connections.create("generic", "Main St", [SECRET], actor="cli")
    reader = Connections(gov.engine, gov.box, gov.audit, gov.clock, cache_ttl=timedelta(seconds=30))
    assert reader.secrets_for(conn.id) == [SECRET]

    gov.connections.revoke(conn.id, actor="cli")  # another process: reader's cache is stale

    assert reader.secrets_for(conn.id) == [SECRET]
    gov.clock.advance(seconds=30)
    assert reader.secrets_for(conn.id) is None


def test_connection_input_is_validated(gov: Gov) -> None:
    with pytest.raises(InvalidConnection):
        gov.connections.create("generic", "Main St", [], actor="cli")
    with pytest.raises(InvalidConnection):
        gov.connections.create("generic", "Main St", SECRET, actor="cli")  # type: ignore[arg-type]
    with pytest.raises(InvalidConnection):
        gov.connections.create("generic", " ", [SECRET], actor="cli")
    assert gov.connections.list() == [] and gov.audit.list() == []


def test_known_secrets_are_collected_for_log_redaction(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        known = KnownSecrets()
        clock = FakeClock(T0)
        box = SecretBox([SecretBox.generate_key()])
        audit = AuditLog(engine, clock)
        writer = Connections(engine, box, audit, clock)
        conn = writer.create("generic", "Main St", [SECRET], actor="cli")
        reader = Connections(engine, box, audit, clock, known_secrets=known)
        reader.secrets_for(conn.id)
        assert SECRET in known.snapshot()
    finally:
        engine.dispose()


def test_reencrypt_all_moves_secrets_to_the_newest_key(gov: Gov) -> None:
    conn = gov.connections.create("generic", "Main St", [SECRET], actor="cli")
    new_key = SecretBox.generate_key()
    service = Connections(gov.engine, SecretBox([new_key, gov.key]), gov.audit, gov.clock)

    assert service.reencrypt_all(actor="cli") == 1

    only_new = Connections(gov.engine, SecretBox([new_key]), gov.audit, gov.clock)
    assert only_new.secrets_for(conn.id) == [SECRET]
    only_old = Connections(gov.engine, SecretBox([gov.key]), gov.audit, gov.clock)
    with pytest.raises(ValueError, match="cannot decrypt"):
        only_old.secrets_for(conn.id)
    assert gov.audit.verify().ok


def test_reencrypt_all_moves_the_pos_tokens_to_the_newest_key_too(gov: Gov) -> None:
    tokens = Credentials(access_token="shpat_live_ACCESS_123456", refresh_token="shprt_REF_654")
    oauth = gov.connections.create("shopify", "Shop", [], actor="oauth", credentials=tokens)
    hooks = gov.connections.create("generic", "Main St", [SECRET], actor="cli")
    new_key = SecretBox.generate_key()
    service = Connections(gov.engine, SecretBox([new_key, gov.key]), gov.audit, gov.clock)

    assert service.reencrypt_all(actor="cli") == 2

    only_new = Connections(gov.engine, SecretBox([new_key]), gov.audit, gov.clock)  # old key gone
    assert only_new.credentials_for(oauth.id) == tokens
    assert only_new.secrets_for(hooks.id) == [SECRET]
    assert only_new.credentials_for(hooks.id) is None  # it never had any


# --------------------------------------------------------------------------- tokens


def test_token_create_and_authenticate(gov: Gov) -> None:
    info, plaintext = gov.tokens.create("viewer", name="dashboard", actor="user:alice")

    assert plaintext.startswith(f"tw_{info.id}_")
    principal = gov.tokens.authenticate(plaintext)
    assert principal is not None
    assert (principal.kind, principal.id, principal.role) == ("token", info.id, "viewer")
    assert principal.actor == f"token:{info.id}"
    assert "transactions:read" in principal.permissions
    assert "connections:write" not in principal.permissions
    assert principal.can("audit:read") and not principal.can("tokens:write")

    stored = gov.dump(api_tokens, audit_log)
    secret_part = plaintext.split("_", 2)[2]
    assert plaintext not in stored and secret_part not in stored
    assert hash_secret(secret_part) in stored  # only the hash is kept
    assert secret_part.encode() not in gov.raw_bytes()
    [entry] = gov.audit.list(action="token.created")
    assert entry.outputs == {"id": info.id, "expires_at": None}
    assert gov.tokens.list() == [gov.tokens.get(info.id)]


def test_token_wrong_secret_unknown_or_malformed_is_refused(gov: Gov) -> None:
    info, plaintext = gov.tokens.create("admin", name="ci", actor="cli")
    prefix, token_id, secret = plaintext.split("_", 2)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    other_id = "0" * 16 if token_id != "0" * 16 else "1" * 16

    assert gov.tokens.authenticate(f"{prefix}_{token_id}_{flipped}") is None
    assert gov.tokens.authenticate(f"{prefix}_{other_id}_{secret}") is None
    for bad in ("", "tw_nope_nope", plaintext + "x", plaintext.upper(), f"Bearer {plaintext}"):
        assert gov.tokens.authenticate(bad) is None
    assert gov.tokens.authenticate(f"  {plaintext} ") is not None


def test_token_expires_by_the_injected_clock(gov: Gov) -> None:
    info, plaintext = gov.tokens.create(
        "viewer", name="temp", actor="cli", expires_in=timedelta(hours=1)
    )
    assert info.expires_at == T0 + timedelta(hours=1)
    gov.clock.advance(minutes=59, seconds=59)
    assert gov.tokens.authenticate(plaintext) is not None
    gov.clock.advance(seconds=1)
    assert gov.tokens.authenticate(plaintext) is None


def test_token_revoke(gov: Gov) -> None:
    info, plaintext = gov.tokens.create("admin", name="ci", actor="cli")
    assert gov.tokens.authenticate(plaintext) is not None
    gov.clock.advance(seconds=5)

    revoked = gov.tokens.revoke(info.id, actor="user:alice")

    assert revoked.revoked_at == gov.clock.now()
    assert gov.tokens.authenticate(plaintext) is None
    assert gov.tokens.revoke(info.id, actor="user:alice") == revoked  # idempotent
    assert [e.action for e in gov.audit.list()] == ["token.created", "token.revoked"]
    assert gov.tokens.list(include_revoked=False) == []
    with pytest.raises(UnknownToken):
        gov.tokens.revoke("0" * 16, actor="user:alice")


def test_token_last_used_is_recorded_at_most_once_a_minute(gov: Gov) -> None:
    info, plaintext = gov.tokens.create("viewer", name="t", actor="cli")
    assert gov.tokens.get(info.id).last_used_at is None  # type: ignore[union-attr]
    gov.tokens.authenticate(plaintext)
    assert gov.tokens.get(info.id).last_used_at == T0  # type: ignore[union-attr]
    gov.clock.advance(seconds=30)
    gov.tokens.authenticate(plaintext)
    assert gov.tokens.get(info.id).last_used_at == T0  # type: ignore[union-attr]
    gov.clock.advance(seconds=30)
    gov.tokens.authenticate(plaintext)
    assert gov.tokens.get(info.id).last_used_at == T0 + timedelta(minutes=1)  # type: ignore[union-attr]


def test_token_scopes_narrow_the_role(gov: Gov) -> None:
    _, plaintext = gov.tokens.create(
        "admin", name="replayer", actor="cli", scopes=["deadletters:*", "audit:read"]
    )
    principal = gov.tokens.authenticate(plaintext)
    assert principal is not None
    assert principal.scopes == ("audit:read", "deadletters:*")
    assert principal.permissions == {"audit:read", "deadletters:read", "deadletters:replay"}
    assert principal.can("deadletters:replay") and not principal.can("connections:write")

    _, viewer = gov.tokens.create("viewer", name="v", actor="cli", scopes=["deadletters:*"])
    scoped_viewer = gov.tokens.authenticate(viewer)
    assert scoped_viewer is not None and scoped_viewer.permissions == {"deadletters:read"}


def test_token_create_validates(gov: Gov) -> None:
    with pytest.raises(InvalidToken, match="unknown role"):
        gov.tokens.create("root", name="x", actor="cli")
    with pytest.raises(InvalidToken, match="unknown permission"):
        gov.tokens.create("admin", name="x", actor="cli", scopes=["transactoins:read"])
    with pytest.raises(InvalidToken, match="positive"):
        gov.tokens.create("admin", name="x", actor="cli", expires_in=timedelta(0))
    assert gov.tokens.list() == [] and gov.audit.list() == []


# --------------------------------------------------------------------------- audit log


def _append_many(audit: AuditLog, n: int, *, actor: str = "cli") -> None:
    for i in range(n):
        audit.append(
            actor=actor,
            action="workflow.completed" if i % 2 else "proposal.created",
            store=f"loc_{i % 3}",
            inputs={"i": i, "price": 29.99, "names": ["café", "naïve"]},
            outputs={"ok": True, "n": i * 1.0, "big": 1e16, "tiny": 1e-7},
        )


def _set_outputs(gov: Gov, entry_id: int, outputs: dict[str, Any]) -> None:
    cast = "CAST(:v AS jsonb)" if gov.engine.dialect.name == "postgresql" else ":v"
    with gov.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE audit_log SET outputs = {cast} WHERE id = :id"),
            {"v": json.dumps(outputs), "id": entry_id},
        )


def test_audit_chain_appends_and_verifies(gov: Gov) -> None:
    _append_many(gov.audit, 12)

    result = gov.audit.verify(batch_size=5)  # several batches

    assert (result.ok, result.checked, result.first_broken_id, result.reason) == (
        True,
        12,
        None,
        None,
    )
    entries = gov.audit.list(limit=1000)
    assert [e.id for e in entries] == list(range(1, 13))
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert entries[0].at == T0 and entries[0].outputs["big"] == 10**16
    assert gov.audit.head() == entries[-1]
    assert gov.audit.get(3) == entries[2]


def test_audit_empty_log_verifies(gov: Gov) -> None:
    assert gov.audit.verify().ok and gov.audit.verify().checked == 0
    assert gov.audit.head() is None


def test_audit_verify_names_an_edited_entry(gov: Gov) -> None:
    _append_many(gov.audit, 8)
    _set_outputs(gov, 5, {"ok": False})

    result = gov.audit.verify()

    assert not result.ok
    assert result.first_broken_id == 5 and result.checked == 4
    assert "hash mismatch" in (result.reason or "")


def test_audit_verify_names_a_deleted_entry(gov: Gov) -> None:
    _append_many(gov.audit, 8)
    with gov.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 4"))

    result = gov.audit.verify()

    assert not result.ok and result.first_broken_id == 5 and result.checked == 3
    assert "entry 4 missing" in (result.reason or "")


def test_audit_verify_detects_a_deleted_first_entry(gov: Gov) -> None:
    _append_many(gov.audit, 3)
    with gov.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 1"))
    result = gov.audit.verify()
    assert not result.ok and result.first_broken_id == 2 and "entry 1 missing" in result.reason


def test_audit_verify_detects_an_edit_whose_hash_was_recomputed(gov: Gov) -> None:
    _append_many(gov.audit, 6)
    forged = gov.audit.get(3)
    assert forged is not None
    new_outputs = {"ok": False}
    new_hash = entry_hash(
        id=3,
        at=forged.at,
        actor=forged.actor,
        action=forged.action,
        store=forged.store,
        inputs=forged.inputs,
        outputs=new_outputs,
        prev_hash=forged.prev_hash,
    )
    _set_outputs(gov, 3, new_outputs)
    with gov.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET hash = :h WHERE id = 3"), {"h": new_hash})

    result = gov.audit.verify()

    assert not result.ok and result.first_broken_id == 4
    assert "prev_hash" in (result.reason or "")


def test_audit_verify_detects_a_reordered_chain(gov: Gov) -> None:
    _append_many(gov.audit, 6)
    a, b = gov.audit.get(2), gov.audit.get(3)
    assert a is not None and b is not None
    # swap the two entries' ids (their contents and hashes move with them)
    with gov.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET id = 1000 WHERE id = 2"))
        conn.execute(text("UPDATE audit_log SET id = 2 WHERE id = 3"))
        conn.execute(text("UPDATE audit_log SET id = 3 WHERE id = 1000"))

    result = gov.audit.verify()

    assert not result.ok and result.first_broken_id == 2


def test_audit_redacts_and_normalizes_payloads(gov: Gov) -> None:
    entry = gov.audit.append(
        actor="user:alice",
        action="connection.updated",
        inputs={"webhook_secret": SECRET, "note": "Authorization: Bearer abcdef0123456789"},
        outputs={"at": T0, "tags": ("a", "b")},
    )
    stored = gov.audit.get(entry.id)
    assert stored == entry
    assert stored.inputs == {
        "webhook_secret": "[REDACTED]",
        "note": "Authorization: Bearer [REDACTED]",
    }
    assert stored.outputs == {"at": T0.isoformat(), "tags": ["a", "b"]}
    assert SECRET not in gov.dump(audit_log)
    with pytest.raises(ValueError):
        gov.audit.append(actor="cli", action="x", outputs={"v": float("nan")})
    with pytest.raises(ValueError):
        gov.audit.append(actor="", action="x")
    assert gov.audit.verify().ok


def test_audit_list_filters(gov: Gov) -> None:
    for i in range(6):
        gov.audit.append(
            actor="user:alice" if i < 3 else "token:abc",
            action="token.created" if i % 2 else "connection.created",
            store="loc_1" if i in (0, 5) else None,
        )
        gov.clock.advance(minutes=1)

    assert [e.id for e in gov.audit.list(actor="token:abc")] == [4, 5, 6]
    assert [e.id for e in gov.audit.list(action="token.created")] == [2, 4, 6]
    assert [e.id for e in gov.audit.list(store="loc_1")] == [1, 6]
    window = gov.audit.list(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert [e.id for e in window] == [2, 3]
    assert [e.id for e in gov.audit.list(after_id=2, limit=2)] == [3, 4]
    assert [e.id for e in gov.audit.list(limit=2, newest_first=True)] == [6, 5]
    assert [e.id for e in gov.audit.list(actor="user:alice", action="token.created")] == [2]


def test_audit_append_in_commits_or_rolls_back_with_the_caller(gov: Gov) -> None:
    gov.audit.append(actor="cli", action="first")
    with pytest.raises(RuntimeError), gov.engine.begin() as conn:
        gov.audit.append_in(conn, actor="cli", action="rolled.back")
        raise RuntimeError("caller failed")
    with gov.engine.begin() as conn:
        entry = gov.audit.append_in(conn, actor="cli", action="kept")

    assert entry.id == 2  # the rolled-back append left no gap
    assert [e.action for e in gov.audit.list()] == ["first", "kept"]
    assert gov.audit.verify().ok


def test_concurrent_appends_keep_one_chain(gov: Gov) -> None:
    threads_n, per_thread = 8, 15
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                if i % 3 == 0:
                    with gov.engine.begin() as conn:
                        gov.audit.append_in(
                            conn, actor=f"worker:{n}", action="in.tx", inputs={"i": i}
                        )
                else:
                    gov.audit.append(actor=f"worker:{n}", action="append", inputs={"i": i})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    result = gov.audit.verify()
    assert result.ok, result
    assert result.checked == threads_n * per_thread
    entries = gov.audit.list(limit=10_000)
    assert [e.id for e in entries] == list(range(1, threads_n * per_thread + 1))
    assert len({e.prev_hash for e in entries}) == len(entries)  # no fork


def test_audit_verify_detects_deleted_newest_entries_with_the_anchor(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    anchor = tmp_path / "audit.anchor"
    log = AuditLog(engine, FakeClock(T0), anchor_path=anchor)
    for i in range(5):
        log.append(actor="user:alice", action="thing.done", inputs={"i": i})
    assert log.verify().ok and log.anchor() == (5, log.head().hash)  # type: ignore[union-attr]
    log.append(actor="user:alice", action="thing.done", inputs={"i": 5})
    assert log.record_anchor() == (6, log.head().hash)  # type: ignore[union-attr]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id >= 5"))
    result = log.verify()
    assert not result.ok and result.first_broken_id == 6
    assert "deleted" in (result.reason or "") and "ends at 4" in (result.reason or "")
    # without the anchor the shorter chain looks whole: that is what the anchor is for
    assert AuditLog(engine, FakeClock(T0)).verify().ok
    engine.dispose()
