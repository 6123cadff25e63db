"""The replenishment repository keeps its contract on SQLite and PostgreSQL alike: a record's
demand counts once however often it is set, stock-out days are filled between reports, plans
are replaced whole, the SKUs a person stopped reordering are read per store, and the
retailer's vendor terms are merged field by field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tillwise.domain.catalog import Cleared, ItemTerms, VendorTerms
from tillwise.domain.money import Money
from tillwise.governance.audit import AuditLog
from tillwise.governance.forecast_adjustments import ForecastAdjustments, NoForecastAdjustment
from tillwise.governance.reorder_stops import NoReorderStop, ReorderStops
from tillwise.governance.rollout import InvalidSetting
from tillwise.governance.vendor_terms import VendorTermsBook
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
        # the connection's last day with a sale: D1 (D2 has only a return); none elsewhere
        assert w.replenishment.last_sale_day("c1") == D1
        assert w.replenishment.last_sale_day("c2") is None
        w.replenishment.set_demand(
            "r4", DemandContribution("c1", "loc-2", D5, (DemandLine("A", sold=Decimal(1)),))
        )
        assert w.replenishment.last_sale_day("c1") == D5  # another store of it sold later
        w.replenishment.set_demand("r4", None)
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


class _Clock:
    def __init__(self) -> None:
        self.at = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def test_reorder_stops_are_set_replaced_lifted_and_audited(database_url: str) -> None:
    engine = make_engine(database_url)
    clock = _Clock()
    audit = AuditLog(engine, clock)
    stops = ReorderStops(engine, audit, clock)
    uow = SqlUnitOfWorkFactory(make_session_factory(engine))
    try:
        stops.stop("c1", "loc-1", "A", reason=" Discontinued ", actor="user:bea")
        stops.stop("c1", "loc-2", "A", reason="Bought locally", actor="user:bea")
        clock.at += timedelta(days=1)
        stops.stop("c1", "loc-1", "A", reason="Phased out", actor="user:rita")  # a new reason
        with uow() as w:
            here = w.replenishment.reorder_stops("c1", "loc-1")
            assert w.replenishment.reorder_stops("c2", "loc-1") == {}
        assert list(here) == ["A"]
        assert (here["A"].reason, here["A"].stopped_by) == ("Phased out", "user:rita")
        assert here["A"].stopped_at == clock.at
        with uow() as w:
            there = w.replenishment.reorder_stops("c1", "loc-2")
        assert there["A"].location_external_id == "loc-2" and there["A"].reason == "Bought locally"

        for bad, field in (({"reason": "  "}, "reason"), ({"reason": "x" * 501}, "reason")):
            with pytest.raises(InvalidSetting) as err:
                stops.stop("c1", "loc-1", "B", actor="user:bea", **bad)
            assert err.value.field == field
        with pytest.raises(InvalidSetting) as err:
            stops.stop("c1", "loc-1", "", reason="x", actor="user:bea")
        assert err.value.field == "sku"
        with uow() as w:  # the refused changed nothing
            assert list(w.replenishment.reorder_stops("c1", "loc-1")) == ["A"]

        lifted = stops.resume("c1", "loc-1", "A", actor="user:bea")
        assert lifted.reason == "Phased out"
        with pytest.raises(NoReorderStop):
            stops.resume("c1", "loc-1", "A", actor="user:bea")
        with uow() as w:
            assert w.replenishment.reorder_stops("c1", "loc-1") == {}
        entries = [e for e in audit.list(store="c1:loc-1") if e.action.startswith("replenish")]
        assert [(e.action, e.actor) for e in entries] == [
            ("replenishment.reorder_stopped", "user:bea"),
            ("replenishment.reorder_stopped", "user:rita"),
            ("replenishment.reorder_resumed", "user:bea"),
        ]
        assert entries[0].inputs == {"sku": "A", "reason": "Discontinued"}
        assert entries[1].outputs == {"previous_reason": "Discontinued"}
        assert entries[2].outputs["reason"] == "Phased out"
        assert audit.verify().ok
    finally:
        engine.dispose()


def test_forecast_adjustments_are_set_replaced_removed_and_audited(database_url: str) -> None:
    engine = make_engine(database_url)
    clock = _Clock()
    audit = AuditLog(engine, clock)
    book = ForecastAdjustments(engine, audit, clock)
    uow = SqlUnitOfWorkFactory(make_session_factory(engine))
    today = date(2026, 11, 28)
    days = {"starts_on": date(2026, 12, 1), "ends_on": date(2026, 12, 14), "today": today}
    try:
        book.set("c1", "loc-1", "A", factor=1.5, reason=" Display ", actor="user:bea", **days)
        clock.at += timedelta(hours=1)
        book.set("c1", "loc-1", "A", factor=0.0, reason="Road works", actor="user:rita", **days)
        with uow() as w:
            here = w.replenishment.forecast_adjustments("c1", "loc-1")
            assert w.replenishment.forecast_adjustments("c1", "loc-2") == {}
        assert list(here) == ["A"]
        a = here["A"]
        assert (a.factor, a.reason, a.set_by, a.set_at) == (
            0.0,
            "Road works",
            "user:rita",
            clock.at,
        )
        assert (a.starts_on, a.ends_on) == (days["starts_on"], days["ends_on"])
        assert a.covers(date(2026, 12, 14)) and not a.covers(date(2026, 12, 15))

        for bad, field in (
            ({"factor": -0.1}, "factor"),
            ({"factor": 10.5}, "factor"),
            ({"factor": float("nan")}, "factor"),
            ({"ends_on": date(2026, 11, 30)}, "ends_on"),  # before it starts
            ({"starts_on": date(2026, 11, 1), "ends_on": date(2026, 11, 27)}, "ends_on"),  # past
            ({"ends_on": date(2027, 12, 31)}, "ends_on"),  # more than a year
            ({"reason": " "}, "reason"),
        ):
            given = {**days, "factor": 2.0, "reason": "x", **bad}
            with pytest.raises(InvalidSetting) as err:
                book.set("c1", "loc-1", "B", actor="user:bea", **given)
            assert err.value.field == field, bad
        with uow() as w:  # the refused changed nothing
            assert list(w.replenishment.forecast_adjustments("c1", "loc-1")) == ["A"]

        assert book.remove("c1", "loc-1", "A", actor="user:bea").reason == "Road works"
        with pytest.raises(NoForecastAdjustment):
            book.remove("c1", "loc-1", "A", actor="user:bea")
        entries = [e for e in audit.list(store="c1:loc-1") if e.action.startswith("replenish")]
        assert [(e.action, e.actor) for e in entries] == [
            ("replenishment.forecast_adjusted", "user:bea"),
            ("replenishment.forecast_adjusted", "user:rita"),
            ("replenishment.forecast_adjustment_removed", "user:bea"),
        ]
        assert entries[0].inputs == {
            "sku": "A",
            "factor": 1.5,
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-14",
            "reason": "Display",
        }
        assert entries[1].outputs["replaced"]["factor"] == 1.5
        assert entries[2].outputs["reason"] == "Road works"
        assert audit.verify().ok
    finally:
        engine.dispose()


def test_vendor_terms_are_merged_all_or_nothing_and_audited(database_url: str) -> None:
    engine = make_engine(database_url)
    clock = _Clock()
    audit = AuditLog(engine, clock)
    book = VendorTermsBook(engine, audit, clock)
    uow = SqlUnitOfWorkFactory(make_session_factory(engine))
    gbp = Money.from_decimal("250.00", "GBP")
    try:
        first = VendorTerms(
            vendor_external_id="ven-06",
            lead_time_days=14,
            items=(ItemTerms(sku="A", case_pack=12, moq=48),),
        )
        assert book.upsert("c1", [first], actor="cli", source="t1.csv") == {
            "vendors_new": 1,
            "vendors_changed": 0,
            "items": 1,
        }
        later = VendorTerms(
            vendor_external_id="ven-06",
            min_order_value=gbp,
            items=(ItemTerms(sku="A", moq=24), ItemTerms(sku="B", case_pack=6)),
        )
        new = VendorTerms(vendor_external_id="vendor:bolt", name="Bolt")
        counts = book.upsert("c1", [later, new], actor="user:bea", source="t2.csv")
        assert counts == {"vendors_new": 1, "vendors_changed": 1, "items": 2}
        # the same again changes nothing
        assert book.upsert("c1", [later], actor="cli", source="t2.csv")["vendors_changed"] == 0
        with uow() as w:
            kept = w.replenishment.vendor_terms("c1")
            assert w.replenishment.vendor_terms("c2") == {}
        assert sorted(kept) == ["ven-06", "vendor:bolt"]
        assert kept["ven-06"] == VendorTerms(
            vendor_external_id="ven-06",
            lead_time_days=14,
            min_order_value=gbp,
            items=(ItemTerms(sku="A", case_pack=12, moq=24), ItemTerms(sku="B", case_pack=6)),
        )
        assert kept["vendor:bolt"] == new
        entries = audit.list(action="vendor.terms_imported")
        assert [(e.actor, e.store, e.inputs["source"]) for e in entries] == [
            ("cli", "c1", "t1.csv"),
            ("user:bea", "c1", "t2.csv"),
            ("cli", "c1", "t2.csv"),
        ]
        # taken back: the minimum and A's MOQ (plans use the POS's again); Bolt loses its only
        # term but its name, and a vendor left with nothing has no terms at all
        back = {
            "ven-06": Cleared(frozenset({"min_order_value"}), {"A": frozenset({"moq"})}),
            "vendor:bolt": Cleared(frozenset({"lead_time_days"})),  # never set: no change
        }
        counts = book.upsert("c1", [], actor="user:bea", source="api", cleared=back)
        assert counts == {"vendors_new": 0, "vendors_changed": 1, "items": 0}
        everything = Cleared(
            frozenset({"lead_time_days"}),
            {"A": frozenset({"case_pack"}), "B": frozenset({"case_pack"})},
        )
        with uow() as w:
            assert w.replenishment.vendor_terms("c1")["ven-06"] == VendorTerms(
                vendor_external_id="ven-06",
                lead_time_days=14,
                items=(ItemTerms(sku="A", case_pack=12), ItemTerms(sku="B", case_pack=6)),
            )
        assert book.upsert("c1", [], actor="cli", source="api", cleared={"ven-06": everything})
        with uow() as w:
            assert sorted(w.replenishment.vendor_terms("c1")) == ["vendor:bolt"]
        entries = audit.list(action="vendor.terms_imported")[3:]
        assert [e.inputs["cleared"] for e in entries] == [
            {
                "ven-06": {"fields": ["min_order_value"], "items": {"A": ["moq"]}},
                "vendor:bolt": {"fields": ["lead_time_days"], "items": {}},
            },
            {
                "ven-06": {
                    "fields": ["lead_time_days"],
                    "items": {"A": ["case_pack"], "B": ["case_pack"]},
                }
            },
        ]
        # clearing what is not there changes and records nothing
        book.upsert("c1", [], actor="cli", source="api", cleared={"ven-06": everything})
        assert len(audit.list(action="vendor.terms_imported")) == 5
        assert audit.verify().ok
    finally:
        engine.dispose()
