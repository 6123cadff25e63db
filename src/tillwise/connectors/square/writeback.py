"""Write-back to Square, only ever called by governance for approved proposals.

Kinds:

* ``stock_adjustment`` (reversible) — payload ``{sku, location_external_id, delta}``; ``sku``
  is the item variation's catalog object id (see normalize.py). One ``ADJUSTMENT`` through
  ``POST /v2/inventory/changes/batch-create``: a positive delta moves ``NONE → IN_STOCK``, a
  negative one ``IN_STOCK → WASTE`` [UNVERIFIED which state Square prefers for a count
  correction]; ``reference_id`` = the proposal id, ``occurred_at`` = the write's first attempt
  (Square refuses an ``occurred_at`` more than 24 hours old, and a proposal may wait for
  approval for days), kept in the write's progress so the body is the same on every retry under
  the same key. ``revert`` posts the opposite adjustment, dated when it is asked for.
* ``transfer`` — payload ``{sku, from_location, to_location, quantity}`` (what replenishment
  proposes): one ``TRANSFER`` change (Square's InventoryTransfer, ``IN_STOCK`` at both stores)
  through the same batch-create, so the giver records a transfer, not waste, and the taker no
  stock from nowhere; ``occurred_at`` and the key as for an adjustment. Not reversible (stock
  moved is moved back by another transfer).
* ``discount`` (reversible) — payload ``{name, percentage}`` (e.g. ``10`` or ``"5.4"``) or
  ``{name, amount_minor, currency}``; a catalog ``DISCOUNT`` via ``POST /v2/catalog/object``;
  ``revert`` deletes that catalog object.
* ``customer_note`` (reversible) — payload ``{customer_external_id, note}``; reads the customer
  (note and version) and sets ``note`` with ``PUT /v2/customers/{id}`` (optimistic concurrency
  on ``version``); ``revert`` restores the previous note.

Every write that Square lets carry one has ``idempotency_key`` in its JSON body (the caller's
key; a retry re-sends the same body). UpdateCustomer and DeleteCatalogObject take no key: a PUT
of the same note and a delete of a deleted object have one effect anyway.

No purchase orders: Square has no purchase-order API, so ``draft_purchase_order`` is not a kind.

The port's :class:`~tillwise.ports.writeback.WriteTarget` carries no OAuth context, so the
composition root passes ``context_for(target) -> ConnectionContext`` (with refresh); without it
``target.api_base_url`` and ``target.secrets[0]`` (the access token) are used, without refresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx

from tillwise.domain.proposals import Proposal, ProposalKind
from tillwise.ports.platform import ConnectionContext, Credentials
from tillwise.ports.writeback import NotSupported, WriteBackError, WriteResult, WriteTarget

from .._http import ApiError, RetryPolicy
from .._transfers import Transfer
from .client import SquareClient
from .normalize import PLATFORM, iso_utc
from .oauth import SquareOAuth

STOCK_ADJUSTMENT = ProposalKind.STOCK_ADJUSTMENT.value
DISCOUNT = ProposalKind.DISCOUNT.value
CUSTOMER_NOTE = ProposalKind.CUSTOMER_NOTE.value
TRANSFER = ProposalKind.TRANSFER.value
STALE_AFTER = timedelta(hours=23)  # Square refuses an occurred_at more than 24 hours old

ContextFor = Callable[[WriteTarget], Awaitable[ConnectionContext]]


def _text(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise WriteBackError(f"proposal payload.{name} is missing or not a string")
    return value


def _int(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value == 0:
        raise WriteBackError(f"proposal payload.{name} must be a non-zero integer")
    return value


def _quantity(value: int) -> str:
    return str(abs(value))


@dataclass(frozen=True)
class _Adjustment:
    sku: str
    location_id: str
    delta: int


class SquareWriteBack:
    """Implements :class:`tillwise.ports.writeback.WriteBack` for Square."""

    kinds = frozenset({STOCK_ADJUSTMENT, TRANSFER, DISCOUNT, CUSTOMER_NOTE})
    reversible = frozenset({STOCK_ADJUSTMENT, DISCOUNT, CUSTOMER_NOTE})

    def __init__(
        self,
        app: Mapping[str, str] | None = None,
        *,
        context_for: ContextFor | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.app = dict(app or {})
        self._clock = clock
        self.context_for = context_for
        self._transport = transport
        self._sleep = sleep
        self._jitter = jitter
        self._retry = retry

    async def _client(self, target: WriteTarget) -> SquareClient:
        if self.context_for is not None:
            ctx = await self.context_for(target)
        elif target.context is not None and target.context.credentials.access_token:
            ctx = target.context  # what governance passes for an OAuth connection
        else:
            if not target.secrets or not target.secrets[0]:
                raise WriteBackError(f"connection {target.connection_id} has no access token")
            config: dict[str, Any] = {}
            if target.api_base_url:
                config["api_base_url"] = target.api_base_url
            ctx = ConnectionContext(
                connection_id=target.connection_id,
                platform=PLATFORM,
                config=config,
                credentials=Credentials(access_token=target.secrets[0]),
                app=self.app,
            )
        oauth = SquareOAuth(self.app or dict(ctx.app))
        refresh = None
        if ctx.credentials.refresh_token:

            async def refresh_fn(c: ConnectionContext) -> Credentials:
                return await oauth.refresh(c, transport=self._transport)

            refresh = refresh_fn
        return SquareClient(
            ctx,
            refresh=refresh,
            transport=self._transport,
            sleep=self._sleep,
            jitter=self._jitter,
            retry=self._retry,
        )

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        if proposal.kind not in self.kinds:
            raise NotSupported(f"Square cannot write {proposal.kind!r} proposals")
        if not idempotency_key:
            raise WriteBackError("an idempotency key is required")
        payload = proposal.payload
        async with await self._client(target) as client:
            try:
                if proposal.kind == STOCK_ADJUSTMENT:
                    adj = _Adjustment(
                        _text(payload, "sku"),
                        _text(payload, "location_external_id"),
                        _int(payload, "delta"),
                    )
                    at = await self._occurred_at(target, idempotency_key)
                    return await self._adjust(client, adj, at, proposal.id, idempotency_key)
                if proposal.kind == TRANSFER:
                    at = await self._occurred_at(target, idempotency_key)
                    return await self._transfer(client, proposal, at, idempotency_key)
                if proposal.kind == DISCOUNT:
                    return await self._discount(client, proposal, idempotency_key)
                return await self._note(
                    client, _text(payload, "customer_external_id"), _text(payload, "note")
                )
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
            raise NotSupported(f"Square cannot undo {proposal.kind!r} proposals")
        payload = proposal.payload
        async with await self._client(target) as client:
            try:
                if proposal.kind == STOCK_ADJUSTMENT:
                    done = applied.details.get("delta", payload.get("delta"))
                    if not isinstance(done, int) or isinstance(done, bool) or done == 0:
                        raise WriteBackError("the applied adjustment has no delta to undo")
                    undo = _Adjustment(
                        _text(payload, "sku"), _text(payload, "location_external_id"), -done
                    )
                    return await self._adjust(
                        client, undo, self._clock(), f"{proposal.id}:revert", idempotency_key
                    )
                if proposal.kind == DISCOUNT:
                    return await self._delete_discount(client, applied.reference)
                previous = applied.details.get("previous_note")
                return await self._note(
                    client,
                    _text(payload, "customer_external_id"),
                    previous if isinstance(previous, str) else "",
                )
            except ApiError as exc:
                raise WriteBackError(exc.detail, retryable=exc.retryable) from None

    async def _occurred_at(self, target: WriteTarget, key: str) -> datetime:
        """The time of the write's first attempt (kept in its progress for the retries). Square
        refuses one more than 24 hours old, and a fresh one would need a new key, which could
        apply a first attempt that did go through a second time: past 23 hours the write
        fails, saying so."""
        now = self._clock()
        if target.progress is None:
            return now
        first = datetime.fromisoformat(
            await target.progress.remember(f"occurred_at:{key}", now.isoformat())
        )
        if now - first > STALE_AFTER:
            raise WriteBackError(
                f"first tried at {iso_utc(first)}, more than {STALE_AFTER.seconds // 3600} hours "
                "ago: Square refuses an inventory change dated so long ago. Check in Square "
                "whether it was made, and propose it again if not"
            )
        return first

    # -- the writes ------------------------------------------------------------------------

    async def _adjust(
        self,
        client: SquareClient,
        adj: _Adjustment,
        occurred_at: datetime,
        reference: str,
        key: str,
    ) -> WriteResult:
        from_state, to_state = ("NONE", "IN_STOCK") if adj.delta > 0 else ("IN_STOCK", "WASTE")
        body = {
            "changes": [
                {
                    "type": "ADJUSTMENT",
                    "adjustment": {
                        "reference_id": reference,
                        "catalog_object_id": adj.sku,
                        "location_id": adj.location_id,
                        "from_state": from_state,
                        "to_state": to_state,
                        "quantity": _quantity(adj.delta),
                        "occurred_at": iso_utc(occurred_at),
                    },
                }
            ],
            "ignore_unchanged_counts": True,
        }
        data = await client.write(
            "POST", "/v2/inventory/changes/batch-create", body, idempotency_key=key
        )
        on_hand = None
        for count in data.get("counts") or []:
            if (
                count.get("catalog_object_id") == adj.sku
                and count.get("location_id") == adj.location_id
                and count.get("state") == "IN_STOCK"
            ):
                on_hand = count.get("quantity")
        return WriteResult(
            reference=reference,
            details={
                "sku": adj.sku,
                "location_id": adj.location_id,
                "delta": adj.delta,
                "from_state": from_state,
                "to_state": to_state,
                "on_hand": on_hand,
                "idempotency_key": key,
            },
        )

    async def _transfer(
        self, client: SquareClient, proposal: Proposal, occurred_at: datetime, key: str
    ) -> WriteResult:
        t = Transfer.from_proposal(proposal)
        body = {
            "changes": [
                {
                    "type": "TRANSFER",
                    "transfer": {
                        "reference_id": proposal.id,
                        "catalog_object_id": t.sku,
                        "state": "IN_STOCK",
                        "from_location_id": t.from_location,
                        "to_location_id": t.to_location,
                        "quantity": _quantity(t.quantity),
                        "occurred_at": iso_utc(occurred_at),
                    },
                }
            ],
            "ignore_unchanged_counts": True,
        }
        data = await client.write(
            "POST", "/v2/inventory/changes/batch-create", body, idempotency_key=key
        )
        on_hand = {
            count.get("location_id"): count.get("quantity")
            for count in data.get("counts") or []
            if count.get("catalog_object_id") == t.sku and count.get("state") == "IN_STOCK"
        }
        return WriteResult(
            reference=proposal.id,
            details=t.moved_at_once(
                "transfer",
                t.quantity,  # Square moves it at once
                on_hand={"from": on_hand.get(t.from_location), "to": on_hand.get(t.to_location)},
                idempotency_key=key,
            ),
        )

    async def _discount(self, client: SquareClient, proposal: Proposal, key: str) -> WriteResult:
        payload = proposal.payload
        data: dict[str, Any] = {"name": _text(payload, "name")}
        if payload.get("percentage") is not None:
            try:
                pct = Decimal(str(payload["percentage"]))
            except InvalidOperation:
                pct = Decimal(-1)
            if isinstance(payload["percentage"], float | bool) or not 0 < pct <= 100:
                raise WriteBackError("proposal payload.percentage must be a decimal in (0, 100]")
            data["discount_type"] = "FIXED_PERCENTAGE"
            data["percentage"] = str(pct)
        else:
            currency = payload.get("currency") or (
                proposal.value.currency if proposal.value is not None else None
            )
            if not isinstance(currency, str) or len(currency) != 3:
                raise WriteBackError("proposal payload.currency is needed for a fixed discount")
            data["discount_type"] = "FIXED_AMOUNT"
            data["amount_money"] = {
                "amount": abs(_int(payload, "amount_minor")),
                "currency": currency.upper(),
            }
        body = {
            "object": {"type": "DISCOUNT", "id": f"#tillwise-{proposal.id}", "discount_data": data}
        }
        result = await client.write("POST", "/v2/catalog/object", body, idempotency_key=key)
        obj = result.get("catalog_object")
        if not isinstance(obj, dict) or not obj.get("id"):
            raise WriteBackError("Square's UpsertCatalogObject answer has no catalog_object.id")
        return WriteResult(
            reference=str(obj["id"]),
            details={"catalog_object_id": str(obj["id"]), "version": obj.get("version"), **data},
        )

    async def _delete_discount(self, client: SquareClient, object_id: str) -> WriteResult:
        path = f"/v2/catalog/object/{quote(object_id, safe='')}"
        try:
            data = await client.call("DELETE", path)
        except ApiError as exc:
            if exc.status != 404:
                raise
            return WriteResult(reference=object_id, details={"deleted": False, "already": True})
        return WriteResult(
            reference=object_id,
            details={"deleted": True, "deleted_object_ids": data.get("deleted_object_ids", [])},
        )

    async def _note(self, client: SquareClient, customer_id: str, note: str) -> WriteResult:
        path = f"/v2/customers/{quote(customer_id, safe='')}"
        current = (await client.get(path)).get("customer") or {}
        previous = current.get("note")
        body: dict[str, Any] = {"note": note}
        if current.get("version") is not None:
            body["version"] = current["version"]
        updated = (await client.call("PUT", path, body=body)).get("customer") or {}
        return WriteResult(
            reference=customer_id,
            details={
                "customer_id": customer_id,
                "previous_note": previous if isinstance(previous, str) else "",
                "note": note,
                "version": updated.get("version"),
            },
        )
