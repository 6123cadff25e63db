"""The Clover :class:`~tillwise.ports.platform.Api`: backfill/reconciliation pages and
fetch-on-notify, over REST v3.

* ``resources`` (backfill order): ``merchant`` (the location), ``employees``, ``items``
  (with ``itemStock``), ``item_stocks``, ``customers``, ``orders``
  (``expand=lineItems,lineItems.taxRates,lineItems.discounts,lineItems.modifications,payments,
  discounts,refunds,customers``), ``shifts``.
* ``pages(resource, since, cursor)``: ``limit``/``offset`` pages (the cursor is the next
  offset), filtered ``modifiedTime>=<since, epoch ms>`` and ordered by ``modifiedTime`` so a
  reconciliation pass sees what changed (Clover does not guarantee webhook delivery).
* ``fetch``: ids are ``"<merchant id>/<object id>"`` (from a notification, which is batched
  across merchants) or a bare ``"<object id>"`` (this connection's merchant); ids of other
  merchants are skipped; a 404 (deleted since) is skipped.

Each :class:`Fetched` body is the object as Clover returned it; when it does not name its
merchant (no ``href``), ``"merchant": {"id": "<mId>"}`` is added (Clover's own reference
shape), so records get their location. ``event_id`` is ``<id>:<modifiedTime>`` (else
``createdTime``; for stock, ``q<quantity>``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from tillwise.domain.normalized import Fetch
from tillwise.ports.platform import Fetched, ResourcePage

from .._http import ApiError
from .client import DEFAULT_PAGE_SIZE, CloverSession
from .normalize import merchant_of

ORDER_EXPAND = (
    "lineItems,lineItems.taxRates,lineItems.discounts,lineItems.modifications,"
    "payments,discounts,refunds,customers"
)
# resource → (list path, extra params); ``merchant`` is a single object
RESOURCES: dict[str, tuple[str, dict[str, str]]] = {
    "merchant": ("", {"expand": "address,properties"}),
    "employees": ("/employees", {}),
    "items": ("/items", {"expand": "itemStock"}),
    "item_stocks": ("/item_stocks", {}),
    "customers": ("/customers", {"expand": "emailAddresses,phoneNumbers,addresses"}),
    "orders": ("/orders", {"expand": ORDER_EXPAND}),
    "shifts": ("/shifts", {"expand": "employee"}),
}
FETCHABLE = {"orders", "payments", "customers", "items", "employees", "merchant"}
NO_MODIFIED_FILTER = frozenset({"item_stocks", "shifts"})


def event_id(resource: str, obj: dict[str, Any]) -> str:
    if resource == "item_stocks":
        item = obj.get("item")
        item_id = item.get("id") if isinstance(item, dict) else None
        return f"{item_id}:q{obj.get('quantity', obj.get('stockCount'))}"
    version = obj.get("modifiedTime") or obj.get("createdTime") or "0"
    return f"{obj.get('id')}:{version}"


class CloverApi:
    """Implements :class:`tillwise.ports.platform.Api` for one Clover connection."""

    resources: tuple[str, ...] = tuple(RESOURCES)

    def __init__(self, session: CloverSession, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.session = session
        self.page_size = page_size

    def _fetched(self, resource: str, obj: dict[str, Any]) -> Fetched:
        if merchant_of(obj) is None:
            obj = {**obj, "merchant": {"id": self.session.merchant_id}}
        return Fetched(
            resource=resource,
            event_id=event_id(resource, obj),
            body=json.dumps(obj, separators=(",", ":")).encode(),
        )

    async def pages(
        self, resource: str, *, since: datetime | None, cursor: str | None
    ) -> AsyncIterator[ResourcePage]:
        if resource not in RESOURCES:
            raise ValueError(f"unknown Clover resource {resource!r}")
        path, params = RESOURCES[resource]
        if resource == "merchant":
            obj = await self.session.get(path, params)
            yield ResourcePage(objects=(self._fetched(resource, obj),), cursor=None)
            return
        query: dict[str, Any] = dict(params)
        if since is not None and resource not in NO_MODIFIED_FILTER:
            query["filter"] = f"modifiedTime>={int(since.timestamp() * 1000)}"
            query["orderBy"] = "modifiedTime ASC"
        async for items, nxt in self.session.pages(
            path, query, cursor=cursor, limit=self.page_size
        ):
            objects = tuple(self._fetched(resource, o) for o in items if isinstance(o, dict))
            yield ResourcePage(objects=objects, cursor=nxt)

    async def fetch(self, requests: Sequence[Fetch]) -> list[Fetched]:
        out: list[Fetched] = []
        mine = self.session.merchant_id
        for request in requests:
            if request.resource not in FETCHABLE:
                continue
            for raw in request.ids:
                merchant, _, oid = raw.rpartition("/")
                if merchant and merchant != mine:
                    continue  # another merchant's object in the same batched notification
                obj = await self._get(request.resource, oid)
                if obj is not None:
                    out.append(self._fetched(request.resource, obj))
        return out

    async def _get(self, resource: str, oid: str) -> dict[str, Any] | None:
        if resource == "merchant":
            path, params = RESOURCES["merchant"]
        else:
            base, params = RESOURCES.get(resource, (f"/{resource}", {}))
            path = f"{base}/{oid}"
        try:
            obj = await self.session.get(path, params)
        except ApiError as exc:
            if exc.status == 404:
                return None  # deleted since the notification
            raise
        return obj if isinstance(obj, dict) else None

    async def aclose(self) -> None:
        await self.session.aclose()
