"""Test helpers that drive the real spine: sign a generic webhook, pump the pipeline."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tillwise.bootstrap import Container, build_container, build_workers, register_consumers
from tillwise.connectors._signatures import sign
from tillwise.pipeline.dispatch import spine_consumers
from tillwise.settings import Settings
from tillwise.workflows.registry import default_workflows

REFERENCE_SALE: dict[str, Any] = {
    "event": "sale.completed",
    "created_at": "2024-01-15T14:30:00Z",
    "data": {
        "id": "txn_abc123",
        "location_id": "loc_xyz789",
        "customer_id": "cust_456def",
        "line_items": [
            {"sku": "MENS-TSHIRT-BLUE-L", "name": "Men's T-Shirt", "quantity": 1, "price": 29.99},
            {"sku": "SOCKS-ANKLE-BLACK", "name": "Ankle Socks", "quantity": 2, "price": 9.99},
        ],
        "total_money": {"amount": 4987, "currency": "USD"},
    },
}
# The reference payload exactly as written in the blueprint (raw bytes, not re-serialized).
REFERENCE_SALE_BYTES = (
    b'{"event": "sale.completed", "created_at": "2024-01-15T14:30:00Z",\n'
    b' "data": {"id": "txn_abc123", "location_id": "loc_xyz789", "customer_id": "cust_456def",\n'
    b'   "line_items": [\n'
    b'     {"sku": "MENS-TSHIRT-BLUE-L", "name": "Men\'s T-Shirt", "quantity": 1,'
    b' "price": 29.99},\n'
    b'     {"sku": "SOCKS-ANKLE-BLACK", "name": "Ankle Socks", "quantity": 2, "price": 9.99}],\n'
    b'   "total_money": {"amount": 4987, "currency": "USD"}}}'
)


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key_file": tmp_path / "tillwise.key",
        "bus": "sql",
        "ack_wait_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


class FakeClock:
    """Tillwise's clock at a moment a test sets and moves on by hand."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)


def make_container(
    database_url: str, tmp_path: Path, *, clock: FakeClock | None = None, **overrides: Any
) -> Container:
    return build_container(make_settings(database_url, tmp_path, **overrides), clock=clock)


def signed_headers(
    body: bytes, secret: str, timestamp: int, event_id: str | None = None
) -> dict[str, str]:
    headers = {
        "Tillwise-Signature": sign(body, secret, timestamp),
        "Content-Type": "application/json",
    }
    if event_id:
        headers["Tillwise-Event-Id"] = event_id
    return headers


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


async def pump(container: Container, *, rounds: int = 50) -> int:
    """Relay and handle messages until the pipeline is idle; returns messages handled."""
    await register_consumers(container)
    workers = build_workers(container)
    consumers = spine_consumers(default_workflows())
    handled = 0
    assert container.relay is not None
    for _ in range(rounds):
        moved = await container.relay.relay_once()
        done = 0
        for w in workers:
            done += await w.run_once(timeout=0.05)
        handled += done
        if moved == 0 and done == 0:
            pending = [await container.bus.pending(t, c) for t, c in consumers]
            if not any(pending):
                return handled
    raise AssertionError("pipeline did not go idle")


def run(coro: Any) -> Any:
    return asyncio.run(coro)
