"""Transfers between two stores of a connection where the platform has no transfer API: two
stock adjustments, out at the source and in at the destination.

An approved ``transfer`` proposal (payload ``{"sku", "from_location", "to_location",
"quantity", ...}``, what replenishment proposes) goes to the platform's own transfer write-back
when it has one (the generic contract's ``POST /transfers``, Square's ``TRANSFER`` change);
otherwise — or when a generic POS
answers that it serves no such route (:class:`NotSupported`) — it is carried out through the
platform's ``stock_adjustment`` write-back as two adjustments:

1. ``-quantity`` at ``from_location`` (payload reason ``transfer_out``), as the adjustment
   proposal ``<proposal id>:out`` with idempotency key ``<key>:out``;
2. ``+moved`` at ``to_location`` (reason ``transfer_in``), as ``<proposal id>:in`` with key
   ``<key>:in``, where ``moved`` is what the first adjustment took out when the POS says
   (``details.applied``: a POS that keeps stock at zero may take less), else ``quantity``.

Each adjustment done is recorded in the write's progress (``WriteTarget.progress``, kept by
governance with the proposal), so a retry after a failure between the two — the destination
answering 503, say — does not take the stock out again: it adds it at the destination (keys
``<key>:out`` / ``<key>:in`` as well, for the POSes that honour them). Nothing left at the
source to move is a refusal (the proposal fails). When the destination refuses the units for
good (the item is not stocked there, say), they are put back at the source (``<key>:back``,
reason ``transfer_back``) and the proposal fails saying so. Both adjustments happen at once, so
the destination's stock rises immediately (no transit time).

Not reversible: stock moved is moved back by another transfer. Platforms record the halves as
their own adjustments (Shopify: ``correction``), not as a transfer document; Square writes its
own ``TRANSFER`` change instead (``square/writeback.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tillwise.domain.proposals import Proposal, ProposalKind
from tillwise.ports.writeback import (
    NotSupported,
    WriteBack,
    WriteBackError,
    WriteResult,
    WriteTarget,
)

TRANSFER = ProposalKind.TRANSFER.value
STOCK_ADJUSTMENT = ProposalKind.STOCK_ADJUSTMENT.value


@dataclass(frozen=True)
class Transfer:
    """What a ``transfer`` proposal asks: move ``quantity`` of ``sku`` between two stores."""

    sku: str
    from_location: str
    to_location: str
    quantity: int

    @classmethod
    def from_proposal(cls, proposal: Proposal) -> Transfer:
        p = proposal.payload
        quantity = p.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise WriteBackError("proposal payload.quantity must be whole units > 0")
        texts = {}
        for name in ("sku", "from_location", "to_location"):
            value = p.get(name)
            if not isinstance(value, str) or not value:
                raise WriteBackError(f"proposal payload.{name} is missing or not a string")
            texts[name] = value
        if texts["from_location"] == texts["to_location"]:
            raise WriteBackError("proposal payload.to_location is the same store as from_location")
        return cls(quantity=quantity, **texts)

    def moved_at_once(self, via: str, moved: int, **more: Any) -> dict[str, Any]:
        """A write result's details for a transfer that arrived at once (no transit)."""
        return {
            "via": via,
            "sku": self.sku,
            "from_location_id": self.from_location,
            "to_location_id": self.to_location,
            "quantity": self.quantity,
            "moved": moved,
            "expected_at": None,  # arrived at once
            **more,
        }


def half(proposal: Proposal, transfer: Transfer, side: str, delta: int) -> Proposal:
    """The ``stock_adjustment`` proposal for one side (``out`` / ``in``) of a transfer."""
    location = transfer.to_location if side == "in" else transfer.from_location
    return proposal.model_copy(
        update={
            "id": f"{proposal.id}:{side}",
            "kind": STOCK_ADJUSTMENT,
            "location_external_id": location,
            "summary": f"{proposal.summary} ({side} at {location})",
            "payload": {
                "sku": transfer.sku,
                "location_external_id": location,
                "delta": delta,
                "reason": f"transfer_{side}",
                "transfer": proposal.id,
            },
            "value": None,
        }
    )


