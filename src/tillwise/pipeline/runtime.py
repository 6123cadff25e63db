"""Runs the outbox relay and the workers as asyncio tasks until asked to stop.

Embedded mode: ``tillwise serve`` runs one Runtime inside the web server process. Scale-out:
``tillwise worker`` runs Runtimes in separate processes (many hosts with NATS + PostgreSQL);
the relays and consumers share the work through the bus and the database's row locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    loops: list[Callable[[asyncio.Event], Awaitable[None]]]
    prepare: Callable[[], Awaitable[None]] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        if self.prepare is not None:
            await self.prepare()
        self._stop = asyncio.Event()
        self._tasks = [asyncio.create_task(self._guard(loop)) for loop in self.loops]

    async def _guard(self, loop: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Keep a loop alive: log and restart it after an unexpected error (e.g. DB restart)."""
        while not self._stop.is_set():
            try:
                await loop(self._stop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pipeline loop failed; restarting in 1 s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=1.0)

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks = []

    async def run_forever(self) -> None:
        await self.start()
        try:
            await self._stop.wait()
        finally:
            await self.stop()

    def request_stop(self) -> None:
        self._stop.set()
