"""Sales: transactions with lines, discounts, taxes and tenders; refunds; payments; reconciliation
issues.

POS data is kept as sent. Where the reported figures disagree with each other (e.g. a total that
is not the sum of the lines), a :class:`ReconciliationIssue` is recorded beside the data; the
data itself is never silently "fixed".
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .ids import SourceRecord
from .money import Money, sum_money


class IssueCode(StrEnum):
    TOTAL_MISMATCH = "total_mismatch"  # reported total differs from lines - discounts + taxes
    UNKNOWN_SALE = "unknown_sale"  # a refund names a sale we have not seen


class ReconciliationIssue(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: IssueCode
    detail: str
    difference: Money | None = None


class Discount(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    amount: Money


class Tax(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    amount: Money
    rate: Decimal | None = None  # e.g. Decimal("0.2") for 20 %
    included: bool = False  # True when the tax is inside the line prices (VAT-inclusive)


class TenderType(StrEnum):
    CARD = "card"
    CASH = "cash"
    GIFT_CARD = "gift_card"
    WALLET = "wallet"
    OTHER = "other"


class Tender(BaseModel):
    """How a sale was paid. Never card data: at most a network fingerprint or last 4 digits."""

    model_config = ConfigDict(frozen=True)

    type: TenderType = TenderType.OTHER
    amount: Money
    card_last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    card_fingerprint: str | None = None
    entry_method: str | None = None


class TransactionLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str | None = None
    name: str | None = None
    quantity: Decimal
    unit_price: Money  # what was charged per unit
    discounts: tuple[Discount, ...] = ()
    taxes: tuple[Tax, ...] = ()
    # the price before a cashier overrode it by hand (set only for a manual price override;
    # omitted from the serialized record while unset)
    original_unit_price: Money | None = Field(default=None, exclude_if=lambda v: v is None)

    @property
    def gross(self) -> Money:
        return self.unit_price.times(self.quantity)

    @property
    def net(self) -> Money:
        return self.gross - sum_money([d.amount for d in self.discounts], self.unit_price.currency)


class TransactionStatus(StrEnum):
    COMPLETED = "completed"
    VOIDED = "voided"


class Transaction(SourceRecord):
    """A sale at a location: completed, or voided (``status`` voided, ``voided_at`` set;
    ``voided_after_tender`` when payment had already been taken — a post-void)."""

    kind: str = "transaction"
    location_external_id: str | None = None
    customer_external_id: str | None = None
    employee_external_id: str | None = None
    occurred_at: datetime
    status: TransactionStatus = TransactionStatus.COMPLETED
    currency: str
    lines: tuple[TransactionLine, ...] = ()
    discounts: tuple[Discount, ...] = ()  # order-level
    taxes: tuple[Tax, ...] = ()  # order-level
    tenders: tuple[Tender, ...] = ()
    total: Money  # as reported by the POS
    issues: tuple[ReconciliationIssue, ...] = ()
    # loss-prevention facts (omitted from the serialized record while unset)
    register_external_id: str | None = Field(default=None, exclude_if=lambda v: v is None)
    voided_at: datetime | None = Field(default=None, exclude_if=lambda v: v is None)
    voided_after_tender: bool = Field(default=False, exclude_if=lambda v: not v)

    def computed_total(self) -> Money:
        """Lines net of their discounts, less order discounts, plus taxes not already included."""
        cur = self.currency
        lines = sum_money([line.net for line in self.lines], cur)
        order_disc = sum_money([d.amount for d in self.discounts], cur)
        added_taxes = [t.amount for line in self.lines for t in line.taxes if not t.included]
        added_taxes += [t.amount for t in self.taxes if not t.included]
        return lines - order_disc + sum_money(added_taxes, cur)


def reconcile_total(txn: Transaction) -> tuple[ReconciliationIssue, ...]:
    """Issues between the reported total and the lines; the data is left as the POS sent it."""
    computed = txn.computed_total()
    if computed.amount == txn.total.amount:
        return ()
    diff = txn.total - computed
    return (
        ReconciliationIssue(
            code=IssueCode.TOTAL_MISMATCH,
            detail=(
                f"reported total {txn.total} differs from the lines' total {computed} by {diff}"
            ),
            difference=diff,
        ),
    )


class RefundLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str | None = None
    name: str | None = None
    quantity: Decimal
    amount: Money  # refunded for this line (positive)
    restock: bool = False


class Refund(SourceRecord):
    """Money given back. ``transaction_external_id`` is the receipt (the sale refunded); None is
    a refund without a receipt. ``tenders`` say where the money went back to."""

    kind: str = "refund"
    transaction_external_id: str | None = None  # the sale being refunded, when known
    location_external_id: str | None = None
    customer_external_id: str | None = None
    employee_external_id: str | None = None
    occurred_at: datetime
    currency: str
    lines: tuple[RefundLine, ...] = ()
    total: Money  # positive amount given back
    reason: str | None = None
    issues: tuple[ReconciliationIssue, ...] = ()
    # loss-prevention facts (omitted from the serialized record while unset)
    register_external_id: str | None = Field(default=None, exclude_if=lambda v: v is None)
    tenders: tuple[Tender, ...] = Field(default=(), exclude_if=lambda v: not v)


class PaymentStatus(StrEnum):
    """Where a payment stands at its processor (the platform's own word is mapped onto these)."""

    PENDING = "pending"  # started, not yet authorized (or awaiting the processor)
    AUTHORIZED = "authorized"  # funds held, not captured
    CAPTURED = "captured"  # a held authorization taken
    COMPLETED = "completed"  # money moved (a sale paid, or a refund given)
    FAILED = "failed"  # declined or errored: no money moved
    VOIDED = "voided"  # an authorization cancelled before capture
    REFUNDED = "refunded"  # completed, then (wholly) given back


class PaymentKind(StrEnum):
    SALE = "sale"  # money in (an authorization, capture or sale)
    REFUND = "refund"  # money out, back to the buyer


class EntryMethod(StrEnum):
    """How a card (or wallet) reached the terminal; ``online`` = card not present."""

    KEYED = "keyed"
    SWIPED = "swiped"
    DIPPED = "dipped"  # EMV chip
    TAPPED = "tapped"  # contactless
    ONLINE = "online"


class Payment(SourceRecord):
    """One payment or tender attempt as the POS reports it, of its own (Square ``Payment``,
    Shopify order transaction / tender transaction, Clover payment, a Lightspeed sale payment).

    ``amount`` is the total this payment moved, tip included (positive; a refund's amount is
    what went back); ``tip`` is the tip part of it and ``processing_fee`` what the processor
    kept, when the platform says. Never card data: at most the brand, last 4 digits and the
    processor's fingerprint."""

    kind: str = "payment"
    transaction_external_id: str | None = None  # the order/sale it pays, when known
    parent_external_id: str | None = None  # the payment it captures, voids or refunds
    location_external_id: str | None = None
    employee_external_id: str | None = None
    device_external_id: str | None = None  # register / terminal / device, when given
    occurred_at: datetime
    status: PaymentStatus
    payment_kind: PaymentKind = PaymentKind.SALE
    currency: str
    amount: Money
    tip: Money | None = None
    processing_fee: Money | None = None
    tender_type: TenderType = TenderType.OTHER
    card_brand: str | None = None
    card_last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    card_fingerprint: str | None = None
    entry_method: EntryMethod | None = None

    @model_validator(mode="after")
    def _one_currency(self) -> Payment:
        for name in ("amount", "tip", "processing_fee"):
            money = getattr(self, name)
            if money is not None and money.currency != self.currency:
                raise ValueError(f"{name} is in {money.currency}, the payment in {self.currency}")
        return self
