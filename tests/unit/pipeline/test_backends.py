"""Backend details the contract suite does not cover."""

from __future__ import annotations

import asyncio
import re

from tillwise.pipeline.backends.jetstream import JetStreamBus
from tillwise.pipeline.backends.memory import MemoryBus
from tillwise.ports.bus import Message

VALID_DURABLE = re.compile(r"[A-Za-z0-9_-]+")


def test_memory_bus_survives_several_event_loops() -> None:
    """Composition roots are used from several ``asyncio.run`` calls (CLI, tests)."""
    bus = MemoryBus(ack_wait=30)
    asyncio.run(bus.ensure_consumer("events", "c"))
    asyncio.run(bus.publish(Message(id="m1", topic="events", payload={})))
    [got] = asyncio.run(bus.fetch("events", "c", timeout=1))
    asyncio.run(bus.ack(got))
    assert asyncio.run(bus.fetch("events", "c", timeout=0.05)) == []


def test_memory_bus_publish_wakes_a_waiting_fetch() -> None:
    bus = MemoryBus(ack_wait=30)

    async def scenario() -> list[str]:
        await bus.ensure_consumer("events", "c")
        waiting = asyncio.create_task(bus.fetch("events", "c", timeout=30))
        await asyncio.sleep(0)
        await bus.publish(Message(id="m1", topic="events", payload={}))
        got = await asyncio.wait_for(waiting, timeout=30)
        return [r.message.id for r in got]

    assert asyncio.run(scenario()) == ["m1"]


def test_memory_bus_stale_nack_does_not_steal_a_new_lease() -> None:
    async def scenario() -> int:
        bus = MemoryBus(ack_wait=0.01)
        await bus.ensure_consumer("events", "c")
        await bus.publish(Message(id="m1", topic="events", payload={}))
        [old] = await bus.fetch("events", "c", timeout=1)
        [new] = await bus.fetch("events", "c", timeout=5)  # lease ran out: attempt 2
        await bus.nack(old)  # the first holder comes back late: ignored
        got = await bus.fetch("events", "c", timeout=0)
        await bus.ack(new)
        return len(got) + 10 * new.attempt

    assert asyncio.run(scenario()) == 20


def test_jetstream_names_are_valid_and_distinct() -> None:
    bus = JetStreamBus("nats://127.0.0.1:4222", stream="TILLWISE", ack_wait=30)
    names = {
        JetStreamBus.durable_name(topic, consumer, direct=direct)
        for topic in ("events", "deliveries", "sale.completed")
        for consumer in ("workflow:reporting", "workflow.reporting", "workflow_reporting", "a b")
        for direct in (False, True)
    }
    assert len(names) == 3 * 4 * 2
    assert all(VALID_DURABLE.fullmatch(n) for n in names)
    subject = bus.direct_subject("events", "workflow:reporting")
    assert subject.startswith("TILLWISE.direct.") and subject.endswith(".events")
    assert subject.count(".") == 3  # the consumer is one subject token
    assert bus.direct_subject("events", "a.b") != bus.direct_subject("events", "a_b")
    assert bus.topic_subject("events") == "TILLWISE.events"
