"""List and get endpoints for canonical records, one pair per kind, built from one definition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tillwise.domain.catalog import Product
from tillwise.domain.customers import Customer
from tillwise.domain.inventory import InventoryLevel
from tillwise.domain.locations import Location
from tillwise.domain.sales import Refund, Transaction
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
) -> None:
    tag = path.strip("/")

    @router.get(
        path,
        response_model=ListPublic[public],  # type: ignore[valid-type]
        tags=[tag],
        summary=f"List {noun}s",
        operation_id=f"{tag}-list",
        dependencies=[require(permission)],
    )
    def list_records(
        container: ContainerDep,
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
        with container.uow() as uow:
            items = uow.records.find(
                record_type,
                external_id=external_id,
                connection_id=connection_id,
                page=Page(limit=limit, after=after, newest_first=order == "newest"),
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
        dependencies=[require(permission)],
    )
    def get_record(record_id: str, container: ContainerDep) -> BaseModel:
        with container.uow() as uow:
            item = uow.records.get(record_type, record_id)
        if item is None:
            raise Problem(404, "not_found", f"no {noun} {record_id!r}", field="record_id")
        return to_public(item)


_add(
    "/transactions",
    Transaction,
    TransactionPublic,
    TransactionPublic.of,
    "transactions:read",
    "transaction",
    dated=True,
)
_add("/refunds", Refund, RefundPublic, RefundPublic.of, "transactions:read", "refund", dated=True)
_add("/products", Product, ProductPublic, ProductPublic.of, "products:read", "product")
_add(
    "/inventory-levels",
    InventoryLevel,
    InventoryLevelPublic,
    InventoryLevelPublic.of,
    "inventory:read",
    "inventory level",
)
_add("/customers", Customer, CustomerPublic, CustomerPublic.of, "customers:read", "customer")
_add("/locations", Location, LocationPublic, LocationPublic.of, "locations:read", "location")
