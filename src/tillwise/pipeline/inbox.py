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

from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from tillwise.pipeline import as_utc
from tillwise.ports.clock import Clock
from tillwise.ports.inbox import AcceptResult, RawDelivery, StoredDelivery
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
        self._is_postgres = engine.dialect.name == "postgresql"
        # Built once, executed with parameter lists: per batch a few statements, not per row.
        dialect_insert = postgresql.insert if self._is_postgres else sqlite.insert
        self._insert_deliveries = (
            dialect_insert(inbox)
            .on_conflict_do_nothing(
                index_elements=[inbox.c.platform, inbox.c.connection_id, inbox.c.event_id]
            )
            .returning(inbox.c.id, inbox.c.platform, inbox.c.connection_id, inbox.c.event_id)
        )
        self._insert_outbox = insert(outbox)
        # Observability (and the tests' proof that requests were grouped).
        self.batches = 0  # committed transactions
        self.accepted = 0  # requests answered (new or duplicate)

    # -- the port -------------------------------------------------------------------------

    async def accept(self, delivery: RawDelivery) -> AcceptResult:
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
        with self._engine.connect() as conn:
            row = conn.execute(select(inbox).where(inbox.c.id == delivery_id)).mappings().first()
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
        with self._engine.connect() as conn:
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

    def _commit_batch(self, batch: list[_Request]) -> None:
        try:
            with self._engine.begin() as conn:
                if self._is_postgres:
                    # Durable at commit even if the server default was relaxed.
                    conn.execute(text("SET LOCAL synchronous_commit = on"))
                results = self._store(conn, [r.delivery for r in batch])
        except Exception as exc:
            log.exception("inbox batch of %d failed; every request in it fails", len(batch))
            _resolve_all(batch, [exc] * len(batch))
            return
        self.batches += 1
        self.accepted += len(batch)
        _resolve_all(batch, results)
        if self._notify is not None and any(not r.duplicate for r in results):
            try:
                self._notify()
            except Exception:
                log.exception("outbox notify failed")

    def _store(self, conn: Connection, deliveries: list[RawDelivery]) -> list[AcceptResult]:
        """Insert the batch (duplicates, also within the batch, skipped by the unique key) and
        an outbox row per new delivery; the results are in the order of ``deliveries``."""
        first: dict[tuple[str, str, str], int] = {}
        for i, d in enumerate(deliveries):
            first.setdefault((d.platform, d.connection_id, d.event_id), i)
        rows = conn.execute(
            self._insert_deliveries,
            [
                {
                    "platform": d.platform,
                    "connection_id": d.connection_id,
                    "event_id": d.event_id,
                    "topic": d.topic,
                    "headers": dict(d.headers),
                    "body": d.body,
                    "received_at": as_utc(d.received_at),
                }
                for d in (deliveries[i] for i in first.values())
            ],
        ).all()
        new = {(r.platform, r.connection_id, r.event_id): r.id for r in rows}
        known = dict(new)
        missing = [key for key in first if key not in new]
        if missing:  # already stored by an earlier batch (or another process)
            found = conn.execute(
                select(inbox.c.id, inbox.c.platform, inbox.c.connection_id, inbox.c.event_id).where(
                    inbox.c.event_id.in_({e for _, _, e in missing})
                )
            ).all()
            for r in found:
                known.setdefault((r.platform, r.connection_id, r.event_id), r.id)
        if new:
            created_at = as_utc(self._clock.now())
            conn.execute(
                self._insert_outbox,
                [
                    {
                        "topic": DELIVERIES_TOPIC,
                        "message_id": f"delivery:{delivery_id}",
                        "payload": {"delivery_id": delivery_id},
                        "created_at": created_at,
                    }
                    for delivery_id in sorted(new.values())
                ],
            )
        results = []
        for i, d in enumerate(deliveries):
            key = (d.platform, d.connection_id, d.event_id)
            is_new = key in new and first[key] == i
            results.append(AcceptResult(delivery_id=known[key], duplicate=not is_new))
        return results


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
