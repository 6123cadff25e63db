"""The Square :class:`~tillwise.ports.platform.Api`: backfill pages and fetch-on-notify.

Resources, in dependency order (``resource:<name>`` bodies are single API objects, normalized
by :mod:`.normalize` exactly like webhook snapshots):

=================  ===============================================  =====================
resource           endpoint                                          ``since`` filter
=================  ===============================================  =====================
locations          GET  /v2/locations (one page)                     none (small)
team_members       POST /v2/team-members/search                      none
vendors            POST /v2/vendors/search                           none
items              POST /v2/catalog/search  object_types=[ITEM]      ``begin_time``
customers          POST /v2/customers/search                         ``updated_at.start_at``
inventory_counts   POST /v2/inventory/counts/batch-retrieve          ``updated_after``
orders             POST /v2/orders/search (≤ 10 locations a call)    ``updated_at.start_at``
refunds            GET  /v2/refunds                                  ``begin_time``
timecards          POST /v2/labor/timecards/search (shifts/search    ``updated_at``
                   before Square-Version 2025-05-21 [UNVERIFIED])
=================  ===============================================  =====================

Checkpoint cursors are Square's own, except for orders: ``<location batch>|<square cursor>``.

Fetch-on-notify: ``orders`` (BatchRetrieveOrders, 100 ids a call), ``locations``, ``items``
(BatchRetrieveCatalogObjects), ``customers``, ``refunds``, ``payments`` and
``catalog_version`` (a catalog change named only by its time: SearchCatalogObjects since then).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from tillwise.domain.normalized import Fetch
from tillwise.ports.platform import ConnectionContext, Fetched, ResourcePage

from .._http import ApiError, RetryPolicy, connection_client
from . import normalize as n
from .client import SquareClient, SquareRateLimiter
from .oauth import SquareOAuth

RESOURCES: tuple[str, ...] = (
    n.LOCATIONS,
    n.TEAM_MEMBERS,
    n.VENDORS,
    n.ITEMS,
    n.CUSTOMERS,
    n.INVENTORY_COUNTS,
    n.ORDERS,
    n.REFUNDS,
    n.TIMECARDS,
)
PAGE_LIMIT = 100
ORDER_LOCATIONS_PER_CALL = 10  # SearchOrders takes at most 10 location ids
ORDER_BATCH = 100  # BatchRetrieveOrders ids per call
TIMECARDS_SINCE = "2025-05-21"  # [UNVERIFIED] the Square-Version that renamed shifts → timecards


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def object_version(resource: str, obj: dict[str, Any]) -> str:
    """What makes this version of the object distinct: updated_at, else version, else a
    digest of its JSON (locations carry neither)."""
    for key in ("updated_at", "calculated_at"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
    if obj.get("version") is not None:
        return str(obj["version"])
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
    return f"sha256-{digest[:16]}"


def object_id(resource: str, obj: dict[str, Any]) -> str:
    if resource == n.INVENTORY_COUNTS:
        return n.level_external_id(str(obj.get("location_id")), str(obj.get("catalog_object_id")))
    return str(obj.get("id"))


def fetched(resource: str, obj: dict[str, Any]) -> Fetched:
    return Fetched(
        resource=resource,
        event_id=f"{object_id(resource, obj)}:{object_version(resource, obj)}",
        body=json.dumps(obj, separators=(",", ":")).encode(),
    )


class SquareApi:
    """Implements :class:`tillwise.ports.platform.Api` for one Square connection."""

    resources = RESOURCES

    def __init__(self, client: SquareClient) -> None:
        self.client = client

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- backfill --------------------------------------------------------------------------

    async def pages(
        self, resource: str, *, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[ResourcePage]:
        if resource == n.ORDERS:
            async for page in self._order_pages(since, cursor):
                yield page
            return
        method, path, key, params, body = self._listing(resource, since)
        async for items, nxt in self.client.pages(
            method, path, key, params=params, body=body, cursor=cursor
        ):
            yield ResourcePage(objects=tuple(fetched(resource, o) for o in items), cursor=nxt)

    def _listing(
        self, resource: str, since: datetime | None
    ) -> tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None]:
        start = _rfc3339(since) if since is not None else None
        if resource == n.LOCATIONS:
            return "GET", "/v2/locations", "locations", None, None
        if resource == n.TEAM_MEMBERS:
            return "POST", "/v2/team-members/search", "team_members", None, {"limit": 200}
        if resource == n.VENDORS:
            return "POST", "/v2/vendors/search", "vendors", None, {}
        if resource == n.ITEMS:
            body: dict[str, Any] = {"object_types": ["ITEM"], "limit": PAGE_LIMIT}
            if start:
                body["begin_time"] = start
            return "POST", "/v2/catalog/search", "objects", None, body
        if resource == n.CUSTOMERS:
            body = {"limit": PAGE_LIMIT}
            if start:
                body["query"] = {"filter": {"updated_at": {"start_at": start}}}
            return "POST", "/v2/customers/search", "customers", None, body
        if resource == n.INVENTORY_COUNTS:
            body = {"states": ["IN_STOCK"], "limit": 1000}
            if start:
                body["updated_after"] = start
            return "POST", "/v2/inventory/counts/batch-retrieve", "counts", None, body
        if resource == n.REFUNDS:
            params: dict[str, Any] = {"sort_order": "ASC"}
            if start:
                params["begin_time"] = start
            return "GET", "/v2/refunds", "refunds", params, None
        if resource == n.TIMECARDS:
            body = {"limit": 200}
            if start:
                body["query"] = {"filter": {"updated_at": {"start_at": start}}}  # [UNVERIFIED]
            if self.client.version >= TIMECARDS_SINCE:
                return "POST", "/v2/labor/timecards/search", "timecards", None, body
            return "POST", "/v2/labor/shifts/search", "shifts", None, body
        raise ApiError(f"Square has no backfill for resource {resource!r}")

    async def _location_ids(self) -> list[str]:
        data = await self.client.get("/v2/locations")
        return [str(loc["id"]) for loc in data.get("locations") or [] if loc.get("id")]

    async def _order_pages(
        self, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[ResourcePage]:
        ids = await self._location_ids()
        batches = [
            ids[i : i + ORDER_LOCATIONS_PER_CALL]
            for i in range(0, len(ids), ORDER_LOCATIONS_PER_CALL)
        ]
        batch_no, square_cursor = 0, None
        if cursor:
            head, _, tail = cursor.partition("|")
            batch_no, square_cursor = int(head), (tail or None)
        query: dict[str, Any] = {
            "filter": {"state_filter": {"states": ["COMPLETED", "CANCELED"]}},
            "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
        }
        if since is not None:
            query["filter"]["date_time_filter"] = {"updated_at": {"start_at": _rfc3339(since)}}
        for index in range(batch_no, len(batches)):
            body = {"location_ids": batches[index], "query": query, "limit": PAGE_LIMIT}
            start = square_cursor if index == batch_no else None
            async for items, nxt in self.client.pages(
                "POST", "/v2/orders/search", "orders", body=body, cursor=start
            ):
                if nxt is not None:
                    checkpoint: str | None = f"{index}|{nxt}"
                elif index + 1 < len(batches):
                    checkpoint = f"{index + 1}|"
                else:
                    checkpoint = None
                yield ResourcePage(
                    objects=tuple(fetched(n.ORDERS, o) for o in items), cursor=checkpoint
                )

    # -- fetch-on-notify -------------------------------------------------------------------

    async def fetch(self, requests: Sequence[Fetch]) -> list[Fetched]:
        out: list[Fetched] = []
        for req in requests:
            out += await self._fetch_one(req.resource, list(dict.fromkeys(req.ids)))
        return out

    async def _fetch_one(self, resource: str, ids: list[str]) -> list[Fetched]:
        c = self.client
        out: list[Fetched] = []
        if resource == n.ORDERS:
            for i in range(0, len(ids), ORDER_BATCH):
                data = await c.post("/v2/orders/batch-retrieve", {"order_ids": ids[i : i + 100]})
                out += [fetched(n.ORDERS, o) for o in data.get("orders") or []]
        elif resource == n.ITEMS:
            for i in range(0, len(ids), 1000):
                data = await c.post("/v2/catalog/batch-retrieve", {"object_ids": ids[i : i + 1000]})
                out += [fetched(n.ITEMS, o) for o in data.get("objects") or []]
        elif resource == n.CATALOG_VERSION:
            for begin in ids:
                body = {"object_types": ["ITEM"], "begin_time": begin, "limit": PAGE_LIMIT}
                async for items, _ in c.pages("POST", "/v2/catalog/search", "objects", body=body):
                    out += [fetched(n.ITEMS, o) for o in items]
        elif resource in _SINGLE:
            path, key = _SINGLE[resource]
            for object_id_ in ids:
                data = await c.get(path.format(id=quote(object_id_, safe="")))
                if isinstance(data.get(key), dict):
                    out.append(fetched(resource, data[key]))
        else:
            raise ApiError(f"Square cannot fetch resource {resource!r}")
        return out


_SINGLE = {
    n.LOCATIONS: ("/v2/locations/{id}", "location"),
    n.CUSTOMERS: ("/v2/customers/{id}", "customer"),
    n.REFUNDS: ("/v2/refunds/{id}", "refund"),
    n.PAYMENTS: ("/v2/payments/{id}", "payment"),
    n.VENDORS: ("/v2/vendors/{id}", "vendor"),
    n.TEAM_MEMBERS: ("/v2/team-members/{id}", "team_member"),
}


def make_api(
    ctx: ConnectionContext,
    *,
    app: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    limiter: SquareRateLimiter | None = None,
    jitter: Callable[[], float] | None = None,
    retry: RetryPolicy | None = None,
    clock: Callable[[], datetime] | None = None,
) -> SquareApi:
    """The connection's API, refreshing its token through Square OAuth when it has a refresh
    token (``transport`` etc. are for tests against the local fake)."""
    client = connection_client(
        ctx,
        SquareClient,
        SquareOAuth,
        app=app,
        transport=transport,
        limiter=limiter,
        sleep=sleep,
        jitter=jitter,
        retry=retry,
        clock=clock,
    )
    return SquareApi(client)
