"""SQLite writers of one process queue on a lock per file; misuse fails loudly, never hangs."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from tillwise.store.engine import NestedWriteTransaction, make_engine, read_only


def test_a_nested_write_transaction_in_one_thread_is_an_error_not_a_hang(sqlite_url: str) -> None:
    durable, work = make_engine(sqlite_url), make_engine(sqlite_url, durable=False)
    try:
        with durable.begin():
            with pytest.raises(NestedWriteTransaction), work.begin():
                pass
            # a read-only connection may still look while the write is open
            with read_only(work) as conn:
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
        with work.begin() as conn:  # the lock was given back
            conn.execute(text("SELECT 1"))
    finally:
        durable.dispose()
        work.dispose()


def test_writers_in_two_threads_take_turns(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))

    def bump() -> None:
        for _ in range(50):
            with engine.begin() as conn:
                n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 200
    engine.dispose()
