"""Public shapes of canonical records (Transaction, Refund, Product, InventoryLevel, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from tillwise.domain.catalog import Product
from tillwise.domain.customers import Customer
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location
from tillwise.domain.sales import ReconciliationIssue, Refund, Transaction

from .common import MoneyPublic, Quantity


class SourcePublic(BaseModel):
    id: str  # canonical id
    external_id: str  # the POS's id
    platform: str
    connection_id: str
    source_updated_at: datetime | None = None
    source_version: int | None = None


def _source(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "external_id": record.external_id,
        "platform": record.source.platform,
        "connection_id": record.source.connection_id,
        "source_updated_at": record.source_updated_at,
        "source_version": record.source_version,
    }


class IssuePublic(BaseModel):
    code: str
    detail: str
    difference: MoneyPublic | None = None

    @classmethod
    def of(cls, issue: ReconciliationIssue) -> IssuePublic:
        diff = MoneyPublic.of(issue.difference) if issue.difference else None
        return cls(code=issue.code.value, detail=issue.detail, difference=diff)


class AmountPublic(BaseModel):
    name: str | None = None
    amount: MoneyPublic


class LinePublic(BaseModel):
    sku: str | None
    name: str | None
    quantity: Quantity
    unit_price: MoneyPublic
    discounts: list[AmountPublic] = []
    taxes: list[AmountPublic] = []


class TenderPublic(BaseModel):
    type: str
    amount: MoneyPublic
    card_last4: str | None = None
    entry_method: str | None = None


class TransactionPublic(SourcePublic):
    location_id: str | None
    customer_id: str | None
    employee_id: str | None
    occurred_at: datetime
    status: str
    lines: list[LinePublic]
    discounts: list[AmountPublic]
    taxes: list[AmountPublic]
    tenders: list[TenderPublic]
    total: MoneyPublic
    issues: list[IssuePublic]

    @classmethod
    def of(cls, t: Transaction) -> TransactionPublic:
        def amounts(items: Any) -> list[AmountPublic]:
            return [AmountPublic(name=i.name, amount=MoneyPublic.of(i.amount)) for i in items]

        return cls(
            **_source(t),
            location_id=t.location_external_id,
            customer_id=t.customer_external_id,
            employee_id=t.employee_external_id,
            occurred_at=t.occurred_at,
            status=t.status.value,
            lines=[
                LinePublic(
                    sku=line.sku,
                    name=line.name,
                    quantity=line.quantity,
                    unit_price=MoneyPublic.of(line.unit_price),
                    discounts=amounts(line.discounts),
                    taxes=amounts(line.taxes),
                )
                for line in t.lines
            ],
            discounts=amounts(t.discounts),
            taxes=amounts(t.taxes),
            tenders=[
                TenderPublic(
                    type=x.type.value,
                    amount=MoneyPublic.of(x.amount),
                    card_last4=x.card_last4,
                    entry_method=x.entry_method,
                )
                for x in t.tenders
            ],
            total=MoneyPublic.of(t.total),
            issues=[IssuePublic.of(i) for i in t.issues],
        )


class RefundLinePublic(BaseModel):
    sku: str | None
    name: str | None
    quantity: Quantity
    amount: MoneyPublic
    restock: bool


class RefundPublic(SourcePublic):
    transaction_id: str | None
    location_id: str | None
    customer_id: str | None
    occurred_at: datetime
    lines: list[RefundLinePublic]
    total: MoneyPublic
    reason: str | None
    issues: list[IssuePublic]

    @classmethod
    def of(cls, r: Refund) -> RefundPublic:
        return cls(
            **_source(r),
            transaction_id=r.transaction_external_id,
            location_id=r.location_external_id,
            customer_id=r.customer_external_id,
            occurred_at=r.occurred_at,
            lines=[
                RefundLinePublic(
                    sku=x.sku,
                    name=x.name,
                    quantity=x.quantity,
                    amount=MoneyPublic.of(x.amount),
                    restock=x.restock,
                )
                for x in r.lines
            ],
            total=MoneyPublic.of(r.total),
            reason=r.reason,
            issues=[IssuePublic.of(i) for i in r.issues],
        )


class VariantPublic(BaseModel):
    external_id: str
    sku: str
    name: str
    gtin: str | None
    price: MoneyPublic | None


class ProductPublic(SourcePublic):
    name: str
    vendor_id: str | None
    variants: list[VariantPublic]

    @classmethod
    def of(cls, p: Product) -> ProductPublic:
        return cls(
            **_source(p),
            name=p.name,
            vendor_id=p.vendor_external_id,
            variants=[
                VariantPublic(
                    external_id=v.external_id,
                    sku=v.sku,
                    name=v.name,
                    gtin=v.gtin,
                    price=MoneyPublic.of(v.price) if v.price else None,
                )
                for v in p.variants
            ],
        )


class InventoryLevelPublic(SourcePublic):
    sku: str
    location_id: str
    on_hand: Quantity
    available: Quantity | None
    as_of: datetime

    @classmethod
    def of(cls, x: InventoryLevel) -> InventoryLevelPublic:
        return cls(
            **_source(x),
            sku=x.sku,
            location_id=x.location_external_id,
            on_hand=x.on_hand,
            available=x.available,
            as_of=x.as_of,
        )


class CustomerPublic(SourcePublic):
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    country_code: str | None
    accepts_marketing: bool

    @classmethod
    def of(cls, c: Customer) -> CustomerPublic:
        return cls(
            **_source(c),
            email=c.email,
            phone=c.phone,
            first_name=c.first_name,
            last_name=c.last_name,
            country_code=c.country_code,
            accepts_marketing=c.accepts_marketing,
        )


class LocationPublic(SourcePublic):
    name: str
    time_zone: str
    country_code: str | None
    currency: str | None

    @classmethod
    def of(cls, loc: Location) -> LocationPublic:
        return cls(
            **_source(loc),
            name=loc.name,
            time_zone=loc.time_zone,
            country_code=loc.country_code,
            currency=loc.currency,
        )
