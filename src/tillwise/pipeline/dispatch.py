"""The two handlers of the spine.

``deliveries`` → :class:`Normalizer`: a stored raw delivery is normalized by its platform's
connector; records are upserted (never backwards), events appended, and each new event queued
on the outbox for the ``events`` topic — all in one transaction that also marks the delivery
processed, so a redelivery (crash before ack) has no second effect.

``events`` → :class:`WorkflowDispatcher`: one consumer per workflow; the workflow's writes and the
processed mark share a transaction for the same reason. Proposals are stored in that same
transaction (as ``new``; their ids are deterministic), then handed to governance to route —
which audits them — by the ``on_proposals`` hook.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from tillwise.domain.events import Envelope
from tillwise.domain.normalized import NormalizedBatch
from tillwise.domain.proposals import Proposal
from tillwise.ports.bus import Received
from tillwise.ports.clock import Clock
from tillwise.ports.inbox import Inbox, RawDelivery
from tillwise.ports.platform import Api, Connector, PayloadError, resource_topic
from tillwise.ports.repositories import UnitOfWorkFactory
from tillwise.workflows.base import Workflow, WorkflowContext

log = logging.getLogger(__name__)

DELIVERIES = "deliveries"
EVENTS = "events"
NORMALIZER = "normalizer"
# Failures that no retry can fix: the delivery is parked as a dead letter at once.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (PayloadError,)


def workflow_consumer(workflow: Workflow) -> str:
    return f"workflow:{workflow.name}"


def spine_consumers(workflows: Sequence[Workflow]) -> list[tuple[str, str]]:
    """Every (topic, consumer) of the spine: the normalizer, then one consumer per workflow."""
    return [(DELIVERIES, NORMALIZER)] + [(EVENTS, workflow_consumer(w)) for w in workflows]


class UnknownDelivery(LookupError):
    pass


class Normalizer:
    """Handler for the ``deliveries`` topic.

    Each delivery is normalized with its connection's config (``config_for``: the currency of
    platforms whose payloads name none...), webhooks and fetched objects alike.

    When a delivery only *names* objects (``batch.fetches``: Clover notifications, Square order
    summaries), they are fetched from the platform's API (``api_for``) and stored in the inbox
    as ``resource:<name>`` deliveries — durably, de-duplicated by object version — before the
    naming delivery is marked processed; a failed fetch leaves it to be retried. The inbox relay
    then queues the fetched objects like any webhook."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        inbox: Inbox,
        connectors: Mapping[str, Connector],
        api_for: Callable[[str], Api] | None = None,
        clock: Clock | None = None,
        config_for: Callable[[str], Mapping[str, Any]] | None = None,
    ) -> None:
        self._uow = uow
        self._inbox = inbox
        self._connectors = connectors
        self._api_for = api_for
        self._clock = clock
        self._config_for = config_for

    async def __call__(self, received: Received) -> None:
        await self.handle_batch([received])

    async def handle_batch(self, batch: Sequence[Received]) -> None:
        """Normalize several deliveries in one transaction (all or nothing; the worker falls
        back to one at a time when a batch fails, so one bad delivery does not hold up others)."""
        ids = [int(r.message.payload["delivery_id"]) for r in batch]
        normalized = await asyncio.to_thread(self._normalize, ids)
        for delivery, result in normalized:
            if result.fetches:
                await self._fetch(delivery, result)
        await asyncio.to_thread(
            self._commit, [(i, b) for i, (_, b) in zip(ids, normalized, strict=True)]
        )

    def handle(self, delivery_id: int, *, force: bool = False) -> int:
        """Normalize one stored delivery; returns the number of new events (0 if already done).

        ``force`` normalizes again even if it was done before (inbox replay after a fix). Objects
        the delivery names are not fetched again here (they were stored when it was first
        handled)."""
        return self.handle_many([delivery_id], force=force)

    def handle_many(self, delivery_ids: Sequence[int], *, force: bool = False) -> int:
        normalized = self._normalize(delivery_ids)
        return self._commit(
            [(i, b) for i, (_, b) in zip(delivery_ids, normalized, strict=True)], force=force
        )

    def _normalize(self, delivery_ids: Sequence[int]) -> list[tuple[RawDelivery, NormalizedBatch]]:
        out: list[tuple[RawDelivery, NormalizedBatch]] = []
        configs: dict[str, Mapping[str, Any]] = {}
        for delivery_id in delivery_ids:
            stored = self._inbox.get(delivery_id)
            if stored is None:
                raise UnknownDelivery(f"inbox has no delivery {delivery_id}")
            delivery = stored.delivery
            cid = delivery.connection_id
            if cid not in configs:
                configs[cid] = self._config_for(cid) if self._config_for is not None else {}
            connector = self._connectors[delivery.platform]
            out.append((delivery, connector.normalize(delivery, configs[cid])))
        return out

    async def _fetch(self, delivery: RawDelivery, batch: NormalizedBatch) -> None:
        if self._api_for is None:
            raise RuntimeError("this delivery names objects to fetch, but no API is configured")
        api = self._api_for(delivery.connection_id)
        try:
            fetched = await api.fetch(batch.fetches)
        finally:
            await api.aclose()
        now = self._clock.now() if self._clock is not None else delivery.received_at
        for obj in fetched:
            await self._inbox.accept(
                RawDelivery(
                    platform=delivery.platform,
                    connection_id=delivery.connection_id,
                    event_id=obj.event_id,
                    topic=resource_topic(obj.resource),
                    body=obj.body,
                    received_at=now,
                )
            )

    def _commit(
        self, normalized: Sequence[tuple[int, NormalizedBatch]], *, force: bool = False
    ) -> int:
        new_events = 0
        with self._uow() as uow:
            for delivery_id, batch in normalized:
                first_time = uow.mark_processed(NORMALIZER, f"delivery:{delivery_id}")
                if not first_time and not force:
                    continue
                for record in batch.records:
                    uow.records.upsert(record)
                for envelope in batch.events:
                    if uow.events.append(envelope):
                        payload = envelope.model_dump(mode="json")
                        uow.publish_after_commit(EVENTS, envelope.id, payload)
                        new_events += 1
        return new_events


