"""Pipeline benchmark: how fast stored deliveries become canonical records, events and reports.

Stores the first N events of the bundled Online Retail II replay in the inbox (as the webhook
endpoint would), then runs the embedded runtime (relay, normalizer, workflows) until every
consumer is idle, and prints deliveries/s and transactions per delivery. The baseline is the
inbox alone (storing the same deliveries), measured in the same run.

usage: python -m bench.pipeline [--events 5000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from rich.console import Console

from tillwise.bootstrap import build_container, build_runtime
from tillwise.connectors.simulator.dataset import load_invoices
from tillwise.connectors.simulator.replay import build_events
from tillwise.pipeline.dispatch import spine_consumers
from tillwise.ports.inbox import RawDelivery
from tillwise.settings import Settings
from tillwise.store.migrate import upgrade
from tillwise.workflows.registry import default_workflows

console = Console(width=120)  # the table stays readable when piped


async def run(database_url: str, key_file: Path, n: int) -> None:
    upgrade(database_url)
    container = build_container(Settings(database_url=database_url, secret_key_file=key_file))
    conn = container.connections.create("generic", "bench", ["s"], actor="bench")
    events = build_events(load_invoices())[:n]
    now = container.clock.now()

    t0 = time.perf_counter()
    await asyncio.gather(
        *(
            container.inbox.accept(
                RawDelivery(
                    platform="generic",
                    connection_id=conn.id,
                    event_id=e.event_id,
                    topic=e.event,
                    body=e.body(),
                    received_at=now,
                )
            )
            for e in events
        )
    )
    stored = time.perf_counter() - t0

    runtime = build_runtime(container, workers=1)
    consumers = spine_consumers(default_workflows())
    t1 = time.perf_counter()
    await runtime.start()
    try:
        while True:
            await asyncio.sleep(0.2)
            pending = [await container.bus.pending(t, c) for t, c in consumers]
            age = container.relay.oldest_unpublished_age(container.clock.now())  # type: ignore[union-attr]
            if not any(pending) and age is None:
                break
    finally:
        await runtime.stop()
    processed = time.perf_counter() - t1
    with container.uow() as uow:
        counts = uow.events.counts_by_type()
    await container.close()
    console.print(
        f"{n:,} deliveries stored in {stored:.1f} s ({n / stored:,.0f}/s); "
        f"processed in {processed:.1f} s ({n / processed:,.0f} deliveries/s, "
        f"ratio to storing {stored / processed:.2f}); events: {sum(counts.values()):,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tillwise-pipeline-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    asyncio.run(run(url, tmp / "bench.key", args.events))


if __name__ == "__main__":
    main()
