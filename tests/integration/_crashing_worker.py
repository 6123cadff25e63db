"""A worker process that handles one delivery and then hangs before acknowledging it (or
before handling it), so the test can kill it at exactly that point.

usage: python -m tests.integration._crashing_worker DATABASE_URL KEY_FILE MARKER after|before
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tillwise.bootstrap import build_container
from tillwise.pipeline.dispatch import DELIVERIES, NORMALIZER, Normalizer
from tillwise.pipeline.worker import Worker
from tillwise.ports.bus import Received
from tillwise.settings import Settings


async def main(database_url: str, key_file: str, marker: Path, when: str) -> None:
    container = build_container(
        Settings(
            database_url=database_url,
            secret_key_file=Path(key_file),
            bus="sql",
            ack_wait_seconds=2.0,
        )
    )
    normalizer = Normalizer(container.uow, container.inbox, container.connectors)

    async def handler(received: Received) -> None:
        if when == "after":
            await normalizer(received)  # committed the effect ...
        await asyncio.to_thread(marker.write_text, str(received.attempt))
        await asyncio.Event().wait()  # ... and never acks: killed here

    worker = Worker(
        container.bus,
        topic=DELIVERIES,
        consumer=NORMALIZER,
        handler=handler,
        dead_letters=container.dead_letters,
        max_attempts=5,
        clock=container.clock,
    )
    assert container.relay is not None
    await container.relay.relay_once()
    while True:
        await worker.run_once(timeout=0.5)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]))
