"""Stock counts: when a store's physical count disagrees with the book, propose the correction.

On ``inventory.counted`` the workflow reads the canonical level of the SKU at that store (the
book on-hand, as the POS last reported it) and, if the count differs from it by a unit or
more, proposes a ``stock_adjustment`` of ``counted - book`` to make the POS's book match the
shelf. Governance decides what becomes of it (shadow, draft for approval, or auto within
limits); the generic connector writes an approved one back.

Rules, in order:

* no level known for that SKU and store → nothing (nothing to compare with);
* ``|counted - book| < 1`` → nothing (the book is right);
* the count or the book is not a whole number of units (weighed goods) → nothing: a stock
  adjustment moves whole units (version 1.0);
* otherwise one proposal, its id keyed on the count event, so a redelivered count proposes
  the same thing once. Its ``value`` is ``|delta|`` × the SKU's unit price when the product is
  known by its SKU (the single-SKU form, as the simulator sends) and has a price; else None.

The book is read when the count is handled, so a sale that reaches Tillwise between the count
and its handling moves the book too; ``inputs.book_as_of`` records which figure was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tillwise.domain.catalog import Product
from tillwise.domain.events import Envelope, EventType
from tillwise.domain.ids import SourceRef
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.money import Money
from tillwise.domain.proposals import Proposal, ProposalKind, proposal_id
from tillwise.ports.repositories import RecordRepository
from tillwise.workflows.base import WorkflowContext

MINUS = "\u2212"  # the summary shows "adjust −3", not a hyphen


@dataclass(frozen=True)
class Count:
    """The facts of an ``inventory.counted`` event."""

    sku: str
    location_external_id: str
    counted: Decimal
    counted_at: datetime
    count_id: str

    @classmethod
    def from_event(cls, event: Envelope) -> Count:
        """Read the event's data; a malformed canonical event is an error (it is retried, then
        parked as a dead letter that a person can inspect), never silently skipped."""
        data = event.data
        try:
            counted = Decimal(str(data["counted"]))
            counted_at = datetime.fromisoformat(str(data["counted_at"]))
            sku, location, count_id = (
                str(data["sku"]),
                str(data["location_external_id"]),
                str(data["count_id"]),
            )
        except (KeyError, ValueError, InvalidOperation) as exc:
            raise ValueError(
                f"inventory.counted event {event.id} has malformed data: {exc}"
            ) from exc
        if not counted.is_finite() or counted_at.tzinfo is None:
            raise ValueError(f"inventory.counted event {event.id} has malformed data")
        return cls(sku, location, counted, counted_at.astimezone(UTC), count_id)


def signed(n: int) -> str:
    """``+2`` / ``−3`` (a true minus sign)."""
    return f"+{n}" if n > 0 else f"{MINUS}{-n}"


def _units(value: Decimal) -> int | None:
    """``value`` as whole units, or None when it has a fraction."""
    return int(value) if value == value.to_integral_value() else None


def unit_price(records: RecordRepository, event: Envelope, sku: str) -> Money | None:
    """The SKU's price from the product whose id is the SKU (the single-SKU form), if known."""
    ref = SourceRef(platform=event.platform, connection_id=event.connectionid, external_id=sku)
    product = records.get(Product, ref.canonical_id("product"))
    if product is None:
        return None
    return next((v.price for v in product.variants if v.sku == sku and v.price), None)


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def explain(
    count: Count, book: int, counted: int, delta: int, book_as_of: datetime, value: Money | None
) -> str:
    """A deterministic sentence from the facts (no model involved)."""
    worth = (
        f"; the difference is worth {value.display()} at the SKU's unit price"
        if value is not None
        else "; the SKU's unit price is not known"
    )
    return (
        f"Cycle count {count.count_id} at {count.location_external_id} on "
        f"{_when(count.counted_at)} found {counted} units of SKU {count.sku}, while the POS's "
        f"book showed {book} (as of {_when(book_as_of)}). Adjusting the book by {signed(delta)} "
        f"makes it match the shelf{worth}."
    )


class StockCountCheck:
    name = "stock_counts"
    version = "1.0"
    subscribes_to = frozenset({EventType.INVENTORY_COUNTED.value})
    proposes = frozenset({ProposalKind.STOCK_ADJUSTMENT.value})

    @property
    def actor(self) -> str:
        return f"workflow:{self.name}@{self.version}"

    def handle(self, event: Envelope, ctx: WorkflowContext) -> list[Proposal]:
        if event.type != EventType.INVENTORY_COUNTED or event.subject is None:
            return []
        count = Count.from_event(event)
        level = ctx.uow.records.get(InventoryLevel, event.subject)
        if level is None:
            return []
        if abs(count.counted - level.on_hand) < 1:
            return []
        counted, book = _units(count.counted), _units(level.on_hand)
        if counted is None or book is None:
            return []
        delta = counted - book
        price = unit_price(ctx.uow.records, event, count.sku)
        value = price.times(abs(delta)) if price is not None else None
        kind = ProposalKind.STOCK_ADJUSTMENT.value
        payload: dict[str, Any] = {
            "sku": count.sku,
            "location_external_id": count.location_external_id,
            "delta": delta,
            "book_on_hand": book,
            "counted": counted,
        }
        return [
            Proposal(
                id=proposal_id(self.name, kind, event.id),
                kind=kind,
                workflow=self.name,
                workflow_version=self.version,
                proposed_by=self.actor,
                connection_id=event.connectionid,
                location_external_id=count.location_external_id,
                created_at=ctx.clock.now(),
                summary=(
                    f"Count {counted} vs book {book} for SKU {count.sku} at "
                    f"{count.location_external_id}: adjust {signed(delta)}"
                ),
                explanation=explain(count, book, counted, delta, level.as_of, value),
                payload=payload,
                value=value,
                inputs={
                    "event_id": event.id,
                    "count_id": count.count_id,
                    "book_on_hand": book,
                    "counted": counted,
                    "book_as_of": level.as_of.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                },
            )
        ]
