"""Backfill and reconciliation: pull a store's history (or what webhooks missed) from the
platform's API into the same inbox webhooks go to.

Every object fetched becomes an inbox delivery with the topic ``resource:<name>`` and an event
id made of the object's id and version (or updated-at), so the inbox de-duplicates: fetching
the same object twice stores it once, and an object already delivered by webhook and fetched
again changes nothing. From the inbox on it is the spine as usual (normalizer → canonical
records → events → workflows), which is why a backfilled store ends up in the same canonical
state as one fed by webhooks.

Progress is checkpointed per connection and resource after every page (the cursor that
continues after it), so an interrupted backfill resumes where it stopped; a new ``since``
starts that resource afresh: from the watermark its last finished run kept when the API's
pages carry one (a change feed: X-Series versions), else from the beginning. The
reconciliation sweep runs the same backfill for every connection whose platform has an API,
from shortly before its previous sweep (Clover and Lightspeed do not guarantee webhook
delivery; R-Series sends none).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update

from tillwise.ports.clock import Clock
from tillwise.ports.inbox import Inbox, RawDelivery
from tillwise.ports.platform import Api, resource_topic
from tillwise.store.engine import read_only
from tillwise.store.tables_governance import backfill_checkpoints

log = logging.getLogger(__name__)
_c = backfill_checkpoints.c
SWEEP = "__reconciled__"  # the checkpoint row that remembers the last sweep
OVERLAP = timedelta(minutes=15)  # a sweep re-reads this much before its previous start


@dataclass(frozen=True)
class Checkpoint:
    resource: str
    since: datetime | None
    cursor: str | None
    done: bool
    objects: int


class Backfill:
    def __init__(
        self,
        engine: Engine,
        inbox: Inbox,
        api_for: Callable[[str], Api],
        platform_of: Callable[[str], str],
        clock: Clock,
    ) -> None:
        self._engine = engine
        self._inbox = inbox
        self._api_for = api_for
        self._platform_of = platform_of
        self._clock = clock

    def checkpoints(self, connection_id: str) -> list[Checkpoint]:
        with read_only(self._engine) as db:
            rows = db.execute(
                select(backfill_checkpoints)
                .where(_c.connection_id == connection_id)
                .order_by(_c.started_at, _c.resource)
            ).all()
        return [
            Checkpoint(r.resource, r.since, r.cursor, bool(r.done), int(r.objects)) for r in rows
        ]

    async def run(
        self,
        connection_id: str,
        *,
        since: datetime | None,
        resources: Sequence[str] | None = None,
        restart: bool = False,
        progress: Callable[[str, int], None] | None = None,
    ) -> dict[str, int]:
        """Store every object of ``resources`` (default: all, in the API's order) changed since
        ``since`` (None: all history); returns objects stored per resource in this call.
        Resumes an unfinished run with the same ``since`` unless ``restart``."""
        platform = self._platform_of(connection_id)
        api = self._api_for(connection_id)
        counts: dict[str, int] = {}
        try:
            wanted = list(resources) if resources else list(api.resources)
            unknown = [r for r in wanted if r not in api.resources]
            if unknown:
                raise ValueError(
                    f"{platform} has no resource {unknown[0]!r}; known: {', '.join(api.resources)}"
                )
            for resource in wanted:
                counts[resource] = await self._resource(
                    api, platform, connection_id, resource, since, restart, progress
                )
        finally:
            await api.aclose()
        return counts

    async def _resource(
        self,
        api: Api,
        platform: str,
        connection_id: str,
        resource: str,
        since: datetime | None,
        restart: bool,
        progress: Callable[[str, int], None] | None,
    ) -> int:
        previous = next(
            (c for c in self.checkpoints(connection_id) if c.resource == resource), None
        )
        resume = previous is not None and previous.since == since and not restart
        if resume and previous is not None and previous.done:
            return 0
        # an unfinished run resumes; a new ``since`` starts from the finished run's watermark
        carried = resume or (since is not None and previous is not None and previous.done)
        cursor = previous.cursor if carried and previous is not None else None
        if not resume:
            self._save(connection_id, resource, since=since, cursor=None, done=False, fresh=True)
        stored = 0
        watermark = None
        async for page in api.pages(resource, since=since, cursor=cursor):
            now = self._clock.now()
            for obj in page.objects:
                await self._inbox.accept(
                    RawDelivery(
                        platform=platform,
                        connection_id=connection_id,
                        event_id=obj.event_id,
                        topic=resource_topic(obj.resource),
                        body=obj.body,
                        received_at=now,
                    )
                )
            stored += len(page.objects)
            watermark = page.watermark or watermark
            self._save(
                connection_id,
                resource,
                since=since,
                cursor=page.cursor,
                done=False,
                added=len(page.objects),
            )
            if progress is not None:
                progress(resource, len(page.objects))
        self._save(connection_id, resource, since=since, cursor=watermark, done=True)
        return stored

    def _save(
        self,
        connection_id: str,
        resource: str,
        *,
        since: datetime | None,
        cursor: str | None,
        done: bool,
        added: int = 0,
        fresh: bool = False,
    ) -> None:
        now = self._clock.now()
        key = (_c.connection_id == connection_id) & (_c.resource == resource)
        with self._engine.begin() as db:
            if fresh:
                db.execute(delete(backfill_checkpoints).where(key))
            row = db.execute(select(_c.objects).where(key)).first()
            if row is None:
                db.execute(
                    insert(backfill_checkpoints).values(
                        connection_id=connection_id,
                        resource=resource,
                        since=since,
                        cursor=cursor,
                        done=int(done),
                        objects=added,
                        started_at=now,
                        updated_at=now,
                    )
                )
            else:
                db.execute(
                    update(backfill_checkpoints)
                    .where(key)
                    .values(
                        cursor=cursor,
                        done=int(done),
                        objects=int(row.objects) + added,
                        updated_at=now,
                    )
                )

    # ------------------------------------------------------------------ reconciliation

    async def reconcile(self, connection_id: str) -> dict[str, int]:
        """Fetch what changed since shortly before the previous sweep (the first sweep: the
        last day), so objects whose webhooks never came are filled in."""
        started = self._clock.now()
        last = next((c for c in self.checkpoints(connection_id) if c.resource == SWEEP), None)
        since = (last.since if last and last.since else started - timedelta(days=1)) - OVERLAP
        counts = await self.run(connection_id, since=since, restart=True)
        self._save(connection_id, SWEEP, since=started, cursor=None, done=True, fresh=True)
        return counts

    async def run_sweeps(
        self,
        stop: asyncio.Event,
        connections: Callable[[], Sequence[str]],
        *,
        interval: float,
    ) -> None:
        """Reconcile every connection with an API every ``interval`` seconds until ``stop``."""
        while not stop.is_set():
            for connection_id in connections():
                if stop.is_set():
                    break
                try:
                    counts = await self.reconcile(connection_id)
                    if any(counts.values()):
                        log.info("reconciled %s: %s", connection_id, counts)
                except Exception:
                    log.exception("reconciling connection %s failed", connection_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
