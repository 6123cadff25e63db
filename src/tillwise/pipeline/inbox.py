"""SqlInbox: raw deliveries stored durably before the 2xx, with group commit.

Every :meth:`SqlInbox.accept` hands its delivery to one writer thread and awaits a future. The
writer gathers requests for up to ``window_ms`` (or ``max_batch`` of them), stores the whole
batch in ONE transaction — the inbox row plus, for a new delivery, an outbox row queueing it on
the ``deliveries`` topic — commits, and only then resolves the futures. The commit is durable
(SQLite ``synchronous=FULL`` fsyncs the WAL; PostgreSQL ``synchronous_commit=on`` flushes it), so
one fsync covers a whole batch of webhooks and each 2xx still means "stored".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select

from tillwise.pipeline import as_utc
from tillwise.ports.clock import Clock
from tillwise.ports.inbox import AcceptResult, RawDelivery, StoredDelivery, check_key
from tillwise.store.engine import read_only
from tillwise.store.tables import outbox
from tillwise.store.tables_pipeline import inbox

log = logging.getLogger(__name__)

DELIVERIES_TOPIC = "deliveries"


@dataclass
class _Request:
    delivery: RawDelivery
    future: asyncio.Future[AcceptResult]
    loop: asyncio.AbstractEventLoop


_STOP = object()


class InboxClosed(RuntimeError):
    pass


class SqlInbox:
    def __init__(
        self,
        engine: Engine,
        *,
        outbox_notify: Callable[[], None] | None = None,
        window_ms: float = 2.0,
        max_batch: int = 256,
        clock: Clock,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._engine = engine
        self._notify = outbox_notify
        self._window = max(window_ms, 0.0) / 1000.0
        self._max_batch = max_batch
        self._clock = clock
        self._queue: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._sql = _BatchSql(engine)
        # Observability (and the tests' proof that requests were grouped).
        self.batches = 0  # committed transactions
        self.accepted = 0  # requests answered (new or duplicate)

    # -- the port -------------------------------------------------------------------------

    async def accept(self, delivery: RawDelivery) -> AcceptResult:
        check_key(delivery)  # refused here, alone, rather than failing a whole batch
        loop = asyncio.get_running_loop()
        request = _Request(delivery, loop.create_future(), loop)
        with self._lock:
            if self._closed:
                raise InboxClosed("inbox is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._writer, name="tillwise-inbox-writer", daemon=True
                )
                self._thread.start()
            self._queue.put(request)
        # If the caller goes away (cancelled) the delivery is still committed; only the answer
        # is dropped (the writer skips futures that are already done).
        return await request.future

    def get(self, delivery_id: int) -> StoredDelivery | None:
        with read_only(self._engine) as conn:
            row = conn.execute(_GET_DELIVERY, {"delivery_id": delivery_id}).mappings().first()
        if row is None:
            return None
        return StoredDelivery(
            id=row["id"],
            delivery=RawDelivery(
                platform=row["platform"],
                connection_id=row["connection_id"],
                event_id=row["event_id"],
                topic=row["topic"],
                body=bytes(row["body"]),
                received_at=as_utc(row["received_at"]),
                headers=dict(row["headers"] or {}),
            ),
        )

    def ids(self, *, connection_id: str | None = None, since: datetime | None = None) -> list[int]:
        """Stored delivery ids in arrival order (for replaying the inbox)."""
        query = select(inbox.c.id).order_by(inbox.c.id)
        if connection_id is not None:
            query = query.where(inbox.c.connection_id == connection_id)
        if since is not None:
            query = query.where(inbox.c.received_at >= as_utc(since))
        with read_only(self._engine) as conn:
            return list(conn.execute(query).scalars())

    async def close(self) -> None:
        """Finish every accepted request, then stop the writer thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._queue.put(_STOP)
        if thread is not None:
            await asyncio.to_thread(thread.join)

    # -- the writer thread ----------------------------------------------------------------

    def _writer(self) -> None:
        stopping = False
        try:
            while not stopping:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch: list[_Request] = [first]  # type: ignore[list-item]
                deadline = time.monotonic() + self._window
                while len(batch) < self._max_batch:
                    remaining = deadline - time.monotonic()
                    try:
                        item = (
                            self._queue.get(timeout=remaining)
                            if remaining > 0
                            else (self._queue.get_nowait())
                        )
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stopping = True
                        break
                    batch.append(item)  # type: ignore[arg-type]
                self._commit_batch(batch)
        finally:
            self._sql.release()

    def _commit_batch(self, batch: list[_Request]) -> None:
        try:
            results = self._sql.store([r.delivery for r in batch], as_utc(self._clock.now()))
        except Exception as exc:
            if len(batch) == 1:
                log.exception("inbox delivery could not be stored")
                _resolve_all(batch, [exc])
                return
            # One delivery the database refuses must not fail the others: store each alone, so
            # only the one(s) that cannot be stored get an error (and the POS retries them).
            log.warning("inbox batch of %d failed (%s); storing each alone", len(batch), exc)
            for request in batch:
                self._commit_batch([request])
            return
        self.batches += 1
        self.accepted += len(batch)
        _resolve_all(batch, results)
        if self._notify is not None and any(not r.duplicate for r in results):
            try:
                self._notify()
            except Exception:
                log.exception("outbox notify failed")


