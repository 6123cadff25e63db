"""The Bus contract, run against every backend: MemoryBus, SqlBus on SQLite and on PostgreSQL,
JetStreamBus on a real NATS server (one fresh stream per test, deleted afterwards).

Each test builds its bus inside its own event loop (``asyncio.run``). Waiting for a redelivery is
done by fetching with a timeout longer than the ack wait / delay, never by asserting on time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from tillwise.pipeline.backends.memory import MemoryBus
from tillwise.pipeline.backends.sql import SqlBus
from tillwise.ports.bus import Bus, Message, Received
from tillwise.store.engine import make_engine

ACK_WAIT = 1.0
# Long enough for a redelivery after ACK_WAIT on a busy machine; only spent when waiting.
REDELIVERY_TIMEOUT = ACK_WAIT + 5.0

BusFactory = Callable[[], AbstractAsyncContextManager[Bus]]


@pytest.fixture(
    params=[
        "memory",
        "sql-sqlite",
        pytest.param("sql-postgres", marks=pytest.mark.postgres),
        pytest.param("jetstream", marks=pytest.mark.nats),
    ]
)
def make_bus(request: pytest.FixtureRequest) -> BusFactory:
    kind: str = request.param
    if kind == "memory":

        @asynccontextmanager
        async def memory() -> AsyncIterator[Bus]:
            bus = MemoryBus(ack_wait=ACK_WAIT)
            yield bus
            await bus.close()

        return memory

    if kind.startswith("sql"):
        url = request.getfixturevalue("sqlite_url" if kind == "sql-sqlite" else "postgres_url")
        engine = make_engine(url)
        request.addfinalizer(engine.dispose)

        @asynccontextmanager
        async def sql() -> AsyncIterator[Bus]:
            bus = SqlBus(engine, ack_wait=ACK_WAIT, poll_interval=0.02)
            yield bus
            await bus.close()

        return sql

    from tillwise.pipeline.backends.jetstream import JetStreamBus

    nats_url = request.getfixturevalue("nats_url")
    stream = f"TWTEST_{uuid.uuid4().hex[:10].upper()}"

    @asynccontextmanager
    async def jetstream() -> AsyncIterator[Bus]:
        bus = JetStreamBus(nats_url, stream=stream, ack_wait=ACK_WAIT)
        try:
            yield bus
        finally:
            await bus.close()
            await _delete_stream(nats_url, stream)

    return jetstream


async def _delete_stream(url: str, stream: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        try:
            await nc.jetstream().delete_stream(stream)
        except NotFoundError:
            pass
    finally:
        await nc.close()


def run_with(make_bus: BusFactory, scenario: Callable[[Bus], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with make_bus() as bus:
            return await scenario(bus)

    return asyncio.run(main())


def msg(n: int, topic: str = "events", **kwargs: Any) -> Message:
    return Message(id=f"m-{n}", topic=topic, payload={"n": n, "text": "héllo"}, **kwargs)


def ns(received: list[Received]) -> list[int]:
    return [r.message.payload["n"] for r in received]


# -- tests ----------------------------------------------------------------------------------


def test_publish_fetch_ack(make_bus: BusFactory) -> None:
    async def scenario(bus: Bus) -> None:
        # Given a consumer of a topic
        await bus.ensure_consumer("events", "reporting")
        # When three messages are published
        for n in range(3):
            await bus.publish(msg(n))
        # Then they are fetched in order, first attempt, payload intact
        got = await bus.fetch("events", "reporting", max_messages=10, timeout=2)
        assert ns(got) == [0, 1, 2]
        assert [r.message.id for r in got] == ["m-0", "m-1", "m-2"]
        assert all(r.attempt == 1 and r.consumer == "reporting" for r in got)
        assert got[0].message.payload == {"n": 0, "text": "héllo"}
        assert got[0].message.topic == "events"
        # And once acked nothing is left
        for r in got:
            await bus.ack(r)
        assert await bus.pending("events", "reporting") == 0
        assert await bus.fetch("events", "reporting", timeout=0.2) == []

    run_with(make_bus, scenario)


def test_fetch_respects_max_messages_and_topics(make_bus: BusFactory) -> None:
    async def scenario(bus: Bus) -> None:
        await bus.ensure_consumer("events", "c")
        await bus.ensure_consumer("deliveries", "c")
        for n in range(5):
            await bus.publish(msg(n))
        await bus.publish(msg(99, topic="deliveries"))
        first = await bus.fetch("events", "c", max_messages=2, timeout=2)
        assert ns(first) == [0, 1]
        rest = await bus.fetch("events", "c", max_messages=10, timeout=2)
        assert ns(rest) == [2, 3, 4]
        other = await bus.fetch("deliveries", "c", max_messages=10, timeout=2)
        assert ns(other) == [99]
        for r in first + rest + other:
            await bus.ack(r)

    run_with(make_bus, scenario)


def test_every_consumer_of_a_topic_gets_each_message(make_bus: BusFactory) -> None:
    async def scenario(bus: Bus) -> None:
        await bus.ensure_consumer("events", "workflow:reporting")
        await bus.ensure_consumer("events", "workflow:replenishment")
        await bus.publish(msg(1))
        for consumer in ("workflow:reporting", "workflow:replenishment"):
            got = await bus.fetch("events", consumer, timeout=2)
            assert ns(got) == [1]
            await bus.ack(got[0])
        # acking for one consumer did not take it from the other (both were fetched above)
        assert await bus.pending("events", "workflow:reporting") == 0
        assert await bus.pending("events", "workflow:replenishment") == 0

    run_with(make_bus, scenario)


def test_targeted_message_reaches_only_its_consumer(make_bus: BusFactory) -> None:
    async def scenario(bus: Bus) -> None:
        await bus.ensure_consumer("events", "workflow:a")
        await bus.ensure_consumer("events", "workflow:b")
        await bus.publish(msg(7, consumer="workflow:a"))
        got = await bus.fetch("events", "workflow:a", timeout=2)
        assert ns(got) == [7]
        assert got[0].attempt == 1
        assert await bus.fetch("events", "workflow:b", timeout=0.3) == []
        assert await bus.pending("events", "workflow:b") == 0
        await bus.ack(got[0])
        assert await bus.pending("events", "workflow:a") == 0

    run_with(make_bus, scenario)


def test_unacked_message_is_redelivered_after_ack_wait(make_bus: BusFactory) -> None:
    async def scenario(bus: Bus) -> None:
        await bus.ensure_consumer("events", "c")
        await bus.publish(msg(1))
        [first] = await bus.fetch("events", "c", timeout=2)
        assert first.attempt == 1
        # the worker "crashes": no ack, no nack; the lease runs out
        again = await bus.fetch("events", "c", timeout=REDELIVERY_TIMEOUT)
        assert ns(again) == [1]
        meta = getattr(again[0].handle, "metadata", None)
        assert again[0].attempt == 2, (first, again, meta, getattr(first.handle, "metadata", None))
        await bus.ack(again[0])
        assert await bus.pending("events", "c") == 0

    run_with(make_bus, scenario)


def test_nack_gives_the_message_back(make_bus: BusFactory) -> None:
    async def scenario(bus: Bus) -> None:
        await bus.ensure_consumer("events", "c")
        await bus.publish(msg(1))
        [first] = await bus.fetch("events", "c", timeout=2)
        await bus.nack(first)  # no delay: ready again at once
        [second] = await bus.fetch("events", "c", timeout=2)
        assert second.message.id == "m-1" and second.attempt == 2
        await bus.nack(second, delay=0.5)
        [third] = await bus.fetch("events", "c", timeout=REDELIVERY_TIMEOUT)
        assert third.message.id == "m-1" and third.attempt == 3
        await bus.ack(third)
        assert await bus.pending("events", "c") == 0

    run_with(make_bus, scenario)


def test_nack_with_long_delay_holds_the_message_back(make_bus: BusFactory) -> None:
    async def scenario(bus: Bus) -> None:
        await bus.ensure_consumer("events", "c")
        await bus.publish(msg(1))
        await bus.publish(msg(2))
        [first] = await bus.fetch("events", "c", max_messages=1, timeout=2)
        await bus.nack(first, delay=600)
        # the next fetch skips the delayed message and gets the one behind it
        got = await bus.fetch("events", "c", max_messages=10, timeout=0.5)
        assert ns(got) == [2]
        await bus.ack(got[0])
        assert await bus.fetch("events", "c", timeout=0.3) == []
        # still owed to the consumer
        assert await bus.pending("events", "c") == 1

    run_with(make_bus, scenario)


def test_term_stops_redelivery(make_bus: BusFactory) -> None:
    async def scenario(bus: Bus) -> None:
        await bus.ensure_consumer("events", "c")
        await bus.publish(msg(1))
        [first] = await bus.fetch("events", "c", timeout=2)
        await bus.term(first)
        assert await bus.pending("events", "c") == 0
        # waiting past the ack wait brings nothing back
        assert await bus.fetch("events", "c", timeout=ACK_WAIT + 1.0) == []

    run_with(make_bus, scenario)


def test_pending_counts_unacked_messages(make_bus: BusFactory) -> None:
    async def scenario(bus: Bus) -> None:
        await bus.ensure_consumer("events", "c")
        await bus.ensure_consumer("events", "d")
        assert await bus.pending("events", "c") == 0
        for n in range(3):
            await bus.publish(msg(n))
        assert await bus.pending("events", "c") == 3
        got = await bus.fetch("events", "c", max_messages=2, timeout=2)
        assert await bus.pending("events", "c") == 3  # leased is still pending
        await bus.ack(got[0])
        assert await bus.pending("events", "c") == 2
        assert await bus.pending("events", "d") == 3  # each consumer has its own count
        await bus.ack(got[1])
        [last] = await bus.fetch("events", "c", timeout=2)
        await bus.ack(last)
        assert await bus.pending("events", "c") == 0

    run_with(make_bus, scenario)


def test_publishing_the_same_id_twice_delivers_once(make_bus: BusFactory) -> None:
    async def scenario(bus: Bus) -> None:
        await bus.ensure_consumer("events", "c")
        await bus.publish(msg(1))
        await bus.publish(msg(1))
        assert await bus.pending("events", "c") == 1
        got = await bus.fetch("events", "c", max_messages=10, timeout=2)
        assert ns(got) == [1]
        await bus.ack(got[0])
        assert await bus.fetch("events", "c", timeout=0.3) == []
        assert await bus.pending("events", "c") == 0

    run_with(make_bus, scenario)


def test_messages_before_a_consumer_exists_are_not_required(make_bus: BusFactory) -> None:
    """The contract only promises messages published after ensure_consumer; it is idempotent."""

    async def scenario(bus: Bus) -> None:
        await bus.ensure_consumer("events", "c")
        await bus.ensure_consumer("events", "c")
        await bus.publish(msg(1))
        got = await bus.fetch("events", "c", max_messages=10, timeout=2)
        assert ns(got) == [1]
        await bus.ack(got[0])

    run_with(make_bus, scenario)
