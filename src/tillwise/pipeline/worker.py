"""Worker: fetch → handle → ack for one (topic, consumer); retries with backoff; dead letters.

A handler that raises is retried: the message is nacked with a backoff delay (exponential with
full jitter). When the failing attempt is the ``max_attempts``-th, the message is stored in the
dead-letter list (with the error and the tail of its traceback) and terminated on the bus, so it
is never delivered again unless a person replays it.

A handler may offer ``handle_batch(messages)``: the fetched batch is then handled in one go
(one transaction), and if that fails, again one message at a time, so a single bad message is
retried or dead-lettered on its own.

Errors listed as ``permanent`` (e.g. a payload that does not match its documented shape) are
dead-lettered at once: retrying cannot change the outcome.

A crash (no ack, no nack) is covered by the bus: the lease runs out and the message comes back
with the next attempt number.
"""

from __future__ import annotations

import asyncio
import logging
import random
import traceback
from collections.abc import Awaitable, Callable

from tillwise.ports.bus import Bus, DeadLetters, Received
from tillwise.ports.clock import Clock

log = logging.getLogger(__name__)

Handler = Callable[[Received], Awaitable[None]]

MAX_ERROR_CHARS = 4000


def exponential_backoff(
    *, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> Callable[[int], float]:
    """``attempt -> delay``: uniform in [0, min(cap, base·2^(attempt-1))] ("full jitter")."""
    source = rng or random.Random()

    def backoff(attempt: int) -> float:
        ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
        return source.uniform(0.0, ceiling)

    return backoff


def describe_error(exc: BaseException, limit: int = MAX_ERROR_CHARS) -> str:
    """``repr(exc)`` plus the tail of its traceback (the frames nearest the error)."""
    trace = "".join(traceback.format_exception(exc))
    tail = trace[-(limit - 200) :] if len(trace) > limit - 200 else trace
    return f"{exc!r}\n{tail}"[:limit]


class Worker:
    def __init__(
        self,
        bus: Bus,
        *,
        topic: str,
        consumer: str,
        handler: Handler,
        dead_letters: DeadLetters,
        max_attempts: int,
        clock: Clock,
        backoff: Callable[[int], float] | None = None,
        rng: random.Random | None = None,
        batch: int = 8,
        fetch_timeout: float = 1.0,
        permanent: tuple[type[BaseException], ...] = (),
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.bus = bus
        self.topic = topic
        self.consumer = consumer
        self.handler = handler
        self.dead_letters = dead_letters
        self.max_attempts = max_attempts
        self.clock = clock
        self.backoff = backoff or exponential_backoff(rng=rng)
        self.batch = batch
        self.fetch_timeout = fetch_timeout
        self.permanent = permanent
        # Counters for the dashboard and tests.
        self.handled = 0
        self.retried = 0
        self.dead_lettered = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Handle messages until ``stop`` is set (checked between fetches)."""
        log.info("worker %s on %s started", self.consumer, self.topic)
        while not stop.is_set():
            await self.run_once(timeout=self.fetch_timeout)
        log.info("worker %s on %s stopped", self.consumer, self.topic)

    async def run_once(self, timeout: float = 1.0) -> int:  # noqa: ASYNC109
        """Fetch one batch (waiting at most ``timeout``) and settle every message in it;
        returns how many messages were settled (acked, nacked or dead-lettered)."""
        batch = await self.bus.fetch(
            self.topic, self.consumer, max_messages=self.batch, timeout=timeout
        )
        done: list[Received] = []
        handle_batch = getattr(self.handler, "handle_batch", None)
        if handle_batch is not None and len(batch) > 1:
            try:
                await handle_batch(batch)
            except Exception:
                log.info("%s: batch of %d failed; handling one by one", self.consumer, len(batch))
            else:
                done = list(batch)
        if not done:
            for received in batch:
                try:
                    await self.handler(received)
                except Exception as exc:
                    await self._failed(received, exc)
                else:
                    done.append(received)
        # One acknowledgement for the batch: a crash before it only means redelivery, which the
        # handlers' processed marks turn into no-ops.
        await self.bus.ack_many(done)
        self.handled += len(done)
        return len(batch)

    async def _failed(self, received: Received, exc: Exception) -> None:
        message_id = received.message.id
        if received.attempt >= self.max_attempts or isinstance(exc, self.permanent):
            # The exception class only: its text may quote payload data (kept in the dead letter).
            log.error(
                "%s gave up on message %s after %d attempts: %s",
                self.consumer,
                message_id,
                received.attempt,
                type(exc).__name__,
            )
            error = describe_error(exc)
            now = self.clock.now()
            await asyncio.to_thread(self.dead_letters.add, received, error, now)
            await self.bus.term(received)
            self.dead_lettered += 1
            return
        delay = self.backoff(received.attempt)
        log.warning(
            "%s failed on message %s (attempt %d of %d), retrying in %.2fs: %s",
            self.consumer,
            message_id,
            received.attempt,
            self.max_attempts,
            delay,
            type(exc).__name__,
        )
        await self.bus.nack(received, delay=delay)
        self.retried += 1
