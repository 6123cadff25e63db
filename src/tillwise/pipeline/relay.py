"""OutboxRelay: moves committed outbox rows onto the bus.

Producers (the inbox, handlers through the unit of work) write an outbox row in the same
transaction as their effect, then call :meth:`OutboxRelay.notify`. The relay reads unpublished
rows in id order, publishes each as a :class:`Message` with the row's ``message_id``, and marks
them published. A crash between publish and mark publishes again later: at-least-once, made
harmless by the bus's dedupe on message id and by idempotent handlers.

On PostgreSQL the rows are read ``FOR UPDATE SKIP LOCKED`` and the lock is held until they are
marked, so several relays (one per worker process) share the outbox. On SQLite the read is a
short transaction (holding its write lock while publishing would block the SQL bus).
When the bus is a :class:`SqlBus` on the same engine, rows are queued and marked in ONE
transaction: exactly-once and one commit per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from tillwise.pipeline import as_utc
from tillwise.pipeline.backends.sql import SqlBus
from tillwise.ports.bus import Bus, Message
from tillwise.store.tables import outbox

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self, engine: Engine, bus: Bus, *, batch: int = 500, poll_interval: float = 1.0
    ) -> None:
        self._engine = engine
        self._bus = bus
        self._batch = batch
        self._poll_interval = poll_interval  # also picks up rows written by other processes
        self._is_postgres = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self.published = 0  # rows relayed since start (observability)

    def notify(self) -> None:
        """Thread-safe: new outbox rows were committed; wake the relay loop."""
        with self._lock:
            loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None:
            return  # not running: the next relay_once / run picks the rows up
        with contextlib.suppress(RuntimeError):  # loop closed meanwhile
            loop.call_soon_threadsafe(wakeup.set)

    async def run(self, stop: asyncio.Event) -> None:
        wakeup = asyncio.Event()
        with self._lock:
            self._loop, self._wakeup = asyncio.get_running_loop(), wakeup
        try:
            while not stop.is_set():
                wakeup.clear()
                moved = await self.relay_once()
                if moved >= self._batch:
                    continue  # more are waiting
                await _wait_any(stop, wakeup, at_most=self._poll_interval)
        finally:
            with self._lock:
                if self._wakeup is wakeup:
                    self._loop = self._wakeup = None

    async def relay_once(self) -> int:
        """Relay up to ``batch`` unpublished rows; returns how many were relayed."""
        if isinstance(self._bus, SqlBus) and self._bus.engine is self._engine:
            moved = await asyncio.to_thread(self._relay_into_sql_bus, self._bus)
        elif self._is_postgres:
            moved = await self._relay_locked()
        else:
            moved = await self._relay_unlocked()
        self.published += moved
        return moved

    def oldest_unpublished_age(self, now: datetime) -> float | None:
        """Seconds since the oldest row still waiting for the bus was written (pipeline lag)."""
        with self._engine.connect() as conn:
            oldest = conn.execute(
                select(func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
            ).scalar()
        if oldest is None:
            return None
        return max((now - as_utc(oldest)).total_seconds(), 0.0)

    # -- internals ------------------------------------------------------------------------

    def _unpublished(self, conn: Connection, *, lock: bool) -> list[Any]:
        query = (
            select(outbox.c.id, outbox.c.topic, outbox.c.message_id, outbox.c.payload)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(self._batch)
        )
        if lock and self._is_postgres:
            query = query.with_for_update(skip_locked=True)
        return list(conn.execute(query).all())

    @staticmethod
    def _mark(conn: Connection, ids: list[int]) -> None:
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids), outbox.c.published_at.is_(None))
            .values(published_at=datetime.now(UTC))
        )

    @staticmethod
    def _message(row: Any) -> Message:
        return Message(id=row.message_id, topic=row.topic, payload=row.payload)

    def _relay_into_sql_bus(self, bus: SqlBus) -> int:
        with self._engine.begin() as conn:
            rows = self._unpublished(conn, lock=True)
            if rows:
                bus.publish_in(conn, [self._message(r) for r in rows])
                self._mark(conn, [r.id for r in rows])
        return len(rows)

    async def _relay_locked(self) -> int:
        conn = await asyncio.to_thread(self._engine.connect)
        try:
            rows = await asyncio.to_thread(self._unpublished, conn, lock=True)
            if not rows:
                await asyncio.to_thread(conn.rollback)
                return 0
            published: list[int] = []
            try:
                for row in rows:
                    await self._bus.publish(self._message(row))
                    published.append(row.id)
            finally:
                if published:  # keep what reached the bus even if a later publish failed
                    await asyncio.to_thread(self._mark, conn, published)
                    await asyncio.to_thread(conn.commit)
            return len(published)
        finally:
            await asyncio.to_thread(conn.close)

    async def _relay_unlocked(self) -> int:
        def read() -> list[Any]:
            with self._engine.begin() as conn:
                return self._unpublished(conn, lock=False)

        rows = await asyncio.to_thread(read)
        if not rows:
            return 0
        published: list[int] = []
        try:
            for row in rows:
                await self._bus.publish(self._message(row))
                published.append(row.id)
        finally:
            if published:

                def mark() -> None:
                    with self._engine.begin() as conn:
                        self._mark(conn, published)

                await asyncio.to_thread(mark)
        return len(published)


async def _wait_any(*events: asyncio.Event, at_most: float) -> None:
    tasks = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(tasks, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