class TransfersAsAdjustments:
    """A platform's write-back, with ``transfer`` carried out as two stock adjustments where
    it has no transfer API (see the module docstring)."""

    def __init__(self, primary: WriteBack) -> None:
        self.primary = primary
        self.kinds = primary.kinds | {TRANSFER}
        self.reversible = primary.reversible

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        if proposal.kind != TRANSFER:
            return await self.primary.apply(target, proposal, idempotency_key=idempotency_key)
        if TRANSFER in self.primary.kinds:
            try:
                return await self.primary.apply(target, proposal, idempotency_key=idempotency_key)
            except NotSupported:
                # a generic POS that serves no transfer route: adjust both stores instead
                if STOCK_ADJUSTMENT not in self.primary.kinds:
                    raise
        return await self._as_adjustments(target, proposal, idempotency_key)

    async def revert(
        self, target: WriteTarget, proposal: Proposal, applied: WriteResult, *, idempotency_key: str
    ) -> WriteResult:
        if proposal.kind == TRANSFER and TRANSFER not in self.primary.kinds:
            raise NotSupported("stock moved is moved back by another transfer, not reverted")
        return await self.primary.revert(target, proposal, applied, idempotency_key=idempotency_key)

    async def _as_adjustments(
        self, target: WriteTarget, proposal: Proposal, key: str
    ) -> WriteResult:
        transfer = Transfer.from_proposal(proposal)
        out = await self._half(target, proposal, transfer, "out", -transfer.quantity, key)
        moved = _moved(out, transfer.quantity)
        if moved <= 0:
            raise WriteBackError(
                f"store {transfer.from_location} had no {transfer.sku} to move (adjustment "
                f"{out.reference} changed nothing)"
            )
        try:
            into = await self._half(target, proposal, transfer, "in", moved, key)
        except WriteBackError as exc:
            if exc.retryable:  # the retry adds them (the out half is recorded as done)
                raise WriteBackError(
                    f"{moved} units of {transfer.sku} left {transfer.from_location} (adjustment "
                    f"{out.reference}) and will be added at {transfer.to_location} when it "
                    f"answers: {exc.detail}",
                    retryable=True,
                ) from None
            back = await self._put_back(target, proposal, transfer, moved, key)
            raise WriteBackError(
                f"{transfer.to_location} refused {moved} units of {transfer.sku}: {exc.detail}; "
                f"{back}"
            ) from None
        return WriteResult(
            reference=out.reference,
            details=transfer.moved_at_once(
                "adjustments",
                moved,
                out={"reference": out.reference, **out.details},
                **{"in": {"reference": into.reference, **into.details}},
            ),
        )

    async def _half(
        self,
        target: WriteTarget,
        proposal: Proposal,
        transfer: Transfer,
        side: str,
        delta: int,
        key: str,
    ) -> WriteResult:
        """One adjustment of the transfer, unless an earlier attempt recorded it as done."""
        progress = target.progress
        done = progress.done.get(side) if progress is not None else None
        if isinstance(done, dict) and isinstance(done.get("reference"), str):
            return WriteResult(reference=done["reference"], details=dict(done.get("details") or {}))
        result = await self.primary.apply(
            target, half(proposal, transfer, side, delta), idempotency_key=f"{key}:{side}"
        )
        if progress is not None:
            await progress.record(side, {"reference": result.reference, "details": result.details})
        return result

    async def _put_back(
        self, target: WriteTarget, proposal: Proposal, transfer: Transfer, moved: int, key: str
    ) -> str:
        """The destination refused the units: put them back at the source; says what happened."""
        try:
            back = await self._half(target, proposal, transfer, "back", moved, key)
        except WriteBackError as exc:
            return (
                f"putting them back at {transfer.from_location} failed too ({exc.detail}): "
                f"add {moved} there by hand"
            )
        return f"they were put back at {transfer.from_location} (adjustment {back.reference})"


def _moved(out: WriteResult, asked: int) -> int:
    """Units the ``out`` adjustment took from the source (what the POS says it applied)."""
    applied: Any = out.details.get("applied")
    if isinstance(applied, int) and not isinstance(applied, bool):
        return -applied
    return asked


def with_transfers(primary: WriteBack | None) -> WriteBack | None:
    """``primary`` able to write ``transfer`` proposals when it can adjust stock (or transfer):
    its own transfer API first, two adjustments where it has none."""
    if primary is None or not ({STOCK_ADJUSTMENT, TRANSFER} & primary.kinds):
        return primary
    return TransfersAsAdjustments(primary)
