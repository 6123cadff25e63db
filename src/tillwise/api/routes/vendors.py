"""Vendors as replenishment uses them, and the retailer's terms over the POS's.

``GET /v1/vendors?connection_id=`` lists a connection's vendors with the terms plans use (the
POS's, with imported terms over them): catalog data, read by any holder of ``products:read``.
``PATCH /v1/vendors/{connection_id}/{vendor_id}/terms`` sets some of a vendor's terms, as
``tillwise vendors import`` does for a file (only the fields given change, only what differs
from the current terms is kept; audited); a field given as ``null`` is taken back, so plans
use the POS's value again (JSON merge patch, RFC 7396). Terms apply to every store of the
connection, so the caller needs ``replenishment:write`` over all of them (a buyer or manager
of the whole chain, an admin).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from tillwise.domain.catalog import ITEM_TERMS, VENDOR_TERMS, Cleared, ItemTerms, VendorTerms
from tillwise.domain.errors import InvalidMoney
from tillwise.domain.money import Money, exponent
from tillwise.governance import costs
from tillwise.governance.principal import Principal
from tillwise.workflows.replenishment.planner import vendors_with_terms
from tillwise.workflows.replenishment.terms import EMAIL, changes_of, vendors_public

from ..deps import ContainerDep, require
from ..problems import Problem
from ..schemas.common import Amount, RequestBody
from .governance import known_stores

router = APIRouter(prefix="/v1/vendors", tags=["vendors"])


class ItemTermsBody(RequestBody):
    sku: str = Field(min_length=1, max_length=128)
    unit_cost: Amount | None = Field(default=None, description="in the body's currency")
    case_pack: int | None = Field(default=None, ge=1, le=1_000_000)
    moq: int | None = Field(default=None, ge=0, le=1_000_000)
    vendor_sku: str | None = Field(default=None, min_length=1, max_length=128)


class TermsBody(RequestBody):
    """Some of a vendor's terms; a field left out keeps what plans use now, a field given as
    null goes back to the POS's value."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL.pattern)
    lead_time_days: int | None = Field(default=None, ge=0, le=365)
    review_period_days: int | None = Field(
        default=None, ge=1, le=90, description="its order cycle: days between orders to it"
    )
    min_order_value: Amount | None = None
    currency: str | None = Field(
        default=None, min_length=3, max_length=3, description="of min_order_value and unit costs"
    )
    items: list[ItemTermsBody] = Field(default_factory=list, max_length=10_000)


def _connection(container: Any, connection_id: str, principal: Principal) -> list[str]:
    """The connection's stores. 404 when it does not exist and, alike, when a store-scoped
    ``principal`` has no store of it (existence is not disclosed)."""
    stores = [s.store for s in known_stores(container) if s.connection_id == connection_id]
    if container.connections.get(connection_id) is None or (
        principal.stores is not None and not any(principal.sees(s) for s in stores)
    ):
        raise Problem(404, "not_found", f"no connection {connection_id!r}", field="connection_id")
    return stores


def _public(container: Any, connection_id: str, principal: Principal) -> list[dict[str, Any]]:
    """The connection's vendors as ``principal`` may see them (costs with ``costs:read``)."""
    with container.uow() as uow:
        return costs.vendors_shown_to(principal, vendors_public(uow, connection_id))


@router.get("", operation_id="vendors-list")
def list_vendors(
    connection_id: str, container: ContainerDep, principal: Principal = require("products:read")
) -> Any:
    """The connection's vendors with the terms plans use (a store-scoped caller: only of a
    connection it has a store of)."""
    _connection(container, connection_id, principal)
    return _public(container, connection_id, principal)


