"""Write-back to Clover (REST v3), only ever called by governance for approved proposals.

Kinds:

* ``stock_adjustment`` (reversible) — payload ``{sku, location_external_id, delta}``; the sku
  is the Clover item id and the location the merchant id (see normalize.py). Clover's
  ``item_stocks`` takes an *absolute* quantity, so the write reads the stock, then
  ``POST /v3/merchants/{mId}/item_stocks/{itemId} {"quantity": before + delta}``. An HTTP
  retry of that POST re-sends the same absolute quantity (no double effect) and carries the
  same ``Idempotency-Key`` header [UNVERIFIED that Clover v3 honours the header]. ``revert``
  applies the opposite of what was applied, to the stock as it is then.
* ``customer_note`` (reversible) — payload ``{customer_external_id, note}``; sets the
  customer's ``metadata.note`` [UNVERIFIED field] and keeps the previous note to restore.
* ``discount`` (reversible) — payload ``{name, percentage}`` or ``{name, amount_minor}``;
  creates a merchant discount (``POST /discounts``; Clover stores fixed amounts negative
  [UNVERIFIED]); ``revert`` deletes it.

No purchase orders: Clover has no purchase-order API, so ``draft_purchase_order`` is not a
kind here.

The port's :class:`~tillwise.ports.writeback.WriteTarget` carries no OAuth credentials or
merchant id, so the connector is given ``session_for(target) -> CloverSession`` by the
composition root (which owns the credential store); without it every write is refused,
``retryable=False``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tillwise.domain.proposals import Proposal, ProposalKind
from tillwise.ports.writeback import NotSupported, WriteBackError, WriteResult, WriteTarget

from .._http import ApiError
from .client import CloverSession

STOCK_ADJUSTMENT = ProposalKind.STOCK_ADJUSTMENT.value
DISCOUNT = ProposalKind.DISCOUNT.value
CUSTOMER_NOTE = ProposalKind.CUSTOMER_NOTE.value

SessionFor = Callable[[WriteTarget], Awaitable[CloverSession]]


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise WriteBackError(f"proposal payload.{name} is missing or not a string")
    return value


def _int(value: Any, name: str, *, nonzero: bool = True) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or (nonzero and value == 0):
        raise WriteBackError(f"proposal payload.{name} must be a non-zero integer")
    return value


class CloverWriteBack:
    """Implements :class:`tillwise.ports.writeback.WriteBack` for Clover."""

    kinds = frozenset({STOCK_ADJUSTMENT, CUSTOMER_NOTE, DISCOUNT})
    reversible = frozenset({STOCK_ADJUSTMENT, CUSTOMER_NOTE, DISCOUNT})

    def __init__(self, *, session_for: SessionFor | None) -> None:
        self.session_for = session_for

    async def _session(self, target: WriteTarget) -> CloverSession:
        if self.session_for is None:
            raise WriteBackError(
                "Clover write-back needs the connection's OAuth credentials "
                "(no session provider is configured)"
            )
        return await self.session_for(target)

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        if proposal.kind not in self.kinds:
            raise NotSupported(f"Clover cannot write {proposal.kind!r} proposals")
        session = await self._session(target)
        try:
            if proposal.kind == STOCK_ADJUSTMENT:
                return await self._adjust(session, proposal.payload, None, idempotency_key)
            if proposal.kind == CUSTOMER_NOTE:
                return await self._note(session, proposal.payload, None, idempotency_key)
            return await self._discount(session, proposal.payload, idempotency_key)
        except ApiError as exc:
            raise WriteBackError(exc.detail, retryable=exc.retryable) from exc

    async def revert(
        self,
        target: WriteTarget,
        proposal: Proposal,
        applied: WriteResult,
        *,
        idempotency_key: str,
    ) -> WriteResult:
        if proposal.kind not in self.reversible:
            raise NotSupported(f"Clover cannot undo {proposal.kind!r} proposals")
        session = await self._session(target)
        try:
            if proposal.kind == STOCK_ADJUSTMENT:
                done = _int(applied.details.get("applied"), "applied", nonzero=False)
                if done == 0:
                    return WriteResult(applied.reference, {"reverted": False})
                return await self._adjust(session, proposal.payload, -done, idempotency_key)
            if proposal.kind == CUSTOMER_NOTE:
                previous = applied.details.get("previous_note")
                return await self._note(session, proposal.payload, previous or "", idempotency_key)
            path = f"/discounts/{applied.reference}"
            await session.client.request(
                "DELETE", f"{session.merchant_path}{path}", idempotency_key=idempotency_key
            )
            return WriteResult(applied.reference, {"deleted": True})
        except ApiError as exc:
            raise WriteBackError(exc.detail, retryable=exc.retryable) from exc

    async def _adjust(
        self,
        session: CloverSession,
        payload: dict[str, Any],
        delta: int | None,
        key: str,
    ) -> WriteResult:
        item = _text(payload, "sku")
        location = _text(payload, "location_external_id")
        if location != session.merchant_id:
            raise WriteBackError(f"location {location!r} is not this connection's Clover merchant")
        change = _int(payload.get("delta") if delta is None else delta, "delta")
        path = f"/item_stocks/{item}"
        try:
            stock = await session.get(path)
            before = stock.get("quantity", 0) if isinstance(stock, dict) else 0
        except ApiError as exc:
            if exc.status != 404:
                raise
            before = 0  # no stock record yet [UNVERIFIED: Clover answers 404]
        after = before + change
        resp = await session.client.request(
            "POST",
            f"{session.merchant_path}{path}",
            json={"quantity": after},
            idempotency_key=key,
        )
        body = resp.json() if resp.content else {}
        now = body.get("quantity", after) if isinstance(body, dict) else after
        return WriteResult(
            reference=f"{item}@{now}",
            details={"item_id": item, "before": before, "after": now, "applied": change},
        )

    async def _note(
        self, session: CloverSession, payload: dict[str, Any], note: str | None, key: str
    ) -> WriteResult:
        customer = _text(payload, "customer_external_id")
        text = _text(payload, "note") if note is None else note
        path = f"/customers/{customer}"
        current = await session.get(path, {"expand": "metadata"})
        meta = current.get("metadata") if isinstance(current, dict) else None
        previous = meta.get("note") if isinstance(meta, dict) else None
        await session.client.request(
            "POST",
            f"{session.merchant_path}{path}",
            json={"metadata": {"note": text}},
            idempotency_key=key,
        )
        return WriteResult(reference=customer, details={"previous_note": previous, "note": text})

    async def _discount(
        self, session: CloverSession, payload: dict[str, Any], key: str
    ) -> WriteResult:
        body: dict[str, Any] = {"name": _text(payload, "name")}
        if payload.get("percentage") is not None:
            pct = _int(payload["percentage"], "percentage")
            if not 0 < pct <= 100:
                raise WriteBackError("proposal payload.percentage must be in 1..100")
            body["percentage"] = pct
        else:
            body["amount"] = -abs(_int(payload.get("amount_minor"), "amount_minor"))
        resp = await session.client.request(
            "POST", f"{session.merchant_path}/discounts", json=body, idempotency_key=key
        )
        created = resp.json()
        ref = created.get("id") if isinstance(created, dict) else None
        if not isinstance(ref, str):
            raise WriteBackError("Clover did not return the discount's id")
        return WriteResult(reference=ref, details={"discount": body})
