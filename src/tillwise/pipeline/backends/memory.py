"""MemoryBus: the in-process bus for unit tests (same contract as the real backends).

Times come from the running loop's clock (monotonic), so the ack wait and nack delays behave
as on a real broker. Nothing is shared between processes and nothing survives a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tillwise.ports.bus import Message, Received


@dataclass
class _Entry:
    seq: int
    message: Message
    attempts: int = 0
    available_at: float = 0.0
    leased_until: float | None = None


@dataclass
class _Queue:
    entries: dict[int, _Entry] = field(default_factory=dict)  # insertion order = seq order
    seen: set[str] = field(default_factory=set)  # message ids ever queued (dedupe)


@dataclass(frozen=True)
class _Handle:
    topic: str
    consumer: str
    seq: int
    attempt: int


class MemoryBus:
    def __init__(self, *, ack_wait: float = 30.0) -> None:
        self.ack_wait = ack_wait
        self._subscriptions: dict[str, set[str]] = {}
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._seq = itertools.count(1)
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    async def ensure_consumer(self, topic: str, consumer: str) -> None:
        self._subscriptions.setdefault(topic, set()).add(consumer)
        self._queues.setdefault((topic, consumer), _Queue())

    async def publish(self, message: Message) -> None:
        if message.consumer is not None:
            consumers = {message.consumer}
        else:
            consumers = self._subscriptions.get(message.topic, set())
        now = _now()
        for consumer in consumers:
            q = self._queues.setdefault((message.topic, consumer), _Queue())
            if message.id in q.seen:
                continue
            q.seen.add(message.id)
            seq = next(self._seq)
            q.entries[seq] = _Entry(seq=seq, message=message, available_at=now)
        self._wake()

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
            now = loop.time()
            got = self._lease(topic, consumer, max_messages, now)
            if got or now >= deadline:
                return got
            wake_at = min(deadline, self._next_ready(topic, consumer, now))
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add((loop, waiter))
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter, max(wake_at - now, 0.0))
            finally:
                self._waiters.discard((loop, waiter))

    async def ack_many(self, received: Sequence[Received]) -> None:
        for one in received:
            await self.ack(one)

    async def ack(self, received: Received) -> None:
        self._remove(received)

    async def nack(self, received: Received, *, delay: float = 0.0) -> None:
        h: _Handle = received.handle
        entry = self._queues.get((h.topic, h.consumer), _Queue()).entries.get(h.seq)
        if entry is None or entry.attempts != h.attempt:
            return  # acked, or leased again by someone else after our lease ran out
        entry.leased_until = None
        entry.available_at = _now() + max(delay, 0.0)
        self._wake()

    async def term(self, received: Received) -> None:
        self._remove(received)

    async def pending(self, topic: str, consumer: str) -> int:
        q = self._queues.get((topic, consumer))
        return len(q.entries) if q else 0

    async def close(self) -> None:
        self._wake()

    # -- internals ------------------------------------------------------------------------

    def _lease(self, topic: str, consumer: str, limit: int, now: float) -> list[Received]:
        q = self._queues.get((topic, consumer))
        if q is None:
            return []
        out: list[Received] = []
        for entry in q.entries.values():
            if len(out) >= limit:
                break
            if entry.available_at > now:
                continue
            if entry.leased_until is not None and entry.leased_until > now:
                continue
            entry.attempts += 1
            entry.leased_until = now + self.ack_wait
            out.append(
                Received(
                    message=entry.message,
                    consumer=consumer,
                    attempt=entry.attempts,
                    handle=_Handle(topic, consumer, entry.seq, entry.attempts),
                )
            )
        return out

    def _next_ready(self, topic: str, consumer: str, now: float) -> float:
        q = self._queues.get((topic, consumer))
        times = [
            max(e.available_at, e.leased_until or 0.0) for e in (q.entries.values() if q else ())
        ]
        return min(times, default=float("inf"))

    def _remove(self, received: Received) -> None:
        h: _Handle = received.handle
        q = self._queues.get((h.topic, h.consumer))
        if q is not None:
            q.entries.pop(h.seq, None)

    def _wake(self) -> None:
        for loop, waiter in list(self._waiters):
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(_set_done, waiter)


def _set_done(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _now() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()
