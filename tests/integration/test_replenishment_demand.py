"""The demand history a store's forecast is fitted on, built from the webhooks the POS sends
(generic connector, SQLite): what counts as a day of demand and where the history ends — and
the daily sales report, which a void changes the same way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import FakeClock, body_of, make_container, pump, run, signed_headers
from tillwise.api.app import create_app
from tillwise.store.migrate import upgrade
from tillwise.workflows.replenishment.planner import history_for, read_store

SECRET = "whsec_demand"
NOW = datetime(2024, 6, 1, 15, 0, tzinfo=UTC)  # 11:00 in New York


class Shop:
    """One generic connection with a New York store, fed through the real webhook API."""

    def __init__(self, tmp: Path) -> None:
        url = f"sqlite:///{tmp / 'tillwise.db'}"
        upgrade(url)
        self.clock = FakeClock(NOW)
        self.container = make_container(url, tmp, clock=self.clock)
        self.conn = self.container.connections.create("generic", "POS", [SECRET], actor="t").id
        self.client = TestClient(create_app(self.container))
        self.sent = 0
        self.send("location.updated", {"id": "ny", "name": "NY", "time_zone": "America/New_York"})

    def send(self, event: str, data: dict[str, Any], at: str = "2024-01-01T00:00:00Z") -> None:
        self.sent += 1
        body = body_of({"event": event, "created_at": at, "data": data})
        headers = signed_headers(
            body, SECRET, int(self.clock.now().timestamp()), event_id=f"evt-{self.sent}"
        )
        answer = self.client.post(f"/webhooks/generic/{self.conn}", content=body, headers=headers)
        assert answer.status_code in (200, 202), answer.text
        run(pump(self.container))

    def sale(self, sale_id: str, at: str, units: int, voided_at: str | None = None) -> None:
        data: dict[str, Any] = {
            "id": sale_id,
            "location_id": "ny",
            "occurred_at": at,
            "line_items": [{"sku": "MUG", "name": "Mug", "quantity": units, "price": "2.00"}],
            "total_money": {"amount": 200 * units, "currency": "USD"},
        }
        if voided_at is not None:  # the void, with the sale's contents
            data["voided_at"] = voided_at
        self.send("sale.voided" if voided_at else "sale.completed", data, voided_at or at)

    def sales_report(self) -> list[tuple[date, int, int]]:
        with self.container.uow() as uow:
            rows = uow.reporting.daily_sales()
        return [(r.day, r.sales_count, r.sales_amount) for r in rows]

    def history(self) -> list[tuple[date, float]]:
        with self.container.uow() as uow:
            inputs = read_store(uow, self.conn, "ny", self.clock.now())
        frame = history_for(inputs, date(2024, 6, 1))
        return [(ds.date(), y) for ds, y in zip(frame["ds"], frame["y"], strict=True)]


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    s = Shop(tmp_path)
    yield s
    s.client.close()
    run(s.container.close())


def test_a_sale_voided_after_it_completed_is_no_longer_demand(shop: Shop) -> None:
    shop.sale("s1", "2024-05-30T16:00:00Z", 3)
    shop.sale("s2", "2024-05-31T16:00:00Z", 5)
    assert shop.history() == [(date(2024, 5, 30), 3.0), (date(2024, 5, 31), 5.0)]

    assert shop.sales_report() == [(date(2024, 5, 30), 1, 600), (date(2024, 5, 31), 1, 1000)]

    shop.sale("s2", "2024-05-31T16:00:00Z", 5, voided_at="2024-05-31T16:10:00Z")
    assert shop.history() == [(date(2024, 5, 30), 3.0), (date(2024, 5, 31), 0.0)]
    assert shop.sales_report() == [(date(2024, 5, 30), 1, 600), (date(2024, 5, 31), 0, 0)]

    # a bare void (the POS sent only the sale's id) withdraws it as well
    shop.send("sale.voided", {"id": "s1", "location_id": "ny", "voided_at": "2024-05-31T17:00:00Z"})
    assert shop.history() == []
    assert [count for _day, count, _amount in shop.sales_report()] == [0, 0]


def test_a_return_neither_starts_the_history_nor_pads_it_with_zeros(shop: Shop) -> None:
    refund = {
        "id": "r1",
        "location_id": "ny",
        "occurred_at": "2024-04-01T16:00:00Z",
        "line_items": [{"sku": "MUG", "name": "Mug", "quantity": 1, "price": "2.00"}],
        "total_money": {"amount": 200, "currency": "USD"},
    }
    shop.send("refund.created", refund, "2024-04-01T16:00:00Z")
    for day in (29, 30, 31):
        shop.sale(f"s{day}", f"2024-05-{day}T16:00:00Z", 10)

    # the history starts on the first sale, not on the return two months before it
    assert shop.history() == [(date(2024, 5, d), 10.0) for d in (29, 30, 31)]


def test_a_store_whose_first_sales_are_today_has_no_history_yet(shop: Shop) -> None:
    shop.sale("s1", "2024-06-01T13:00:00Z", 3)  # 09:00 in New York, today

    assert shop.history() == []  # today is not over: its sales so far are not a day's
