"""SqlInbox (group commit) and the outbox relay, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tillwise.pipeline.backends.memory import MemoryBus
from tillwise.pipeline.backends.sql import SqlBus
from tillwise.pipeline.inbox import SqlInbox
from tillwise.pipeline.relay import OutboxRelay
from tillwise.ports.inbox import MAX_KEY_LENGTH, InvalidDelivery, RawDelivery
from tillwise.store.engine import make_engine
from tillwise.store.tables import outbox
from tillwise.store.tables_pipeline import inbox as inbox_table

T0 = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


class FixedClock:
    def __init__(self, now: datetime = T0) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def delivery(event_id: str = "evt-1", body: bytes = b'{"a": 1}', **kw: Any) -> RawDelivery:
    values: dict[str, Any] = {
        "platform": "generic",
        "connection_id": "conn-1",
        "event_id": event_id,
        "topic": "sale.completed",
        "body": body,
        "received_at": T0,
        "headers": {"Content-Type": "application/json"},
    }
    values.update(kw)
    return RawDelivery(**values)


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def outbox_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(outbox).order_by(outbox.c.id)).mappings()]


def test_accept_stores_the_delivery_once_and_queues_it(engine: Engine) -> None:
    notified: list[int] = []
    inbox = SqlInbox(engine, clock=FixedClock(), outbox_notify=lambda: notified.append(1))

    async def scenario() -> Any:
        try:
            return await inbox.accept(delivery())
        finally:
            await inbox.close()

    result = asyncio.run(scenario())
    assert result.duplicate is False
    stored = inbox.get(result.delivery_id)
    assert stored is not None
    assert stored.id == result.delivery_id
    assert stored.delivery == delivery()  # every field round-trips, times in UTC
    [row] = outbox_rows(engine)
    assert row["topic"] == "deliveries"
    assert row["message_id"] == f"delivery:{result.delivery_id}"
    assert row["payload"] == {"delivery_id": result.delivery_id}
    assert row["published_at"] is None
    assert notified == [1]
    assert inbox.get(result.delivery_id + 1000) is None


def test_duplicate_returns_the_same_id_and_adds_nothing(engine: Engine) -> None:
    notified: list[int] = []
    inbox = SqlInbox(engine, clock=FixedClock(), outbox_notify=lambda: notified.append(1))

    async def scenario() -> Any:
        try:
            first = await inbox.accept(delivery())
            # same (platform, connection, event id), even with another body: a duplicate
            again = await inbox.accept(delivery(body=b"changed"))
            other_conn = await inbox.accept(delivery(connection_id="conn-2"))
            return first, again, other_conn
        finally:
            await inbox.close()

    first, again, other_conn = asyncio.run(scenario())
    assert again.duplicate is True and again.delivery_id == first.delivery_id
    assert other_conn.duplicate is False and other_conn.delivery_id != first.delivery_id
    assert count(engine, inbox_table) == 2
    assert len(outbox_rows(engine)) == 2
    stored = inbox.get(first.delivery_id)
    assert stored is not None and stored.delivery.body == b'{"a": 1}'
    assert len(notified) == 2  # no notify for the commit that only found a duplicate


def test_concurrent_accepts_are_group_committed(engine: Engine) -> None:
    inbox = SqlInbox(engine, clock=FixedClock(), window_ms=5.0)
    n = 200

    async def scenario() -> Any:
        try:
            return await asyncio.gather(*(inbox.accept(delivery(f"evt-{i}")) for i in range(n)))
        finally:
            await inbox.close()

    results = asyncio.run(scenario())
    ids = [r.delivery_id for r in results]
    assert len(set(ids)) == n
    assert not any(r.duplicate for r in results)
    assert count(engine, inbox_table) == n
    assert len(outbox_rows(engine)) == n
    assert inbox.accepted == n
    assert 0 < inbox.batches < n  # fewer transactions than requests
    for i in (0, 57, n - 1):
        stored = inbox.get(ids[i])
        assert stored is not None and stored.delivery.event_id == f"evt-{i}"


def test_duplicates_inside_one_batch(engine: Engine) -> None:
    inbox = SqlInbox(engine, clock=FixedClock(), window_ms=200.0)

    async def scenario() -> Any:
        try:
            return await asyncio.gather(*(inbox.accept(delivery("same")) for _ in range(10)))
        finally:
            await inbox.close()

    results = asyncio.run(scenario())
    assert len({r.delivery_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert count(engine, inbox_table) == 1
    assert len(outbox_rows(engine)) == 1


def test_body_bytes_round_trip_exactly(engine: Engine) -> None:
    bodies = [
        bytes(range(256)),  # every byte value, including NUL and invalid UTF-8
        b"",
        b'{"name": "Men\'s T-Shirt", "price": 29.99}\r\n',
        "héllo ☃".encode("utf-16"),
    ]
    inbox = SqlInbox(engine, clock=FixedClock())

    async def scenario() -> Any:
        try:
            return await asyncio.gather(
                *(inbox.accept(delivery(f"b-{i}", body=b)) for i, b in enumerate(bodies))
            )
        finally:
            await inbox.close()

    results = asyncio.run(scenario())
    for body, result in zip(bodies, results, strict=True):
        stored = inbox.get(result.delivery_id)
        assert stored is not None
        assert stored.delivery.body == body
        assert isinstance(stored.delivery.body, bytes)


def test_a_delivery_the_database_refuses_fails_alone(engine: Engine) -> None:
    inbox = SqlInbox(engine, clock=FixedClock(), window_ms=200.0)
    # headers that cannot be stored as JSON: the batch's insert raises
    bad = delivery("bad", headers={"x": object()})  # type: ignore[dict-item]

    async def scenario() -> Any:
        try:
            return await asyncio.gather(
                inbox.accept(delivery("ok-1")),
                inbox.accept(bad),
                inbox.accept(delivery("ok-2")),
                return_exceptions=True,
            )
        finally:
            await inbox.close()

    ok_1, failed, ok_2 = asyncio.run(scenario())
    assert isinstance(failed, Exception)
    assert not isinstance(ok_1, Exception) and not isinstance(ok_2, Exception)
    assert count(engine, inbox_table) == 2  # the good ones are stored and queued
    assert [r["payload"]["delivery_id"] for r in outbox_rows(engine)] == sorted(
        [ok_1.delivery_id, ok_2.delivery_id]
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"event_id": "e" * 256}, "event_id"),
        ({"event_id": "evt\x00"}, "event_id"),
        ({"event_id": "evt-\ud800"}, "event_id"),
        ({"event_id": ""}, "event_id"),
        ({"topic": "t" * 256}, "topic"),
        ({"topic": "sale\x00"}, "topic"),
    ],
)
def test_an_unstorable_key_is_refused_before_it_reaches_a_batch(
    engine: Engine, changes: dict[str, str], field: str
) -> None:
    inbox = SqlInbox(engine, clock=FixedClock(), window_ms=200.0)

    async def scenario() -> Any:
        try:
            return await asyncio.gather(
                inbox.accept(delivery("ok")),
                inbox.accept(delivery(**{"event_id": "x", **changes})),
                return_exceptions=True,
            )
        finally:
            await inbox.close()

    ok, refused = asyncio.run(scenario())
    assert isinstance(refused, InvalidDelivery) and refused.field == field
    assert not isinstance(ok, Exception)
    assert count(engine, inbox_table) == 1
    # the longest storable key still fits
    inbox2 = SqlInbox(engine, clock=FixedClock())

    async def longest() -> Any:
        try:
            return await inbox2.accept(delivery("e" * MAX_KEY_LENGTH, topic="t" * MAX_KEY_LENGTH))
        finally:
            await inbox2.close()

    stored = inbox2.get(asyncio.run(longest()).delivery_id)
    assert stored is not None and stored.delivery.event_id == "e" * MAX_KEY_LENGTH


def test_closed_inbox_refuses_new_deliveries(engine: Engine) -> None:
    inbox = SqlInbox(engine, clock=FixedClock())

    async def scenario() -> None:
        await inbox.accept(delivery())
        await inbox.close()
        await inbox.close()  # idempotent
        with pytest.raises(RuntimeError):
            await inbox.accept(delivery("later"))

    asyncio.run(scenario())
    assert count(engine, inbox_table) == 1


def test_ids_lists_deliveries_for_replay(engine: Engine) -> None:
    inbox = SqlInbox(engine, clock=FixedClock())

    async def scenario() -> Any:
        try:
            a = await inbox.accept(delivery("a"))
            b = await inbox.accept(delivery("b", received_at=T0 + timedelta(hours=1)))
            c = await inbox.accept(delivery("c", connection_id="conn-2"))
            return a.delivery_id, b.delivery_id, c.delivery_id
        finally:
            await inbox.close()

    a, b, c = asyncio.run(scenario())
    assert inbox.ids() == [a, b, c]
    assert inbox.ids(connection_id="conn-1") == [a, b]
    assert inbox.ids(since=T0 + timedelta(minutes=30)) == [b]


def test_relay_publishes_outbox_rows_to_the_bus_and_marks_them(engine: Engine) -> None:
    clock = FixedClock()
    bus = MemoryBus(ack_wait=30)
    relay = OutboxRelay(engine, bus, batch=2)
    inbox = SqlInbox(engine, clock=clock, outbox_notify=relay.notify)

    async def scenario() -> Any:
        await bus.ensure_consumer("deliveries", "normalizer")
        try:
            results = [await inbox.accept(delivery(f"e-{i}")) for i in range(3)]
        finally:
            await inbox.close()
        assert relay.oldest_unpublished_age(T0 + timedelta(seconds=90)) == 90.0
        moved = [await relay.relay_once(), await relay.relay_once(), await relay.relay_once()]
        got = await bus.fetch("deliveries", "normalizer", max_messages=10, timeout=1)
        return results, moved, got

    results, moved, got = asyncio.run(scenario())
    assert moved == [2, 1, 0]  # batch of 2, in id order, then nothing left
    ids = [r.delivery_id for r in results]
    assert [r.message.payload for r in got] == [{"delivery_id": i} for i in ids]
    assert [r.message.id for r in got] == [f"delivery:{i}" for i in ids]
    assert all(row["published_at"] is not None for row in outbox_rows(engine))
    assert relay.oldest_unpublished_age(T0) is None


def test_relay_into_a_sql_bus_on_the_same_database(engine: Engine) -> None:
    bus = SqlBus(engine, ack_wait=30)
    relay = OutboxRelay(engine, bus)
    inbox = SqlInbox(engine, clock=FixedClock())

    async def scenario() -> Any:
        await bus.ensure_consumer("deliveries", "normalizer")
        try:
            result = await inbox.accept(delivery())
        finally:
            await inbox.close()
        assert await relay.relay_once() == 1
        assert await relay.relay_once() == 0
        got = await bus.fetch("deliveries", "normalizer", timeout=1)
        return result, got

    result, got = asyncio.run(scenario())
    assert [r.message.payload for r in got] == [{"delivery_id": result.delivery_id}]


def test_relay_run_wakes_on_notify(engine: Engine) -> None:
    """The relay loop, woken by the inbox's notify, moves new rows without a relay_once call."""
    bus = MemoryBus(ack_wait=30)
    # a poll interval far longer than the fetch below: only the notify can make it in time
    relay = OutboxRelay(engine, bus, poll_interval=3600)
    inbox = SqlInbox(engine, clock=FixedClock(), outbox_notify=relay.notify)

    async def scenario() -> Any:
        await bus.ensure_consumer("deliveries", "normalizer")
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            await asyncio.sleep(0)  # let the loop start and go idle
            result = await inbox.accept(delivery())
            got = await bus.fetch("deliveries", "normalizer", timeout=10)
        finally:
            stop.set()
            await task
            await inbox.close()
        return result, got

    result, got = asyncio.run(scenario())
    assert [r.message.payload for r in got] == [{"delivery_id": result.delivery_id}]
