"""Shared fixtures: a fresh migrated SQLite database per test, and the real services when
configured.

Service tests read ``TILLWISE_TEST_POSTGRES_URL`` / ``TILLWISE_TEST_NATS_URL``. Without them they
skip with a reason — unless ``TILLWISE_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, make_url, text

from tillwise.store.engine import make_engine
from tillwise.store.migrate import upgrade

REQUIRE_SERVICES = os.environ.get("TILLWISE_REQUIRE_SERVICES") == "1"


def service_url(var: str, what: str) -> str:
    """The URL of a required local service, or skip (fail in CI) with a clear reason."""
    url = os.environ.get(var)
    if not url:
        msg = f"{what} not configured: set {var} to run this test"
        if REQUIRE_SERVICES:
            pytest.fail(msg + " (TILLWISE_REQUIRE_SERVICES=1)")
        pytest.skip(msg)
    return url


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database migrated to head for the session, copied for each test (a migration
    run costs about a third of a second; a copy, next to nothing)."""
    path = tmp_path_factory.mktemp("migrated") / "tillwise.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, _migrated_sqlite: Path) -> str:
    """A fresh database migrated to head, this test's own."""
    target = tmp_path / "tillwise.db"
    for suffix in ("", "-wal", "-shm"):  # the WAL is checkpointed on close; copied if it is not
        source = _migrated_sqlite.with_name(_migrated_sqlite.name + suffix)
        if source.exists():
            shutil.copyfile(source, target.with_name(target.name + suffix))
    return f"sqlite:///{target}"


def _postgres_admin(base: str) -> Engine:
    """An autocommit engine on the configured database (CREATE/DROP DATABASE need one); skips
    (fails in CI) when the service is down."""
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except Exception as exc:  # service down
        admin.dispose()
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL at {base} unavailable: {exc}")
        pytest.skip(f"PostgreSQL at {base} unavailable: {exc}")
    return admin


ORPHAN = re.compile(r"tw_(\d+)_\w+")  # what a test run names its databases and schemas


def _drop_orphans(conn: Connection) -> None:
    """Drop what killed test runs left on the server: each run names its databases (schemas
    without CREATEDB) ``tw_<key>_…`` and holds the advisory lock ``<key>`` while it lives, so a
    name whose lock is free is an orphan — never another run's that is still going."""
    names = [
        *((n, "DATABASE") for n in conn.execute(text("SELECT datname FROM pg_database")).scalars()),
        *((n, "SCHEMA") for n in conn.execute(text("SELECT nspname FROM pg_namespace")).scalars()),
    ]
    for name, what in names:
        m = ORPHAN.fullmatch(name)
        if m is None:
            continue
        key = int(m.group(1))
        if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            try:
                tail = " WITH (FORCE)" if what == "DATABASE" else " CASCADE"
                conn.execute(text(f'DROP {what} IF EXISTS "{name}"{tail}'))
            except Exception:  # not ours to drop (another role's): left alone
                pass
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


@dataclass(frozen=True)
class _PostgresRun:
    key: int  # this run's advisory lock, held for the session; its names start tw_<key>_
    template: str | None  # a database migrated to head to copy, None without CREATEDB


@pytest.fixture(scope="session")
def _postgres_run() -> Iterator[_PostgresRun]:
    """This run's claim on the server (see :func:`_drop_orphans`, run first) and one database
    migrated to head for the session, the template each test's database is created from (a
    migration run costs about a second; a copy, a twentieth of that). No template when the
    configured role may not create databases: each test then migrates a schema of its own."""
    base = service_url("TILLWISE_TEST_POSTGRES_URL", "PostgreSQL")
    admin = _postgres_admin(base)
    key = secrets.randbits(62)
    with admin.connect() as held:
        held.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        _drop_orphans(held)
        name = f"tw_{key}_template"
        try:
            held.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception:  # no CREATEDB: a schema per test instead
            yield _PostgresRun(key, None)
            admin.dispose()
            return
        try:
            upgrade(make_url(base).set(database=name).render_as_string(hide_password=False))
            yield _PostgresRun(key, name)
        finally:
            held.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_url(_postgres_run: _PostgresRun) -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head, this test's own (dropped afterwards): a
    copy of the session's template, or a schema migrated for it."""
    base = service_url("TILLWISE_TEST_POSTGRES_URL", "PostgreSQL")
    admin = _postgres_admin(base)
    name = f"tw_{_postgres_run.key}_{uuid.uuid4().hex[:12]}"
    try:
        if _postgres_run.template is not None:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_postgres_run.template}"'))
            yield make_url(base).set(database=name).render_as_string(hide_password=False)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        else:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{name}"'))
            sep = "&" if "?" in base else "?"
            url = f"{base}{sep}options=-csearch_path%3D{name}"
            upgrade(url)
            yield url
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over both databases (contract tests)."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)


@pytest.fixture
def nats_url() -> str:
    return service_url("TILLWISE_TEST_NATS_URL", "NATS JetStream")
