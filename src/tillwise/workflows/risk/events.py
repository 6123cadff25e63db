"""What the risk scorer sees: one thing that happened at a till, flattened (:class:`RiskEvent`).

:func:`from_canonical` builds it from a canonical event and its record (a
:class:`~tillwise.domain.sales.Transaction`, :class:`~tillwise.domain.sales.Refund` or
:class:`~tillwise.domain.till.TillEvent`; a bare ``sale.voided`` has no record and is read
from the envelope's data; a ``payment.updated`` :class:`~tillwise.domain.sales.Payment`
attempt becomes a ``tender`` event: its amount, its one tender, ``declined`` when it failed).
:func:`make_event` builds one by hand (a cart scored before tender, tests). Amounts are
integer minor units, never negative; local hour, weekday and day are in the store's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tillwise.domain.events import Envelope
from tillwise.domain.locations import Location, store_key
from tillwise.domain.sales import Payment, PaymentKind, PaymentStatus, Refund, Tender, Transaction
from tillwise.domain.till import TillEvent

KINDS = ("sale", "refund", "void", "no_sale", "price_override", "cart", "tender")
# payment statuses that are an attempt at the till (a voided authorization or a refunded
# payment is a later change of an attempt already seen: not scored)
ATTEMPT_STATUSES = frozenset(
    {
        PaymentStatus.AUTHORIZED,
        PaymentStatus.CAPTURED,
        PaymentStatus.COMPLETED,
        PaymentStatus.FAILED,
    }
)


@dataclass(frozen=True, slots=True)
class LineFact:
    sku: str | None
    quantity: float
    unit_price: int  # minor units charged per unit
    original_unit_price: int | None = None  # before a manual override
    name: str | None = None


@dataclass(frozen=True, slots=True)
class TenderFact:
    type: str  # card | cash | gift_card | wallet | other
    amount: int
    fingerprint: str | None = None
    last4: str | None = None
    entry_method: str | None = None  # keyed | swiped | dipped | tapped | online

    @property
    def card_key(self) -> str | None:
        """What identifies the card: its fingerprint, else its last 4 digits."""
        if self.fingerprint:
            return f"fp:{self.fingerprint}"
        if self.last4:
            return f"l4:{self.last4}"
        return None


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One thing that happened at a till, flattened for scoring."""

    id: str  # the event data's id (sale id, refund id, ...): what replay prints
    kind: str  # sale | refund | void | no_sale | price_override | cart | tender
    store: str  # "<connection_id>:<location_external_id>"
    occurred_at: datetime  # UTC
    local_hour: int
    local_weekday: int  # Monday = 0
    local_day: date
    employee_id: str | None
    register_id: str | None
    customer_id: str | None
    currency: str
    amount: int  # minor units, >= 0 (a refund's amount is positive)
    discount: int = 0  # total discounts, minor units
    override_count: int = 0  # lines with a manual price override
    lines: tuple[LineFact, ...] = ()
    tenders: tuple[TenderFact, ...] = ()
    # refunds: the sale refunded; price overrides and tender attempts: the sale
    receipt_id: str | None = None
    after_tender: bool = False  # voids: a post-void (payment was taken)
    declined: bool = False  # tender attempts: declined (failed, no money moved)


def local_fields(occurred_at: datetime, time_zone: str | ZoneInfo = "UTC") -> dict[str, Any]:
    """``occurred_at`` (aware) in UTC, plus the store's local hour, weekday and day."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    zone = time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)
    local = occurred_at.astimezone(zone)
    return {
        "occurred_at": occurred_at.astimezone(UTC),
        "local_hour": local.hour,
        "local_weekday": local.weekday(),
        "local_day": local.date(),
    }


def make_event(
    *,
    id: str,
    kind: str,
    store: str,
    occurred_at: datetime,
    time_zone: str | ZoneInfo = "UTC",
    employee_id: str | None = None,
    register_id: str | None = None,
    customer_id: str | None = None,
    currency: str = "USD",
    amount: int = 0,
    **extra: Any,
) -> RiskEvent:
    """A :class:`RiskEvent` with its local fields computed from ``time_zone``."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return RiskEvent(
        id=id,
        kind=kind,
        store=store,
        employee_id=employee_id,
        register_id=register_id,
        customer_id=customer_id,
        currency=currency,
        amount=max(0, amount),
        **local_fields(occurred_at, time_zone),
        **extra,
    )


def tender_fact(t: Tender) -> TenderFact:
    return TenderFact(
        type=str(t.type.value),
        amount=abs(t.amount.amount),
        fingerprint=t.card_fingerprint,
        last4=t.card_last4,
        entry_method=t.entry_method,
    )


