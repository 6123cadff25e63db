"""The SQL store keeps the repository contract, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, get_args

import pytest
from sqlalchemy import Engine, Table, func, select

from tests.factories import CONNECTION, RECORD_TYPES, envelope, make, reference_sale
from tillwise.domain.catalog import Variant
from tillwise.domain.ids import SourceRecord
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location
from tillwise.domain.merge import MergeDecision
from tillwise.domain.normalized import CanonicalRecord
from tillwise.domain.purchasing import PurchaseOrder
from tillwise.domain.sales import IssueCode, Transaction
from tillwise.ports.repositories import DailySales, Page, SalesContribution
from tillwise.store.engine import make_engine, make_session_factory
from tillwise.store.tables import RECORD_TABLES, outbox, processed_messages, record_table
from tillwise.store.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


class SteppingClock:
    """Each reading is one second after the previous one: deterministic and strictly increasing."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=1)
            return self._now


@dataclass
class Store:
    engine: Engine
    clock: SteppingClock
    uow: SqlUnitOfWorkFactory
    on_commit_calls: list[int] = field(default_factory=list)

    def rows(self, table: Table, **where: Any) -> list[dict[str, Any]]:
        query = select(table).where(*(table.c[k] == v for k, v in where.items()))
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def count(self, table: Table) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def upsert(self, record: CanonicalRecord) -> MergeDecision:
        with self.uow() as uow:
            return uow.records.upsert(record)

    def get(self, record: SourceRecord) -> Any:
        with self.uow() as uow:
            return uow.records.get(type(record), record.id)  # type: ignore[type-var]


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    clock = SteppingClock()
    calls: list[int] = []

    def on_commit() -> None:
        # by now the outbox rows are committed: another connection sees them
        with engine.connect() as conn:
            calls.append(int(conn.execute(select(func.count()).select_from(outbox)).scalar_one()))

    factory = SqlUnitOfWorkFactory(make_session_factory(engine), on_commit=on_commit, clock=clock)
    yield Store(engine, clock, factory, calls)
    engine.dispose()


def test_there_is_a_table_for_every_canonical_kind() -> None:
    assert set(RECORD_TABLES) == set(get_args(CanonicalRecord)) == set(RECORD_TYPES)


# -- records -----------------------------------------------------------------------------------


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
def test_every_kind_round_trips(store: Store, record_type: type[SourceRecord]) -> None:
    # given a record of this kind
    record = make(record_type, "ext_42", version=3, updated_at=T0)

    # when it is upserted
    assert store.upsert(record) is MergeDecision.REPLACE  # type: ignore[arg-type]

    # then it reads back equal, by id and by its source
    assert store.get(record) == record
    with store.uow() as uow:
        assert uow.records.find(record_type, external_id="ext_42") == [record]
        assert uow.records.find(record_type, connection_id=CONNECTION) == [record]
        assert uow.records.find(record_type, connection_id="another") == []
        assert uow.records.get(record_type, "00000000-0000-0000-0000-000000000000") is None
    [row] = store.rows(record_table(record_type))
    assert (row["id"], row["platform"], row["connection_id"], row["external_id"]) == (
        record.id,
        "generic",
        CONNECTION,
        "ext_42",
    )
    assert row["source_version"] == 3
    assert row["data"] == record.model_dump(mode="json")


def test_money_decimals_and_issues_survive_exactly(store: Store) -> None:
    sale = reference_sale()
    level = make(InventoryLevel, on_hand=Decimal("12.500"))
    order = make(PurchaseOrder)
    variant = make(Variant, gtin="036000291452")
    for record in (sale, level, order, variant):
        store.upsert(record)

    got = store.get(sale)
    assert got.total.amount == 4987 and got.total.currency == "USD"
    assert [(line.quantity, line.unit_price.amount) for line in got.lines] == [
        (Decimal(1), 2999),
        (Decimal(2), 999),
    ]
    [issue] = got.issues
    assert issue.code is IssueCode.TOTAL_MISMATCH
    assert issue.difference.amount == -10
    assert str(store.get(level).on_hand) == "12.500"  # the exponent too, not just the value
    assert store.get(order).lines[0].unit_cost.amount == 125  # 0.125 KWD, three decimals

    # and the query columns hold what queries need
    [row] = store.rows(record_table(Transaction))
    assert (row["total_amount"], row["issue_count"], row["currency"]) == (4987, 1, "USD")
    assert row["location_external_id"] == "loc_xyz789"
    assert row["customer_external_id"] == "cust_456def"
    [row] = store.rows(record_table(Variant))
    assert (row["sku"], row["gtin"]) == ("MENS-TSHIRT-BLUE-L", "00036000291452")


