"""The Shopify :class:`~tillwise.ports.platform.Api`: backfill pages and fetch-on-notify.

=================  ===================================================  ==================
resource           endpoint                                              ``since`` filter
=================  ===================================================  ==================
locations          REST GET locations.json (one page)                    none (small)
products           REST GET products.json (variants embedded)            ``updated_at_min``
customers          REST GET customers.json                               ``updated_at_min``
inventory_levels   GraphQL ``inventoryItems`` → levels with SKU          ``updated_at:>``
orders             REST GET orders.json?status=any (refunds embedded)    ``updated_at_min``
=================  ===================================================  ==================

REST pages follow the ``Link`` header (the checkpoint is the ``page_info``); GraphQL pages
follow ``pageInfo.endCursor``. Orders older than 60 days need the ``read_all_orders`` scope
(Shopify approves it per app, so it is not asked for by default: add it to the app's
``scopes``); a full order backfill on a connection granted scopes without it says so in the
log. ``users`` (staff, Shopify Plus only) can be fetched but is not in
the default backfill. Each object is one ``Fetched`` with ``event_id = <id>:<updated_at>``.

REST locations carry no time zone: each location read (backfill pages and single fetches) gets
the shop's ``iana_timezone`` as ``time_zone``, read once per API object from ``GET
shop.json?fields=iana_timezone``; a location's event id then ends in that zone
(``<id>:<updated_at>:<zone>``), so a location first stored without it, or one of a shop whose
zone changed, is stored again.

Inventory levels are keyed by inventory item, without a SKU; Tillwise reads them through
GraphQL with the item's SKU and hands them on REST-shaped plus ``sku`` and ``on_hand``:
``{"inventory_item_id", "location_id", "available", "on_hand", "updated_at", "sku"}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from tillwise.domain.normalized import Fetch
from tillwise.ports.platform import ConnectionContext, Fetched, ResourcePage

from .._http import ApiError, RetryPolicy, connection_client
from . import normalize as n
from .client import ShopifyClient, ShopifyRateLimiter
from .oauth import ShopifyOAuth

log = logging.getLogger(__name__)
ALL_ORDERS_SCOPE = "read_all_orders"

RESOURCES: tuple[str, ...] = (n.LOCATIONS, n.PRODUCTS, n.CUSTOMERS, n.INVENTORY_LEVELS, n.ORDERS)

_REST = {
    n.LOCATIONS: ("locations.json", "locations", False),
    n.PRODUCTS: ("products.json", "products", True),
    n.CUSTOMERS: ("customers.json", "customers", True),
    n.ORDERS: ("orders.json", "orders", True),
    n.USERS: ("users.json", "users", False),
}
_SINGLE = {
    n.LOCATIONS: ("locations/{id}.json", "location"),
    n.PRODUCTS: ("products/{id}.json", "product"),
    n.CUSTOMERS: ("customers/{id}.json", "customer"),
    n.ORDERS: ("orders/{id}.json", "order"),
    n.VARIANTS: ("variants/{id}.json", "variant"),
    n.USERS: ("users/{id}.json", "user"),
}

_LEVEL_FIELDS = """
  legacyResourceId
  sku
  variant { legacyResourceId }
