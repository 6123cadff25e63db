"""Daily sales per store: keeps ``daily_sales`` current as sales and refunds arrive.

Each sale or refund owns one contribution to its store's local day; a re-delivered or corrected
record replaces its contribution (a voided sale withdraws it), so the figures are a function of
the latest copy of every record, never of how many times the POS sent it.
"""

from __future__ import annotations

from dataclasses import replace

from tillwise.domain.events import Envelope, EventType
from tillwise.domain.proposals import Proposal
from tillwise.domain.sales import Refund, Transaction, TransactionStatus
from tillwise.ports.repositories import SalesContribution
from tillwise.workflows.base import WorkflowContext

from .rollups import local_day


class DailySalesRollup:
    name = "reporting"
    version = "1.1"
    subscribes_to = frozenset(
        {
            EventType.SALE_COMPLETED.value,
            EventType.SALE_VOIDED.value,
            EventType.REFUND_CREATED.value,
        }
    )
    proposes: frozenset[str] = frozenset()

    def handle(self, event: Envelope, ctx: WorkflowContext) -> list[Proposal]:
        if event.subject is None:
            return []
        uow = ctx.uow
        if event.type == EventType.SALE_VOIDED:  # with its contents or bare: not a sale
            uow.reporting.set_contribution(event.subject, None)
            return []
        record: Transaction | Refund | None
        if event.type == EventType.SALE_COMPLETED:
            record = uow.records.get(Transaction, event.subject)
        else:
            record = uow.records.get(Refund, event.subject)
        if record is None or record.location_external_id is None:
            return []
        location = uow.records.location(event.connectionid, record.location_external_id)
        zone = location.time_zone if location is not None else "UTC"
        share = SalesContribution(
            connection_id=event.connectionid,
            location_external_id=record.location_external_id,
            day=local_day(record.occurred_at, zone),
            currency=record.currency,
        )
        contribution: SalesContribution | None
        if isinstance(record, Refund):
            contribution = replace(share, refunds_count=1, refunds_amount=record.total.amount)
        elif record.status is TransactionStatus.VOIDED:
            contribution = None
        else:
            contribution = replace(share, sales_count=1, sales_amount=record.total.amount)
        uow.reporting.set_contribution(record.id, contribution)
        return []
