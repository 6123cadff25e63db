"""Write-back to X-Series (API 2.0); every write is called only by governance.

* ``draft_purchase_order`` (reversible while OPEN) — payload shaped like the canonical
  :class:`~tillwise.domain.purchasing.PurchaseOrder`: ``vendor_external_id`` (or
  ``vendor.external_id``), ``location_external_id`` (the outlet), ``expected_on``, and
  ``lines: [{sku | product_id, quantity, unit_cost | cost}]`` (the canonical sku of an X-Series
  product is its product id). Becomes ``POST /consignments`` ``{type: SUPPLIER, status: OPEN,
  outlet_id, supplier_id, name, due_at}`` then ``POST /consignments/{id}/products`` per line;
  a vendor without an X-Series supplier id is refused before anything is written.
  Reverted by ``DELETE /consignments/{id}`` while it is still OPEN; once sent or received it
  cannot be undone from here.
* ``stock_adjustment`` (reversible) — ``{sku | product_id, location_external_id, delta}``:
  read the outlet's level (``GET /products/{id}/inventory``), then record the new level as a
  one-line stocktake: ``POST /consignments {type: STOCKTAKE, status: STOCKTAKE_IN_PROGRESS}``,
  ``POST /consignments/{id}/products {product_id, count}``, ``PUT /consignments/{id}
  {status: STOCKTAKE_COMPLETE}`` [UNVERIFIED flow]. The level the first attempt read is kept
  in the write's progress: a retry that finds it already moved by ``delta`` (the count went
  through, its answer was lost) counts nothing again. Reverting counts back by ``-delta``.
* ``customer_note`` (reversible) — ``{customer_external_id, note}``: ``PUT /customers/{id}``
  with the note appended; reverting puts back the note as it was.

Idempotency: X-Series documents no idempotency key. ``Idempotency-Key`` is still sent
(``<key>`` for the consignment, ``<key>:line:<n>`` per line…), but nothing relies on it.
A POST is not sent again after a timeout or a 5xx (it fails as retryable, and governance
tries the write again later with the same key). A purchase order is found before it is made:
its consignment's ``name`` ends in ``TW-<key[:12]>``, so each attempt first looks through the
SUPPLIER consignments (``GET /consignments?type=SUPPLIER``, every page) for that marker,
reuses the one it finds and adds only the lines whose product is not yet in
``GET /consignments/{id}/products``. A line refused for good (a 4xx) deletes the OPEN
consignment made for it; when that delete fails, the error names the consignment. The stock
adjustment and the customer note are not looked up this way: a retry after a lost answer may
leave a second, unfinished stocktake or append the note twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

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
from .backfill import make_api
from .client import LightspeedXClient

PURCHASE_ORDER = ProposalKind.DRAFT_PURCHASE_ORDER.value
STOCK_ADJUSTMENT = ProposalKind.STOCK_ADJUSTMENT.value
CUSTOMER_NOTE = ProposalKind.CUSTOMER_NOTE.value


def _dec(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise WriteBackError(f"payload.{field} is not a number: {value!r}") from None


def _need(payload: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = payload.get(key)
        if value not in (None, ""):
            return str(value)
    raise WriteBackError(f"payload.{keys[0]} is missing")


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


class LightspeedXWriteBack:
    """Implements :class:`tillwise.ports.writeback.WriteBack` for X-Series."""

    kinds = frozenset({PURCHASE_ORDER, STOCK_ADJUSTMENT, CUSTOMER_NOTE})
    reversible = frozenset({PURCHASE_ORDER, STOCK_ADJUSTMENT, CUSTOMER_NOTE})

    def __init__(
        self,
        app: Mapping[str, str] | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        **client_options: Any,
    ) -> None:
        self.app = dict(app or {})
        self.transport = transport
        self.retry = retry
        self.client_options = client_options

    def _client(self, target: WriteTarget) -> LightspeedXClient:
        ctx = target.context
        if ctx is None:
            config: dict[str, Any] = {}
            if target.api_base_url:
                config["api_base_url"] = target.api_base_url
            ctx = ConnectionContext(
                connection_id=target.connection_id,
                platform=target.platform,
                config=config,
                credentials=Credentials(access_token=next(iter(target.secrets), None)),
            )
        if not ctx.app:
            ctx = replace(ctx, app=self.app)
        api = make_api(ctx, transport=self.transport, retry=self.retry, **self.client_options)
        return api.client

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        if proposal.kind not in self.kinds:
            raise NotSupported(f"lightspeed-x cannot write {proposal.kind!r}")
        async with self._client(target) as client:
            try:
                if proposal.kind == PURCHASE_ORDER:
                    return await self._purchase_order(client, proposal, idempotency_key)
                if proposal.kind == STOCK_ADJUSTMENT:
                    p = proposal.payload
                    delta = _dec(p.get("delta"), "delta")
                    return await self._adjust(client, p, delta, idempotency_key, target.progress)
                return await self._note(client, proposal.payload, idempotency_key)
            except ApiError as exc:
                raise WriteBackError(exc.detail, retryable=exc.retryable) from None

    async def revert(
        self,
        target: WriteTarget,
        proposal: Proposal,
        applied: WriteResult,
        *,
        idempotency_key: str,
    ) -> WriteResult:
        if proposal.kind not in self.reversible:
            raise NotSupported(f"lightspeed-x cannot undo {proposal.kind!r}")
        async with self._client(target) as client:
            try:
                if proposal.kind == PURCHASE_ORDER:
                    return await self._cancel(client, applied.reference, idempotency_key)
                if proposal.kind == STOCK_ADJUSTMENT:
                    p = proposal.payload
                    delta = -_dec(p.get("delta"), "delta")
                    return await self._adjust(client, p, delta, idempotency_key)
                before = applied.details.get("previous_note", "")
                cid = _need(proposal.payload, "customer_external_id")
                await client.call(
                    "PUT",
                    f"/customers/{quote(cid, safe='')}",
                    body={"note": before},
                    idempotency_key=idempotency_key,
                )
                return WriteResult(reference=cid, details={"note": before})
            except ApiError as exc:
                raise WriteBackError(exc.detail, retryable=exc.retryable) from None

    # -- purchase orders -------------------------------------------------------------------

    async def _purchase_order(
        self, client: LightspeedXClient, proposal: Proposal, key: str
    ) -> WriteResult:
        p = proposal.payload
        vendor_obj = p.get("vendor")
        vendor: dict[str, Any] = vendor_obj if isinstance(vendor_obj, dict) else {}
        supplier = p.get("vendor_external_id") or vendor.get("external_id")
        if not supplier:
            field = "vendor.external_id" if isinstance(vendor_obj, dict) else "vendor_external_id"
            raise WriteBackError(f"payload.{field} (the X-Series supplier id) is missing")
        outlet = p.get("location_external_id") or proposal.location_external_id
        if not outlet:
            raise WriteBackError("payload.location_external_id (the outlet) is missing")
        lines = p.get("lines")
        if not isinstance(lines, list) or not lines:
            raise WriteBackError("payload.lines: a purchase order needs at least one line")
        parsed = []
        for i, line in enumerate(lines):
            if not isinstance(line, dict):
                raise WriteBackError(f"payload.lines[{i}] is not an object")
            product = _need(line, "product_id", "sku")
            quantity = _dec(line.get("quantity"), f"lines[{i}].quantity")
            if quantity <= 0:
                raise WriteBackError(f"payload.lines[{i}].quantity must be positive")
            cost = line.get("unit_cost", line.get("cost"))
            parsed.append((product, quantity, None if cost in (None, "") else _dec(cost, "cost")))
        marker = f"TW-{key[:12]}"
        found = await self._consignment_named(client, marker)
        if found is not None:
            cid = str(found["id"])
        else:
            body: dict[str, Any] = {
                "name": f"{proposal.summary[:60] or 'Purchase order'} {marker}",
                "type": "SUPPLIER",
                "status": "OPEN",
                "outlet_id": str(outlet),
                "supplier_id": str(supplier),
            }
            if p.get("expected_on"):
                body["due_at"] = f"{p['expected_on']}T00:00:00+00:00"
            created = await client.call("POST", "/consignments", body=body, idempotency_key=key)
            cid = str((created or {}).get("id") or "")
            if not cid:
                raise WriteBackError("POST /consignments answered without an id")
        path = f"/consignments/{quote(cid, safe='')}"
        have: set[str] = set()
        if found is not None:  # an earlier attempt made it: add only the missing lines
            have = {
                str(x.get("product_id"))
                async for items, _ in client.pages(f"{path}/products")
                for x in items
            }
        written = []
        for i, (product, quantity, cost) in enumerate(parsed):
            if product in have:
                continue
            line_body: dict[str, Any] = {"product_id": product, "count": _num(quantity)}
            if cost is not None:
                line_body["cost"] = _num(cost)
            try:
                await client.call(
                    "POST", f"{path}/products", body=line_body, idempotency_key=f"{key}:line:{i}"
                )
            except ApiError as exc:
                if exc.retryable:
                    raise  # the next attempt finds the consignment and adds what is missing
                raise await self._abandon(client, cid, exc.detail, key) from None
            written.append(product)
        return WriteResult(
            reference=cid,
            details={
                "consignment_id": cid,
                "lines": len(parsed),
                "lines_written": written,
                "replayed": found is not None,
            },
        )

    async def _consignment_named(
        self, client: LightspeedXClient, marker: str
    ) -> dict[str, Any] | None:
        """The SUPPLIER consignment whose name ends in ``marker`` (an earlier attempt's)."""
        async for items, _ in client.pages("/consignments", params={"type": "SUPPLIER"}):
            for c in items:
                if (
                    str(c.get("type", "")).upper() == "SUPPLIER"  # the filter is a hint
                    and not c.get("deleted_at")
                    and str(c.get("name") or "").split()[-1:] == [marker]
                ):
                    return c
        return None

    async def _abandon(
        self, client: LightspeedXClient, cid: str, detail: str, key: str
    ) -> WriteBackError:
        """A line was refused for good: the half-made consignment is deleted, or named."""
        try:
            await self._cancel(client, cid, f"{key}:abandon")
        except (ApiError, WriteBackError) as exc:
            return WriteBackError(
                f"{detail}; consignment {cid} is left on the POS without all its lines and "
                f"could not be deleted ({exc.detail}): delete or complete it there"
            )
        return WriteBackError(f"{detail}; the consignment made for it ({cid}) was deleted")

    async def _cancel(self, client: LightspeedXClient, cid: str, key: str) -> WriteResult:
        path = f"/consignments/{quote(cid, safe='')}"
        current = await client.get(path)
        status = str((current or {}).get("status") or "").upper()
        if status != "OPEN":
            raise NotSupported(
                f"consignment {cid} is {status or 'unknown'}: only an OPEN one can be deleted"
            )
        await client.call("DELETE", path, idempotency_key=key)
        return WriteResult(reference=cid, details={"deleted": True})

    # -- stock -----------------------------------------------------------------------------

    async def _adjust(
        self,
        client: LightspeedXClient,
        p: Mapping[str, Any],
        delta: Decimal,
        key: str,
        progress: WriteProgress | None = None,
    ) -> WriteResult:
        product = _need(p, "product_id", "sku")
        outlet = _need(p, "location_external_id")
        levels = await client.get(f"/products/{quote(product, safe='')}/inventory") or []
        current = next(
            (lv for lv in levels if isinstance(lv, dict) and str(lv.get("outlet_id")) == outlet),
            None,
        )
        on_hand = Decimal(str(current.get("inventory_level", 0))) if current else Decimal(0)
        if progress is not None:  # a retry: the level the first attempt started from
            book = Decimal(str(await progress.remember(f"on_hand:{key}", _num(on_hand))))
            if on_hand != book and on_hand == book + delta:  # its count went through
                done = progress.done.get(f"stocktake:{key}")
                return WriteResult(
                    reference=str(done or ""),
                    details={
                        "product_id": product,
                        "outlet_id": outlet,
                        "from": _num(book),
                        "to": _num(on_hand),
                        "replayed": True,
                    },
                )
        target = on_hand + delta
        created = await client.call(
            "POST",
            "/consignments",
            body={
                "name": f"Tillwise adjustment TW-{key[:12]}",
                "type": "STOCKTAKE",
                "status": "STOCKTAKE_IN_PROGRESS",
                "outlet_id": outlet,
            },
            idempotency_key=key,
        )
        cid = str((created or {}).get("id") or "")
        if not cid:
            raise WriteBackError("POST /consignments answered without an id")
        if progress is not None:
            await progress.record(f"stocktake:{key}", cid)
        path = f"/consignments/{quote(cid, safe='')}"
        await client.call(
            "POST",
            f"{path}/products",
            body={"product_id": product, "count": _num(target)},
            idempotency_key=f"{key}:line:0",
        )
        await client.call(
            "PUT", path, body={"status": "STOCKTAKE_COMPLETE"}, idempotency_key=f"{key}:complete"
        )
        return WriteResult(
            reference=cid,
            details={
                "product_id": product,
                "outlet_id": outlet,
                "from": _num(on_hand),
                "to": _num(target),
            },
        )

    # -- customers -------------------------------------------------------------------------

    async def _note(self, client: LightspeedXClient, p: Mapping[str, Any], key: str) -> WriteResult:
        cid = _need(p, "customer_external_id")
        text = _need(p, "note")
        path = f"/customers/{quote(cid, safe='')}"
        customer = await client.get(path) or {}
        previous = str(customer.get("note") or "")
        note = f"{previous}\n{text}" if previous else text
        await client.call("PUT", path, body={"note": note}, idempotency_key=key)
        return WriteResult(reference=cid, details={"previous_note": previous})