def test_times_are_stored_in_utc_and_come_back_aware(store: Store) -> None:
    # given a sale that happened at 16:30 in UTC+2
    plus_two = timezone(timedelta(hours=2))
    sale = reference_sale(
        occurred_at=datetime(2024, 1, 15, 16, 30, tzinfo=plus_two),
        updated_at=datetime(2024, 1, 15, 16, 31, tzinfo=plus_two),
    )
    store.upsert(sale)

    # then it reads back at 14:30 UTC, aware, whatever the database
    with store.uow() as uow:
        got = uow.records.get(Transaction, sale.id)
    assert got is not None and got == sale
    assert got.occurred_at == datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
    assert got.occurred_at.utcoffset() == got.source_updated_at.utcoffset() == timedelta(0)
    assert got.model_dump(mode="json")["occurred_at"] == "2024-01-15T14:30:00Z"
    # and so does the query column
    [row] = store.rows(record_table(Transaction))
    occurred = row["occurred_at"]
    assert occurred.replace(tzinfo=occurred.tzinfo or UTC) == datetime(
        2024, 1, 15, 14, 30, tzinfo=UTC
    )
    # and an older update given in another offset still loses: the comparison is by instant
    older = sale.model_copy(
        update={"source_updated_at": datetime(2024, 1, 15, 14, 30, 59, tzinfo=UTC)}
    )
    assert store.upsert(older) is MergeDecision.KEEP


def test_an_older_version_does_not_overwrite(store: Store) -> None:
    newer = make(Location, "loc_1", version=2, name="Main Street (renamed)")
    older = make(Location, "loc_1", version=1, name="Main Street")

    assert store.upsert(newer) is MergeDecision.REPLACE
    assert store.upsert(older) is MergeDecision.KEEP

    assert store.get(newer).name == "Main Street (renamed)"
    [row] = store.rows(record_table(Location))
    assert (row["source_version"], row["name"]) == (2, "Main Street (renamed)")


def test_an_older_updated_at_does_not_overwrite(store: Store) -> None:
    newer = make(Location, "loc_1", updated_at=T0, name="After")
    older = make(Location, "loc_1", updated_at=T0 - timedelta(minutes=5), name="Before")
    undated = make(Location, "loc_1", name="No freshness at all")

    store.upsert(newer)
    assert store.upsert(older) is MergeDecision.KEEP
    assert store.upsert(undated) is MergeDecision.KEEP  # cannot prove it is newer

    assert store.get(newer).name == "After"


def test_a_newer_record_replaces_and_keeps_first_seen(store: Store) -> None:
    first = make(Location, "loc_1", version=1, name="Before")
    second = make(Location, "loc_1", version=2, name="After", time_zone="Europe/Berlin")

    store.upsert(first)
    [before] = store.rows(record_table(Location))
    assert store.upsert(second) is MergeDecision.REPLACE
    [after] = store.rows(record_table(Location))

    assert store.get(second) == second
    assert (after["name"], after["time_zone"], after["source_version"]) == (
        "After",
        "Europe/Berlin",
        2,
    )
    assert after["first_seen_at"] == before["first_seen_at"]
    assert after["updated_at"] > before["updated_at"]


