"""Demand history, stock-out days and plans per store (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import RowMapping, delete, func, insert, select, update
from sqlalchemy.orm import Session

from tillwise.domain.catalog import VendorTerms
from tillwise.domain.merge import MergeDecision, decide
from tillwise.ports.repositories import (
    DemandContribution,
    DemandDay,
    ForecastAdjustment,
    ObservedStock,
    PlanItem,
    ReorderStop,
    StockObservation,
    StockOuts,
    StorePlan,
)

from .. import mappers
from ..tables_replenishment import (
    demand_contributions,
    forecast_adjustments,
    reorder_stops,
    replenishment_plan_items,
    replenishment_plans,
    stock_out_days,
    stock_states,
    vendor_terms,
)
from ._insert import insert_if_absent

MAX_FILL_DAYS = 3660  # a gap between two reports longer than this is not filled day by day


class SqlReplenishmentRepository:
    """Implements :class:`tillwise.ports.repositories.ReplenishmentRepository` in a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- demand --------------------------------------------------------------------------------

    def set_demand(self, record_id: str, contribution: DemandContribution | None) -> None:
        """Replace the record's rows (one per SKU). The record's rows are deleted and written
        again in this transaction, so concurrent handling of one record cannot double it (the
        primary key refuses a second row)."""
        db = self._session.connection()
        rows = []
        if contribution is not None:
            merged: dict[str, tuple[Decimal, Decimal]] = {}
            for line in contribution.lines:
                sold, returned = merged.get(line.sku, (Decimal(0), Decimal(0)))
                merged[line.sku] = (sold + line.sold, returned + line.returned)
            rows = [
                {
                    "record_id": record_id,
                    "sku": sku,
                    "connection_id": contribution.connection_id,
                    "location_external_id": contribution.location_external_id,
                    "day": contribution.day,
                    "sold": sold,
                    "returned": returned,
                }
                for sku, (sold, returned) in sorted(merged.items())
            ]
        existing = [
            {k: (v if k not in ("sold", "returned") else Decimal(v)) for k, v in r.items()}
            for r in db.execute(
                select(demand_contributions)
                .where(demand_contributions.c.record_id == record_id)
                .order_by(demand_contributions.c.sku)
                .with_for_update()
            ).mappings()
        ]
        if _same(existing, rows):
            return
        db.execute(
            delete(demand_contributions).where(demand_contributions.c.record_id == record_id)
        )
        if rows:
            db.execute(insert(demand_contributions), rows)

    def demand(self, connection_id: str, location_external_id: str) -> list[DemandDay]:
        c = demand_contributions.c
        query = (
            select(c.sku, c.day, func.sum(c.sold), func.sum(c.returned))
            .where(c.connection_id == connection_id)
            .where(c.location_external_id == location_external_id)
            .group_by(c.sku, c.day)
            .order_by(c.day, c.sku)
        )
        return [
            DemandDay(sku=sku, day=day, sold=Decimal(sold), returned=Decimal(returned))
            for sku, day, sold, returned in self._session.connection().execute(query)
        ]

    def last_sale_day(self, connection_id: str) -> date | None:
        c = demand_contributions.c
        query = select(func.max(c.day)).where(c.connection_id == connection_id).where(c.sold > 0)
        day = self._session.connection().execute(query).scalar()
        return day if day is None or isinstance(day, date) else date.fromisoformat(str(day))

    def demand_stores(self) -> list[tuple[str, str]]:
        c = demand_contributions.c
        query = (
            select(c.connection_id, c.location_external_id)
            .distinct()
            .order_by(c.connection_id, c.location_external_id)
        )
        return [(a, b) for a, b in self._session.connection().execute(query)]

    # -- stock-outs ----------------------------------------------------------------------------

    def observe_stock(self, observation: StockObservation) -> ObservedStock:
        """Mark stock-out days and keep the last level (see the port). Reports are ordered as
        the records are (:func:`tillwise.domain.merge.decide`): by the POS's version where both
        have one, else by time. A report older than the last one seen still marks its own day
        when it shows zero, and changes nothing else; so does the same report again."""
        o = observation
        db = self._session.connection()
        key = {
            "connection_id": o.connection_id,
            "location_external_id": o.location_external_id,
            "sku": o.sku,
        }
        zero = o.on_hand <= 0
        if zero:
            self._mark(o, o.day, o.day)
        fresh = {
            "on_hand": o.on_hand,
            "as_of": o.as_of,
            "zero_since": o.day if zero else None,
            "version": o.version,
        }
        if insert_if_absent(self._session, stock_states, {**key, **fresh}):
            return ObservedStock(fresh=True, previous=None)
        s = stock_states.c
        where = [s[k] == v for k, v in key.items()]
        state = db.execute(select(stock_states).where(*where).with_for_update()).mappings().one()
        last_as_of = mappers.utc(state["as_of"])
        previous = Decimal(state["on_hand"])
        last_version = state["version"]
        older = decide(last_version, last_as_of, o.version, o.as_of) == MergeDecision.KEEP
        again = (last_version, last_as_of, previous) == (o.version, o.as_of, o.on_hand) or (
            last_version is not None and last_version == o.version
        )  # (without versions, two changes in one instant: the later one wins)
        if older or again:
            return ObservedStock(fresh=False, previous=previous)
        since: date | None = state["zero_since"]
        if since is not None and since < o.day:  # it stayed at zero until this report
            self._mark(o, since, o.day)
        if zero:
            fresh["zero_since"] = since if since is not None else o.day
        db.execute(update(stock_states).where(*where).values(**fresh))
        return ObservedStock(fresh=True, previous=previous)

    def _mark(self, o: StockObservation, first: date, last: date) -> None:
        first = max(first, last - timedelta(days=MAX_FILL_DAYS))
        day = first
        while day <= last:
            insert_if_absent(
                self._session,
                stock_out_days,
                {
                    "connection_id": o.connection_id,
                    "location_external_id": o.location_external_id,
                    "sku": o.sku,
                    "day": day,
                },
            )
            day += timedelta(days=1)

    def stock_outs(self, connection_id: str, location_external_id: str) -> StockOuts:
        db = self._session.connection()
        d, s = stock_out_days.c, stock_states.c
        days = frozenset(
            (sku, day)
            for sku, day in db.execute(
                select(d.sku, d.day)
                .where(d.connection_id == connection_id)
                .where(d.location_external_id == location_external_id)
            )
        )
        open_since: dict[str, date] = {
            row.sku: row.zero_since
            for row in db.execute(
                select(s.sku, s.zero_since)
                .where(s.connection_id == connection_id)
                .where(s.location_external_id == location_external_id)
                .where(s.zero_since.is_not(None))
                .order_by(s.sku)
            )
        }
        return StockOuts(days=days, open_since=open_since)

    # -- plans ---------------------------------------------------------------------------------

    def save_plan(self, plan: StorePlan, items: Sequence[PlanItem]) -> None:
        db = self._session.connection()
        p, i = replenishment_plans.c, replenishment_plan_items.c
        db.execute(
            delete(replenishment_plans)
            .where(p.connection_id == plan.connection_id)
            .where(p.location_external_id == plan.location_external_id)
        )
        db.execute(
            delete(replenishment_plan_items)
            .where(i.connection_id == plan.connection_id)
            .where(i.location_external_id == plan.location_external_id)
        )
        db.execute(
            insert(replenishment_plans).values(
                connection_id=plan.connection_id,
                location_external_id=plan.location_external_id,
                planned_at=plan.planned_at,
                model=plan.model,
                version=plan.version,
                data=plan.data,
            )
        )
        if items:
            db.execute(
                insert(replenishment_plan_items),
                [
                    {
                        "connection_id": plan.connection_id,
                        "location_external_id": plan.location_external_id,
                        "sku": item.sku,
                        "reorder_point": item.reorder_point,
                        "order_up_to": item.order_up_to,
                        "data": item.data,
                    }
                    for item in items
                ],
            )

    def plan(self, connection_id: str, location_external_id: str) -> StorePlan | None:
        p = replenishment_plans.c
        row = (
            self._session.connection()
            .execute(
                select(replenishment_plans)
                .where(p.connection_id == connection_id)
                .where(p.location_external_id == location_external_id)
            )
            .mappings()
            .first()
        )
        return None if row is None else _plan(row)

    def plans(self) -> list[StorePlan]:
        p = replenishment_plans.c
        rows = self._session.connection().execute(
            select(replenishment_plans).order_by(p.connection_id, p.location_external_id)
        )
        return [_plan(row) for row in rows.mappings()]

    def plan_items(
        self,
        connection_id: str,
        location_external_id: str,
        skus: Collection[str] | None = None,
    ) -> list[PlanItem]:
        i = replenishment_plan_items.c
        query = (
            select(i.sku, i.reorder_point, i.order_up_to, i.data)
            .where(i.connection_id == connection_id)
            .where(i.location_external_id == location_external_id)
            .order_by(i.sku)
        )
        if skus is not None:
            query = query.where(i.sku.in_(sorted(skus)))
        return [
            PlanItem(sku=sku, reorder_point=int(rop), order_up_to=int(upto), data=dict(data))
            for sku, rop, upto, data in self._session.connection().execute(query)
        ]

    def reorder_stops(
        self, connection_id: str, location_external_id: str
    ) -> dict[str, ReorderStop]:
        s = reorder_stops.c
        rows = self._session.connection().execute(
            select(reorder_stops)
            .where(s.connection_id == connection_id)
            .where(s.location_external_id == location_external_id)
        )
        return {row["sku"]: reorder_stop(row) for row in rows.mappings()}

    def forecast_adjustments(
        self, connection_id: str, location_external_id: str
    ) -> dict[str, ForecastAdjustment]:
        a = forecast_adjustments.c
        rows = self._session.connection().execute(
            select(forecast_adjustments)
            .where(a.connection_id == connection_id)
            .where(a.location_external_id == location_external_id)
        )
        return {row["sku"]: forecast_adjustment(row) for row in rows.mappings()}

    def vendor_terms(self, connection_id: str) -> dict[str, VendorTerms]:
        t = vendor_terms.c
        rows = self._session.connection().execute(
            select(t.vendor_external_id, t.data).where(t.connection_id == connection_id)
        )
        return {vid: VendorTerms.model_validate(data) for vid, data in rows}


