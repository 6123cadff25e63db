"""SqlBus: the bus as a leased queue table in the database (the embedded default).

``publish`` adds one ``bus_queue`` row per subscribed consumer of the topic (or only for
``message.consumer`` when the message is targeted); ``(consumer, message_id)`` is unique, so a
second publish of the same id is a no-op while the first is still queued. ``fetch`` leases ready
rows (``available_at <= now`` and no live lease) in id order — ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL so workers on many hosts share a consumer; SQLite's ``BEGIN IMMEDIATE`` serializes
them. An expired lease makes the row ready again: that is the redelivery after a crash.
``ack``/``term`` delete the row; ``nack`` clears the lease and sets ``available_at``.

Database work runs in threads (``asyncio.to_thread``); waiting for messages polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tillwise.ports.bus import Message, Received
from tillwise.store.tables_pipeline import bus_queue, bus_subscriptions


@dataclass(frozen=True)
class _Handle:
    row_id: int
    attempt: int  # the lease this delivery holds (attempts at lease time)


class SqlBus:
    def __init__(self, engine: Engine, *, ack_wait: float, poll_interval: float = 0.05) -> None:
        self.engine = engine
        self.ack_wait = ack_wait
        self.poll_interval = poll_interval
        self._is_postgres = engine.dialect.name == "postgresql"
        self._dialect_insert = postgresql.insert if self._is_postgres else sqlite.insert

    # -- the port -------------------------------------------------------------------------

    async def ensure_consumer(self, topic: str, consumer: str) -> None:
        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(
                    self._dialect_insert(bus_subscriptions)
                    .values(topic=topic, consumer=consumer)
                    .on_conflict_do_nothing()
                )

        await asyncio.to_thread(run)

    async def publish(self, message: Message) -> None:
        await self.publish_many([message])

    async def publish_many(self, messages: Iterable[Message]) -> None:
        """Publish several messages in one transaction."""
        batch = list(messages)

        def run() -> None:
            with self.engine.begin() as conn:
                self.publish_in(conn, batch)

        if batch:
            await asyncio.to_thread(run)

    def publish_in(self, conn: Connection, messages: list[Message]) -> None:
        """Queue ``messages`` inside the caller's transaction (the outbox relay's fast path when
        outbox and bus share a database); a message id already queued for a consumer is
        skipped."""
        topics = {m.topic for m in messages if m.consumer is None}
        consumers: dict[str, list[str]] = {t: [] for t in topics}
        if topics:
            rows = conn.execute(
                select(bus_subscriptions.c.topic, bus_subscriptions.c.consumer)
                .where(bus_subscriptions.c.topic.in_(topics))
                .order_by(bus_subscriptions.c.consumer)
            )
            for topic, consumer in rows:
                consumers[topic].append(consumer)
        now = _now()
        values = [
            {
                "consumer": consumer,
                "topic": m.topic,
                "message_id": m.id,
                "payload": m.payload,
                "attempts": 0,
                "available_at": now,
                "leased_until": None,
            }
            for m in messages
            for consumer in ([m.consumer] if m.consumer is not None else consumers[m.topic])
        ]
        if not values:
            return
        stmt = self._dialect_insert(bus_queue).on_conflict_do_nothing(
            index_elements=[bus_queue.c.consumer, bus_queue.c.message_id]
        )
        conn.execute(stmt, values)

    async def fetch(
        self,
        topic: str,
        consumer: str,
        *,
        max_messages: int = 16,
        timeout: float = 1.0,  # noqa: ASYNC109  (the Bus port's signature)
    ) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        while True:
            got = await asyncio.to_thread(self._lease, topic, consumer, max_messages)
            remaining = deadline - loop.time()
            if got or remaining <= 0:
                return got
            await asyncio.sleep(min(self.poll_interval, remaining))

    async def ack(self, received: Received) -> None:
        await asyncio.to_thread(self._delete, received.handle)

    async def ack_many(self, received: Sequence[Received]) -> None:
        if received:
            await asyncio.to_thread(self._delete_many, [r.handle for r in received])

    async def term(self, received: Received) -> None:
        await asyncio.to_thread(self._delete, received.handle)

    async def nack(self, received: Received, *, delay: float = 0.0) -> None:
        h: _Handle = received.handle
        available_at = _now() + timedelta(seconds=max(delay, 0.0))

        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(
                    update(bus_queue)
                    # Only while we still hold the lease (not after it ran out and was re-leased).
                    .where(bus_queue.c.id == h.row_id, bus_queue.c.attempts == h.attempt)
                    .values(leased_until=None, available_at=available_at)
                )

        await asyncio.to_thread(run)

    async def pending(self, topic: str, consumer: str) -> int:
        def run() -> int:
            with self.engine.connect() as conn:
                return conn.execute(
                    select(func.count())
                    .select_from(bus_queue)
                    .where(bus_queue.c.consumer == consumer, bus_queue.c.topic == topic)
                ).scalar_one()

        return await asyncio.to_thread(run)

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the caller."""

    # -- internals ------------------------------------------------------------------------

    def _lease(self, topic: str, consumer: str, limit: int) -> list[Received]:
        now = _now()
        ready = and_(
            bus_queue.c.consumer == consumer,
            bus_queue.c.topic == topic,
            bus_queue.c.available_at <= now,
            or_(bus_queue.c.leased_until.is_(None), bus_queue.c.leased_until <= now),
        )
        query = (
            select(
                bus_queue.c.id, bus_queue.c.attempts, bus_queue.c.message_id, bus_queue.c.payload
            )
            .where(ready)
            .order_by(bus_queue.c.id)
            .limit(limit)
        )
        if self._is_postgres:
            query = query.with_for_update(skip_locked=True)
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return []
            conn.execute(
                update(bus_queue)
                .where(bus_queue.c.id.in_([r.id for r in rows]))
                .values(
                    attempts=bus_queue.c.attempts + 1,
                    leased_until=now + timedelta(seconds=self.ack_wait),
                )
            )
        return [
            Received(
                message=Message(id=r.message_id, topic=topic, payload=r.payload),
                consumer=consumer,
                attempt=r.attempts + 1,
                handle=_Handle(row_id=r.id, attempt=r.attempts + 1),
            )
            for r in rows
        ]

    def _delete(self, handle: _Handle) -> None:
        self._delete_many([handle])

    def _delete_many(self, handles: Sequence[_Handle]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(bus_queue).where(bus_queue.c.id.in_([h.row_id for h in handles])))


def _now() -> datetime:
    return datetime.now(UTC)