class WorkflowDispatcher:
    """Handler for the ``events`` topic on behalf of one workflow."""

    def __init__(
        self,
        workflow: Workflow,
        uow: UnitOfWorkFactory,
        clock: Clock,
        on_proposals: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.workflow = workflow
        self.consumer = workflow_consumer(workflow)
        self._uow = uow
        self._clock = clock
        self._on_proposals = on_proposals

    async def __call__(self, received: Received) -> None:
        await self.handle_batch([received])

    async def handle_batch(self, batch: Sequence[Received]) -> None:
        """Handle several events in one transaction (the worker falls back to one at a time
        when a batch fails)."""
        envelopes = [Envelope.model_validate(r.message.payload) for r in batch]
        wanted = [e for e in envelopes if e.type in self.workflow.subscribes_to]
        if not wanted:
            return
        proposed = await asyncio.to_thread(self.handle_many, wanted)
        if proposed and self._on_proposals is not None:
            try:
                await self._on_proposals()
            except Exception:  # stored as new: the governance sweep routes them later
                log.exception("routing proposals of %s failed; the sweep will retry", self.consumer)

    def handle(self, envelope: Envelope) -> int:
        return self.handle_many([envelope])

    def handle_many(self, envelopes: Sequence[Envelope]) -> int:
        """Run the workflow on each new event; returns how many proposals it stored."""
        stored = 0
        with self._uow() as uow:
            ctx = WorkflowContext(uow=uow, clock=self._clock)
            for envelope in envelopes:
                if envelope.type not in self.workflow.subscribes_to:
                    continue
                if not uow.mark_processed(self.consumer, envelope.id):
                    continue
                proposals: list[Proposal] = self.workflow.handle(envelope, ctx)
                for proposal in proposals:
                    stored += uow.proposals.add(_stamped(proposal, self.workflow))
        return stored


def _stamped(proposal: Proposal, workflow: Workflow) -> Proposal:
    """The proposal with its workflow's name, version and actor filled in where missing."""
    return proposal.model_copy(
        update={
            "workflow": proposal.workflow or workflow.name,
            "workflow_version": proposal.workflow_version or workflow.version,
            "proposed_by": proposal.proposed_by or f"workflow:{workflow.name}@{workflow.version}",
        }
    )
