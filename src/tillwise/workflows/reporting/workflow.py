"""Daily sales per store: keeps ``daily_sales`` current as sales and refunds arrive."""

from __future__ import annotations

from tillwise.domain.events import Envelope, EventType
from tillwise.domain.proposals import Proposal
from tillwise.domain.sales import Refund, Transaction
from tillwise.workflows.base import WorkflowContext

from .rollups import local_day


class DailySalesRollup:
    name = "reporting"
    version = "1.0"
    subscribes_to = frozenset({EventType.SALE_COMPLETED.value, EventType.REFUND_CREATED.value})

    def handle(self, event: Envelope, ctx: WorkflowContext) -> list[Proposal]:
        if event.subject is None:
            return []
        uow = ctx.uow
        record: Transaction | Refund | None
        if event.type == EventType.SALE_COMPLETED:
            record = uow.records.get(Transaction, event.subject)
        else:
            record = uow.records.get(Refund, event.subject)
        if record is None or record.location_external_id is None:
            return []
        location = uow.records.location(event.connectionid, record.location_external_id)
        zone = location.time_zone if location is not None else "UTC"
        day = local_day(record.occurred_at, zone)
        if isinstance(record, Transaction):
            uow.reporting.add_daily_sales(
                connection_id=event.connectionid,
                location_external_id=record.location_external_id,
                day=day,
                currency=record.currency,
                sales_count=1,
                sales_amount=record.total.amount,
            )
        else:
            uow.reporting.add_daily_sales(
                connection_id=event.connectionid,
                location_external_id=record.location_external_id,
                day=day,
                currency=record.currency,
                refunds_count=1,
                refunds_amount=record.total.amount,
            )
        return []
