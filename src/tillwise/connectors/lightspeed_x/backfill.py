"""The X-Series :class:`~tillwise.ports.platform.Api`: backfill pages and fetch-on-notify.

Resources, in dependency order — each a 2.0 collection walked with ``?after=<version>``
(the checkpoint cursor is the largest version seen; an empty ``data`` ends it):

``outlets, users, suppliers, products, customers, inventory, consignments (type=SUPPLIER,
each with its /products embedded), sales, shifts``.

``since`` is not sent: the 2.0 collections filter by version, not time — the cursor *is* the
change feed (a run resumed from the last checkpoint sees only newer versions). Every page
carries the largest version seen so far as its ``watermark`` (the last, empty page too), which
the pipeline keeps when the run finishes and starts the next run with a ``since`` from, so a
reconciliation sweep reads only what changed since the previous run.

Every object is stored as its own JSON (``Fetched.body``), as the API sent it; event id
``<id>:<version>``. (X-Series objects carry no currency: the pipeline normalizes them with the
connection's configured ``currency``, exactly as it does webhooks.) JSON numbers are re-written
with Python's shortest round-trip ``repr``, which gives back the decimal text X-Series sent for
any amount with up to 15 significant digits (the normalizer reads them as ``Decimal``).

Fetch-on-notify: ``consignments`` (a consignment-product webhook), and by id ``sales``,
``products``, ``customers``, ``outlets``, ``users``; ``inventory`` by product id.
"""

from __future__ import annotations

import asyncio
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
from .client import LightspeedXClient, LightspeedXRateLimiter
from .oauth import LightspeedXOAuth

RESOURCES: tuple[str, ...] = (
    n.OUTLETS,
    n.USERS,
    n.SUPPLIERS,
    n.PRODUCTS,
    n.CUSTOMERS,
    n.INVENTORY,
    n.CONSIGNMENTS,
    n.SALES,
    n.SHIFTS,
)
LISTING: dict[str, tuple[str, dict[str, Any]]] = {
    n.OUTLETS: ("/outlets", {}),
    n.USERS: ("/users", {}),
    n.SUPPLIERS: ("/suppliers", {}),
    n.PRODUCTS: ("/products", {}),
    n.CUSTOMERS: ("/customers", {}),
    n.INVENTORY: ("/inventory", {}),
    n.CONSIGNMENTS: ("/consignments", {"type": "SUPPLIER"}),
    n.SALES: ("/sales", {}),
    n.SHIFTS: ("/shifts", {}),
}
SINGLE: dict[str, str] = {
    n.SALES: "/sales/{id}",
    n.PRODUCTS: "/products/{id}",
    n.CUSTOMERS: "/customers/{id}",
    n.OUTLETS: "/outlets/{id}",
    n.USERS: "/users/{id}",
    n.CONSIGNMENTS: "/consignments/{id}",
}


class LightspeedXApi:
    """Implements :class:`tillwise.ports.platform.Api` for one X-Series connection."""

    resources = RESOURCES

    def __init__(self, client: LightspeedXClient) -> None:
        self.client = client

    async def aclose(self) -> None:
        await self.client.aclose()

    def fetched(self, resource: str, obj: dict[str, Any]) -> Fetched:
        return Fetched(
            resource=resource,
            event_id=f"{obj.get('id')}:{n.object_version(obj)}",
            body=json.dumps(obj, separators=(",", ":")).encode(),
        )

    async def _with_products(self, consignment: dict[str, Any]) -> dict[str, Any]:
        cid = quote(str(consignment.get("id")), safe="")
        lines: list[dict[str, Any]] = []
        async for items, _ in self.client.pages(f"/consignments/{cid}/products"):
            lines += items
        return {**consignment, "products": lines}

    # -- backfill ------------------------------------------------------------------------

    async def pages(
        self, resource: str, *, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[ResourcePage]:
        if resource not in LISTING:
            raise ApiError(f"Lightspeed X has no backfill for resource {resource!r}")
        path, params = LISTING[resource]
        watermark = cursor
        async for items, nxt in self.client.pages(path, params=params, cursor=cursor):
            watermark = nxt or watermark
            objects = []
            for obj in items:
                if resource == n.CONSIGNMENTS:
                    if str(obj.get("type", "")).upper() != "SUPPLIER":
                        continue  # the filter is a hint; transfers/stocktakes are skipped
                    obj = await self._with_products(obj)
                objects.append(self.fetched(resource, obj))
            yield ResourcePage(objects=tuple(objects), cursor=nxt, watermark=watermark)

    # -- fetch-on-notify -----------------------------------------------------------------

    async def fetch(self, requests: Sequence[Fetch]) -> list[Fetched]:
        out: list[Fetched] = []
        for req in requests:
            resource = n.resource_of(req.resource)
            for object_id in dict.fromkeys(req.ids):
                out += await self._fetch_one(resource, object_id)
        return out

    async def _fetch_one(self, resource: str, object_id: str) -> list[Fetched]:
        oid = quote(object_id, safe="")
        if resource == n.INVENTORY:  # by product id: every outlet's level
            data = await self.client.get(f"/products/{oid}/inventory")
            return [self.fetched(n.INVENTORY, o) for o in data or [] if isinstance(o, dict)]
        if resource not in SINGLE:
            raise ApiError(f"Lightspeed X cannot fetch resource {resource!r}")
        try:
            data = await self.client.get(SINGLE[resource].format(id=oid))
        except ApiError as exc:
            if exc.status == 404:
                return []  # deleted since it was named
            raise
        if not isinstance(data, dict):
            return []
        if resource == n.CONSIGNMENTS:
            if str(data.get("type", "")).upper() != "SUPPLIER":
                return []
            data = await self._with_products(data)
        return [self.fetched(resource, data)]


def make_api(
    ctx: ConnectionContext,
    *,
    app: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    wall_clock: Callable[[], float] | None = None,
    limiter: LightspeedXRateLimiter | None = None,
    jitter: Callable[[], float] | None = None,
    retry: RetryPolicy | None = None,
    page_size: int | None = None,
) -> LightspeedXApi:
    """The connection's API, refreshing (and rotating) its token through X-Series OAuth when
    it has a refresh token (``transport`` etc. are for tests against the local fake)."""
    client = connection_client(
        ctx,
        LightspeedXClient,
        LightspeedXOAuth,
        app=app,
        transport=transport,
        limiter=limiter,
        sleep=sleep,
        wall_clock=wall_clock,
        jitter=jitter,
        retry=retry,
        page_size=page_size,
    )
    return LightspeedXApi(client)
