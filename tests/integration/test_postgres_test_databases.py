"""The test suite's own PostgreSQL hygiene: what a killed run left on the server is dropped by
the next run, and what a run still going uses is not (a developer's server, or CI's, would
otherwise fill up with ``tw_*`` databases)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import text

from tests.conftest import _drop_orphans, _postgres_admin, service_url

pytestmark = pytest.mark.postgres


def test_a_killed_runs_databases_are_dropped_and_a_live_runs_are_kept() -> None:
    admin = _postgres_admin(service_url("TILLWISE_TEST_POSTGRES_URL", "PostgreSQL"))
    dead, live = secrets.randbits(62), secrets.randbits(62)
    names = {key: f"tw_{key}_{kind}" for key, kind in ((dead, "template"), (live, "0a1b2c3d4e5f"))}
    try:
        with admin.connect() as other, admin.connect() as conn:
            other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": live})  # a run still going
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            conn.execute(text(f'CREATE SCHEMA "tw_{dead}_schema"'))

            _drop_orphans(conn)

            left = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
            schemas = set(conn.execute(text("SELECT nspname FROM pg_namespace")).scalars())
            assert names[dead] not in left and f"tw_{dead}_schema" not in schemas
            assert names[live] in left
            # the dead run's lock was only borrowed: nothing of this connection's is held
            held = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                )
            ).scalar()
            assert held == 0
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "tw_{dead}_schema" CASCADE'))
        admin.dispose()
