"""People: users with a role and a store scope, their dashboard sessions, and regions.

* Passwords are hashed with argon2id (:mod:`argon2`, OWASP's first choice); a login for an
  unknown or disabled user still verifies against a dummy hash, so timing tells nothing.
* A session is a random 256-bit cookie value; only its SHA-256 is stored (the same reasoning
  as for API tokens). Sessions expire after ``idle`` without use and after ``absolute`` in any
  case; disabling a user ends its sessions. Each session has a CSRF token that unsafe requests
  must echo in ``X-CSRF-Token`` (checked in the API's auth dependency).
* A user's store scope is its stores plus the stores of its regions, resolved at every request
  so a region change applies at once.

Every change (user added, role or scope changed, disabled, password set, login, logout) is
audited; passwords and session secrets never are.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets as _random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.engine import Row

from tillwise.governance.audit import AuditLog
from tillwise.governance.principal import Principal, permissions_of, scope_for
from tillwise.governance.rbac import ROLES
from tillwise.ports.clock import Clock
from tillwise.store.engine import read_only
from tillwise.store.tables_governance import regions, sessions, users

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,99}$")
_STORE = re.compile(r"^[^:\s]{1,64}:\S{1,255}$")
_REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
MIN_PASSWORD = 12
SESSION_IDLE = timedelta(hours=12)
SESSION_ABSOLUTE = timedelta(days=7)
_TOUCH_RESOLUTION = timedelta(minutes=1)


class InvalidUser(ValueError):
    code = "invalid_user"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class UnknownUser(LookupError):
    code = "unknown_user"


class TooManyAttempts(Exception):
    """Too many failed logins for one username in the window (kept in process memory)."""

    code = "too_many_attempts"

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many failed logins for this user; try again later")
        self.retry_after = retry_after


@dataclass(frozen=True)
class User:
    """A user without its password hash."""

    id: str
    username: str
    display_name: str
    role: str
    stores: tuple[str, ...]
    regions: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None
    last_login_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class NewSession:
    """What a login returns: the cookie value (shown once) and the CSRF token."""

    token: str
    csrf_token: str
    expires_at: datetime
    user: User


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def check_store(value: str, field: str = "stores") -> str:
    if not isinstance(value, str) or not _STORE.match(value):
        raise InvalidUser(
            f"store {value!r} is not '<connection_id>:<location_external_id>'", field=field
        )
    return value


def _clean_stores(values: Iterable[str] | None, field: str = "stores") -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        raise InvalidUser("give a list of stores, not one string", field=field)
    return sorted({check_store(v, field) for v in values})


def _clean_regions(values: Iterable[str] | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        raise InvalidUser("give a list of regions, not one string", field="regions")
    out = set()
    for v in values:
        if not isinstance(v, str) or not _REGION.match(v):
            raise InvalidUser(f"region name {v!r} is not valid", field="regions")
        out.add(v)
    return sorted(out)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidUser(f"unknown role {role!r}; known: {', '.join(ROLES)}", field="role")
    return role


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidUser(
            f"the password must have at least {MIN_PASSWORD} characters", field="password"
        )
    if len(password) > 1024:
        raise InvalidUser("the password is longer than 1024 characters", field="password")
    return password


def _user(row: Row[Any]) -> User:
    m = row._mapping
    return User(
        id=m["id"],
        username=m["username"],
        display_name=m["display_name"],
        role=m["role"],
        stores=tuple(m["stores"] or ()),
        regions=tuple(m["regions"] or ()),
        created_at=m["created_at"],
        disabled_at=m["disabled_at"],
        last_login_at=m["last_login_at"],
    )


class Users:
    """Users, sessions and regions on ``engine`` (the durable governance engine)."""

    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        clock: Clock,
        *,
        hasher: PasswordHasher | None = None,
        idle: timedelta = SESSION_IDLE,
        absolute: timedelta = SESSION_ABSOLUTE,
        max_failures: int = 5,
        failure_window: timedelta = timedelta(minutes=15),
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash = self._hasher.hash(_random.token_urlsafe(16))
        self._idle = idle
        self._absolute = absolute
        self._max_failures = max_failures
        self._failure_window = failure_window
        self._failures: dict[str, list[datetime]] = {}

    # ------------------------------------------------------------------ users

    def add(
        self,
        username: str,
        password: str,
        *,
        role: str,
        actor: str,
        display_name: str | None = None,
        stores: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
    ) -> User:
        """A new active user; audited as ``user.added`` (never with the password)."""
        name = (username or "").strip().lower()
        if not _USERNAME.match(name):
            raise InvalidUser(
                "username: 1–100 of a-z 0-9 . _ @ -, starting with a letter or digit",
                field="username",
            )
        _check_role(role)
        _check_password(password)
        clean_stores = _clean_stores(stores)
        clean_regions = _clean_regions(regions)
        if ROLES[role].scoped and not clean_stores and not clean_regions:
            raise InvalidUser(
                f"role {role!r} is store-scoped: give the user's stores or regions",
                field="stores",
            )
        now = self._clock.now()
        user_id = f"usr_{_random.token_hex(8)}"
        with self._engine.begin() as db:
            taken = db.execute(select(users.c.id).where(users.c.username == name)).first()
            if taken is not None:
                raise InvalidUser(f"username {name!r} is taken", field="username")
            db.execute(
                insert(users).values(
                    id=user_id,
                    username=name,
                    display_name=(display_name or name).strip()[:200] or name,
                    password_hash=self._hasher.hash(password),
                    role=role,
                    stores=clean_stores,
                    regions=clean_regions,
                    created_at=now,
                    updated_at=now,
                    disabled_at=None,
                    last_login_at=None,
                )
            )
            self._audit.append_in(
                db,
                actor=actor,
                action="user.added",
                inputs={
                    "username": name,
                    "role": role,
                    "stores": clean_stores,
                    "regions": clean_regions,
                },
                outputs={"id": user_id},
            )
            row = db.execute(select(users).where(users.c.id == user_id)).one()
        return _user(row)

    def update(
        self,
        user_id: str,
        *,
        actor: str,
        role: str | None = None,
        stores: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
        display_name: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Change a user's role, scope, name or disabled state; audited as ``user.updated``
        with the before and after. Disabling ends the user's sessions."""
        now = self._clock.now()
        with self._engine.begin() as db:
            row = db.execute(select(users).where(users.c.id == user_id).with_for_update()).first()
            if row is None:
                raise UnknownUser(f"no user {user_id!r}")
            before = _user(row)
            values: dict[str, Any] = {}
            if role is not None:
                values["role"] = _check_role(role)
            if stores is not None:
                values["stores"] = _clean_stores(stores)
            if regions is not None:
                values["regions"] = _clean_regions(regions)
            if display_name is not None:
                if not display_name.strip() or len(display_name) > 200:
                    raise InvalidUser("display name: 1–200 characters", field="display_name")
                values["display_name"] = display_name.strip()
            if disabled is not None:
                values["disabled_at"] = (before.disabled_at or now) if disabled else None
            new_role = values.get("role", before.role)
            new_stores = values.get("stores", list(before.stores))
            new_regions = values.get("regions", list(before.regions))
            if ROLES[new_role].scoped and not new_stores and not new_regions:
                raise InvalidUser(
                    f"role {new_role!r} is store-scoped: give the user's stores or regions",
                    field="stores",
                )
            if not values:
                return before
            values["updated_at"] = now
            db.execute(update(users).where(users.c.id == user_id).values(**values))
            if values.get("disabled_at") is not None:
                db.execute(
                    update(sessions)
                    .where(sessions.c.user_id == user_id)
                    .where(sessions.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
            after = _user(db.execute(select(users).where(users.c.id == user_id)).one())
            self._audit.append_in(
                db,
                actor=actor,
                action="user.disabled" if disabled else "user.updated",
                inputs={"id": user_id, "before": _public(before)},
                outputs={"after": _public(after)},
            )
        return after

    def set_password(self, user_id: str, password: str, *, actor: str) -> None:
        _check_password(password)
        now = self._clock.now()
        with self._engine.begin() as db:
            done = db.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(password_hash=self._hasher.hash(password), updated_at=now)
            )
            if done.rowcount == 0:
                raise UnknownUser(f"no user {user_id!r}")
            db.execute(  # a new password ends every other session
                update(sessions)
                .where(sessions.c.user_id == user_id)
                .where(sessions.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            self._audit.append_in(
                db, actor=actor, action="user.password_set", inputs={"id": user_id}
            )

    def get(self, user_id: str) -> User | None:
        with read_only(self._engine) as db:
            row = db.execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else _user(row)

    def by_username(self, username: str) -> User | None:
        with read_only(self._engine) as db:
            row = db.execute(
                select(users).where(users.c.username == (username or "").strip().lower())
            ).first()
        return None if row is None else _user(row)

    def list(self, *, include_disabled: bool = True) -> builtins.list[User]:
        query = select(users).order_by(users.c.username)
        if not include_disabled:
            query = query.where(users.c.disabled_at.is_(None))
        with read_only(self._engine) as db:
            return [_user(row) for row in db.execute(query)]

    def count(self) -> int:
        with read_only(self._engine) as db:
            return int(db.execute(select(func.count()).select_from(users)).scalar_one())

    # ------------------------------------------------------------------ sessions

    def login(self, username: str, password: str) -> NewSession | None:
        """A new session for the right password of an active user, else ``None`` (unknown
        user, wrong password and disabled user are indistinguishable, in answer and timing).
        Audited as ``user.login`` / ``user.login_failed``. After ``max_failures`` failures for
        one username within ``failure_window``, raises :class:`TooManyAttempts` without
        checking the password."""
        name = (username or "").strip().lower()
        now = self._clock.now()
        recent = [t for t in self._failures.get(name, []) if now - t < self._failure_window]
        if len(recent) >= self._max_failures:
            wait = self._failure_window - (now - recent[0])
            raise TooManyAttempts(wait.total_seconds())
        with read_only(self._engine) as db:
            row = db.execute(select(users).where(users.c.username == name)).first()
        stored = row.password_hash if row is not None else self._dummy_hash
        try:
            ok: bool = self._hasher.verify(stored, password or "")
        except (VerificationError, InvalidHashError):
            ok = False
        if row is None or not ok or row.disabled_at is not None:
            recent.append(now)
            self._failures[name[:100]] = recent
            if len(self._failures) > 10_000:  # bounded: forget the oldest usernames
                self._failures.pop(next(iter(self._failures)))
            self._audit.append(
                actor="anonymous",
                action="user.login_failed",
                inputs={"username": name[:100]},
            )
            return None
        self._failures.pop(name, None)
        token = _random.token_urlsafe(32)
        csrf = _random.token_urlsafe(32)
        expires_at = now + self._absolute
        with self._engine.begin() as db:
            db.execute(
                insert(sessions).values(
                    id=_hash(token),
                    user_id=row.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=expires_at,
                    last_seen_at=now,
                    revoked_at=None,
                )
            )
            values: dict[str, Any] = {"last_login_at": now}
            if self._hasher.check_needs_rehash(row.password_hash):
                values["password_hash"] = self._hasher.hash(password)
            db.execute(update(users).where(users.c.id == row.id).values(**values))
            self._audit.append_in(
                db, actor=f"user:{row.id}", action="user.login", inputs={"username": name}
            )
            user = _user(db.execute(select(users).where(users.c.id == row.id)).one())
        return NewSession(token=token, csrf_token=csrf, expires_at=expires_at, user=user)

    def logout(self, token: str) -> None:
        now = self._clock.now()
        with self._engine.begin() as db:
            row = db.execute(
                select(sessions.c.user_id).where(sessions.c.id == _hash(token or ""))
            ).first()
            if row is None:
                return
            db.execute(
                update(sessions)
                .where(sessions.c.id == _hash(token))
                .where(sessions.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            self._audit.append_in(db, actor=f"user:{row.user_id}", action="user.logout")

    def authenticate_session(self, token: str) -> Principal | None:
        """The principal of a live session of an active user, or ``None``."""
        if not token or len(token) > 100:
            return None
        now = self._clock.now()
        with read_only(self._engine) as db:
            row = db.execute(
                select(sessions, users.c.role, users.c.stores, users.c.regions)
                .add_columns(users.c.username, users.c.display_name, users.c.disabled_at)
                .join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.id == _hash(token))
            ).first()
            if row is None:
                return None
            m = row._mapping
            if (
                m["revoked_at"] is not None
                or m["disabled_at"] is not None
                or now >= m["expires_at"]
                or now - m["last_seen_at"] >= self._idle
            ):
                return None
            stores = set(m["stores"] or ())
            if m["regions"]:
                stores |= set(self._stores_in(db, m["regions"]))
        if now - m["last_seen_at"] >= _TOUCH_RESOLUTION:
            with self._engine.begin() as db:
                db.execute(
                    update(sessions).where(sessions.c.id == m["id"]).values(last_seen_at=now)
                )
        role = m["role"]
        return Principal(
            kind="user",
            id=m["user_id"],
            role=role,
            name=m["display_name"],
            permissions=permissions_of(role, None),
            stores=scope_for(role, stores),
            csrf_token=m["csrf_token"],
        )

    def prune_sessions(self) -> int:
        """Delete sessions that can no longer be used; returns how many."""
        now = self._clock.now()
        with self._engine.begin() as db:
            done = db.execute(
                delete(sessions).where(
                    (sessions.c.expires_at <= now)
                    | (sessions.c.last_seen_at <= now - self._idle)
                    | sessions.c.revoked_at.is_not(None)
                )
            )
        return int(done.rowcount or 0)

    # ------------------------------------------------------------------ regions

    def set_region(self, name: str, stores: Sequence[str], *, actor: str) -> builtins.list[str]:
        """Make region ``name`` hold exactly ``stores`` (empty: delete it). Audited."""
        (clean_name,) = _clean_regions([name])
        clean = _clean_stores(stores)
        with self._engine.begin() as db:
            before = sorted(
                db.execute(select(regions.c.store).where(regions.c.name == clean_name)).scalars()
            )
            if before == clean:
                return clean
            db.execute(delete(regions).where(regions.c.name == clean_name))
            if clean:
                db.execute(insert(regions), [{"name": clean_name, "store": s} for s in clean])
            self._audit.append_in(
                db,
                actor=actor,
                action="region.set",
                inputs={"name": clean_name, "before": before},
                outputs={"stores": clean},
            )
        return clean

    def regions(self) -> dict[str, builtins.list[str]]:
        out: dict[str, builtins.list[str]] = {}
        with read_only(self._engine) as db:
            for name, store in db.execute(
                select(regions.c.name, regions.c.store).order_by(regions.c.name, regions.c.store)
            ):
                out.setdefault(name, []).append(store)
        return out

    @staticmethod
    def _stores_in(db: Any, names: Sequence[str]) -> builtins.list[str]:
        return list(db.execute(select(regions.c.store).where(regions.c.name.in_(names))).scalars())


def _public(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "stores": list(user.stores),
        "regions": list(user.regions),
        "disabled": user.disabled_at is not None,
    }


def same_secret(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two optional strings (CSRF tokens)."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