# Built once: building a select per call costs more than running it.
_GET_DELIVERY = select(inbox).where(inbox.c.id == bindparam("delivery_id"))


def _resolve_all(batch: list[_Request], outcomes: list[AcceptResult] | list[Exception]) -> None:
    """Settle every future of the batch with one wake-up per event loop (not one per request)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for request, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(request.loop, []).append((request.future, outcome))
    for loop, settlements in by_loop.items():
        # The caller's loop may already be gone (client disconnected, test loop closed).
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, settlements)


def _settle(settlements: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in settlements:
        if future.done():  # the caller was cancelled
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


_INBOX_COLUMNS = (
    "platform",
    "connection_id",
    "event_id",
    "topic",
    "headers",
    "body",
    "received_at",
)
_KEY_COLUMNS = ("id", "platform", "connection_id", "event_id")
_Key = tuple[str, str, str]


class _BatchSql:
    """One batch, one transaction, straight on the DBAPI connection of the writer thread.

    The writer runs a handful of statements per batch, so SQLAlchemy's per-execution work
    (compiling, result objects, events) was most of its CPU; here the SQL is plain text built
    once per batch size and the values go through the dialect's own bind processors, so the
    rows are stored exactly as the Core statements stored them. The writer keeps its pooled
    connection between batches (and drops it after any failure, reconnecting on the next).

    SQLite: ``BEGIN IMMEDIATE``; one multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING``;
    one multi-row outbox insert; ``COMMIT`` (the connection's ``synchronous=FULL`` fsyncs).
    PostgreSQL: ONE autocommitted statement — the inbox insert and, in a data-modifying CTE, the
    outbox rows of the new deliveries — on a session with ``synchronous_commit=on``: a single
    round trip whose commit is flushed to disk before it returns.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = engine.dialect
        self._is_postgres = dialect.name == "postgresql"
        if dialect.name not in ("postgresql", "sqlite"):
            raise ValueError(f"SqlInbox supports SQLite and PostgreSQL, not {dialect.name}")
        self._mark = "%s" if self._is_postgres else "?"
        quote = dialect.identifier_preparer.quote
        self._inbox = quote(inbox.name)
        self._outbox = quote(outbox.name)
        self._in_cols = ", ".join(quote(c) for c in _INBOX_COLUMNS)
        self._key_cols = ", ".join(quote(c) for c in _KEY_COLUMNS)
        self._unique = ", ".join(quote(c) for c in _KEY_COLUMNS[1:])

        def processor(column: Any) -> Callable[[Any], Any]:
            bind = column.type.dialect_impl(dialect).bind_processor(dialect)
            return bind if bind is not None else _same

        self._headers = processor(inbox.c.headers)
        self._body = processor(inbox.c.body)
        self._received_at = processor(inbox.c.received_at)
        self._payload = processor(outbox.c.payload)
        self._created_at = processor(outbox.c.created_at)
        self._sql_cache: dict[tuple[str, int], str] = {}
        self._fairy: Any = None  # the pooled connection the writer holds between batches

    # -- connection -------------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._fairy is None:
            fairy = self._engine.raw_connection()
            try:
                driver: Any = fairy.driver_connection
                if self._is_postgres:
                    fairy.rollback()  # nothing open (a pre-ping may have begun a transaction)
                    driver.autocommit = True
                    # Durable at commit even if the server default was relaxed (reset on release).
                    driver.execute("SET synchronous_commit = on")
            except Exception:
                fairy.invalidate()
                raise
            self._fairy = fairy
        return self._fairy.driver_connection

    def _invalidate(self) -> None:
        fairy, self._fairy = self._fairy, None
        if fairy is not None:
            with contextlib.suppress(Exception):
                fairy.invalidate()

    def release(self) -> None:
        """Give the connection back to the pool as it was lent (the writer is stopping)."""
        fairy, self._fairy = self._fairy, None
        if fairy is None:
            return
        try:
            if self._is_postgres:
                driver: Any = fairy.driver_connection
                driver.execute("RESET synchronous_commit")
                driver.autocommit = False
            fairy.close()
        except Exception:
            with contextlib.suppress(Exception):
                fairy.invalidate()

    # -- SQL --------------------------------------------------------------------------------

    def _values(self, row: int, n: int) -> str:
        one = "(" + ", ".join([self._mark] * row) + ")"
        return ", ".join([one] * n)

    def _sql(self, kind: str, n: int) -> str:
        sql = self._sql_cache.get((kind, n))
        if sql is not None:
            return sql
        if kind == "inbox":
            sql = (
                f"INSERT INTO {self._inbox} ({self._in_cols}) VALUES {self._values(7, n)} "
                f"ON CONFLICT ({self._unique}) DO NOTHING RETURNING {self._key_cols}"
            )
            if self._is_postgres:  # the outbox rows in the same (autocommitted) statement
                sql = (
                    f"WITH new AS ({sql}), queued AS ("
                    f"INSERT INTO {self._outbox} (topic, message_id, payload, created_at) "
                    f"SELECT %s, 'delivery:' || new.id, jsonb_build_object('delivery_id', new.id),"
                    f" %s FROM new ORDER BY new.id) "
                    f"SELECT {self._key_cols} FROM new"
                )
        elif kind == "outbox":
            sql = (
                f"INSERT INTO {self._outbox} (topic, message_id, payload, created_at) "
                f"VALUES {self._values(4, n)}"
            )
        else:  # "known": ids of deliveries stored by an earlier batch (or another process)
            marks = ", ".join([self._mark] * n)
            sql = f"SELECT {self._key_cols} FROM {self._inbox} WHERE event_id IN ({marks})"
        if len(self._sql_cache) > 1024:
            self._sql_cache.clear()
        self._sql_cache[(kind, n)] = sql
        return sql

    # -- one batch --------------------------------------------------------------------------

    def store(self, deliveries: list[RawDelivery], created_at: datetime) -> list[AcceptResult]:
        """Insert the batch (duplicates, also within the batch, skipped by the unique key) and
        an outbox row per new delivery; the results are in the order of ``deliveries``."""
        first: dict[_Key, int] = {}
        for i, d in enumerate(deliveries):
            first.setdefault((d.platform, d.connection_id, d.event_id), i)
        params: list[Any] = []
        headers, body, received_at = self._headers, self._body, self._received_at
        for i in first.values():
            d = deliveries[i]
            params += (
                d.platform,
                d.connection_id,
                d.event_id,
                d.topic,
                headers(dict(d.headers)),
                body(d.body),
                received_at(as_utc(d.received_at)),
            )
        conn = self._connection()
        try:
            if self._is_postgres:
                new = self._store_postgres(conn, len(first), params, created_at)
            else:
                new = self._store_sqlite(conn, len(first), params, created_at)
            known = dict(new)
            missing = [key for key in first if key not in new]
            if missing:  # already stored by an earlier batch (or another process)
                events = sorted({e for _, _, e in missing})
                for r in conn.execute(self._sql("known", len(events)), events).fetchall():
                    known.setdefault((r[1], r[2], r[3]), r[0])
        except BaseException:
            self._invalidate()  # closing it rolls back whatever was open
            raise
        results = []
        for i, d in enumerate(deliveries):
            key = (d.platform, d.connection_id, d.event_id)
            is_new = key in new and first[key] == i
            results.append(AcceptResult(delivery_id=known[key], duplicate=not is_new))
        return results

    def _store_sqlite(
        self, conn: Any, n: int, params: list[Any], created_at: datetime
    ) -> dict[_Key, int]:
        # Queue with this process's other writers of the file (see store.engine) instead of
        # meeting them in SQLite's busy handler.
        lock = getattr(conn, "write_lock", None)
        if lock is not None:
            lock.acquire()
        try:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(self._sql("inbox", n), params).fetchall()
            new = {(r[1], r[2], r[3]): r[0] for r in rows}
            if new:
                at = self._created_at(created_at)
                payload = self._payload
                values: list[Any] = []
                for delivery_id in sorted(new.values()):
                    values += (
                        DELIVERIES_TOPIC,
                        f"delivery:{delivery_id}",
                        payload({"delivery_id": delivery_id}),
                        at,
                    )
                conn.execute(self._sql("outbox", len(new)), values)
            conn.execute("COMMIT")
        finally:
            if lock is not None:
                lock.release()
        return new

    def _store_postgres(
        self, conn: Any, n: int, params: list[Any], created_at: datetime
    ) -> dict[_Key, int]:
        params += (DELIVERIES_TOPIC, self._created_at(created_at))
        rows = conn.execute(self._sql("inbox", n), params).fetchall()
        return {(r[1], r[2], r[3]): r[0] for r in rows}


def _same(value: Any) -> Any:
    return value
