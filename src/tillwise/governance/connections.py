"""POS connections and their webhook secrets (encrypted at rest, never audited or logged).

A connection is one integration with one POS account: its platform, a name people recognise,
and one or more webhook signing secrets. Several secrets exist only during a rotation: add the
new one (:meth:`Connections.add_secret`), switch the POS over, remove the old one
(:meth:`Connections.remove_secret`); until then deliveries signed with either verify.

The secrets are a JSON list encrypted with the :class:`~tillwise.governance.secrets.SecretBox`
(newest first). Every change is audited in the same transaction, with counts, never values.

:meth:`Connections.secrets_for` is on the webhook hot path, so it is cached in process (LRU,
``cache_ttl`` by the injected clock). Changes made through this instance invalidate the entry
at once; changes made by another process are seen within ``cache_ttl``.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import secrets as _random
import string
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection as DbConnection
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import Row, RowMapping

from tillwise.domain.errors import DomainError
from tillwise.domain.money import exponent
from tillwise.governance.audit import AuditLog
from tillwise.governance.secrets import KnownSecrets, SecretBox, is_sensitive_key
from tillwise.ports.clock import Clock
from tillwise.ports.platform import ConnectionContext, Credentials
from tillwise.store.engine import read_only
from tillwise.store.tables_governance import connections as connections_table

ACTIVE = "active"
REVOKED = "revoked"
ID_PREFIX = "con_"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_ID_LENGTH = 16  # 36**16 ≈ 2**82
MAX_SECRETS = 5
MAX_SECRET_LENGTH = 4096


class UnknownConnection(LookupError):
    code = "unknown_connection"


class ConnectionRevoked(ValueError):
    code = "connection_revoked"


class ConcurrentRotation(RuntimeError):
    """Another process rotated the refresh token first."""

    code = "concurrent_rotation"


def _check_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    out = dict(config)
    if len(json.dumps(out, default=str)) > 16_000:
        raise InvalidConnection("config is larger than 16 kB")
    return out


class InvalidConnection(ValueError):
    """Bad input for a connection (empty name, no secret, too many secrets...)."""

    code = "invalid_connection"


def _check_api_base_url(url: str | None) -> None:
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 500
    ):
        raise InvalidConnection("api_base_url must be an http(s) URL (at most 500 characters)")


@dataclass(frozen=True)
class Connection:
    """A connection as the rest of the system sees it: never with its secrets."""

    id: str
    platform: str
    name: str
    status: str
    created_at: datetime
    updated_at: datetime
    revoked_at: datetime | None
    secret_count: int
    api_base_url: str | None = None  # where write-backs go (the POS's API)
    config: dict[str, Any] = field(default_factory=dict)  # non-secret platform settings
    has_credentials: bool = False  # OAuth tokens stored (never exposed here)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass
class _Cached:
    platform: str | None
    secrets: tuple[str, ...] | None
    fetched_at: datetime


def new_connection_id() -> str:
    return ID_PREFIX + "".join(_random.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def _check_secret(secret: object) -> str:
    if not isinstance(secret, str) or not secret.strip():
        raise InvalidConnection("a secret must be a non-empty string")
    if len(secret) > MAX_SECRET_LENGTH:
        raise InvalidConnection(f"a secret may be at most {MAX_SECRET_LENGTH} characters")
    return secret


class Connections:
    """Create, read, rotate and revoke POS connections on ``engine``."""

    def __init__(
        self,
        engine: Engine,
        secret_box: SecretBox,
        audit: AuditLog,
        clock: Clock,
        *,
        cache_ttl: timedelta = timedelta(seconds=30),
        cache_size: int = 1024,
        known_secrets: KnownSecrets | None = None,
    ) -> None:
        self._engine = engine
        self._box = secret_box
        self._audit = audit
        self._clock = clock
        self._cache_ttl = cache_ttl
        self._cache_size = cache_size
        self._known = known_secrets
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._generation = 0  # bumped on every invalidation: a racing fill must not store

    # ------------------------------------------------------------------ writes

    def create(
        self,
        platform: str,
        name: str,
        secrets: Sequence[str],
        *,
        actor: str,
        api_base_url: str | None = None,
        config: Mapping[str, Any] | None = None,
        credentials: Credentials | None = None,
    ) -> Connection:
        """A new active connection; audited as ``connection.created`` (no secret in it).
        A connection needs a webhook secret, or API credentials (an OAuth install of a platform
        that signs webhooks with an app-level key, or sends none)."""
        _check_api_base_url(api_base_url)
        if not isinstance(platform, str) or not platform.strip() or len(platform) > 32:
            raise InvalidConnection("platform must be 1–32 characters")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidConnection("name must be 1–200 characters")
        if isinstance(secrets, str):
            raise InvalidConnection("secrets must be a list of strings, not one string")
        values = list(dict.fromkeys(_check_secret(s) for s in secrets))
        if not values and credentials is None:
            raise InvalidConnection("a connection needs at least one secret")
        if len(values) > MAX_SECRETS:
            raise InvalidConnection(f"at most {MAX_SECRETS} secrets per connection")
        clean_config = _check_config(config)
        now = self._clock.now()
        conn_id = new_connection_id()
        with self._engine.begin() as db:
            db.execute(
                insert(connections_table).values(
                    id=conn_id,
                    platform=platform,
                    name=name,
                    status=ACTIVE,
                    secrets_encrypted=self._seal(values),
                    created_at=now,
                    updated_at=now,
                    revoked_at=None,
                    api_base_url=api_base_url,
                    config=clean_config,
                    credentials_encrypted=None
                    if credentials is None
                    else self._seal_credentials(credentials),
                )
            )
            self._audit.append_in(
                db,
                actor=actor,
                action="connection.created",
                store=conn_id,
                inputs={
                    "platform": platform,
                    "name": name,
                    "secret_count": len(values),
                    "api_base_url": api_base_url,
                    **({"config": clean_config} if clean_config else {}),
                    **({"credentials": "stored"} if credentials is not None else {}),
                },
                outputs={"id": conn_id, "status": ACTIVE},
            )
        self._remember(values)
        self._invalidate(conn_id)
        return Connection(
            id=conn_id,
            platform=platform,
            name=name,
            status=ACTIVE,
            created_at=now,
            updated_at=now,
            revoked_at=None,
            secret_count=len(values),
            api_base_url=api_base_url,
            config=clean_config,
            has_credentials=credentials is not None,
        )

    # ------------------------------------------------------------------ API credentials

    def credentials_for(self, connection_id: str) -> Credentials | None:
        """The decrypted API credentials of an active connection (None: none stored)."""
        with read_only(self._engine) as db:
            row = db.execute(
                select(connections_table.c.status, connections_table.c.credentials_encrypted).where(
                    connections_table.c.id == connection_id
                )
            ).first()
        if row is None or row.status != ACTIVE or row.credentials_encrypted is None:
            return None
        return self._open_credentials(row.credentials_encrypted)

    def save_credentials(
        self,
        connection_id: str,
        credentials: Credentials,
        *,
        actor: str,
        replaces: str | None = None,
    ) -> None:
        """Store new credentials atomically. ``replaces``: the refresh token they were made
        from — if another process rotated it meanwhile, :class:`ConcurrentRotation` is raised
        and nothing changes (rotating refresh tokens are single-use: the caller reloads)."""
        now = self._clock.now()
        with self._engine.begin() as db:
            row = self._locked_row(db, connection_id)
            if replaces is not None and row.credentials_encrypted is not None:
                current = self._open_credentials(row.credentials_encrypted)
                if current.refresh_token != replaces:
                    raise ConcurrentRotation(
                        f"connection {connection_id}'s refresh token was rotated meanwhile"
                    )
            db.execute(
                update(connections_table)
                .where(connections_table.c.id == connection_id)
                .values(credentials_encrypted=self._seal_credentials(credentials), updated_at=now)
            )
            self._audit.append_in(
                db,
                actor=actor,
                action="connection.credentials_saved",
                store=connection_id,
                inputs={"rotation": replaces is not None},
                outputs={
                    "expires_at": credentials.expires_at,
                    "scopes": list(credentials.scopes),
                },
            )

    def context(self, connection_id: str, app: Mapping[str, str]) -> ConnectionContext:
        """What the connector's API code needs for one connection (credentials decrypted);
        rotated credentials are saved through :meth:`save_credentials`."""
        conn = self.get(connection_id)
        if conn is None or not conn.active:
            raise UnknownConnection(f"no active connection {connection_id!r}")
        credentials = self.credentials_for(connection_id) or Credentials()
        previous = credentials.refresh_token

        async def save(new: Credentials) -> None:
            nonlocal previous
            await asyncio.to_thread(
                self.save_credentials,
                connection_id,
                new,
                actor=f"connector:{connection_id}",
                replaces=previous,
            )
            previous = new.refresh_token

        config = dict(conn.config)
        if conn.api_base_url:
            config.setdefault("api_base_url", conn.api_base_url)
        return ConnectionContext(
            connection_id=connection_id,
            platform=conn.platform,
            config=config,
            credentials=credentials,
            save_credentials=save,
            app=app,
        )

    def _seal_credentials(self, credentials: Credentials) -> bytes:
        doc = {
            "access_token": credentials.access_token,
            "refresh_token": credentials.refresh_token,
            "expires_at": None
            if credentials.expires_at is None
            else credentials.expires_at.isoformat(),
            "refresh_expires_at": None
            if credentials.refresh_expires_at is None
            else credentials.refresh_expires_at.isoformat(),
            "scopes": list(credentials.scopes),
        }
        self._remember([v for v in (credentials.access_token, credentials.refresh_token) if v])
        return self._box.encrypt(json.dumps(doc))

    def _open_credentials(self, blob: bytes) -> Credentials:
        doc = json.loads(self._box.decrypt(bytes(blob)))

        def when(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        creds = Credentials(
            access_token=doc.get("access_token"),
            refresh_token=doc.get("refresh_token"),
            expires_at=when(doc.get("expires_at")),
            refresh_expires_at=when(doc.get("refresh_expires_at")),
            scopes=tuple(doc.get("scopes") or ()),
        )
        self._remember([v for v in (creds.access_token, creds.refresh_token) if v])
        return creds

    def add_secret(self, connection_id: str, secret: str, *, actor: str) -> Connection:
        """Add a secret (newest first) for a rotation; the existing ones stay valid."""
        secret = _check_secret(secret)

        def change(values: builtins.list[str]) -> builtins.list[str]:
            if secret in values:
                return values
            if len(values) >= MAX_SECRETS:
                raise InvalidConnection(
                    f"at most {MAX_SECRETS} secrets per connection: remove an old one first"
                )
            return [secret, *values]

        result = self._change_secrets(connection_id, change, actor, "connection.secret_added")
        self._remember([secret])
        return result

    def remove_secret(self, connection_id: str, secret: str, *, actor: str) -> Connection:
        """Remove a secret (the end of a rotation); the last one cannot be removed."""

        def change(values: builtins.list[str]) -> builtins.list[str]:
            if secret not in values:
                raise InvalidConnection("that secret is not one of this connection's")
            if len(values) == 1:
                raise InvalidConnection(
                    "cannot remove the last secret: add the new one first, or revoke"
                )
            return [v for v in values if v != secret]

        result = self._change_secrets(connection_id, change, actor, "connection.secret_removed")
        if self._known is not None:
            self._known.discard(secret)
        return result

    def configure(
        self, connection_id: str, changes: Mapping[str, Any], *, actor: str
    ) -> Connection:
        """Set (or, with ``None``, remove) keys of a connection's non-secret config, e.g. its
        ``currency``; audited as ``connection.configured`` with the keys and values. A key
        that names a secret (``api_key``, ``client_secret``, ``access_token``…) is refused:
        secrets live encrypted in the connection's secrets/credentials, never in its config."""
        for key in changes:
            if not isinstance(key, str) or not key.strip():
                raise InvalidConnection("config keys must be non-empty strings")
            if is_sensitive_key(key):
                raise InvalidConnection(
                    f"config.{key}: a secret cannot be config (it would be stored in clear)"
                )
        if "currency" in changes and changes["currency"] is not None:
            code = str(changes["currency"]).strip().upper()
            try:
                exponent(code)
            except DomainError:
                raise InvalidConnection(
                    f"config.currency: {code!r} is not an ISO 4217 currency code"
                ) from None
            changes = {**changes, "currency": code}

        def change(row: RowMapping) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
            config = dict(row["config"] or {})
            for key, value in changes.items():
                if value is None:
                    config.pop(key, None)
                else:
                    config[key] = value
            clean = _check_config(config)
            inputs = {"id": connection_id, "changes": dict(changes)}
            return {"config": clean}, inputs, {"config": clean}

        return self._change(
            connection_id, actor=actor, action="connection.configured", change=change
        )

    def set_api_base_url(
        self, connection_id: str, api_base_url: str | None, *, actor: str
    ) -> Connection:
        """Point the connection's approved write-backs at another POS API (``None``: none);
        audited as ``connection.api_changed`` with the URL before and after."""
        _check_api_base_url(api_base_url)
        return self._change(
            connection_id,
            actor=actor,
            action="connection.api_changed",
            change=lambda row: (
                {"api_base_url": api_base_url},
                {"id": connection_id, "api_base_url": api_base_url},
                {"previous": row["api_base_url"]},
            ),
        )

    def _change(
        self,
        connection_id: str,
        *,
        actor: str,
        action: str,
        change: Callable[[RowMapping], tuple[dict[str, Any], dict[str, Any], dict[str, Any]]],
    ) -> Connection:
        """One audited change of a connection's row, under its lock: ``change(row)`` gives the
        columns to set, and the audit entry's inputs and outputs (it may refuse by raising)."""
        now = self._clock.now()
        with self._engine.begin() as db:
            values, inputs, outputs = change(self._locked_row(db, connection_id)._mapping)
            db.execute(
                update(connections_table)
                .where(connections_table.c.id == connection_id)
                .values(**values, updated_at=now)
            )
            self._audit.append_in(
                db, actor=actor, action=action, store=connection_id, inputs=inputs, outputs=outputs
            )
            updated = self._locked_row(db, connection_id)
        self._invalidate(connection_id)
        return self._public(updated)

    def revoke(self, connection_id: str, *, actor: str) -> Connection:
        """Revoke: webhooks for it are refused and its secrets are erased (the webhook secrets
        and the POS's OAuth tokens). Idempotent."""
        now = self._clock.now()
        with self._engine.begin() as db:
            row = self._locked_row(db, connection_id)
            if row.status == REVOKED:
                return self._public(row)
            db.execute(
                update(connections_table)
                .where(connections_table.c.id == connection_id)
                .values(
                    status=REVOKED,
                    revoked_at=now,
                    updated_at=now,
                    secrets_encrypted=self._seal([]),
                    credentials_encrypted=None,
                )
            )
            self._audit.append_in(
                db,
                actor=actor,
                action="connection.revoked",
                store=connection_id,
                inputs={"id": connection_id},
                outputs={"status": REVOKED},
            )
            updated = self._locked_row(db, connection_id)
        self._invalidate(connection_id)
        return self._public(updated, secret_count=0)

    def reencrypt_all(self, *, actor: str) -> int:
        """Re-encrypt every connection's webhook secrets and OAuth credentials under the newest
        key (after a key rotation), all in one transaction: after it the old key can go."""
        count = 0
        c = connections_table.c
        with self._engine.begin() as db:
            rows = db.execute(
                select(c.id, c.secrets_encrypted, c.credentials_encrypted)
                .order_by(c.id)
                .with_for_update()
            ).all()
            for row in rows:
                credentials = row.credentials_encrypted
                db.execute(
                    update(connections_table)
                    .where(c.id == row.id)
                    .values(
                        secrets_encrypted=self._box.rotate(bytes(row.secrets_encrypted)),
                        credentials_encrypted=None
                        if credentials is None
                        else self._box.rotate(bytes(credentials)),
                    )
                )
                count += 1
            self._audit.append_in(
                db,
                actor=actor,
                action="connections.reencrypted",
                inputs={"key_count": self._box.key_count},
                outputs={"connections": count},
            )
        return count

    # ------------------------------------------------------------------ reads

    def get(self, connection_id: str) -> Connection | None:
        if not _plausible_id(connection_id):
            return None
        with read_only(self._engine) as db:
            row = db.execute(
                select(connections_table).where(connections_table.c.id == connection_id)
            ).first()
        return None if row is None else self._public(row)

    def list(self, *, status: str | None = None) -> builtins.list[Connection]:
        query = select(connections_table).order_by(
            connections_table.c.created_at, connections_table.c.id
        )
        if status is not None:
            query = query.where(connections_table.c.status == status)
        with read_only(self._engine) as db:
            return [self._public(row) for row in db.execute(query)]

    def secrets_for(
        self, connection_id: str, *, platform: str | None = None
    ) -> builtins.list[str] | None:
        """The webhook secrets (newest first), or ``None`` if unknown, revoked or (when
        ``platform`` is given) of another platform. Cached: the webhook hot path calls it."""
        if not _plausible_id(connection_id):
            return None
        now = self._clock.now()
        with self._cache_lock:
            cached = self._cache.get(connection_id)
            if cached is not None and now - cached.fetched_at < self._cache_ttl:
                self._cache.move_to_end(connection_id)
                if cached.secrets is None or platform not in (None, cached.platform):
                    return None
                return builtins.list(cached.secrets)
            generation = self._generation
        with read_only(self._engine) as db:
            row = db.execute(
                select(
                    connections_table.c.platform,
                    connections_table.c.status,
                    connections_table.c.secrets_encrypted,
                ).where(connections_table.c.id == connection_id)
            ).first()
        values: tuple[str, ...] | None = None
        if row is not None and row.status == ACTIVE:
            values = tuple(self._open(row.secrets_encrypted)) or None
            if values:
                self._remember(values)
        row_platform = row.platform if row is not None else None
        with self._cache_lock:
            if generation == self._generation:
                self._cache[connection_id] = _Cached(row_platform, values, now)
                self._cache.move_to_end(connection_id)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        if values is None or platform not in (None, row_platform):
            return None
        return builtins.list(values)

    def invalidate_cache(self, connection_id: str | None = None) -> None:
        """Forget cached secrets (one connection, or all)."""
        self._invalidate(connection_id)

    # ------------------------------------------------------------------ helpers

    def _change_secrets(
        self,
        connection_id: str,
        change: Any,
        actor: str,
        action: str,
    ) -> Connection:
        now = self._clock.now()
        with self._engine.begin() as db:
            row = self._locked_row(db, connection_id)
            if row.status != ACTIVE:
                raise ConnectionRevoked(f"connection {connection_id!r} is revoked")
            before = self._open(row.secrets_encrypted)
            after = change(before)
            if after == before:
                return self._public(row, secret_count=len(before))
            db.execute(
                update(connections_table)
                .where(connections_table.c.id == connection_id)
                .values(secrets_encrypted=self._seal(after), updated_at=now)
            )
            self._audit.append_in(
                db,
                actor=actor,
                action=action,
                store=connection_id,
                inputs={"id": connection_id},
                outputs={"secret_count": len(after)},
            )
            updated = self._locked_row(db, connection_id)
        self._invalidate(connection_id)
        return self._public(updated, secret_count=len(after))

    def _locked_row(self, db: DbConnection, connection_id: str) -> Row[Any]:
        row = None
        if _plausible_id(connection_id):
            row = db.execute(
                select(connections_table)
                .where(connections_table.c.id == connection_id)
                .with_for_update()
            ).first()
        if row is None:
            raise UnknownConnection(f"no connection {connection_id!r}")
        return row

    def _seal(self, values: Sequence[str]) -> bytes:
        return self._box.encrypt(json.dumps(list(values)))

    def _open(self, blob: bytes) -> builtins.list[str]:
        values = json.loads(self._box.decrypt(bytes(blob)))
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError("stored connection secrets are not a list of strings")
        return values

    def _public(self, row: Row[Any], *, secret_count: int | None = None) -> Connection:
        m = row._mapping
        if secret_count is None:
            secret_count = len(self._open(m["secrets_encrypted"]))
        return Connection(
            id=m["id"],
            platform=m["platform"],
            name=m["name"],
            status=m["status"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            revoked_at=m["revoked_at"],
            secret_count=secret_count,
            api_base_url=m["api_base_url"],
            config=dict(m["config"] or {}),
            has_credentials=m["credentials_encrypted"] is not None,
        )

    def _remember(self, values: Sequence[str]) -> None:
        if self._known is not None:
            for value in values:
                self._known.add(value)

    def _invalidate(self, connection_id: str | None) -> None:
        with self._cache_lock:
            self._generation += 1
            if connection_id is None:
                self._cache.clear()
            else:
                self._cache.pop(connection_id, None)


def _plausible_id(connection_id: object) -> bool:
    return isinstance(connection_id, str) and 0 < len(connection_id) <= 64
