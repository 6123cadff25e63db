"""API bearer tokens for machines: ``tw_<id>_<secret>``, shown once, stored as a hash.

The secret part is 32 bytes from :mod:`secrets` (url-safe base64). Only
``sha256(secret).hexdigest()`` is stored. A fast, unsalted hash is the right tool here: slow
password hashes (argon2, bcrypt) and salts exist to stop guessing of *low-entropy* human
passwords and precomputed tables; a uniformly random 256-bit secret cannot be guessed or
tabled at any hash speed, so a slow hash would only cost every API request tens of
milliseconds of CPU and hand attackers a denial-of-service lever. The ``<id>`` part selects
the row, and the hashes are compared with :func:`hmac.compare_digest`.

``last_used_at`` is written at most once a minute per token, so authenticating is
normally read-only.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.engine import Row

from tillwise.governance.audit import AuditLog
from tillwise.governance.principal import Principal, permissions_of, scope_for
from tillwise.governance.rbac import ROLES, validate_scopes
from tillwise.governance.users import InvalidUser, check_store
from tillwise.ports.clock import Clock
from tillwise.store.engine import read_only
from tillwise.store.tables_governance import api_tokens

PREFIX = "tw"
_ID_HEX = 16  # 8 random bytes as hex: no "_" so the token splits unambiguously
_TOKEN = re.compile(r"^tw_([0-9a-f]{16})_([A-Za-z0-9_\-]{43})$")
LAST_USED_RESOLUTION = timedelta(minutes=1)


class UnknownToken(LookupError):
    code = "unknown_token"


class InvalidToken(ValueError):
    code = "invalid_token_request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


@dataclass(frozen=True)
class TokenInfo:
    """A token without its secret."""

    id: str
    name: str
    role: str
    scopes: tuple[str, ...] | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    stores: tuple[str, ...] | None = None  # store scope (scoped roles); None: every store

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_token(plaintext: str) -> tuple[str, str] | None:
    """``(id, secret)`` from ``tw_<id>_<secret>``, or ``None`` if it is not that shape."""
    if not isinstance(plaintext, str):
        return None
    match = _TOKEN.match(plaintext.strip())
    return None if match is None else (match.group(1), match.group(2))


def _principal(info: TokenInfo) -> Principal:
    return Principal(
        kind="token",
        id=info.id,
        role=info.role,
        name=info.name,
        scopes=info.scopes,
        permissions=permissions_of(info.role, info.scopes),
        stores=scope_for(info.role, info.stores),
    )


def _info(row: Row[Any]) -> TokenInfo:
    m = row._mapping
    scopes = m["scopes"]
    return TokenInfo(
        id=m["id"],
        name=m["name"],
        role=m["role"],
        scopes=None if scopes is None else tuple(scopes),
        created_by=m["created_by"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
        stores=None if m["stores"] is None else tuple(m["stores"]),
    )


class Tokens:
    """Create, authenticate, list and revoke API tokens on ``engine``."""

    def __init__(self, engine: Engine, audit: AuditLog, clock: Clock) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock

    def create(
        self,
        role: str,
        *,
        name: str,
        actor: str,
        expires_in: timedelta | None = None,
        scopes: builtins.list[str] | tuple[str, ...] | None = None,
        stores: builtins.list[str] | tuple[str, ...] | None = None,
    ) -> tuple[TokenInfo, str]:
        """A new token and its plaintext (shown once). Audited as ``token.created``."""
        if role not in ROLES:
            raise InvalidToken(
                f"unknown role {role!r}; known: {', '.join(sorted(ROLES))}", field="role"
            )
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidToken("name must be 1–200 characters", field="name")
        if expires_in is not None and expires_in <= timedelta(0):
            raise InvalidToken("expires_in must be positive")
        try:
            clean_scopes = None if scopes is None else validate_scopes(scopes)
        except ValueError as exc:
            raise InvalidToken(str(exc), field="scopes") from None
        try:  # store keys as a user's are checked
            clean_stores = (
                None if stores is None else tuple(sorted({check_store(s) for s in stores}))
            )
        except InvalidUser as exc:
            raise InvalidToken(exc.detail, field="stores") from None
        if ROLES[role].scoped and not clean_stores:
            raise InvalidToken(
                f"role {role!r} is store-scoped: give the token's stores", field="stores"
            )
        token_id = _random.token_hex(_ID_HEX // 2)
        secret = _random.token_urlsafe(32)  # 43 characters
        plaintext = f"{PREFIX}_{token_id}_{secret}"
        now = self._clock.now()
        expires_at = None if expires_in is None else now + expires_in
        with self._engine.begin() as db:
            db.execute(
                insert(api_tokens).values(
                    id=token_id,
                    name=name,
                    role=role,
                    scopes=None if clean_scopes is None else list(clean_scopes),
                    token_hash=hash_secret(secret),
                    created_by=actor,
                    created_at=now,
                    expires_at=expires_at,
                    revoked_at=None,
                    last_used_at=None,
                    stores=None if clean_stores is None else list(clean_stores),
                )
            )
            self._audit.append_in(
                db,
                actor=actor,
                action="token.created",
                inputs={
                    "role": role,
                    "name": name,
                    "scopes": None if clean_scopes is None else list(clean_scopes),
                    "stores": None if clean_stores is None else list(clean_stores),
                    "expires_in_seconds": None
                    if expires_in is None
                    else int(expires_in.total_seconds()),
                },
                outputs={"id": token_id, "expires_at": expires_at},
            )
        info = TokenInfo(
            id=token_id,
            name=name,
            role=role,
            scopes=clean_scopes,
            created_by=actor,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
            last_used_at=None,
            stores=clean_stores,
        )
        return info, plaintext

    def authenticate(self, plaintext: str) -> Principal | None:
        """The principal for a presented token, or ``None`` if it is malformed, unknown, has
        the wrong secret, is expired or revoked (deliberately indistinguishable)."""
        parsed = parse_token(plaintext)
        if parsed is None:
            return None
        token_id, secret = parsed
        presented = hash_secret(secret)
        with read_only(self._engine) as db:
            row = db.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None:
            hmac.compare_digest(presented, presented)  # similar work on the unknown-id path
            return None
        if not hmac.compare_digest(presented, row.token_hash):
            return None
        info = _info(row)
        now = self._clock.now()
        if not info.is_active(now):
            return None
        if info.last_used_at is None or now - info.last_used_at >= LAST_USED_RESOLUTION:
            self._touch(token_id, now)
        return _principal(info)

    def _touch(self, token_id: str, now: datetime) -> None:
        with self._engine.begin() as db:
            db.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id)
                .where(
                    or_(
                        api_tokens.c.last_used_at.is_(None),
                        api_tokens.c.last_used_at <= now - LAST_USED_RESOLUTION,
                    )
                )
                .values(last_used_at=now)
            )

    def revoke(self, token_id: str, *, actor: str) -> TokenInfo:
        """Revoke a token (idempotent; audited once as ``token.revoked``)."""
        now = self._clock.now()
        with self._engine.begin() as db:
            row = db.execute(
                select(api_tokens).where(api_tokens.c.id == token_id).with_for_update()
            ).first()
            if row is None:
                raise UnknownToken(f"no token {token_id!r}")
            if row.revoked_at is not None:
                return _info(row)
            db.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now))
            self._audit.append_in(
                db,
                actor=actor,
                action="token.revoked",
                inputs={"id": token_id},
                outputs={"revoked_at": now},
            )
            row = db.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
        return _info(row)

    def get(self, token_id: str) -> TokenInfo | None:
        with read_only(self._engine) as db:
            row = db.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        return None if row is None else _info(row)

    def list(self, *, include_revoked: bool = True) -> builtins.list[TokenInfo]:
        query = select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
        if not include_revoked:
            query = query.where(api_tokens.c.revoked_at.is_(None))
        with read_only(self._engine) as db:
            return [_info(row) for row in db.execute(query)]