@router.patch("/{connection_id}/{vendor_id}/terms", operation_id="vendors-set-terms")
def set_terms(
    connection_id: str,
    vendor_id: Annotated[str, PathParam(min_length=1, max_length=255)],
    body: TermsBody,
    container: ContainerDep,
    principal: Principal = require("replenishment:write"),
) -> Any:
    """Set some of a vendor's terms (a vendor the POS does not know needs a ``name``); a field
    given as null goes back to the POS's value."""
    stores = _connection(container, connection_id, principal)
    if not all(principal.sees(s) for s in stores):
        raise Problem(
            403,
            "forbidden",
            "vendor terms apply to every store of the connection: only a role over all of "
            "them sets them",
            field="connection_id",
        )
    with container.uow() as uow:
        vendors = vendors_with_terms(uow, connection_id)
        pos_knows = vendor_id in vendors and vendors[vendor_id].source.platform != "tillwise"
    cleared = _cleared(body)
    if vendor_id not in vendors and body.name is None:
        raise Problem(
            422, "invalid_terms", f"a new vendor {vendor_id!r} needs a name", field="name"
        )
    if "name" in cleared.fields and not pos_knows:
        why = "the POS does not know this vendor: its name cannot go back to the POS's"
        raise Problem(422, "invalid_terms", why, field="name")
    skus = [i.sku for i in body.items]
    if len(set(skus)) != len(skus):
        raise Problem(422, "invalid_terms", "a SKU is listed twice", field="items")
    priced = body.min_order_value is not None or any(i.unit_cost is not None for i in body.items)
    if priced and not principal.can(costs.PERMISSION):
        field = "min_order_value" if body.min_order_value is not None else "items"
        raise Problem(
            403, "forbidden", "setting a cost needs the costs:read permission", field=field
        )
    if priced and body.currency is None:
        why = "required with min_order_value or a unit_cost"
        raise Problem(422, "invalid_terms", why, field="currency")
    if body.currency is not None:
        try:
            exponent(body.currency)
        except InvalidMoney as exc:
            raise Problem(422, "invalid_terms", str(exc), field="currency") from None
    changes = changes_of([_terms(vendor_id, body)], vendors)
    if changes or cleared:
        container.vendor_terms.upsert(
            connection_id,
            changes,
            actor=principal.actor,
            source="api",
            cleared={vendor_id: cleared},
        )
    found = _public(container, connection_id, principal)
    return next(v for v in found if v["vendor_id"] == vendor_id)


def _cleared(body: TermsBody) -> Cleared:
    """The terms ``body`` gives as null (RFC 7396: back to the POS's value)."""

    def nulls(model: BaseModel, names: tuple[str, ...]) -> frozenset[str]:
        return frozenset(
            f for f in names if f in model.model_fields_set and getattr(model, f) is None
        )

    items = {i.sku: nulls(i, ITEM_TERMS) for i in body.items}
    return Cleared(nulls(body, VENDOR_TERMS), {sku: f for sku, f in items.items() if f})


def _terms(vendor_id: str, body: TermsBody) -> VendorTerms:
    """The terms ``body`` gives; an amount with more decimals than its currency has is
    refused, naming its field."""
    currency = None if body.currency is None else body.currency.upper()

    def money(amount: Decimal | None, field: str) -> Money | None:
        if amount is None or currency is None:
            return None
        try:
            return Money.from_decimal(amount, currency)
        except InvalidMoney as exc:
            raise Problem(422, "invalid_terms", str(exc), field=field) from None

    return VendorTerms(
        vendor_external_id=vendor_id,
        name=body.name,
        email=None if body.email is None else str(body.email),
        lead_time_days=body.lead_time_days,
        review_period_days=body.review_period_days,
        min_order_value=money(body.min_order_value, "min_order_value"),
        items=tuple(
            ItemTerms(
                sku=i.sku,
                unit_cost=money(i.unit_cost, f"items.{n}.unit_cost"),
                case_pack=i.case_pack,
                moq=i.moq,
                vendor_sku=i.vendor_sku,
            )
            for n, i in enumerate(body.items)
        ),
    )
