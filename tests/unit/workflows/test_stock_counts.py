"""Stock counts: worked examples, from generic payloads through the real normalizer to the
proposal a store manager would see in the approval queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tillwise.connectors.generic import connector
from tillwise.domain.events import Envelope
from tillwise.domain.ids import SourceRecord
from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal, proposal_id
from tillwise.ports.inbox import RawDelivery
from tillwise.workflows.base import WorkflowContext
from tillwise.workflows.registry import default_workflows
from tillwise.workflows.stock import StockCountCheck

CONN = "con_sim"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


class FrozenClock:
    def now(self) -> datetime:
        return NOW


class Records:
    """The canonical store, in memory: what the normalizer produced, by canonical id."""

    def __init__(self) -> None:
        self.by_id: dict[str, SourceRecord] = {}

    def upsert(self, record: SourceRecord) -> None:
        self.by_id[record.id] = record

    def get(self, record_type: type, canonical_id: str) -> Any:
        record = self.by_id.get(canonical_id)
        return record if isinstance(record, record_type) else None


class Uow:
    def __init__(self) -> None:
        self.records = Records()


def _deliver(uow: Uow, event: str, data: dict[str, Any], *, at: str, key: str) -> Envelope:
    body = json.dumps({"event": event, "created_at": at, "data": data}).encode()
    batch = connector.normalize(RawDelivery("generic", CONN, key, event, body, NOW))
    for record in batch.records:
        uow.records.upsert(record)
    [envelope] = batch.events
    return envelope


def _product(uow: Uow, sku: str = "85123A", price: str = "2.55") -> None:
    data = {"id": sku, "name": "WHITE HANGING HEART", "sku": sku, "price": price, "currency": "GBP"}
    _deliver(uow, "product.created", data, at="2024-02-01T09:00:00Z", key=f"p:{sku}")


def _level(uow: Uow, on_hand: Any, sku: str = "85123A", version: int = 4) -> None:
    data = {
        "sku": sku,
        "location_id": "sim-gb",
        "on_hand": on_hand,
        "updated_at": "2024-02-28T17:00:00Z",
        "version": version,
    }
    _deliver(uow, "inventory.updated", data, at="2024-02-28T17:00:00Z", key=f"l:{sku}:{version}")


def _count(uow: Uow, counted: Any, sku: str = "85123A", count_id: str = "cnt-1") -> Envelope:
    data = {
        "sku": sku,
        "location_id": "sim-gb",
        "counted": counted,
        "counted_at": "2024-02-29T08:30:00Z",
        "count_id": count_id,
    }
    return _deliver(uow, "inventory.counted", data, at="2024-02-29T08:31:00Z", key=count_id)


def _handle(uow: Uow, event: Envelope) -> list[Proposal]:
    return StockCountCheck().handle(event, WorkflowContext(uow=uow, clock=FrozenClock()))  # type: ignore[arg-type]


def test_a_count_short_of_the_book_proposes_the_correction() -> None:
    # given a book of 10 units of a £2.55 SKU at sim-gb, and a count that finds 7
    uow = Uow()
    _product(uow)
    _level(uow, 10)
    count = _count(uow, 7)

    # when the workflow handles the count
    [proposal] = _handle(uow, count)

    # then it proposes taking 3 off the book, worth 3 × £2.55
    assert proposal.id == proposal_id("stock_counts", "stock_adjustment", count.id)
    assert proposal.kind == "stock_adjustment"
    assert (proposal.workflow, proposal.workflow_version) == ("stock_counts", "1.0")
    assert proposal.proposed_by == "workflow:stock_counts@1.0"
    assert proposal.connection_id == CONN
    assert proposal.location_external_id == "sim-gb"
    assert proposal.created_at == NOW
    assert proposal.summary == "Count 7 vs book 10 for SKU 85123A at sim-gb: adjust \u22123"
    assert proposal.payload == {
        "sku": "85123A",
        "location_external_id": "sim-gb",
        "delta": -3,
        "book_on_hand": 10,
        "counted": 7,
    }
    assert proposal.value == Money(amount=765, currency="GBP")
    assert proposal.inputs == {
        "event_id": count.id,
        "count_id": "cnt-1",
        "book_on_hand": 10,
        "counted": 7,
        "book_as_of": "2024-02-28T17:00:00Z",
    }
    assert proposal.explanation == (
        "Cycle count cnt-1 at sim-gb on 2024-02-29 08:30 UTC found 7 units of SKU 85123A, "
        "while the POS's book showed 10 (as of 2024-02-28 17:00 UTC). Adjusting the book by "
        "\u22123 makes it match the shelf; the difference is worth £7.65 at the SKU's unit "
        "price."
    )


def test_a_count_above_the_book_adds_stock() -> None:
    uow = Uow()
    _product(uow)
    _level(uow, "10")
    [proposal] = _handle(uow, _count(uow, "12"))
    assert proposal.payload["delta"] == 2
    assert proposal.summary.endswith("adjust +2")
    assert proposal.value == Money(amount=510, currency="GBP")


def test_without_a_known_price_the_value_is_unknown() -> None:
    uow = Uow()
    _level(uow, 10)
    [proposal] = _handle(uow, _count(uow, 9))
    assert proposal.payload["delta"] == -1
    assert proposal.value is None
    assert proposal.explanation.endswith("the SKU's unit price is not known.")


@pytest.mark.parametrize(
    ("book", "counted"),
    [
        (10, 10),  # the book is right
        (10, "9.5"),  # less than a unit apart
        ("10", "7.5"),  # weighed goods: not whole units
    ],
)
def test_no_proposal_when_there_is_nothing_to_correct(book: Any, counted: Any) -> None:
    uow = Uow()
    _product(uow)
    _level(uow, book)
    assert _handle(uow, _count(uow, counted)) == []


def test_no_proposal_for_a_level_the_store_never_reported() -> None:
    uow = Uow()
    _product(uow)
    _level(uow, 10, sku="22423")  # another SKU's level only
    assert _handle(uow, _count(uow, 3)) == []


def test_a_redelivered_count_proposes_the_same_thing_and_a_new_count_a_new_one() -> None:
    uow = Uow()
    _level(uow, 10)
    first = _handle(uow, _count(uow, 7))
    again = _handle(uow, _count(uow, 7))
    later = _handle(uow, _count(uow, 7, count_id="cnt-2"))
    assert first == again
    assert later[0].id != first[0].id


def test_the_book_used_is_the_latest_level() -> None:
    uow = Uow()
    _level(uow, 10, version=4)
    _level(uow, 8, version=5)  # a sale reached Tillwise before the count
    [proposal] = _handle(uow, _count(uow, 7))
    assert proposal.payload["book_on_hand"] == 8 and proposal.payload["delta"] == -1


def test_a_malformed_count_event_is_an_error_not_a_silent_skip() -> None:
    uow = Uow()
    _level(uow, 10)
    count = _count(uow, 7)
    broken = count.model_copy(update={"data": {**count.data, "counted": "seven"}})
    with pytest.raises(ValueError, match="malformed"):
        _handle(uow, broken)


def test_other_events_are_ignored_and_the_workflow_ships_by_default() -> None:
    uow = Uow()
    _level(uow, 10)
    sale_like = _count(uow, 7).model_copy(update={"type": "sale.completed"})
    assert _handle(uow, sale_like) == []
    workflow = next(w for w in default_workflows() if w.name == "stock_counts")
    assert workflow.subscribes_to == frozenset({"inventory.counted"})
