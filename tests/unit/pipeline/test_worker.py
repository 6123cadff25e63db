"""Worker on the MemoryBus: ack on success, nack with backoff on failure, dead letter at the end."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from tillwise.pipeline.backends.memory import MemoryBus
from tillwise.pipeline.worker import Worker, describe_error, exponential_backoff
from tillwise.ports.bus import DeadLetter, Message, Received

T0 = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return T0


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def add(self, received: Received, error: str, failed_at: datetime) -> int:
        letter = DeadLetter(
            id=len(self.letters) + 1,
            consumer=received.consumer,
            message=received.message,
            attempts=received.attempt,
            error=error,
            failed_at=failed_at,
        )
        self.letters.append(letter)
        return letter.id

    def list(self, *, include_replayed: bool = False, limit: int = 100) -> list[DeadLetter]:
        return [d for d in self.letters if include_replayed or d.replayed_at is None][:limit]

    def count(self) -> int:
        return len(self.list(limit=len(self.letters)))

    def get(self, dead_letter_id: int) -> DeadLetter | None:
        return next((d for d in self.letters if d.id == dead_letter_id), None)

    def mark_replayed(self, dead_letter_id: int, at: datetime) -> None:
        self.letters = [
            replace(d, replayed_at=at) if d.id == dead_letter_id else d for d in self.letters
        ]


class Boom(Exception):
    pass


def make_worker(bus: MemoryBus, handler: Any, dead: MemoryDeadLetters, **kw: Any) -> Worker:
    values: dict[str, Any] = {
        "topic": "events",
        "consumer": "c",
        "handler": handler,
        "dead_letters": dead,
        "max_attempts": 3,
        "clock": FixedClock(),
        "backoff": lambda attempt: 0.0,
    }
    values.update(kw)
    return Worker(bus, **values)


def test_success_is_acked() -> None:
    bus = MemoryBus(ack_wait=30)
    seen: list[int] = []

    async def handler(received: Received) -> None:
        seen.append(received.message.payload["n"])

    worker = make_worker(bus, handler, MemoryDeadLetters())

    async def scenario() -> int:
        await bus.ensure_consumer("events", "c")
        for n in range(3):
            await bus.publish(Message(id=f"m{n}", topic="events", payload={"n": n}))
        return await worker.run_once(timeout=1)

    assert asyncio.run(scenario()) == 3
    assert seen == [0, 1, 2]
    assert worker.handled == 3
    assert asyncio.run(bus.pending("events", "c")) == 0


def test_failure_is_retried_with_backoff_then_dead_lettered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = MemoryBus(ack_wait=30)
    dead = MemoryDeadLetters()
    delays: list[int] = []
    attempts: list[int] = []

    def backoff(attempt: int) -> float:
        delays.append(attempt)
        return 0.01

    async def handler(received: Received) -> None:
        attempts.append(received.attempt)
        raise Boom("card 4242 declined")

    worker = make_worker(bus, handler, dead, backoff=backoff)

    async def scenario() -> None:
        await bus.ensure_consumer("events", "c")
        await bus.publish(Message(id="m1", topic="events", payload={"secret": "tok_live_123"}))
        while await bus.pending("events", "c"):
            await worker.run_once(timeout=2)

    with caplog.at_level(logging.DEBUG, logger="tillwise.pipeline.worker"):
        asyncio.run(scenario())
    assert attempts == [1, 2, 3]
    assert delays == [1, 2]  # backoff asked for each retry, not for the last attempt
    assert worker.retried == 2 and worker.dead_lettered == 1 and worker.handled == 0
    [letter] = dead.letters
    assert letter.consumer == "c" and letter.attempts == 3
    assert letter.message.id == "m1" and letter.message.payload == {"secret": "tok_live_123"}
    assert letter.error.startswith("Boom('card 4242 declined')")
    assert "Traceback" in letter.error and "in handler" in letter.error
    assert letter.failed_at == T0
    # the log names the message and the error class, never the payload or the error text
    assert "m1" in caplog.text and "Boom" in caplog.text
    assert "tok_live_123" not in caplog.text and "4242" not in caplog.text


def test_run_stops_when_asked() -> None:
    bus = MemoryBus(ack_wait=30)
    stop = asyncio.Event()

    async def handler(received: Received) -> None:
        stop.set()

    worker = make_worker(bus, handler, MemoryDeadLetters(), fetch_timeout=0.05)

    async def scenario() -> None:
        await bus.ensure_consumer("events", "c")
        await bus.publish(Message(id="m1", topic="events", payload={}))
        await asyncio.wait_for(worker.run(stop), timeout=30)

    asyncio.run(scenario())
    assert worker.handled == 1


def test_max_attempts_one_dead_letters_at_once() -> None:
    bus = MemoryBus(ack_wait=30)
    dead = MemoryDeadLetters()

    async def handler(received: Received) -> None:
        raise ValueError("bad")

    worker = make_worker(bus, handler, dead, max_attempts=1)

    async def scenario() -> None:
        await bus.ensure_consumer("events", "c")
        await bus.publish(Message(id="m1", topic="events", payload={}))
        await worker.run_once(timeout=1)

    asyncio.run(scenario())
    assert len(dead.letters) == 1 and worker.retried == 0
    assert asyncio.run(bus.pending("events", "c")) == 0


def test_default_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    # with the jitter at its maximum, the delay is the ceiling itself
    top = exponential_backoff(rng=_MaxRandom())
    assert [top(n) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    jittered = exponential_backoff(rng=random.Random(1337))
    for attempt in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        values = [jittered(attempt) for _ in range(50)]
        assert all(0.0 <= v <= ceiling for v in values)
        assert len(set(values)) > 1  # jittered, not constant
    same = exponential_backoff(rng=random.Random(7)), exponential_backoff(rng=random.Random(7))
    assert [same[0](3) for _ in range(5)] == [same[1](3) for _ in range(5)]


class _MaxRandom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def test_describe_error_keeps_the_traceback_tail() -> None:
    def deep(n: int) -> None:
        if n == 0:
            raise KeyError("missing")
        deep(n - 1)

    try:
        deep(300)
    except KeyError as exc:
        text = describe_error(exc, limit=2000)
    assert len(text) <= 2000
    assert text.startswith("KeyError('missing')")
    assert text.rstrip().endswith("KeyError: 'missing'")


def test_worker_rejects_max_attempts_below_one() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        make_worker(MemoryBus(), lambda r: None, MemoryDeadLetters(), max_attempts=0)
