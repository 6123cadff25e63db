"""The bus: topics with durable, named consumers (each consumer gets every message of its topic).

Delivery is at-least-once: a message fetched and not acked within the consumer's ack wait
(e.g. because the worker crashed) is delivered again. Handlers make the effect exactly-once by
recording the message id in the same transaction as the effect (see ``UnitOfWork.mark_processed``).

Topics used by the spine:
    ``deliveries``  payload {"delivery_id": int}: a raw delivery to normalize
    ``events``      payload: a canonical :class:`~tillwise.domain.events.Envelope` as JSON
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    id: str  # unique; publishing the same id twice delivers once where the backend can dedupe
    topic: str
    payload: dict[str, Any]
    consumer: str | None = None  # only this consumer (targeted replay); None: every consumer


@dataclass(frozen=True)
class Received:
    message: Message
    consumer: str
    attempt: int  # 1 on first delivery
    handle: Any = field(default=None, compare=False)  # backend-specific receipt


class Bus(Protocol):
    async def ensure_consumer(self, topic: str, consumer: str) -> None:
        """Create the durable consumer if missing; messages published after this reach it."""
        ...

    async def publish(self, message: Message) -> None: ...

    async def fetch(
        self, topic: str, consumer: str, *, max_messages: int = 16, timeout: float = 1.0
    ) -> list[Received]:
        """Lease up to ``max_messages``; waits at most ``timeout`` seconds when none is ready."""
        ...

    async def ack(self, received: Received) -> None: ...

    async def ack_many(self, received: Sequence[Received]) -> None:
        """Acknowledge several messages (of one consumer) at once: one round trip or
        transaction where the backend can, which is what a worker does after a batch."""
        ...

    async def nack(self, received: Received, *, delay: float = 0.0) -> None:
        """Give the message back for redelivery after ``delay`` seconds."""
        ...

    async def term(self, received: Received) -> None:
        """Never deliver this message again to this consumer (it was dead-lettered)."""
        ...

    async def pending(self, topic: str, consumer: str) -> int:
        """Messages not yet acked by the consumer (the pipeline lag in messages)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class DeadLetter:
    id: int
    consumer: str
    message: Message
    attempts: int
    error: str
    failed_at: datetime
    replayed_at: datetime | None = None


class DeadLetters(Protocol):
    """Messages a consumer gave up on, kept in the database whatever the bus backend."""

    def add(self, received: Received, error: str, failed_at: datetime) -> int: ...

    def list(self, *, include_replayed: bool = False, limit: int = 100) -> list[DeadLetter]: ...

    def count(self) -> int:
        """Dead letters not yet replayed."""
        ...

    def get(self, dead_letter_id: int) -> DeadLetter | None: ...

    def mark_replayed(self, dead_letter_id: int, at: datetime) -> None: ...
