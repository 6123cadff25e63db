"""A worker killed in the middle of handling an event: the event is handled again, and the
effect happens exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.api.conftest import SECRET
from tests.helpers import REFERENCE_SALE_BYTES, make_container, pump, run, signed_headers
from tillwise.bootstrap import register_consumers
from tillwise.ports.inbox import RawDelivery
from tillwise.store.tables import daily_sales, events, processed_messages, transactions
from tillwise.workflows.registry import default_workflows


@pytest.mark.parametrize("when", ["after", "before"])
def test_killed_worker_event_is_handled_again_exactly_once(
    sqlite_url: str, tmp_path: Path, when: str
) -> None:
    container = make_container(sqlite_url, tmp_path, ack_wait_seconds=2.0)
    try:
        conn = container.connections.create("generic", "Crash store", [SECRET], actor="test")
        now = container.clock.now()
        connector = container.connectors["generic"]
        headers = signed_headers(REFERENCE_SALE_BYTES, SECRET, int(now.timestamp()))
        verified = connector.verify(REFERENCE_SALE_BYTES, headers, [SECRET], now)
        run(
            container.inbox.accept(
                RawDelivery(
                    platform="generic",
                    connection_id=conn.id,
                    event_id=verified.event_id,
                    topic=verified.topic,
                    body=REFERENCE_SALE_BYTES,
                    received_at=now,
                )
            )
        )
        run(register_consumers(container))

        # a worker process takes the delivery, (handles it,) and is killed before acking
        marker = tmp_path / "marker"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration._crashing_worker",
                sqlite_url,
                str(tmp_path / "tillwise.key"),
                str(marker),
                when,
            ],
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        try:
            _wait_for(marker, proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert marker.read_text() == "1"

        # a healthy worker gets the delivery again once the lease expires, and finishes it
        handled = run(pump(container, rounds=200))
        assert handled >= 1
        with container.engine.connect() as c:
            count = lambda t: c.execute(select(func.count()).select_from(t)).scalar_one()  # noqa: E731
            assert count(transactions) == 1
            assert count(events) == 1
            [row] = c.execute(select(daily_sales)).mappings().all()
            assert row["sales_count"] == 1 and row["sales_amount"] == 4987
            # the normalizer and every workflow that takes a sale, each exactly once
            takers = [w for w in default_workflows() if "sale.completed" in w.subscribes_to]
            assert count(processed_messages) == 1 + len(takers)
        assert run(container.bus.pending("deliveries", "normalizer")) == 0
    finally:
        run(container.close())


def _wait_for(marker: Path, proc: subprocess.Popen[bytes]) -> None:
    """Wait (bounded) until the child reports it is mid-handling."""
    import time

    deadline = time.monotonic() + 60
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("worker never picked up the delivery")
        time.sleep(0.05)
