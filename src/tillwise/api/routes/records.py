"""List and get endpoints for canonical records, one pair per kind, built from one definition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tillwise.domain.catalog import Product
from tillwise.domain.customers import Customer
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location, store_key
from tillwise.domain.sales import Refund, Transaction
from tillwise.governance.principal import Principal
from tillwise.ports.repositories import Page

from ..deps import ContainerDep, require
from ..problems import Problem
from ..schemas.common import ListPublic
from ..schemas.records import (
    CustomerPublic,
    InventoryLevelPublic,
    LocationPublic,
    ProductPublic,
    RefundPublic,
    TransactionPublic,
)

router = APIRouter(prefix="/v1")


def _add(
    path: str,
    record_type: type[Any],
    public: type[BaseModel],
    to_public: Callable[[Any], BaseModel],
    permission: str,
    noun: str,
    *,
    dated: bool = False,
    store_of: Callable[[Any], str | None] | None = None,
    connection_wide: bool = False,
) -> None:
    """``store_of``: the store a record belongs to, for kinds that belong to one (the list and
    get routes then keep to the caller's store scope). ``connection_wide``: for kinds the
    stores of one connection share (the catalog; customers, who shop anywhere in the chain),
    which a store-scoped caller reads for the connections it has a store of."""
    tag = path.strip("/")

    def shown(item: Any, principal: Principal) -> bool:
        """Whether ``item`` is in ``principal``'s scope."""
        if store_of is not None:
            return principal.sees(store_of(item))
        connections = _connections_of(principal) if connection_wide else None
        return connections is None or item.source.connection_id in connections

    @router.get(
        path,
        response_model=ListPublic[public],  # type: ignore[valid-type]
        tags=[tag],
        summary=f"List {noun}s",
        operation_id=f"{tag}-list",
    )
    def list_records(
        container: ContainerDep,
        principal: Principal = require(permission),
        external_id: str | None = Query(None, description="the POS's id"),
        connection_id: str | None = None,
        limit: int = Query(100, ge=1, le=1000),
        after: str | None = Query(None, description="canonical id of the last item seen"),
        order: Literal["id", "newest"] = Query(
            "id", description="'newest': most recent first (sales and refunds only)"
        ),
    ) -> dict[str, Any]:
        if order == "newest" and not dated:
            raise Problem(422, "unsupported_order", f"{noun}s have no time order", field="order")
        scope = None
        if store_of is not None and principal.stores is not None:
            scope = [_split(s) for s in principal.stores]
        with container.uow() as uow:
            items = uow.records.find(
                record_type,
                external_id=external_id,
                connection_id=connection_id,
                page=Page(limit=limit, after=after, newest_first=order == "newest"),
                stores=scope,
                connections=_connections_of(principal) if connection_wide else None,
            )
        data = [to_public(item) for item in items]
        next_after = items[-1].id if len(items) == limit else None
        return {"data": data, "count": len(data), "next_after": next_after}

    @router.get(
        f"{path}/{{record_id}}",
        response_model=public,
        tags=[tag],
        summary=f"Get a {noun}",
        operation_id=f"{tag}-get",
    )
    def get_record(
        record_id: str, container: ContainerDep, principal: Principal = require(permission)
    ) -> BaseModel:
        with container.uow() as uow:
            item = uow.records.get(record_type, record_id)
        if item is None or not shown(item, principal):
            raise Problem(404, "not_found", f"no {noun} {record_id!r}", field="record_id")
        return to_public(item)


def _connections_of(principal: Principal) -> frozenset[str] | None:
    """The connections ``principal`` has a store of (``None``: it sees every store)."""
    if principal.stores is None:
        return None
    return frozenset(_split(s)[0] for s in principal.stores)


def _split(store: str) -> tuple[str, str]:
    connection_id, _, location = store.partition(":")
    return connection_id, location


def _at_location(record: Any) -> str | None:
    location = getattr(record, "location_external_id", None)
    return store_key(record.source.connection_id, location) if location else None


def _location_itself(record: Location) -> str:
    return store_key(record.source.connection_id, record.external_id)


_add(
    "/transactions",
    Transaction,
    TransactionPublic,
    TransactionPublic.of,
    "transactions:read",
    "transaction",
    dated=True,
    store_of=_at_location,
)
_add(
    "/refunds",
    Refund,
    RefundPublic,
    RefundPublic.of,
    "transactions:read",
    "refund",
    dated=True,
    store_of=_at_location,
)
_add(
    "/products",
    Product,
    ProductPublic,
    ProductPublic.of,
    "products:read",
    "product",
    connection_wide=True,
)
_add(
    "/inventory-levels",
    InventoryLevel,
    InventoryLevelPublic,
    InventoryLevelPublic.of,
    "inventory:read",
    "inventory level",
    store_of=_at_location,
)
_add(
    "/customers",
    Customer,
    CustomerPublic,
    CustomerPublic.of,
    "customers:read",
    "customer",
    connection_wide=True,
)
_add(
    "/locations",
    Location,
    LocationPublic,
    LocationPublic.of,
    "locations:read",
    "location",
    store_of=_location_itself,
)