"""
_QUANTITIES = 'quantities(names: ["available", "on_hand"]) { name quantity }'
INVENTORY_ITEMS_QUERY = (
    "query InventoryItems($first: Int!, $after: String, $query: String) {\n"
    "  inventoryItems(first: $first, after: $after, query: $query) {\n"
    "    pageInfo { hasNextPage endCursor }\n"
    f"    nodes {{ {_LEVEL_FIELDS}\n"
    f"      inventoryLevels(first: 50) {{ nodes {{ location {{ legacyResourceId }} updatedAt "
    f"{_QUANTITIES} }} }}\n"
    "    }\n  }\n}"
)
INVENTORY_LEVEL_QUERY = (
    "query InventoryLevel($item: ID!, $location: ID!) {\n"
    f"  inventoryItem(id: $item) {{ {_LEVEL_FIELDS}\n"
    f"    inventoryLevel(locationId: $location) {{ location {{ legacyResourceId }} updatedAt "
    f"{_QUANTITIES} }}\n"
    "  }\n}"
)


def gid(kind: str, legacy_id: str) -> str:
    return f"gid://shopify/{kind}/{legacy_id}"


def level_object(item: Mapping[str, Any], level: Mapping[str, Any]) -> dict[str, Any]:
    """A GraphQL inventory level (+ its item) as the REST-shaped object Tillwise normalizes."""
    quantities = {
        q.get("name"): q.get("quantity")
        for q in level.get("quantities") or []
        if isinstance(q, dict)
    }
    sku = item.get("sku") or ""
    if not sku:
        variant = item.get("variant") or {}
        sku = f"variant:{variant.get('legacyResourceId')}" if variant else ""
    return {
        "inventory_item_id": str(item.get("legacyResourceId")),
        "location_id": str((level.get("location") or {}).get("legacyResourceId")),
        "available": quantities.get("available"),
        "on_hand": quantities.get("on_hand", quantities.get("available")),
        "updated_at": level.get("updatedAt"),
        "sku": sku or None,
    }


def object_id(resource: str, obj: Mapping[str, Any]) -> str:
    if resource == n.INVENTORY_LEVELS:
        return n.level_external_id(str(obj.get("inventory_item_id")), str(obj.get("location_id")))
    return str(obj.get("id"))


def fetched(resource: str, obj: Mapping[str, Any]) -> Fetched:
    version = obj.get("updated_at") or obj.get("processed_at") or obj.get("created_at") or "0"
    if resource == n.LOCATIONS and obj.get("time_zone"):
        version = f"{version}:{obj['time_zone']}"
    return Fetched(
        resource=resource,
        event_id=f"{object_id(resource, obj)}:{version}",
        body=json.dumps(obj, separators=(",", ":")).encode(),
    )


class ShopifyApi:
    """Implements :class:`tillwise.ports.platform.Api` for one shop."""

    resources = RESOURCES

    def __init__(self, client: ShopifyClient) -> None:
        self.client = client
        self._shop: dict[str, Any] | None = None

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _with_time_zone(self, location: dict[str, Any]) -> dict[str, Any]:
        """A REST location with the shop's IANA zone (REST locations carry none)."""
        if self._shop is None:
            resp = await self.client.rest("GET", "shop.json", params={"fields": "iana_timezone"})
            data = json.loads(resp.content) if resp.content else {}
            shop = data.get("shop") if isinstance(data, dict) else None
            self._shop = shop if isinstance(shop, dict) else {}
        zone = self._shop.get("iana_timezone")
        return {**location, "time_zone": zone} if zone else location

    async def pages(
        self, resource: str, *, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[ResourcePage]:
        if resource == n.INVENTORY_LEVELS:
            variables: dict[str, Any] = {"first": 50}
            if since is not None:
                variables["query"] = f"updated_at:>'{since.isoformat()}'"
            async for items, nxt in self.client.graphql_pages(
                INVENTORY_ITEMS_QUERY, "inventoryItems", variables=variables, cursor=cursor
            ):
                objects = tuple(
                    fetched(n.INVENTORY_LEVELS, level_object(item, level))
                    for item in items
                    for level in ((item.get("inventoryLevels") or {}).get("nodes") or [])
                )
                yield ResourcePage(objects=objects, cursor=nxt)
            return
        if resource not in _REST:
            raise ApiError(f"Shopify has no backfill for resource {resource!r}")
        path, key, filters = _REST[resource]
        params: dict[str, Any] = {}
        if resource == n.ORDERS:
            params["status"] = "any"
            scopes = self.client.credentials.scopes
            if since is None and cursor is None and scopes and ALL_ORDERS_SCOPE not in scopes:
                log.warning(
                    "Shopify connection %s was not granted %s: its order history backfills the "
                    "last 60 days only, too little for forecasts (add it to the app's scopes "
                    "and reconnect)",
                    self.client.ctx.connection_id,
                    ALL_ORDERS_SCOPE,
                )
        if filters and since is not None:
            params["updated_at_min"] = since.isoformat()
        async for items, nxt in self.client.rest_pages(path, key, params=params, cursor=cursor):
            if resource == n.LOCATIONS:
                items = [await self._with_time_zone(o) for o in items]
            yield ResourcePage(objects=tuple(fetched(resource, o) for o in items), cursor=nxt)

    async def fetch(self, requests: Sequence[Fetch]) -> list[Fetched]:
        out: list[Fetched] = []
        for req in requests:
            for object_id_ in dict.fromkeys(req.ids):
                out += await self._fetch_one(req.resource, object_id_)
        return out

    async def _fetch_one(self, resource: str, object_id_: str) -> list[Fetched]:
        if resource == n.INVENTORY_LEVELS:
            item_id, _, location_id = object_id_.partition(":")
            data = await self.client.graphql(
                INVENTORY_LEVEL_QUERY,
                {"item": gid("InventoryItem", item_id), "location": gid("Location", location_id)},
            )
            item = data.get("inventoryItem") or {}
            level = item.get("inventoryLevel")
            return [fetched(resource, level_object(item, level))] if level else []
        if resource not in _SINGLE:
            raise ApiError(f"Shopify cannot fetch resource {resource!r}")
        path, key = _SINGLE[resource]
        try:
            resp = await self.client.rest("GET", path.format(id=int(object_id_)))
        except ValueError:
            raise ApiError(f"{object_id_!r} is not a Shopify id") from None
        except ApiError as exc:
            if exc.status == 404:
                return []  # deleted since it was named
            raise
        data = json.loads(resp.content)
        obj = data.get(key) if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            return []
        if resource == n.LOCATIONS:
            obj = await self._with_time_zone(obj)
        return [fetched(resource, obj)]


def make_api(
    ctx: ConnectionContext,
    *,
    app: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    limiter: ShopifyRateLimiter | None = None,
    jitter: Callable[[], float] | None = None,
    retry: RetryPolicy | None = None,
    clock: Callable[[], datetime] | None = None,
) -> ShopifyApi:
    """The shop's API; refreshes expiring tokens through Shopify OAuth when it has a refresh
    token (``transport`` etc. are for tests against the local fake)."""
    client = connection_client(
        ctx,
        ShopifyClient,
        lambda settings: ShopifyOAuth(settings, clock=clock),  # expiries on the client's clock
        app=app,
        transport=transport,
        limiter=limiter,
        sleep=sleep,
        jitter=jitter,
        retry=retry,
        clock=clock,
    )
    return ShopifyApi(client)
