"""Canonical events, dead letters (list, replay), pipeline stats and the daily sales report."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tillwise.domain.locations import store_key
from tillwise.governance.principal import Principal
from tillwise.pipeline.dead_letters import replay_dead_letter
from tillwise.pipeline.dispatch import spine_consumers
from tillwise.ports.repositories import Page
from tillwise.workflows.registry import default_workflows

from ..deps import ContainerDep, require
from ..problems import Problem
from ..schemas.common import ListPublic

router = APIRouter(prefix="/v1")


class EventPublic(BaseModel):
    id: str
    type: str
    source: str
    subject: str | None
    time: datetime | None
    platform: str
    connection_id: str
    data: dict[str, Any]


@router.get(
    "/events",
    response_model=ListPublic[EventPublic],
    tags=["events"],
    operation_id="events-list",
    dependencies=[require("events:read")],
)
def list_events(
    container: ContainerDep,
    type: str | None = None,
    connection_id: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    after: str | None = None,
) -> dict[str, Any]:
    with container.uow() as uow:
        envelopes = uow.events.list(
            type=type, connection_id=connection_id, page=Page(limit=limit, after=after)
        )
    data = [
        EventPublic(
            id=e.id,
            type=e.type,
            source=e.source,
            subject=e.subject,
            time=e.time,
            platform=e.platform,
            connection_id=e.connectionid,
            data=e.data,
        )
        for e in envelopes
    ]
    next_after = envelopes[-1].id if len(envelopes) == limit else None
    return {"data": data, "count": len(data), "next_after": next_after}


class DeadLetterPublic(BaseModel):
    id: int
    consumer: str
    topic: str
    message_id: str
    payload: dict[str, Any]
    attempts: int
    error: str
    failed_at: datetime
    replayed_at: datetime | None


@router.get(
    "/dead-letters",
    response_model=ListPublic[DeadLetterPublic],
    tags=["dead-letters"],
    operation_id="dead-letters-list",
    dependencies=[require("deadletters:read")],
)
def list_dead_letters(
    container: ContainerDep,
    include_replayed: bool = False,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    letters = container.dead_letters.list(include_replayed=include_replayed, limit=limit)
    data = [
        DeadLetterPublic(
            id=d.id,
            consumer=d.consumer,
            topic=d.message.topic,
            message_id=d.message.id,
            payload=d.message.payload,
            attempts=d.attempts,
            error=d.error,
            failed_at=d.failed_at,
            replayed_at=d.replayed_at,
        )
        for d in letters
    ]
    return {"data": data, "count": len(data)}


class ReplayPublic(BaseModel):
    dead_letter_id: int
    message_id: str
    consumer: str


@router.post(
    "/dead-letters/{dead_letter_id}/replay",
    response_model=ReplayPublic,
    tags=["dead-letters"],
    operation_id="dead-letters-replay",
)
async def replay(
    dead_letter_id: int,
    container: ContainerDep,
    principal: Principal = require("deadletters:replay"),
) -> ReplayPublic:
    letter = container.dead_letters.get(dead_letter_id)
    if letter is None:
        raise Problem(404, "not_found", f"no dead letter {dead_letter_id}", field="dead_letter_id")
    if letter.replayed_at is not None:
        raise Problem(409, "already_replayed", f"dead letter {dead_letter_id} was replayed")
    message = await replay_dead_letter(
        container.dead_letters, container.bus, dead_letter_id, container.clock.now()
    )
    container.audit.append(
        actor=principal.actor,
        action="deadletter.replayed",
        store=None,
        inputs={"dead_letter_id": dead_letter_id, "consumer": letter.consumer},
        outputs={"message_id": message.id},
    )
    return ReplayPublic(
        dead_letter_id=dead_letter_id, message_id=message.id, consumer=letter.consumer
    )


class ConsumerLag(BaseModel):
    topic: str
    consumer: str
    pending: int


class OverviewPublic(BaseModel):
    events_by_type: dict[str, int]
    events_total: int
    consumers: list[ConsumerLag]
    outbox_oldest_seconds: float | None  # age of the oldest delivery/event not yet on the bus
    dead_letters: int
    as_of: datetime


@router.get(
    "/stats/overview",
    response_model=OverviewPublic,
    tags=["stats"],
    operation_id="stats-overview",
    dependencies=[require("stats:read")],
)
async def overview(container: ContainerDep) -> OverviewPublic:
    # Database reads go to a thread: this route is async (the bus is) and must not hold the
    # event loop, which also acknowledges webhooks, while it waits for the database.
    def read() -> tuple[dict[str, int], int]:
        with container.uow() as uow:
            counts = uow.events.counts_by_type()
        return counts, container.dead_letters.count()  # not nested: one transaction at a time

    counts, dead = await asyncio.to_thread(read)
    consumers = spine_consumers(default_workflows())
    lags = [
        ConsumerLag(topic=t, consumer=c, pending=await container.bus.pending(t, c))
        for t, c in consumers
    ]
    now = container.clock.now()
    relay = container.relay
    oldest = await asyncio.to_thread(relay.oldest_unpublished_age, now) if relay else None
    return OverviewPublic(
        events_by_type=counts,
        events_total=sum(counts.values()),
        consumers=lags,
        outbox_oldest_seconds=oldest,
        dead_letters=dead,
        as_of=now,
    )


class DailySalesPublic(BaseModel):
    connection_id: str
    location_id: str
    location_name: str | None
    day: date
    currency: str
    sales_count: int
    sales_amount: int
    refunds_count: int
    refunds_amount: int


@router.get(
    "/reports/daily-sales",
    response_model=ListPublic[DailySalesPublic],
    tags=["reports"],
    operation_id="reports-daily-sales",
)
def daily_sales(
    container: ContainerDep,
    since: date | None = None,
    until: date | None = None,
    principal: Principal = require("reports:read"),
) -> dict[str, Any]:
    with container.uow() as uow:
        rows = [
            r
            for r in uow.reporting.daily_sales(since=since, until=until)
            if principal.sees(store_key(r.connection_id, r.location_external_id))
        ]
        names: dict[tuple[str, str], str | None] = {}
        for r in rows:
            key = (r.connection_id, r.location_external_id)
            if key not in names:
                loc = uow.records.location(*key)
                names[key] = loc.name if loc else None
    data = [
        DailySalesPublic(
            connection_id=r.connection_id,
            location_id=r.location_external_id,
            location_name=names[(r.connection_id, r.location_external_id)],
            day=r.day,
            currency=r.currency,
            sales_count=r.sales_count,
            sales_amount=r.sales_amount,
            refunds_count=r.refunds_count,
            refunds_amount=r.refunds_amount,
        )
        for r in rows
    ]
    return {"data": data, "count": len(data)}