def test_redelivery_with_the_same_freshness_is_idempotent(store: Store) -> None:
    sale = reference_sale(version=5)

    assert store.upsert(sale) is MergeDecision.REPLACE
    assert store.upsert(sale) is MergeDecision.REPLACE

    assert store.count(record_table(Transaction)) == 1
    assert store.get(sale) == sale


def test_concurrent_upserts_keep_the_newest(store: Store) -> None:
    # given eight writers delivering versions 1..8 of one record at the same moment
    versions = list(range(1, 9))
    start = threading.Barrier(len(versions), timeout=30)

    def deliver(version: int) -> MergeDecision:
        start.wait()
        return store.upsert(make(Location, "loc_1", version=version, name=f"v{version}"))

    with ThreadPoolExecutor(len(versions)) as pool:
        decisions = list(pool.map(deliver, versions))

    # then there is one row and it is the newest, whatever the order they ran in
    assert MergeDecision.REPLACE in decisions
    [row] = store.rows(record_table(Location))
    assert (row["source_version"], row["name"]) == (8, "v8")


def test_find_pages_by_canonical_id(store: Store) -> None:
    records = [make(Location, f"loc_{i}", name=f"Store {i}") for i in range(5)]
    with store.uow() as uow:
        for record in [*records, make(Location, "loc_x", connection_id="other", name="X")]:
            uow.records.upsert(record)

    pages: list[list[Location]] = []
    after = None
    with store.uow() as uow:
        while True:
            page = uow.records.find(Location, connection_id=CONNECTION, page=Page(2, after))
            if not page:
                break
            pages.append(page)
            after = page[-1].id

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [r for p in pages for r in p] == sorted(records, key=lambda r: r.id)


def test_find_keeps_one_skus_records_across_stores(store: Store) -> None:
    levels = [
        make(InventoryLevel, f"lvl_{loc}_{sku}", sku=sku, location_external_id=loc)
        for loc in ("uk", "fr")
        for sku in ("A-1", "B-2")
    ]
    with store.uow() as uow:
        for record in levels:
            uow.records.upsert(record)
        found = uow.records.find(InventoryLevel, connection_id=CONNECTION, sku="A-1")
        with pytest.raises(ValueError, match="no SKU"):
            uow.records.find(Location, sku="A-1")
    assert sorted((lv.location_external_id, lv.sku) for lv in found) == [
        ("fr", "A-1"),
        ("uk", "A-1"),
    ]


def test_find_pages_sales_newest_first(store: Store) -> None:
    base = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
    # two sales share an instant: the id breaks the tie, so no page repeats or skips one
    times = [base, base + timedelta(hours=2), base + timedelta(hours=1), base + timedelta(hours=1)]
    sales = [reference_sale(f"txn_{i}", occurred_at=t) for i, t in enumerate(times)]
    with store.uow() as uow:
        for sale in sales:
            uow.records.upsert(sale)

    seen: list[Transaction] = []
    after = None
    with store.uow() as uow:
        while page := uow.records.find(Transaction, page=Page(3, after, newest_first=True)):
            seen += page
            after = page[-1].id

    expected = sorted(sales, key=lambda t: (t.occurred_at, t.id), reverse=True)
    assert [t.external_id for t in seen] == [t.external_id for t in expected]
    assert seen[0].external_id == "txn_1"


def test_location_by_connection_and_external_id(store: Store) -> None:
    here = make(Location, "loc_xyz789", name="Here")
    elsewhere = make(Location, "loc_xyz789", connection_id="other", name="Elsewhere")
    with store.uow() as uow:
        uow.records.upsert(here)
        uow.records.upsert(elsewhere)

    with store.uow() as uow:
        assert uow.records.location(CONNECTION, "loc_xyz789") == here
        assert uow.records.location("other", "loc_xyz789") == elsewhere
        assert uow.records.location(CONNECTION, "loc_unknown") is None


# -- events ------------------------------------------------------------------------------------


