"""The replenishment repository keeps its contract on SQLite and PostgreSQL alike: a record's
demand counts once however often it is set, stock-out days are filled between reports, plans
are replaced whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tillwise.ports.repositories import (
    DemandContribution,
    DemandLine,
    PlanItem,
    StockObservation,
    StorePlan,
)
from tillwise.store.engine import make_engine, make_session_factory
from tillwise.store.unit_of_work import SqlUnitOfWorkFactory

D1, D2, D5 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 5)


@pytest.fixture
def uow(database_url: str) -> Iterator[SqlUnitOfWorkFactory]:
    engine = make_engine(database_url)
    yield SqlUnitOfWorkFactory(make_session_factory(engine))
    engine.dispose()


def _sale(day: date, **units: int) -> DemandContribution:
    return DemandContribution(
        "c1", "loc-1", day, tuple(DemandLine(sku, sold=Decimal(q)) for sku, q in units.items())
    )


def test_a_record_counts_once_and_a_correction_replaces_it(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as w:
        w.replenishment.set_demand("r1", _sale(D1, A=3, B=1))
        w.replenishment.set_demand("r2", _sale(D1, A=2))
        w.replenishment.set_demand(
            "r3", DemandContribution("c1", "loc-1", D2, (DemandLine("A", returned=Decimal(1)),))
        )
    with uow() as w:
        w.replenishment.set_demand("r1", _sale(D1, A=3, B=1))  # redelivered: no change
        w.replenishment.set_demand("r2", _sale(D1, A=4))  # corrected: 2 → 4
    with uow() as w:
        days = w.replenishment.demand("c1", "loc-1")
        stores = w.replenishment.demand_stores()
    # A on D1: 3 (r1) + 4 (r2) = 7; B: 1; A on D2: a return of 1, kept apart (sold 0)
    assert [(d.sku, d.day, d.sold, d.returned) for d in days] == [
        ("A", D1, 7, 0),
        ("B", D1, 1, 0),
        ("A", D2, 0, 1),
    ]
    assert stores == [("c1", "loc-1")]
    with uow() as w:
        w.replenishment.set_demand("r2", None)  # voided
        assert [d.sold for d in w.replenishment.demand("c1", "loc-1") if d.day == D1] == [3, 1]


def _seen(day: date, on_hand: int, hour: int = 12) -> StockObservation:
    at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return StockObservation("c1", "loc-1", "A", Decimal(on_hand), at, day)


def test_days_at_zero_are_filled_between_reports(uow: SqlUnitOfWorkFactory) -> None:
    with uow() as w:
        first = w.replenishment.observe_stock(_seen(D1, 0))  # out on 03-01
        back = w.replenishment.observe_stock(_seen(D5, 6))  # restocked on 03-05
        stale = w.replenishment.observe_stock(_seen(D2, 3, hour=1))  # an older report
        outs = w.replenishment.stock_outs("c1", "loc-1")
    assert first.fresh and first.previous is None
    assert back.fresh and back.previous == 0
    assert not stale.fresh
    # zero from 03-01 until the report of 03-05: 03-01 .. 03-05 (it was 0 at 03-05's start)
    assert sorted(d for _sku, d in outs.days) == [date(2024, 3, d) for d in range(1, 6)]
    assert outs.open_since == {}
    with uow() as w:
        w.replenishment.observe_stock(_seen(date(2024, 3, 7), 0))
        assert w.replenishment.stock_outs("c1", "loc-1").open_since == {"A": date(2024, 3, 7)}


def test_a_plan_is_replaced_whole(uow: SqlUnitOfWorkFactory) -> None:
    at = datetime(2024, 3, 1, 2, tzinfo=UTC)
    plan = StorePlan("c1", "loc-1", at, "m", "1", {"at_risk": 1})
    with uow() as w:
        w.replenishment.save_plan(plan, [PlanItem("A", 5, 9, {"x": 1}), PlanItem("B", 1, 2)])
        w.replenishment.save_plan(plan, [PlanItem("A", 6, 10, {"x": 2})])
    with uow() as w:
        assert w.replenishment.plan("c1", "loc-1") == plan
        assert w.replenishment.plans() == [plan]
        assert w.replenishment.plan_items("c1", "loc-1") == [PlanItem("A", 6, 10, {"x": 2})]
        assert w.replenishment.plan_items("c1", "loc-1", ["B"]) == []
