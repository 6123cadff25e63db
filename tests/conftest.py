"""Shared fixtures: a fresh migrated SQLite database per test, and the real services when
configured.

Service tests read ``TILLWISE_TEST_POSTGRES_URL`` / ``TILLWISE_TEST_NATS_URL``. Without them they
skip with a reason — unless ``TILLWISE_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text

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


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str | None]:
    """One database migrated to head for the session, the template each test's database is
    created from (a migration run costs about a second; a copy, a twentieth of that). None when
    the configured role may not create databases: each test then migrates a schema of its own."""
    base = service_url("TILLWISE_TEST_POSTGRES_URL", "PostgreSQL")
    admin = _postgres_admin(base)
    name = f"tw_template_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:  # no CREATEDB: a schema per test instead
        admin.dispose()
        yield None
        return
    try:
        upgrade(make_url(base).set(database=name).render_as_string(hide_password=False))
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(_postgres_template: str | None) -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head, this test's own (dropped afterwards): a
    copy of the session's template, or a schema migrated for it."""
    base = service_url("TILLWISE_TEST_POSTGRES_URL", "PostgreSQL")
    admin = _postgres_admin(base)
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        if _postgres_template is not None:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_postgres_template}"'))
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