def test_events_append_once_and_are_counted(store: Store) -> None:
    with store.uow() as uow:
        assert uow.events.append(envelope("evt_1", total=4987)) is True
        assert uow.events.append(envelope("evt_2", type="refund.created")) is True
    middle = store.clock.now()
    with store.uow() as uow:
        assert uow.events.append(envelope("evt_1", total=1)) is False  # same id: nothing changes
        assert uow.events.append(envelope("evt_3")) is True

    with store.uow() as uow:
        assert uow.events.counts_by_type() == {"sale.completed": 2, "refund.created": 1}
        assert uow.events.counts_by_type(since=middle) == {"sale.completed": 1}
        [first] = uow.events.list(type="sale.completed", page=Page(limit=1, after="evt_3"))
    assert first == envelope("evt_1", total=4987)


def test_events_list_newest_first_with_filters_and_pages(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    for i in range(5):
        with store.uow() as uow:
            uow.events.append(
                envelope(
                    f"evt_{i}",
                    type="refund.created" if i == 2 else "sale.completed",
                    connection_id="other" if i == 4 else CONNECTION,
                    time=datetime(2024, 1, 15, 16, i, tzinfo=plus_two),
                )
            )

    with store.uow() as uow:
        newest = uow.events.list()
        sales_here = uow.events.list(type="sale.completed", connection_id=CONNECTION)
        page_1 = uow.events.list(page=Page(limit=2))
        page_2 = uow.events.list(page=Page(limit=2, after=page_1[-1].id))
        page_3 = uow.events.list(page=Page(limit=2, after=page_2[-1].id))

    assert [e.id for e in newest] == ["evt_4", "evt_3", "evt_2", "evt_1", "evt_0"]
    assert [e.id for e in sales_here] == ["evt_3", "evt_1", "evt_0"]
    assert [e.id for e in page_1 + page_2 + page_3] == [e.id for e in newest]
    assert len(page_3) == 1
    # times come back aware, in UTC, the same instant
    assert newest[-1].time == datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
    assert newest[-1].time is not None and newest[-1].time.utcoffset() == timedelta(0)
    assert newest[-1] == envelope("evt_0", time=datetime(2024, 1, 15, 16, 0, tzinfo=plus_two))


# -- reporting ---------------------------------------------------------------------------------


def _add(
    store: Store, day: date, currency: str = "USD", *, record: str | None = None, **counters: int
) -> None:
    with store.uow() as uow:
        uow.reporting.set_contribution(
            record or str(uuid.uuid4()),
            SalesContribution(CONNECTION, "loc_xyz789", day, currency, **counters),
        )


def test_daily_sales_accumulate(store: Store) -> None:
    day, next_day = date(2024, 1, 15), date(2024, 1, 16)
    _add(store, day, sales_count=1, sales_amount=4987)
    _add(store, day, sales_count=1, sales_amount=1000)
    _add(store, day, refunds_count=1, refunds_amount=999)
    _add(store, day, "EUR", sales_count=1, sales_amount=500)
    _add(store, next_day, sales_count=1, sales_amount=100)

    with store.uow() as uow:
        rows = uow.reporting.daily_sales()
        only_next = uow.reporting.daily_sales(since=next_day)
        only_first = uow.reporting.daily_sales(until=day)

    def usd_on(d: date, sales: int, amount: int, refunds: int, refunded: int) -> DailySales:
        return DailySales("loc_xyz789", CONNECTION, d, "USD", sales, amount, refunds, refunded)

    eur = DailySales("loc_xyz789", CONNECTION, day, "EUR", 1, 500, 0, 0)
    assert rows == [eur, usd_on(day, 2, 5987, 1, 999), usd_on(next_day, 1, 100, 0, 0)]
    assert only_next == [usd_on(next_day, 1, 100, 0, 0)]
    assert only_first == [eur, usd_on(day, 2, 5987, 1, 999)]


def test_a_record_contributes_once_however_often_it_is_set(store: Store) -> None:
    day, next_day = date(2024, 1, 15), date(2024, 1, 16)
    # given a sale counted on the 15th, delivered twice
    _add(store, day, record="sale-1", sales_count=1, sales_amount=4987)
    _add(store, day, record="sale-1", sales_count=1, sales_amount=4987)
    with store.uow() as uow:
        assert [(r.day, r.sales_count, r.sales_amount) for r in uow.reporting.daily_sales()] == [
            (day, 1, 4987)
        ]
    # when the POS corrects it (another day, another total), it moves instead of adding up
    _add(store, next_day, record="sale-1", sales_count=1, sales_amount=5000)
    with store.uow() as uow:
        rows = [(r.day, r.sales_count, r.sales_amount) for r in uow.reporting.daily_sales()]
    assert rows == [(day, 0, 0), (next_day, 1, 5000)]
    # and withdrawing it (a void) takes it back out
    with store.uow() as uow:
        uow.reporting.set_contribution("sale-1", None)
    with store.uow() as uow:
        assert all(r.sales_count == 0 for r in uow.reporting.daily_sales())


def test_concurrent_daily_sales_additions_are_not_lost(store: Store) -> None:
    start = threading.Barrier(8, timeout=30)

    def sell(_: int) -> None:
        start.wait()
        _add(store, date(2024, 1, 15), sales_count=1, sales_amount=250)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(sell, range(8)))

    with store.uow() as uow:
        [row] = uow.reporting.daily_sales()
    assert (row.sales_count, row.sales_amount) == (8, 2000)


