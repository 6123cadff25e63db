"""Simulator replay: stores, refunds from C invoices, simulated stock, cycle counts, order,
determinism."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tillwise.connectors._signatures import sign
from tillwise.connectors.generic import connector
from tillwise.connectors.simulator.dataset import (
    Invoice,
    InvoiceLine,
    bundled_path,
    countries,
    invoices_from_rows,
    load_invoices,
    to_utc,
)
from tillwise.connectors.simulator.pos import Stock, play_step
from tillwise.connectors.simulator.replay import (
    COUNT_ONE_IN,
    SimEvent,
    StockChange,
    build_events,
    build_replay,
    count_shrink,
    is_merchandise,
)
from tillwise.connectors.simulator.stores import COUNTRIES, CURRENCY, store_for
from tillwise.ports.inbox import RawDelivery

T0 = datetime(2011, 1, 10, 9, 0, tzinfo=UTC)


def _inv(
    number: str,
    minutes: int,
    lines: list[tuple[str, int, str]],
    *,
    customer: str | None = "12345",
    country: str = "United Kingdom",
) -> Invoice:
    return Invoice(
        invoice=number,
        invoiced_at=T0 + timedelta(minutes=minutes),
        customer_id=customer,
        country=country,
        lines=tuple(
            InvoiceLine(code, f"ITEM {code}", qty, Decimal(price)) for code, qty, price in lines
        ),
    )


def _of(events: list[SimEvent], name: str) -> list[SimEvent]:
    return [e for e in events if e.event == name]


Bundled = tuple[list[Invoice], list[SimEvent]]


@pytest.fixture(scope="module")
def bundled() -> Bundled:
    invoices = load_invoices()
    return invoices, build_events(invoices)


# -- stores ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "code", "zone"),
    [
        ("United Kingdom", "GB", "Europe/London"),
        ("EIRE", "IE", "Europe/Dublin"),
        ("Germany", "DE", "Europe/Berlin"),
        ("France", "FR", "Europe/Paris"),
        ("Channel Islands", "JE", "Europe/Jersey"),
        ("RSA", "ZA", "Africa/Johannesburg"),
        ("USA", "US", "America/New_York"),
        ("Unspecified", None, "Europe/London"),
    ],
)
def test_country_to_store(country: str, code: str | None, zone: str) -> None:
    store = store_for(country)
    assert (store.country_code, store.time_zone, store.currency) == (code, zone, "GBP")
    assert store.id.startswith("store-") and " " not in store.id


def test_every_mapped_zone_is_iana_and_unknown_countries_get_utc() -> None:
    for _code, zone in COUNTRIES.values():
        ZoneInfo(zone)
    assert store_for("Atlantis").time_zone == "UTC"
    assert store_for("Atlantis").country_code is None


def test_every_country_in_the_bundled_data_is_mapped(bundled: Bundled) -> None:
    invoices, _ = bundled
    assert set(countries(invoices)) <= set(COUNTRIES)


# -- dataset ---------------------------------------------------------------------------------


def test_uk_wall_clock_is_converted_to_utc() -> None:
    assert to_utc(datetime(2010, 12, 1, 8, 26)) == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    assert to_utc(datetime(2011, 6, 1, 10, 0)) == datetime(2011, 6, 1, 9, 0, tzinfo=UTC)  # BST


def test_rows_group_into_invoices_in_time_order() -> None:
    rows: list[dict[str, Any]] = [
        {
            "invoice": "2",
            "stock_code": "22222",
            "description": "B",
            "quantity": 1,
            "invoice_date": datetime(2011, 1, 1, 10),
            "price": "1.00",
            "customer_id": None,
            "country": "France",
        },
        {
            "invoice": "1",
            "stock_code": "11111",
            "description": "A",
            "quantity": 3,
            "invoice_date": datetime(2011, 1, 1, 9),
            "price": "0.85",
            "customer_id": "7",
            "country": "EIRE",
        },
        {
            "invoice": "2",
            "stock_code": "33333",
            "description": None,
            "quantity": 2,
            "invoice_date": datetime(2011, 1, 1, 10),
            "price": "2.10",
            "customer_id": None,
            "country": "France",
        },
    ]
    first, second = invoices_from_rows(rows)
    assert (first.invoice, second.invoice) == ("1", "2")
    assert [line.stock_code for line in second.lines] == ["22222", "33333"]
    assert second.customer_id is None and second.lines[1].price == Decimal("2.10")


def test_a_product_whose_code_the_data_writes_in_both_cases_is_one_sku(bundled: Bundled) -> None:
    """Online Retail writes some codes in both cases (15056BL and 15056bl, both EDWARDIAN
    PARASOL BLACK): one product, one SKU, so its sales and stock are not split in two."""
    row = {
        "invoice": "1",
        "description": "EDWARDIAN PARASOL BLACK",
        "quantity": 1,
        "invoice_date": datetime(2011, 1, 1, 9),
        "price": "4.95",
        "customer_id": None,
        "country": "France",
    }
    [inv] = invoices_from_rows([{**row, "stock_code": "15056BL"}, {**row, "stock_code": "15056bl"}])
    assert [line.stock_code for line in inv.lines] == ["15056BL", "15056BL"]
    invoices, _ = bundled
    codes = {line.stock_code for inv in invoices for line in inv.lines}
    assert "15056BL" in codes and not [c for c in codes if c != c.upper()]


def test_bundled_subset(bundled: Bundled) -> None:
    invoices, _ = bundled
    assert bundled_path().stat().st_size <= 2 * 1024 * 1024
    assert len(invoices) == 4894
    assert invoices[0].invoiced_at == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    assert invoices[-1].invoiced_at < datetime(2011, 3, 1, tzinfo=UTC)
    assert len(countries(invoices)) > 20  # all countries kept
    assert any(inv.is_cancellation for inv in invoices)


# -- events ----------------------------------------------------------------------------------


def test_stores_first_then_products_and_customers_before_their_sale() -> None:
    events = build_events(
        [
            _inv("500", 0, [("85123A", 6, "2.55"), ("POST", 1, "18.00")]),
            _inv("501", 5, [("85123A", 2, "2.95")], customer=None, country="Germany"),
        ]
    )
    # cashiers and declined card attempts: see tills
    names = [e.event for e in events if e.event not in ("employee.updated", "payment.updated")]
    assert names[:2] == ["location.updated", "location.updated"]
    assert names[2:8] == ["vendor.updated"] * 6  # the vendors and their terms, before any sale
    assert names[8:12] == [
        "product.created",
        "product.created",
        "customer.created",
        "sale.completed",
    ]
    product = _of(events, "product.created")[0]
    assert product.data == {
        "id": "85123A",
        "name": "ITEM 85123A",
        "sku": "85123A",
        "price": "2.55",
        "currency": "GBP",
    }
    assert _of(events, "product.created")[0].data["price"] == "2.55"  # first seen price
    assert len(_of(events, "customer.created")) == 1  # guests have none
    sale = _of(events, "sale.completed")[0]
    assert sale.data["total_money"] == {"amount": 6 * 255 + 1800, "currency": CURRENCY}
    assert sale.data["line_items"][0] == {
        "sku": "85123A",
        "name": "ITEM 85123A",
        "quantity": 6,
        "price": "2.55",
    }
    assert sale.payload()["created_at"] == "2011-01-10T09:00:00Z"


def test_c_invoices_become_refunds_with_positive_amounts() -> None:
    events = build_events(
        [
            _inv("500", 0, [("22222", 4, "1.25")]),
            _inv("C501", 10, [("22222", -2, "1.25"), ("POST", -1, "18.00")]),
        ]
    )
    [refund] = _of(events, "refund.created")
    assert refund.event_id == "sim:refund.created:C501"
    assert refund.data["transaction_id"] is None
    assert refund.data["total_money"] == {"amount": 2 * 125 + 1800, "currency": "GBP"}
    assert [
        (x["sku"], x["quantity"], x["price"], x["restock"]) for x in refund.data["line_items"]
    ] == [("22222", 2, "1.25", True), ("POST", 1, "18.00", False)]
    assert not _of(events, "sale.completed")[1:]


def test_stock_is_never_negative_and_restocks_on_refund() -> None:
    # 12 units sold over the window → opening stock 6
    events = build_events(
        [
            _inv("500", 0, [("22222", 6, "1.00")]),
            _inv("501", 1, [("22222", 6, "1.00")]),  # sold past zero: stays 0, no change
            _inv("C502", 2, [("22222", -2, "1.00")]),
            _inv("503", 3, [("22222", -1, "0.00")], customer=None),  # the data's own adjustment
            _inv("504", 4, [("POST", 1, "18.00")]),  # not merchandise: not stocked
        ]
    )
    levels = [(e.data["on_hand"], e.data["version"]) for e in _of(events, "inventory.updated")]
    assert levels == [(0, 1), (2, 2), (1, 3)]
    assert [e.event_id for e in _of(events, "inventory.updated")] == [
        "sim:inventory.updated:store-united-kingdom:22222:v1",
        "sim:inventory.updated:store-united-kingdom:22222:v2",
        "sim:inventory.updated:store-united-kingdom:22222:v3",
    ]
    assert [e.data["id"] for e in _of(events, "sale.completed")] == ["500", "501", "504"]


def test_merchandise_codes() -> None:
    assert is_merchandise("85123A") and is_merchandise("22423")
    assert not any(
        is_merchandise(c)
        for c in ["POST", "DOT", "M", "D", "C2", "BANK CHARGES", "AMAZONFEE", "gift_0001_20"]
    )


def test_bundled_stream_invariants(bundled: Bundled) -> None:
    invoices, events = bundled
    n_stores = len(countries(invoices))
    assert all(e.event == "location.updated" for e in events[:n_stores])
    assert all(e.event != "location.updated" for e in events[n_stores:])
    assert all(a.at <= b.at for a, b in zip(events, events[1:], strict=False))
    assert len({e.event_id for e in events}) == len(events)
    products: set[str] = set()
    customers: set[str] = set()
    versions: dict[str, int] = defaultdict(int)
    for e in events:
        if e.event == "product.created":
            products.add(e.data["id"])
        elif e.event == "customer.created":
            customers.add(e.data["id"])
        elif e.event in ("sale.completed", "refund.created"):
            assert {x["sku"] for x in e.data["line_items"]} <= products
            assert e.data["customer_id"] is None or e.data["customer_id"] in customers
            pence = sum(Decimal(x["price"]) * x["quantity"] for x in e.data["line_items"]) * 100
            assert e.data["total_money"]["amount"] == pence
            assert all(x["quantity"] > 0 for x in e.data["line_items"])
        elif e.event == "inventory.updated":
            assert e.data["on_hand"] >= 0
            key = f"{e.data['location_id']}:{e.data['sku']}"
            versions[key] += 1
            assert e.data["version"] == versions[key]
    refunds = _of(events, "refund.created")
    assert {e.data["id"][0] for e in refunds} == {"C"}
    assert len(refunds) == len({i.invoice for i in invoices if i.is_cancellation})
    assert any(e.data["on_hand"] == 0 for e in _of(events, "inventory.updated"))


def test_replay_is_deterministic(bundled: Bundled) -> None:
    invoices, _ = bundled
    head = invoices[:400]
    first, second = build_events(head), build_events(list(head))
    assert [e.body() for e in first] == [e.body() for e in second]
    assert [e.event_id for e in first] == [e.event_id for e in second]


def test_simulated_events_are_valid_generic_deliveries(bundled: Bundled) -> None:
    _, events = bundled
    now = datetime.now(UTC)
    sample = events[:1500] + _of(events, "refund.created")[:100]
    sample += _of(events, "inventory.counted")
    for e in sample:
        body = e.body()
        assert json.loads(body)["event"] == e.event
        headers = {
            "Tillwise-Signature": sign(body, "k", int(now.timestamp())),
            "Tillwise-Event-Id": e.event_id,
        }
        verified = connector.verify(body, headers, ["k"], now)
        assert verified.event_id == e.event_id
        batch = connector.normalize(
            RawDelivery("generic", "sim", verified.event_id, verified.topic, body, now)
        )
        for record in batch.records:
            assert not getattr(record, "issues", ())  # totals are exact sums


# -- cycle counts ----------------------------------------------------------------------------


def test_stock_moves_are_steps_the_pos_applies_when_sent() -> None:
    replay = build_replay([_inv("500", 0, [("22222", 6, "1.00"), ("POST", 1, "18.00")])])
    changes = [s for s in replay.steps if isinstance(s, StockChange)]
    assert [(c.location_id, c.sku, c.delta, c.cause) for c in changes] == [
        ("store-united-kingdom", "22222", -6, "500")
    ]
    assert replay.opening == {("store-united-kingdom", "22222"): 3}
    assert not any(isinstance(s, SimEvent) and s.event == "inventory.updated" for s in replay.steps)


def test_cycle_counts_are_rare_deterministic_and_find_a_little_shrink(bundled: Bundled) -> None:
    invoices, _ = bundled
    first, second = build_replay(invoices), build_replay(list(invoices))
    counts = [s for s in first.steps if isinstance(s, StockChange) and s.count_shrink is not None]
    assert counts == [
        s for s in second.steps if isinstance(s, StockChange) and s.count_shrink is not None
    ]
    changes = sum(isinstance(s, StockChange) for s in first.steps)
    assert changes / (2 * COUNT_ONE_IN) < len(counts) < 2 * changes / COUNT_ONE_IN
    assert {c.count_shrink for c in counts} == {0, 1, 2, 3}  # sometimes the count is exact
    # stable across runs and machines (a hash of the data, not Python's hash() or a global RNG)
    assert [(c.count_id, c.count_shrink) for c in counts[:3]] == [
        ("count:store-united-kingdom:22810:536401", 2),
        ("count:store-norway:21506:536532", 0),
        ("count:store-united-kingdom:22112:536534", 1),
    ]
    assert count_shrink("store-united-kingdom", "22810", "536401") == 2


def test_a_count_finds_the_book_less_its_shrink_and_follows_its_change(bundled: Bundled) -> None:
    invoices, events = bundled
    replay = build_replay(invoices)
    stock = Stock(replay.opening)
    seen = 0
    for step in replay.steps:
        sent = play_step(stock, step)
        if isinstance(step, StockChange) and step.count_shrink is not None:
            count = sent[-1]
            book = stock.level((step.location_id, step.sku)).on_hand
            assert count.event == "inventory.counted"
            assert count.data["counted"] == max(0, book - step.count_shrink)
            assert count.data["count_id"] == step.count_id
            assert [e.event for e in sent[:-1]] in ([], ["inventory.updated"])
            seen += 1
    assert seen == len(_of(events, "inventory.counted")) > 100
