"""Engine and session factory from a database URL; SQLite gets WAL, foreign keys and a sync level.

``durable=True`` (the default) makes every SQLite commit fsync the WAL before it returns
(``synchronous=FULL``): what the inbox and governance need, since a 2xx or an audit entry must
survive a power cut. Data the pipeline derives from the inbox (canonical records, events, bus
leases) may use ``durable=False`` (``synchronous=NORMAL``: safe against a process crash; a power
cut can lose the newest commits, but never out of order, and they are rebuilt from the inbox).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# One writer at a time per SQLite file in this process, queued on a lock rather than on
# SQLite's busy handler (which sleeps in steps of up to 100 ms while another thread commits).
_WRITE_LOCKS: dict[str, _WriteLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


# Execution option for connections that only read: they skip the write lock (WAL readers never
# block writers nor wait for them).
READ_ONLY = "tillwise_read_only"


class NestedWriteTransaction(RuntimeError):
    """A thread asked for a second write transaction on a SQLite file while its first is open."""


class _WriteLock:
    """The per-file writer lock; a thread that already holds it gets an error, not a hang."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def acquire(self) -> None:
        if self._owner == threading.get_ident():
            raise NestedWriteTransaction(
                "this thread already has a write transaction open on this SQLite file; a second "
                "one would wait for itself forever: finish the first, or read with READ_ONLY"
            )
        self._lock.acquire()
        self._owner = threading.get_ident()

    def release(self) -> None:
        self._owner = None
        self._lock.release()


def _write_lock(path: str) -> _WriteLock:
    key = str(Path(path).resolve()) if path and path != ":memory:" else f":memory:{id(path)}"
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, _WriteLock())


class _SerializedConnection(sqlite3.Connection):
    """A sqlite3 connection that gives the file's write lock back when its transaction ends."""

    write_lock: _WriteLock
    holding = False

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.release_write_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.release_write_lock()

    def release_write_lock(self) -> None:
        if self.holding:
            self.holding = False
            self.write_lock.release()


def make_engine(url: str, *, durable: bool = True, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        lock = _write_lock(path)
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": 30,
                "factory": _SerializedConnection,
            },
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
            dbapi_conn.isolation_level = None
            dbapi_conn.write_lock = lock
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # IMMEDIATE takes SQLite's write lock up front: no deadlock upgrading a read to a
            # write. Threads of this process queue on the Python lock first (fair, no sleeping);
            # other processes still meet busy_timeout.
            dbapi_conn = conn.connection.dbapi_connection
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")  # a WAL reader: no lock, sees the last commit
                return
            lock.acquire()
            dbapi_conn.holding = True
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                dbapi_conn.release_write_lock()
                raise

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def read_only(engine: Engine) -> Connection:
    """A connection for reading only: on SQLite it takes no write lock (a WAL reader sees the
    last commit and never waits for writers). Use it as ``with read_only(engine) as conn:``."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
