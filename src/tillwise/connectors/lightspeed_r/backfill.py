"""The R-Series :class:`~tillwise.ports.platform.Api`: backfill, reconciliation, fetch.

R-Series has no webhooks, so this is how data arrives: a backfill walks every resource, and the
reconciliation sweep walks them again with ``since`` (``timeStamp=>,<ISO date>``; shifts filter
on ``checkIn``). Each object becomes a :class:`Fetched` with topic ``resource:<Entity>``,
``event_id = "<id>:<timeStamp>"`` and its JSON as the body, which :mod:`.normalize` reads
exactly like a stored API response (with the connection's configured currency, which the
pipeline passes for every delivery: R-Series objects carry none). Related objects the
normalizer needs (sale lines with their items, payments with their type, order lines with their
items, the item of an ItemShop) are requested with ``load_relations``.

The checkpoint cursor is the ``@attributes.next`` URL (or ``offset:<n>``), so a backfill resumes
at the page after the last one stored.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from tillwise.domain.normalized import Fetch
from tillwise.ports.platform import ConnectionContext, Fetched, ResourcePage

from .._http import ApiError
from .client import RSeriesClient
from .normalize import (
    CUSTOMER,
    EMPLOYEE,
    EMPLOYEE_HOURS,
    ID_FIELDS,
    ITEM,
    ITEM_SHOP,
    ORDER,
    SALE,
    SHOP,
    VENDOR,
    entity_of,
    many,
)
from .oauth import LightspeedROAuth

# dependency order: shops before items before stock and orders before sales
RESOURCES: tuple[str, ...] = (
    SHOP,
    VENDOR,
    EMPLOYEE,
    CUSTOMER,
    ITEM,
    ITEM_SHOP,
    ORDER,
    SALE,
    EMPLOYEE_HOURS,
)
RELATIONS: dict[str, tuple[str, ...]] = {
    SHOP: (),
    VENDOR: ("Contact",),
    EMPLOYEE: ("Contact", "EmployeeRole"),
    CUSTOMER: ("Contact",),
    ITEM: (),
    ITEM_SHOP: ("Item",),
    ORDER: ("OrderLines", "OrderLines.Item"),
    SALE: (
        "SaleLines",
        "SaleLines.Item",
        "SalePayments",
        "SalePayments.PaymentType",
        "TaxCategory",
        "Discount",
    ),
    EMPLOYEE_HOURS: (),
}
TIME_FIELDS: dict[str, str] = {EMPLOYEE_HOURS: "checkIn"}  # others: timeStamp


def since_filter(since: datetime) -> str:
    """R-Series' ``>,<ISO date>`` query operator."""
    return ">," + since.astimezone(UTC).isoformat(timespec="seconds")


def query(entity: str, since: datetime | None) -> dict[str, str]:
    params: dict[str, str] = {}
    relations = RELATIONS.get(entity, ())
    if relations:
        params["load_relations"] = json.dumps(list(relations))
    if since is not None:
        params[TIME_FIELDS.get(entity, "timeStamp")] = since_filter(since)
    return params


def event_id(entity: str, obj: Mapping[str, Any]) -> str:
    version = obj.get("timeStamp") or obj.get("checkOut") or obj.get("checkIn") or ""
    return f"{obj.get(ID_FIELDS[entity])}:{version}"


class LightspeedRApi:
    """Implements :class:`tillwise.ports.platform.Api` for one R-Series connection."""

    resources = RESOURCES

    def __init__(
        self,
        ctx: ConnectionContext,
        *,
        app: Mapping[str, str] | None = None,
        client: RSeriesClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        oauth_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.ctx = ctx
        oauth = LightspeedROAuth(app or ctx.app)

        async def refresh(c: ConnectionContext) -> Any:
            return await oauth.refresh(c, transport=oauth_transport)

        self.client = client or RSeriesClient(
            ctx, app=app or ctx.app, refresh=refresh, transport=transport
        )

    def _fetched(self, entity: str, obj: dict[str, Any]) -> Fetched:
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        return Fetched(resource=entity, event_id=event_id(entity, obj), body=body.encode())

    async def pages(
        self, resource: str, *, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[ResourcePage]:
        entity = entity_of(f"resource:{resource}")
        async for objects, nxt in self.client.pages(entity, query(entity, since), cursor):
            yield ResourcePage(objects=tuple(self._fetched(entity, o) for o in objects), cursor=nxt)

    async def fetch(self, requests: Sequence[Fetch]) -> list[Fetched]:
        """Each named object by id (``/<Entity>/<id>.json``); a deleted one is skipped."""
        out: list[Fetched] = []
        for request in requests:
            entity = entity_of(f"resource:{request.resource}")
            params = query(entity, None)
            for object_id in request.ids:
                try:
                    body = await self.client.get(f"/{entity}/{object_id}.json", params)
                except ApiError as exc:
                    if exc.status == 404:
                        continue
                    raise
                out.extend(self._fetched(entity, o) for o in many(body.get(entity)))
        return out

    async def aclose(self) -> None:
        await self.client.aclose()