def reorder_stop(m: RowMapping) -> ReorderStop:
    """A ``reorder_stops`` row as the port's value (governance reads it this way too)."""
    stopped_at = mappers.utc(m["stopped_at"])
    assert stopped_at is not None
    return ReorderStop(
        connection_id=m["connection_id"],
        location_external_id=m["location_external_id"],
        sku=m["sku"],
        reason=m["reason"],
        stopped_by=m["stopped_by"],
        stopped_at=stopped_at,
    )


def forecast_adjustment(m: RowMapping) -> ForecastAdjustment:
    """A ``forecast_adjustments`` row as the port's value (governance reads it this way too)."""
    set_at = mappers.utc(m["set_at"])
    assert set_at is not None
    return ForecastAdjustment(
        connection_id=m["connection_id"],
        location_external_id=m["location_external_id"],
        sku=m["sku"],
        factor=float(m["factor"]),
        starts_on=m["starts_on"],
        ends_on=m["ends_on"],
        reason=m["reason"],
        set_by=m["set_by"],
        set_at=set_at,
    )


def _plan(m: RowMapping) -> StorePlan:
    planned_at = mappers.utc(m["planned_at"])
    assert planned_at is not None
    return StorePlan(
        connection_id=m["connection_id"],
        location_external_id=m["location_external_id"],
        planned_at=planned_at,
        model=m["model"],
        version=m["version"],
        data=dict(m["data"]),
    )


def _same(a: list[dict[str, object]], b: list[dict[str, object]]) -> bool:
    return len(a) == len(b) and all(dict(x) == dict(y) for x, y in zip(a, b, strict=True))
