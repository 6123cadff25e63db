"""Write-back to Shopify (only ever called by governance for approved proposals).

Kinds:

* ``stock_adjustment`` (reversible): GraphQL ``inventoryAdjustQuantities`` [UNVERIFIED name,
  chosen over the legacy REST ``inventory_levels/adjust.json``], with the write's key in
  ``@idempotent(key:)`` from API version 2026-01 (shopify.dev changelog "Adding idempotency for
  inventory adjustments and refund mutations"; required from 2026-04); on an older version the
  mutation is never resent by the client itself (a lost answer is left to governance's retry,
  which may apply it twice — Shopify offers no other way to tell), quantity name ``available``,
  reason ``correction``, ``referenceDocumentUri = gid://tillwise/Proposal/<id>``. The payload is
  ``{sku, location_external_id, delta}`` (+ optional ``inventory_item_id``); without an item id
  the SKU is looked up with ``inventoryItems(query: "sku:<sku>")`` (or ``variant:<id>`` SKUs via
  the variant). Revert adjusts by ``-delta``.
* ``discount`` (reversible: the price rule is deleted): REST ``POST price_rules.json`` then
  ``POST price_rules/{id}/discount_codes.json``. Payload ``{code, title?, value_type:
  percentage|fixed_amount, value (decimal string, positive), starts_at?, ends_at?,
  usage_limit?, once_per_customer?}``.
* ``customer_note``: REST ``PUT customers/{id}.json {"customer": {"id", "note"}}``; payload
  ``{customer_external_id, note}`` (not reversible: the previous note is not known here).

Shopify has NO purchase-order API: ``draft_purchase_order`` is not written here (the lead's
PO-document fallback handles it). Every request carries the write's key in ``Idempotency-Key``
[UNVERIFIED: Shopify's Admin API does not document honouring it], and the same key on retries;
a discount's code is unique per shop, so a replayed discount finds the code already made and
answers with it instead of creating a second one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import httpx

from tillwise.domain.proposals import Proposal, ProposalKind
from tillwise.ports.platform import ConnectionContext
from tillwise.ports.writeback import NotSupported, WriteBackError, WriteResult, WriteTarget

from .._http import ApiError, RetryPolicy
from .backfill import gid, make_api
from .client import ShopifyClient

STOCK_ADJUSTMENT = ProposalKind.STOCK_ADJUSTMENT.value
DISCOUNT = ProposalKind.DISCOUNT.value
CUSTOMER_NOTE = ProposalKind.CUSTOMER_NOTE.value

ADJUST_MUTATION = (
    "mutation Adjust($input: InventoryAdjustQuantitiesInput!) {\n"
    "  inventoryAdjustQuantities(input: $input) {\n"
    "    inventoryAdjustmentGroup { id reason changes { name delta } }\n"
    "    userErrors { field message }\n  }\n}"
)
# From API version 2026-01 the mutation takes the write's key in an ``@idempotent`` directive
# (required from 2026-04): Shopify then applies a retried adjustment once.
IDEMPOTENT_FROM = "2026-01"
ADJUST_MUTATION_IDEMPOTENT = (
    "mutation Adjust($input: InventoryAdjustQuantitiesInput!, $idempotencyKey: String!) {\n"
    "  inventoryAdjustQuantities(input: $input) @idempotent(key: $idempotencyKey) {\n"
    "    inventoryAdjustmentGroup { id reason changes { name delta } }\n"
    "    userErrors { field message }\n  }\n}"
)
ITEM_BY_SKU_QUERY = (
    "query ItemBySku($query: String!) {\n"
    "  inventoryItems(first: 2, query: $query) { nodes { legacyResourceId sku } }\n}"
)


def _text(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise WriteBackError(f"proposal payload.{name} is missing or not a string")
    return value


class ShopifyWriteBack:
    """Implements :class:`tillwise.ports.writeback.WriteBack` for Shopify."""

    kinds = frozenset({STOCK_ADJUSTMENT, DISCOUNT, CUSTOMER_NOTE})
    reversible = frozenset({STOCK_ADJUSTMENT, DISCOUNT})

    def __init__(
        self,
        app: Mapping[str, str] | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry: RetryPolicy | None = None,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        self.app = dict(app or {})
        self._transport = transport
        self._sleep = sleep
        self._retry = retry or RetryPolicy(max_attempts=4, cap=8.0, max_retry_after=30.0)
        self._jitter = jitter

    def _client(self, target: WriteTarget) -> ShopifyClient:
        ctx: ConnectionContext | None = target.context
        if ctx is None:
            raise WriteBackError(f"connection {target.connection_id} has no Shopify credentials")
        api = make_api(
            ctx,
            app=dict(ctx.app) or self.app,
            transport=self._transport,
            sleep=self._sleep,
            retry=self._retry,
            jitter=self._jitter,
        )
        return api.client

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        if not idempotency_key:
            raise WriteBackError("an idempotency key is required")
        if proposal.kind == STOCK_ADJUSTMENT:
            delta = proposal.payload.get("delta")
            if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
                raise WriteBackError("proposal payload.delta must be a non-zero integer")
            return await self._adjust(target, proposal, delta, idempotency_key)
        if proposal.kind == DISCOUNT:
            return await self._discount(target, proposal, idempotency_key)
        if proposal.kind == CUSTOMER_NOTE:
            return await self._note(target, proposal, idempotency_key)
        raise NotSupported(
            f"Shopify cannot write {proposal.kind!r} proposals"
            + (" (it has no purchase-order API)" if proposal.kind == "draft_purchase_order" else "")
        )

    async def revert(
        self,
        target: WriteTarget,
        proposal: Proposal,
        applied: WriteResult,
        *,
        idempotency_key: str,
    ) -> WriteResult:
        if proposal.kind == STOCK_ADJUSTMENT:
            delta = applied.details.get("delta", proposal.payload.get("delta"))
            if not isinstance(delta, int) or isinstance(delta, bool):
                raise WriteBackError("cannot tell what the adjustment changed")
            return await self._adjust(target, proposal, -delta, idempotency_key, revert=True)
        if proposal.kind == DISCOUNT:
            rule_id = applied.details.get("price_rule_id")
            if not rule_id:
                raise WriteBackError("the applied discount has no price_rule_id to delete")
            client = self._client(target)
            try:
                async with client:
                    await client.rest(
                        "DELETE",
                        f"price_rules/{int(rule_id)}.json",
                        idempotency_key=idempotency_key,
                    )
            except ApiError as exc:
                if exc.status != 404:  # already gone: the revert's effect holds
                    raise WriteBackError(exc.detail, retryable=exc.retryable) from None
            return WriteResult(reference=str(rule_id), details={"deleted_price_rule": rule_id})
        raise NotSupported(f"Shopify cannot reverse {proposal.kind!r} proposals")

    # -- stock ---------------------------------------------------------------------------

    async def _item_id(self, client: ShopifyClient, payload: Mapping[str, Any]) -> str:
        given = payload.get("inventory_item_id")
        if isinstance(given, int | str) and not isinstance(given, bool) and str(given):
            return str(given)
        sku = _text(payload, "sku")
        if sku.startswith("variant:"):
            resp = await client.rest("GET", f"variants/{int(sku[8:])}.json")
            return str(resp.json()["variant"]["inventory_item_id"])
        data = await client.graphql(ITEM_BY_SKU_QUERY, {"query": f"sku:{json.dumps(sku)}"})
        nodes = [
            x for x in (data.get("inventoryItems") or {}).get("nodes") or [] if x.get("sku") == sku
        ]
        if len(nodes) != 1:
            raise WriteBackError(
                f"SKU {sku!r} names {len(nodes)} Shopify inventory items; expected exactly one"
            )
        return str(nodes[0]["legacyResourceId"])

    async def _adjust(
        self,
        target: WriteTarget,
        proposal: Proposal,
        delta: int,
        key: str,
        *,
        revert: bool = False,
    ) -> WriteResult:
        payload = proposal.payload
        location = _text(payload, "location_external_id")
        client = self._client(target)
        try:
            async with client:
                item_id = await self._item_id(client, payload)
                variables: dict[str, Any] = {
                    "input": {
                        "reason": "correction",
                        "name": "available",
                        "referenceDocumentUri": f"gid://tillwise/Proposal/{proposal.id}"
                        + ("/revert" if revert else ""),
                        "changes": [
                            {
                                "delta": delta,
                                "inventoryItemId": gid("InventoryItem", item_id),
                                "locationId": gid("Location", location),
                            }
                        ],
                    }
                }
                if client.version >= IDEMPOTENT_FROM:  # "unstable" sorts after every date
                    variables["idempotencyKey"] = key
                    data = await client.graphql(
                        ADJUST_MUTATION_IDEMPOTENT, variables, idempotency_key=key
                    )
                else:  # no way to deduplicate it: never resent by the client on its own
                    data = await client.graphql(
                        ADJUST_MUTATION, variables, idempotency_key=key, replayable=False
                    )
        except ApiError as exc:
            raise WriteBackError(exc.detail, retryable=exc.retryable) from None
        result = data.get("inventoryAdjustQuantities") or {}
        errors = result.get("userErrors") or []
        if errors:
            raise WriteBackError(f"Shopify refused the adjustment: {errors[0].get('message')}")
        group = result.get("inventoryAdjustmentGroup") or {}
        return WriteResult(
            reference=str(group.get("id") or ""),
            details={
                "inventory_item_id": item_id,
                "location_id": location,
                "delta": delta,
                "reverted": revert,
            },
        )

    # -- discounts -----------------------------------------------------------------------

    async def _discount(self, target: WriteTarget, proposal: Proposal, key: str) -> WriteResult:
        p = proposal.payload
        code = _text(p, "code")
        value_type = p.get("value_type", "percentage")
        if value_type not in ("percentage", "fixed_amount"):
            raise WriteBackError("proposal payload.value_type must be percentage or fixed_amount")
        try:
            value = Decimal(str(p.get("value")))
        except InvalidOperation:
            raise WriteBackError("proposal payload.value must be a decimal string") from None
        if not value.is_finite() or value <= 0:
            raise WriteBackError("proposal payload.value must be positive")
        rule = {
            "title": p.get("title") or code,
            "target_type": "line_item",
            "target_selection": "all",
            "allocation_method": "across",
            "value_type": value_type,
            "value": f"-{value}",  # Shopify price rules take the reduction as a negative value
            "customer_selection": "all",
            "starts_at": p.get("starts_at") or proposal.created_at.isoformat(),
        }
        for optional in ("ends_at", "usage_limit", "once_per_customer"):
            if p.get(optional) is not None:
                rule[optional] = p[optional]
        client = self._client(target)
        try:
            async with client:
                existing = await self._lookup_code(client, code)
                if existing is not None:  # a replay: the code was made by the first attempt
                    return _discount_result(existing, replayed=True)
                resp = await client.rest(
                    "POST", "price_rules.json", body={"price_rule": rule}, idempotency_key=key
                )
                rule_id = resp.json()["price_rule"]["id"]
                resp = await client.rest(
                    "POST",
                    f"price_rules/{rule_id}/discount_codes.json",
                    body={"discount_code": {"code": code}},
                    idempotency_key=f"{key}:code",
                )
        except ApiError as exc:
            raise WriteBackError(exc.detail, retryable=exc.retryable) from None
        return _discount_result(resp.json()["discount_code"], replayed=False)

    async def _lookup_code(self, client: ShopifyClient, code: str) -> dict[str, Any] | None:
        try:
            # Shopify answers a found code with 303 See Other to the code's own URL
            resp = await client.http.request(
                "GET",
                client.rest_path("discount_codes/lookup.json"),
                params={"code": code},
                ok=lambda r: r.status_code in (200, 303),
            )
            if resp.status_code == 303:
                # only the path: the token goes to this shop, whatever host Location names
                resp = await client.http.request("GET", urlsplit(resp.headers["location"]).path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        found = resp.json().get("discount_code") if resp.content else None
        return found if isinstance(found, dict) else None

    # -- customer notes ------------------------------------------------------------------

    async def _note(self, target: WriteTarget, proposal: Proposal, key: str) -> WriteResult:
        customer_id = _text(proposal.payload, "customer_external_id")
        note = proposal.payload.get("note")
        if not isinstance(note, str):
            raise WriteBackError("proposal payload.note must be a string")
        client = self._client(target)
        try:
            async with client:
                await client.rest(
                    "PUT",
                    f"customers/{int(customer_id)}.json",
                    body={"customer": {"id": int(customer_id), "note": note}},
                    idempotency_key=key,
                )
        except ValueError:
            raise WriteBackError(f"{customer_id!r} is not a Shopify customer id") from None
        except ApiError as exc:
            raise WriteBackError(exc.detail, retryable=exc.retryable) from None
        return WriteResult(reference=customer_id, details={"customer_id": customer_id})


def _discount_result(code: Mapping[str, Any], *, replayed: bool) -> WriteResult:
    return WriteResult(
        reference=str(code.get("id")),
        details={
            "discount_code_id": str(code.get("id")),
            "price_rule_id": str(code.get("price_rule_id")),
            "code": code.get("code"),
            "replayed": replayed,
        },
    )
