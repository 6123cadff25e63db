"""Dead letters: messages a consumer gave up on, kept in the database whatever the bus backend,
and replayed by a person (API or CLI) once the cause is fixed."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from tillwise.pipeline import as_utc
from tillwise.ports.bus import Bus, DeadLetter, DeadLetters, Message, Received
from tillwise.store.engine import read_only
from tillwise.store.tables_pipeline import dead_letters as dead_letters_table

_t = dead_letters_table


class SqlDeadLetters:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, received: Received, error: str, failed_at: datetime) -> int:
        with self._engine.begin() as conn:
            return conn.execute(
                insert(_t)
                .values(
                    consumer=received.consumer,
                    topic=received.message.topic,
                    message_id=received.message.id,
                    payload=received.message.payload,
                    attempts=received.attempt,
                    error=error,
                    failed_at=as_utc(failed_at),
                )
                .returning(_t.c.id)
            ).scalar_one()

    def list(self, *, include_replayed: bool = False, limit: int = 100) -> list[DeadLetter]:
        query = select(_t).order_by(_t.c.id).limit(limit)
        if not include_replayed:
            query = query.where(_t.c.replayed_at.is_(None))
        with read_only(self._engine) as conn:
            return [_letter(row) for row in conn.execute(query).mappings()]

    def count(self) -> int:
        query = select(func.count()).select_from(_t).where(_t.c.replayed_at.is_(None))
        with read_only(self._engine) as conn:
            return int(conn.execute(query).scalar_one())

    def get(self, dead_letter_id: int) -> DeadLetter | None:
        with read_only(self._engine) as conn:
            row = conn.execute(select(_t).where(_t.c.id == dead_letter_id)).mappings().first()
        return None if row is None else _letter(row)

    def mark_replayed(self, dead_letter_id: int, at: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(_t).where(_t.c.id == dead_letter_id).values(replayed_at=as_utc(at)))


class UnknownDeadLetter(LookupError):
    pass


async def replay_dead_letter(
    dead_letters: DeadLetters, bus: Bus, dead_letter_id: int, now: datetime
) -> Message:
    """Publish the dead letter again, to the consumer that failed it only, and mark it replayed.

    The message gets a NEW id (``f"{original}~replay{dead_letter_id}"``): the bus may still
    remember the original id and drop it as a duplicate. Handlers key their idempotency on the
    payload (event id, delivery id), so the new id does not cause a second effect."""
    letter = await asyncio.to_thread(dead_letters.get, dead_letter_id)
    if letter is None:
        raise UnknownDeadLetter(f"no dead letter {dead_letter_id}")
    message = Message(
        id=f"{letter.message.id}~replay{letter.id}",
        topic=letter.message.topic,
        payload=letter.message.payload,
        consumer=letter.consumer,
    )
    await bus.publish(message)
    await asyncio.to_thread(dead_letters.mark_replayed, dead_letter_id, now)
    return message


def _letter(row: Any) -> DeadLetter:
    return DeadLetter(
        id=row["id"],
        consumer=row["consumer"],
        message=Message(id=row["message_id"], topic=row["topic"], payload=row["payload"]),
        attempts=row["attempts"],
        error=row["error"],
        failed_at=as_utc(row["failed_at"]),
        replayed_at=as_utc(row["replayed_at"]) if row["replayed_at"] is not None else None,
    )
