"""The nightly batch: each store is planned once per local night, at ``hour`` o'clock.

A store is due when its latest plan is older than its most recent local ``hour`` o'clock (a
store never planned is due at once). :func:`run_nightly` checks every ``interval`` seconds and
plans the due stores one at a time (:meth:`Planner.batch`: stores never planned are previewed
first, so that each store's transfers see all its peers), the forecast in a worker thread (it
is the heavy part), then lets governance route the proposals (``on_proposals``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .planner import Planner, plan_stores

log = logging.getLogger(__name__)


def last_slot(now: datetime, time_zone: str, hour: int) -> datetime:
    """The most recent local ``hour`` o'clock at or before ``now`` (aware)."""
    local = now.astimezone(ZoneInfo(time_zone))
    slot = datetime.combine(local.date(), time(hour), tzinfo=local.tzinfo)
    if slot > local:
        slot = datetime.combine(local.date() - timedelta(days=1), time(hour), tzinfo=local.tzinfo)
    return slot


def due_stores(
    stores: Iterable[tuple[str, str, str]],
    planned_at: dict[tuple[str, str], datetime],
    now: datetime,
    hour: int,
) -> list[tuple[str, str]]:
    """Stores (connection id, location id) whose nightly plan is due."""
    out = []
    for conn, loc, zone in stores:
        last = planned_at.get((conn, loc))
        if last is None or last < last_slot(now, zone, hour):
            out.append((conn, loc))
    return out


async def run_nightly(
    stop: asyncio.Event,
    planner: Planner,
    on_proposals: Callable[[], Awaitable[Any]] | None = None,
    *,
    hour: int = 2,
    interval: float = 300.0,
) -> None:
    """Plan due stores every ``interval`` seconds until ``stop`` (see the module docstring)."""
    while not stop.is_set():
        try:
            await run_due(planner, on_proposals, hour=hour, stop=stop)
        except Exception:
            log.exception("nightly replenishment failed; retrying at the next check")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def run_due(
    planner: Planner,
    on_proposals: Callable[[], Awaitable[Any]] | None = None,
    *,
    hour: int = 2,
    stop: asyncio.Event | None = None,
) -> int:
    """Plan every store that is due now; returns how many were planned."""

    def due() -> list[tuple[str, str]]:
        stores = plan_stores(planner.uow)
        with planner.uow() as work:
            planned = {
                (p.connection_id, p.location_external_id): p.planned_at
                for p in work.replenishment.plans()
            }
        return due_stores(stores, planned, planner.clock.now(), hour)

    planned = 0
    stores = await asyncio.to_thread(due)
    for conn, loc, preview in await asyncio.to_thread(planner.batch, stores):
        if stop is not None and stop.is_set():
            break
        try:
            if preview:
                await asyncio.to_thread(planner.preview, conn, loc)
                continue
            _plan, new = await asyncio.to_thread(planner.run, conn, loc)
        except Exception:
            log.exception("replenishment plan of %s:%s failed", conn, loc)
            continue
        planned += 1
        if new and on_proposals is not None:
            await on_proposals()
    return planned