def _sale_facts(txn: Transaction) -> dict[str, Any]:
    lines = tuple(
        LineFact(
            sku=line.sku,
            quantity=float(line.quantity),
            unit_price=line.unit_price.amount,
            original_unit_price=(
                None if line.original_unit_price is None else line.original_unit_price.amount
            ),
            name=line.name,
        )
        for line in txn.lines
    )
    discount = sum(d.amount.amount for line in txn.lines for d in line.discounts)
    discount += sum(d.amount.amount for d in txn.discounts)
    overrides = sum(
        1
        for f in lines
        if f.original_unit_price is not None and f.original_unit_price != f.unit_price
    )
    return {
        "amount": max(0, txn.total.amount),
        "discount": max(0, discount),
        "override_count": overrides,
        "lines": lines,
        "tenders": tuple(tender_fact(t) for t in txn.tenders),
        "customer_id": txn.customer_external_id,
        "currency": txn.currency,
    }


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def from_canonical(
    envelope: Envelope,
    record: Transaction | Refund | TillEvent | Payment | Any | None,
    location: Location | None,
) -> RiskEvent | None:
    """The :class:`RiskEvent` of a canonical event (``sale.completed``, ``refund.created``,
    ``sale.voided``, ``drawer.opened``, ``price.overridden``, ``payment.updated``) and its
    record; ``None`` for anything the scorer does not score (a refund's payment: the refund is
    scored; a payment's later change — voided, refunded, pending — is not a new attempt).
    ``location`` gives the store's time zone (UTC when unknown). A bare ``sale.voided`` (no
    record) is read from the envelope's data; one of a sale with no void time (a platform
    reporting a cancelled order by its status) is not a till void and is not scored."""
    zone = location.time_zone if location is not None else "UTC"
    conn = envelope.connectionid
    etype = envelope.type
    if etype == "sale.voided":
        data = envelope.data
        if isinstance(record, Transaction):
            loc = record.location_external_id
            voided = record.voided_at or _parse_time(data.get("voided_at"))
            if voided is None:  # a cancellation the POS reported by the sale's status (an
                return None  # online order cancelled, a refunded one): not a void at a till
            facts = _sale_facts(record)
            return make_event(
                id=record.external_id,
                kind="void",
                store=store_key(conn, loc or ""),
                occurred_at=voided,
                time_zone=zone,
                employee_id=record.employee_external_id,
                register_id=record.register_external_id,
                after_tender=record.voided_after_tender,
                **facts,
            )
        at = _parse_time(data.get("voided_at")) or envelope.time
        if at is None:
            return None
        return make_event(
            id=str(data.get("external_id") or data.get("id") or ""),
            kind="void",
            store=store_key(conn, str(data.get("location_external_id") or "")),
            occurred_at=at,
            time_zone=zone,
            employee_id=data.get("employee_external_id"),
            register_id=data.get("register_external_id"),
            currency=str(data.get("currency") or (location.currency if location else None) or ""),
            amount=0,  # unknown: the scorer takes it from the sale it saw
            after_tender=bool(data.get("after_tender")),
        )
    if isinstance(record, Transaction) and etype == "sale.completed":
        return make_event(
            id=record.external_id,
            kind="sale",
            store=store_key(conn, record.location_external_id or ""),
            occurred_at=record.occurred_at,
            time_zone=zone,
            employee_id=record.employee_external_id,
            register_id=record.register_external_id,
            **_sale_facts(record),
        )
    if isinstance(record, Refund):
        return make_event(
            id=record.external_id,
            kind="refund",
            store=store_key(conn, record.location_external_id or ""),
            occurred_at=record.occurred_at,
            time_zone=zone,
            employee_id=record.employee_external_id,
            register_id=record.register_external_id,
            customer_id=record.customer_external_id,
            currency=record.currency,
            amount=abs(record.total.amount),
            lines=tuple(
                LineFact(
                    sku=line.sku,
                    quantity=float(line.quantity),
                    unit_price=(
                        int(line.amount.amount / float(line.quantity)) if line.quantity else 0
                    ),
                    name=line.name,
                )
                for line in record.lines
            ),
            tenders=tuple(tender_fact(t) for t in record.tenders),
            receipt_id=record.transaction_external_id,
        )
    if isinstance(record, Payment) and etype == "payment.updated":
        if record.payment_kind is not PaymentKind.SALE or record.status not in ATTEMPT_STATUSES:
            return None
        tender = TenderFact(
            type=str(record.tender_type.value),
            amount=abs(record.amount.amount),
            fingerprint=record.card_fingerprint,
            last4=record.card_last4,
            entry_method=None if record.entry_method is None else record.entry_method.value,
        )
        return make_event(
            id=record.external_id,
            kind="tender",
            store=store_key(conn, record.location_external_id or ""),
            occurred_at=record.occurred_at,
            time_zone=zone,
            employee_id=record.employee_external_id,
            register_id=record.device_external_id,
            currency=record.currency,
            amount=abs(record.amount.amount),
            tenders=(tender,),
            receipt_id=record.transaction_external_id,
            declined=record.status is PaymentStatus.FAILED,
        )
    if isinstance(record, TillEvent):
        store = store_key(conn, record.location_external_id or "")
        common: dict[str, Any] = {
            "id": record.external_id,
            "store": store,
            "occurred_at": record.occurred_at,
            "time_zone": zone,
            "employee_id": record.employee_external_id,
            "register_id": record.register_external_id,
            "receipt_id": record.transaction_external_id,
        }
        if record.event == "no_sale":
            cur = location.currency if location is not None and location.currency else ""
            return make_event(kind="no_sale", currency=cur, **common)
        orig, new = record.original_price, record.new_price
        assert orig is not None and new is not None  # the domain model requires both
        line = LineFact(
            sku=record.sku, quantity=1.0, unit_price=new.amount, original_unit_price=orig.amount
        )
        return make_event(
            kind="price_override",
            currency=orig.currency,
            amount=new.amount,
            discount=max(0, orig.amount - new.amount),
            override_count=1,
            lines=(line,),
            **common,
        )
    return None
