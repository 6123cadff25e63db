"""A failing handler is retried with backoff, dead-lettered after max_attempts, and a replay
delivers it again to that consumer only, where it now succeeds."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from tillwise.pipeline.backends.sql import SqlBus
from tillwise.pipeline.dead_letters import SqlDeadLetters, replay_dead_letter
from tillwise.pipeline.worker import Worker, exponential_backoff
from tillwise.ports.bus import Bus, Message, Received
from tillwise.store.engine import make_engine

T0 = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
FAILING, HEALTHY = "workflow:flaky", "workflow:reporting"


class FixedClock:
    def now(self) -> datetime:
        return T0


BusFactory = Callable[[], AbstractAsyncContextManager[Bus]]


@pytest.fixture(
    params=[
        "sql-sqlite",
        pytest.param("sql-postgres", marks=pytest.mark.postgres),
        pytest.param("jetstream", marks=pytest.mark.nats),
    ]
)
def setup(request: pytest.FixtureRequest) -> tuple[SqlDeadLetters, BusFactory]:
    """Dead letters always live in the database; the bus is the backend under test."""
    kind: str = request.param
    url = request.getfixturevalue("postgres_url" if kind == "sql-postgres" else "sqlite_url")
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    if kind.startswith("sql"):

        @asynccontextmanager
        async def sql() -> AsyncIterator[Bus]:
            yield SqlBus(engine, ack_wait=30, poll_interval=0.02)

        return SqlDeadLetters(engine), sql

    from tillwise.pipeline.backends.jetstream import JetStreamBus

    nats_url = request.getfixturevalue("nats_url")
    stream = f"TWTEST_{uuid.uuid4().hex[:10].upper()}"

    @asynccontextmanager
    async def jetstream() -> AsyncIterator[Bus]:
        bus = JetStreamBus(nats_url, stream=stream, ack_wait=30)
        try:
            yield bus
        finally:
            import nats

            await bus.close()
            nc = await nats.connect(nats_url)
            await nc.jetstream().delete_stream(stream)
            await nc.close()

    return SqlDeadLetters(engine), jetstream


def test_retry_dead_letter_and_replay(setup: tuple[SqlDeadLetters, BusFactory]) -> None:
    dead_letters, make_bus = setup
    broken = True
    calls: dict[str, list[tuple[str, int]]] = {FAILING: [], HEALTHY: []}
    backoffs: list[tuple[int, float]] = []
    jitter = exponential_backoff(base=0.05, cap=0.2, rng=random.Random(1337))

    def backoff(attempt: int) -> float:
        delay = jitter(attempt)
        backoffs.append((attempt, delay))
        return delay

    def handler_for(consumer: str) -> Callable[[Received], Any]:
        async def handle(received: Received) -> None:
            calls[consumer].append((received.message.id, received.attempt))
            if consumer == FAILING and broken:
                raise RuntimeError(f"cannot handle order {received.message.payload['order']}")

        return handle

    async def drain(worker: Worker, bus: Bus, rounds: int = 100) -> None:
        for _ in range(rounds):
            if await bus.pending(worker.topic, worker.consumer) == 0:
                return
            await worker.run_once(timeout=2)
        raise AssertionError(f"{worker.consumer} did not drain")

    async def scenario() -> None:
        nonlocal broken
        async with make_bus() as bus:
            workers = {
                consumer: Worker(
                    bus,
                    topic="events",
                    consumer=consumer,
                    handler=handler_for(consumer),
                    dead_letters=dead_letters,
                    max_attempts=3,
                    clock=FixedClock(),
                    backoff=backoff,
                )
                for consumer in (FAILING, HEALTHY)
            }
            for consumer in workers:
                await bus.ensure_consumer("events", consumer)
            await bus.publish(Message(id="evt-1", topic="events", payload={"order": 42}))

            # Given a handler that keeps failing: retried with backoff, then dead-lettered
            await drain(workers[FAILING], bus)
            await drain(workers[HEALTHY], bus)
            assert calls[FAILING] == [("evt-1", 1), ("evt-1", 2), ("evt-1", 3)]
            assert calls[HEALTHY] == [("evt-1", 1)]
            assert [a for a, _ in backoffs] == [1, 2]
            assert all(0 <= d <= min(0.2, 0.05 * 2 ** (a - 1)) for a, d in backoffs)
            assert workers[FAILING].dead_lettered == 1

            [letter] = dead_letters.list()
            assert letter.consumer == FAILING and letter.attempts == 3
            assert letter.message == Message(id="evt-1", topic="events", payload={"order": 42})
            assert "RuntimeError('cannot handle order 42')" in letter.error
            assert "Traceback" in letter.error
            assert letter.failed_at == T0 and letter.replayed_at is None
            # and it is not delivered again by itself
            assert await bus.fetch("events", FAILING, timeout=0.3) == []

            # When the cause is fixed and a person replays the dead letter
            broken = False
            replayed = await replay_dead_letter(dead_letters, bus, letter.id, T0)
            assert replayed.id == f"evt-1~replay{letter.id}"
            assert replayed.consumer == FAILING

            # Then only the consumer that failed gets it, and this time it succeeds
            assert await bus.pending("events", HEALTHY) == 0
            assert await workers[HEALTHY].run_once(timeout=0.3) == 0
            await drain(workers[FAILING], bus)
            assert calls[FAILING][-1] == (replayed.id, 1)
            assert calls[HEALTHY] == [("evt-1", 1)]
            assert workers[FAILING].handled == 1

        assert dead_letters.list() == []
        [done] = dead_letters.list(include_replayed=True)
        assert done.id == letter.id and done.replayed_at == T0

    asyncio.run(scenario())


def test_dead_letters_store(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        store = SqlDeadLetters(engine)
        received = Received(
            message=Message(id="m", topic="deliveries", payload={"delivery_id": 1}),
            consumer="normalizer",
            attempt=5,
        )
        first = store.add(received, "ValueError('x')", T0)
        second = store.add(received, "ValueError('y')", T0)
        assert [d.id for d in store.list()] == [first, second]
        assert [d.id for d in store.list(limit=1)] == [first]
        store.mark_replayed(first, T0)
        assert [d.id for d in store.list()] == [second]
        got = store.get(first)
        assert got is not None and got.replayed_at == T0 and got.error == "ValueError('x')"
        assert store.get(999) is None
        with pytest.raises(LookupError):
            asyncio.run(replay_dead_letter(store, _NoBus(), 999, T0))
    finally:
        engine.dispose()


class _NoBus:
    async def publish(self, message: Message) -> None:  # pragma: no cover - never reached
        raise AssertionError("nothing to publish")
