"""Write-back to R-Series: stock adjustments, purchase orders, customer notes (and their undo).

Every write is called by governance only, for an approved proposal. R-Series documents no
idempotency header [UNVERIFIED]: the key is still sent as ``Idempotency-Key`` on every attempt,
and each write is made idempotent by reading first:

* ``stock_adjustment`` ``{sku, location_external_id, delta, book_on_hand?, item_id?}``: the
  item is found by ``customSku`` then ``systemSku`` (or ``item_id``), its ItemShop for the shop
  is read, and ``qoh`` is set to ``qoh + delta`` with ``PUT /Item/<itemID>.json`` carrying
  ``ItemShops.ItemShop`` [UNVERIFIED]. An absolute quantity makes retries harmless; when the
  proposal says the book quantity and the shelf already shows ``book + delta``, nothing is
  written again; without one, the level the write's first attempt read is the book (kept in
  the write's progress), so a retry after a lost answer does not adjust twice. Revert sets
  ``qoh - delta`` the same way.
* ``draft_purchase_order`` (the shape of :mod:`tillwise.connectors._po_documents`:
  ``{vendor: {external_id}, location_external_id, lines: [{sku | item_id, quantity,
  unit_cost}], expected_on?, notes?}``): an R-Series ``Order`` (``POST /Order.json``) whose
  ``refNum`` is derived from the idempotency key, then one ``OrderLine`` per line
  (``POST /OrderLine.json``). A retry finds the order by ``refNum`` and adds only the missing
  lines. Revert deletes the order while nothing has been received (``DELETE /Order/<id>.json``);
  a received or partly received order cannot be undone.
* ``customer_note`` ``{customer_external_id, note}``: the note is appended to the customer's
  ``Note`` with a ``[tillwise <ref>]`` marker (present already: nothing is written); revert
  removes that line.

Credentials: a :class:`ConnectionContext` from ``context_for(target)`` (with refresh and
``save_credentials``) when the composition root supplies it; otherwise the target's
``api_base_url`` (the account URL) and its first secret as the access token.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from tillwise.domain.proposals import Proposal, ProposalKind
from tillwise.ports.platform import ConnectionContext, Credentials
from tillwise.ports.writeback import (
    NotSupported,
    WriteBackError,
    WriteProgress,
    WriteResult,
    WriteTarget,
)

from .._http import ApiError, RetryPolicy
from .client import RSeriesClient
from .normalize import many
from .oauth import LightspeedROAuth

STOCK_ADJUSTMENT = ProposalKind.STOCK_ADJUSTMENT.value
PURCHASE_ORDER = ProposalKind.DRAFT_PURCHASE_ORDER.value
CUSTOMER_NOTE = ProposalKind.CUSTOMER_NOTE.value

ContextFor = Callable[[WriteTarget], Awaitable[ConnectionContext]]


def ref_num(idempotency_key: str) -> str:
    """The ``refNum`` an order written under this key carries (short, deterministic)."""
    return "TW-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16].upper()


def _text(payload: Mapping[str, Any], name: str, where: str = "payload") -> str:
    value = payload.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise WriteBackError(f"proposal {where}.{name} is missing or not a string")
    return value


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, float | bool) or value is None:
        raise WriteBackError(f"proposal {where} must be an integer or a decimal string")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise WriteBackError(f"proposal {where} is not a number: {value!r}") from None


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f") if value != value.to_integral() else str(int(value))


class LightspeedRWriteBack:
    """Implements :class:`tillwise.ports.writeback.WriteBack` for R-Series."""

    kinds = frozenset({STOCK_ADJUSTMENT, PURCHASE_ORDER, CUSTOMER_NOTE})
    reversible = frozenset({STOCK_ADJUSTMENT, PURCHASE_ORDER, CUSTOMER_NOTE})

    def __init__(
        self,
        app: Mapping[str, str] | None = None,
        *,
        context_for: ContextFor | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        oauth_transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.app = dict(app or {})
        self.context_for = context_for
        self._transport = transport
        self._oauth_transport = oauth_transport
        self._sleep = sleep
        self._retry = retry

    async def _client(self, target: WriteTarget) -> RSeriesClient:
        if self.context_for is not None:
            ctx = await self.context_for(target)
        elif target.context is not None and target.context.credentials.access_token:
            ctx = target.context
        else:
            if not target.api_base_url or not target.secrets:
                raise WriteBackError(
                    f"connection {target.connection_id} has no API URL or access token"
                )
            ctx = ConnectionContext(
                connection_id=target.connection_id,
                platform=target.platform,
                config={"account_id": "-", "api_base_url": target.api_base_url},
                credentials=Credentials(access_token=target.secrets[0]),
            )
        oauth = LightspeedROAuth(self.app or ctx.app)
        refresh = None
        if ctx.credentials.refresh_token:

            async def refresh_fn(c: ConnectionContext) -> Credentials:
                return await oauth.refresh(c, transport=self._oauth_transport)

            refresh = refresh_fn
        try:
            return RSeriesClient(
                ctx,
                app=self.app,
                refresh=refresh,
                transport=self._transport,
                sleep=self._sleep,
                retry=self._retry,
            )
        except ApiError as exc:
            raise WriteBackError(exc.detail) from None

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        if not idempotency_key:
            raise WriteBackError("an idempotency key is required")
        handler = {
            STOCK_ADJUSTMENT: self._adjust,
            PURCHASE_ORDER: self._order,
            CUSTOMER_NOTE: self._note,
        }.get(proposal.kind)
        if handler is None:
            raise NotSupported(f"R-Series write-back cannot write {proposal.kind!r} proposals")
        client = await self._client(target)
        try:
            if proposal.kind == STOCK_ADJUSTMENT:
                return await self._adjust(client, proposal, idempotency_key, target.progress)
            return await handler(client, proposal, idempotency_key)
        except ApiError as exc:
            raise WriteBackError(f"R-Series: {exc.detail}", retryable=exc.retryable) from None
        finally:
            await client.aclose()

    async def revert(
        self,
        target: WriteTarget,
        proposal: Proposal,
        applied: WriteResult,
        *,
        idempotency_key: str,
    ) -> WriteResult:
        handler = {
            STOCK_ADJUSTMENT: self._unadjust,
            PURCHASE_ORDER: self._cancel_order,
            CUSTOMER_NOTE: self._unnote,
        }.get(proposal.kind)
        if handler is None:
            raise NotSupported(f"R-Series write-back cannot undo {proposal.kind!r} proposals")
        client = await self._client(target)
        try:
            return await handler(client, proposal, applied, idempotency_key)
        except ApiError as exc:
            raise WriteBackError(f"R-Series: {exc.detail}", retryable=exc.retryable) from None
        finally:
            await client.aclose()

    # -- items ------------------------------------------------------------------------------

    async def _item(
        self, client: RSeriesClient, sku: str | None, item_id: str | None, relations: list[str]
    ) -> dict[str, Any]:
        params = {"load_relations": json.dumps(relations)} if relations else {}
        if item_id:
            body = await client.get(f"/Item/{item_id}.json", params)
            found = many(body.get("Item"))
            if found:
                return found[0]
        if sku:
            for field in ("customSku", "systemSku"):
                body = await client.get("/Item.json", {**params, field: sku})
                found = many(body.get("Item"))
                if found:
                    return found[0]
        raise WriteBackError(f"no R-Series item with SKU {sku!r}" if sku else f"no item {item_id}")

    async def _item_shop(
        self, client: RSeriesClient, payload: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        sku = payload.get("sku") if isinstance(payload.get("sku"), str) else None
        item_id = str(payload["item_id"]) if payload.get("item_id") else None
        if not sku and not item_id:
            raise WriteBackError("proposal payload.sku is missing or not a string")
        shop = _text(payload, "location_external_id")
        item = await self._item(client, sku, item_id, ["ItemShops"])
        for entry in many((item.get("ItemShops") or {}).get("ItemShop")):
            if str(entry.get("shopID")) == shop:
                return item, entry
        raise WriteBackError(f"item {item.get('itemID')} has no stock record at shop {shop}")

    async def _set_qoh(
        self,
        client: RSeriesClient,
        item: Mapping[str, Any],
        shop: Mapping[str, Any],
        qoh: Decimal,
        key: str,
    ) -> None:
        body = {
            "ItemShops": {"ItemShop": [{"itemShopID": str(shop["itemShopID"]), "qoh": _qty(qoh)}]}
        }
        await client.write("PUT", f"/Item/{item['itemID']}.json", json=body, idempotency_key=key)

    async def _adjust(
        self,
        client: RSeriesClient,
        proposal: Proposal,
        key: str,
        progress: WriteProgress | None = None,
    ) -> WriteResult:
        payload = proposal.payload
        delta = _decimal(payload.get("delta"), "payload.delta")
        if delta == 0:
            raise WriteBackError("proposal payload.delta must not be zero")
        item, shop = await self._item_shop(client, payload)
        before = _decimal(shop.get("qoh", "0"), "ItemShop.qoh")
        book = payload.get("book_on_hand")
        if book is None and progress is not None:  # the level the first attempt started from
            book = await progress.remember(f"book_on_hand:{key}", _qty(before))
        replayed = (
            book is not None
            and before != _decimal(book, "payload.book_on_hand")
            and (before == _decimal(book, "payload.book_on_hand") + delta)
        )
        after = before if replayed else before + delta
        if not replayed:
            await self._set_qoh(client, item, shop, after, key)
        return WriteResult(
            reference=str(shop["itemShopID"]),
            details={
                "item_id": str(item["itemID"]),
                "item_shop_id": str(shop["itemShopID"]),
                "shop_id": str(shop["shopID"]),
                "before": _qty(before - delta if replayed else before),
                "after": _qty(after),
                "applied": _qty(delta),
                "replayed": replayed,
            },
        )

    async def _unadjust(
        self, client: RSeriesClient, proposal: Proposal, applied: WriteResult, key: str
    ) -> WriteResult:
        done = _decimal(applied.details.get("applied", proposal.payload.get("delta")), "applied")
        payload = {**proposal.payload, "item_id": applied.details.get("item_id")}
        item, shop = await self._item_shop(client, payload)
        now = _decimal(shop.get("qoh", "0"), "ItemShop.qoh")
        before = applied.details.get("before")
        if before is not None and now == _decimal(before, "before"):
            return WriteResult(
                reference=str(shop["itemShopID"]),
                details={"reverted": True, "replayed": True, "qoh": _qty(now)},
            )
        after = now - done
        await self._set_qoh(client, item, shop, after, key)
        return WriteResult(
            reference=str(shop["itemShopID"]),
            details={
                "reverted": True,
                "replayed": False,
                "before": _qty(now),
                "after": _qty(after),
            },
        )

    # -- purchase orders --------------------------------------------------------------------

    async def _order(self, client: RSeriesClient, proposal: Proposal, key: str) -> WriteResult:
        payload = proposal.payload
        vendor = payload.get("vendor")
        vendor_id = (
            _text(vendor, "external_id", "payload.vendor")
            if isinstance(vendor, dict)
            else _text(payload, "vendor_external_id")
        )
        shop = _text(payload, "location_external_id")
        lines = payload.get("lines")
        if not isinstance(lines, list) or not lines:
            raise WriteBackError("proposal payload.lines must be a non-empty list")
        wanted = []
        for i, line in enumerate(lines):
            where = f"payload.lines[{i}]"
            if not isinstance(line, dict):
                raise WriteBackError(f"proposal {where} is not an object")
            quantity = _decimal(line.get("quantity"), f"{where}.quantity")
            if quantity <= 0:
                raise WriteBackError(f"proposal {where}.quantity must be positive")
            cost = line.get("unit_cost")
            item = await self._item(
                client,
                line.get("sku") if isinstance(line.get("sku"), str) else None,
                str(line["item_id"]) if line.get("item_id") else None,
                [],
            )
            wanted.append(
                (
                    str(item["itemID"]),
                    quantity,
                    None if cost is None else _decimal(cost, f"{where}.unit_cost"),
                )
            )
        ref = ref_num(key)
        relations = {"load_relations": json.dumps(["OrderLines"])}
        existing = many(
            (await client.get("/Order.json", {"refNum": ref, **relations})).get("Order")
        )
        replayed = bool(existing)
        if existing:
            order = existing[0]
        else:
            body: dict[str, Any] = {"vendorID": vendor_id, "shopID": shop, "refNum": ref}
            if payload.get("expected_on"):
                body["arrivalDate"] = str(payload["expected_on"])
            if payload.get("notes"):
                body["Note"] = {"note": str(payload["notes"])}
            created = await client.write("POST", "/Order.json", json=body, idempotency_key=key)
            order = many(created.get("Order"))[0]
        order_id = str(order["orderID"])
        have = {
            str(x.get("itemID")) for x in many((order.get("OrderLines") or {}).get("OrderLine"))
        }
        written = []
        for i, (item_id, quantity, cost) in enumerate(wanted):
            if item_id in have:
                continue
            line_body: dict[str, Any] = {
                "orderID": order_id,
                "itemID": item_id,
                "quantity": _qty(quantity),
            }
            if cost is not None:
                line_body["price"] = str(cost)
            await client.write(
                "POST", "/OrderLine.json", json=line_body, idempotency_key=f"{key}:line:{i}"
            )
            written.append(item_id)
        return WriteResult(
            reference=order_id,
            details={
                "order_id": order_id,
                "ref_num": ref,
                "vendor_id": vendor_id,
                "shop_id": shop,
                "item_ids": [w[0] for w in wanted],
                "lines_written": written,
                "replayed": replayed,
            },
        )

    async def _cancel_order(
        self, client: RSeriesClient, proposal: Proposal, applied: WriteResult, key: str
    ) -> WriteResult:
        order_id = applied.reference
        try:
            body = await client.get(
                f"/Order/{order_id}.json", {"load_relations": json.dumps(["OrderLines"])}
            )
        except ApiError as exc:
            if exc.status == 404:
                return WriteResult(
                    reference=order_id, details={"cancelled": True, "replayed": True}
                )
            raise
        orders = many(body.get("Order"))
        if not orders or str(orders[0].get("archived")) == "true":
            return WriteResult(reference=order_id, details={"cancelled": True, "replayed": True})
        order = orders[0]
        received = any(
            Decimal(str(x.get("numReceived") or "0")) > 0
            for x in many((order.get("OrderLines") or {}).get("OrderLine"))
        )
        if str(order.get("complete")) == "true" or received:
            raise WriteBackError(
                f"R-Series order {order_id} has stock received; it cannot be cancelled"
            )
        await client.write("DELETE", f"/Order/{order_id}.json", idempotency_key=key)
        return WriteResult(reference=order_id, details={"cancelled": True, "replayed": False})

    # -- customer notes ---------------------------------------------------------------------

    async def _customer(self, client: RSeriesClient, customer_id: str) -> tuple[str, str]:
        body = await client.get(
            f"/Customer/{customer_id}.json", {"load_relations": json.dumps(["Note"])}
        )
        found = many(body.get("Customer"))
        if not found:
            raise WriteBackError(f"no R-Series customer {customer_id}")
        note = found[0].get("Note")
        return customer_id, str(note.get("note") or "") if isinstance(note, dict) else ""

    async def _note(self, client: RSeriesClient, proposal: Proposal, key: str) -> WriteResult:
        customer_id = _text(proposal.payload, "customer_external_id")
        text = _text(proposal.payload, "note").strip()
        marker = f"[tillwise {ref_num(key)}]"
        _, current = await self._customer(client, customer_id)
        replayed = marker in current
        if not replayed:
            new = f"{current}\n{text} {marker}" if current else f"{text} {marker}"
            await client.write(
                "PUT",
                f"/Customer/{customer_id}.json",
                json={"Note": {"note": new}},
                idempotency_key=key,
            )
        return WriteResult(
            reference=customer_id,
            details={"customer_id": customer_id, "marker": marker, "replayed": replayed},
        )

    async def _unnote(
        self, client: RSeriesClient, proposal: Proposal, applied: WriteResult, key: str
    ) -> WriteResult:
        customer_id = applied.reference
        marker = str(applied.details.get("marker") or "")
        _, current = await self._customer(client, customer_id)
        if not marker or marker not in current:
            return WriteResult(reference=customer_id, details={"reverted": True, "replayed": True})
        kept = "\n".join(line for line in current.split("\n") if marker not in line)
        await client.write(
            "PUT",
            f"/Customer/{customer_id}.json",
            json={"Note": {"note": kept}},
            idempotency_key=key,
        )
        return WriteResult(reference=customer_id, details={"reverted": True, "replayed": False})