# -- unit of work ------------------------------------------------------------------------------


def test_mark_processed_is_true_once_per_consumer(store: Store) -> None:
    with store.uow() as uow:
        assert uow.mark_processed("normalizer", "delivery:1") is True
    with store.uow() as uow:
        assert uow.mark_processed("normalizer", "delivery:1") is False
        assert uow.mark_processed("workflow:reporting", "delivery:1") is True
    assert store.count(processed_messages) == 2


def test_a_rolled_back_unit_of_work_leaves_nothing(store: Store) -> None:
    sale = reference_sale()
    with pytest.raises(RuntimeError, match="handler failed"), store.uow() as uow:
        assert uow.mark_processed("normalizer", "delivery:1") is True
        uow.records.upsert(sale)
        uow.events.append(envelope("evt_1"))
        uow.publish_after_commit("events", "evt_1", {"id": "evt_1"})
        raise RuntimeError("handler failed")

    assert store.get(sale) is None
    assert store.count(outbox) == 0
    assert store.on_commit_calls == []
    with store.uow() as uow:
        assert uow.events.list() == []
        assert uow.mark_processed("normalizer", "delivery:1") is True  # the retry may proceed


def test_outbox_rows_are_committed_then_on_commit_is_called(store: Store) -> None:
    # when a unit of work queues two messages (one of them twice) and commits
    with store.uow() as uow:
        uow.publish_after_commit("events", "evt_1", {"id": "evt_1", "total": 4987})
        uow.publish_after_commit("events", "evt_2", {"id": "evt_2"})
        uow.publish_after_commit("events", "evt_2", {"id": "evt_2"})
        assert store.on_commit_calls == []  # not before the commit

    # then both rows are there, unpublished, and the hook ran once, after the commit
    rows = store.rows(outbox)
    assert [(r["topic"], r["message_id"], r["payload"]) for r in rows] == [
        ("events", "evt_1", {"id": "evt_1", "total": 4987}),
        ("events", "evt_2", {"id": "evt_2"}),
    ]
    assert all(r["published_at"] is None for r in rows)
    assert rows[0]["id"] < rows[1]["id"]
    assert store.on_commit_calls == [2]  # it saw both rows committed

    # and a unit of work that queues nothing does not call it
    with store.uow() as uow:
        uow.mark_processed("normalizer", "delivery:9")
    assert store.on_commit_calls == [2]


def test_the_factory_makes_independent_units_of_work(store: Store) -> None:
    first, second = store.uow(), store.uow()
    assert isinstance(first, SqlUnitOfWork) and first is not second
    with first as uow:
        uow.records.upsert(make(Location, "loc_1"))
    with second as uow:
        assert uow.records.location(CONNECTION, "loc_1") is not None
