"""Write-back for the generic connector: approved stock adjustments and purchase orders go to
the POS's API.

The contract (documented in ``docs/generic-connector.md``, "Write-back"): a POS that accepts
write-backs serves, under the connection's ``api_base_url``::

    POST <api_base_url>/inventory/adjustments
    Content-Type: application/json
    Idempotency-Key: <key>                          (a repeat has no second effect)
    Tillwise-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

    {"location_id": "...", "sku": "...", "delta": -3, "reason": "count", "reference": "<proposal>"}

    → 2xx {"id": "<adjustment id>", "location_id", "sku", "delta", "on_hand", "version"}
      (optionally "applied": the change actually made, when stock cannot go below zero)

signed exactly like the generic webhooks, in the other direction, with the connection's first
secret. The built-in simulator POS (:mod:`tillwise.connectors.simulator.pos`) implements it.

Purchase orders (``draft_purchase_order``, not reversible: a sent order is cancelled with the
vendor) go the same way to ``POST <api_base_url>/purchase-orders`` with the order's lines in
whole units; the POS answers ``{"id", "status", ...}`` and later reports the order's progress
(``purchase_order.updated``) and the stock it brings (``inventory.updated``, reason
``receipt``). A POS without that route (404 or 405) is :class:`NotSupported`, so Tillwise falls
back to purchase-order documents (:mod:`tillwise.connectors._po_documents`).

Transfers (``transfer``, not reversible: stock moved back is another transfer) go to ``POST
<api_base_url>/transfers`` ``{"reference", "sku", "from_location_id", "to_location_id",
"quantity"}``; the POS answers ``{"id", "moved", "status", "expected_at", ...}``, takes the
stock out of the source at once and reports it (``inventory.updated``, reason
``transfer_out``), then into the destination when it arrives (reason ``transfer_in``). A POS
without the route (404 or 405) is :class:`NotSupported`, so Tillwise carries the transfer out
as two stock adjustments (:mod:`tillwise.connectors._transfers`).

Kinds: ``stock_adjustment`` (reversible). The proposal payload read is
``{"sku", "location_external_id", "delta", "book_on_hand", "counted"}``; ``revert`` posts the
opposite of what the POS says it applied (the proposal's delta when it did not say), with
reference ``<proposal id>:revert``.

Errors (:class:`~tillwise.ports.writeback.WriteBackError`): 429, 5xx and network failures are
retried (full jitter, or the server's ``Retry-After`` in seconds or as an HTTP date) up to
``max_attempts``; still failing, or asked to wait longer than ``max_retry_after``, the error is
``retryable=True``. Any other 4xx, a proposal this client cannot read, or a connection without
an ``api_base_url`` or secret is ``retryable=False`` with the POS's problem detail.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tillwise.domain.proposals import Proposal, ProposalKind
from tillwise.ports.writeback import NotSupported, WriteBackError, WriteResult, WriteTarget

from .._http import ApiClient, ApiError, RetryPolicy
from .._signatures import SIGNATURE_HEADER, sign

ADJUSTMENTS_PATH = "/inventory/adjustments"
PURCHASE_ORDERS_PATH = "/purchase-orders"
TRANSFERS_PATH = "/transfers"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
USER_AGENT = "tillwise-writeback/1"
STOCK_ADJUSTMENT = ProposalKind.STOCK_ADJUSTMENT.value
PURCHASE_ORDER = ProposalKind.DRAFT_PURCHASE_ORDER.value
TRANSFER = ProposalKind.TRANSFER.value
MAX_UNITS = 1_000_000
# the reasons an adjustment may carry from its payload (the halves of a transfer done as two
# adjustments); any other adjustment is a stock count correction
PASSED_REASONS = frozenset({"transfer_out", "transfer_in"})


@dataclass(frozen=True)
class StockAdjustment:
    """What a ``stock_adjustment`` proposal asks the POS to do."""

    location_id: str
    sku: str
    delta: int
    reason: str = "count"

    @classmethod
    def from_proposal(cls, proposal: Proposal) -> StockAdjustment:
        if proposal.kind != STOCK_ADJUSTMENT:
            raise NotSupported(f"the generic connector cannot write {proposal.kind!r} proposals")
        payload = proposal.payload
        delta = payload.get("delta")
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            raise WriteBackError("proposal payload.delta must be a non-zero integer")
        reason = payload.get("reason")
        return cls(
            location_id=_text(payload, "location_external_id"),
            sku=_text(payload, "sku"),
            delta=delta,
            reason=reason if reason in PASSED_REASONS else "count",
        )


def transfer_body(proposal: Proposal) -> dict[str, Any]:
    """The ``POST /transfers`` body of a ``transfer`` proposal (whole units)."""
    payload = proposal.payload
    quantity = payload.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= MAX_UNITS:
        raise WriteBackError("proposal payload.quantity must be whole units > 0")
    source, destination = _text(payload, "from_location"), _text(payload, "to_location")
    if source == destination:
        raise WriteBackError("proposal payload.to_location is the same store as from_location")
    return {
        "reference": proposal.id,
        "sku": _text(payload, "sku"),
        "from_location_id": source,
        "to_location_id": destination,
        "quantity": quantity,
    }


def purchase_order_body(proposal: Proposal) -> dict[str, Any]:
    """The ``POST /purchase-orders`` body of a ``draft_purchase_order`` proposal (whole units;
    unit costs as decimal strings, as in the payload)."""
    payload = proposal.payload
    vendor = payload.get("vendor")
    if not isinstance(vendor, dict) or not vendor.get("external_id"):
        raise WriteBackError("proposal payload.vendor.external_id is missing")
    lines = payload.get("lines")
    if not isinstance(lines, list) or not lines:
        raise WriteBackError("proposal payload.lines: a purchase order needs at least one line")
    out_lines = []
    for i, line in enumerate(lines):
        quantity = line.get("quantity") if isinstance(line, dict) else None
        if (
            not isinstance(quantity, int)
            or isinstance(quantity, bool)
            or not 0 < quantity <= MAX_UNITS
        ):
            raise WriteBackError(f"proposal payload.lines[{i}].quantity must be whole units > 0")
        assert isinstance(line, dict)
        cost = line.get("unit_cost")
        out_lines.append(
            {
                "sku": _text(line, "sku"),
                "name": str(line.get("name") or line["sku"]),
                "quantity": quantity,
                "unit_cost": None if cost in (None, "") else str(cost),
            }
        )
    return {
        "reference": proposal.id,
        "vendor_id": str(vendor["external_id"]),
        "location_id": _text(payload, "location_external_id"),
        "currency": _text(payload, "currency"),
        "expected_on": payload.get("expected_on"),
        "notes": str(payload.get("notes") or "")[:2000],
        "lines": out_lines,
    }


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise WriteBackError(f"proposal payload.{name} is missing or not a string")
    return value


class GenericWriteBack:
    """Implements :class:`tillwise.ports.writeback.WriteBack` for the generic connector."""

    kinds = frozenset({STOCK_ADJUSTMENT, PURCHASE_ORDER, TRANSFER})
    reversible = frozenset({STOCK_ADJUSTMENT})

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._transport = transport
        self._timeout = timeout
        self.max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._jitter = jitter
        self._wall_clock = wall_clock

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
        if proposal.kind == PURCHASE_ORDER:
            return await self._post_purchase_order(target, proposal, idempotency_key)
        if proposal.kind == TRANSFER:
            return await self._post_transfer(target, proposal, idempotency_key)
        adjustment = StockAdjustment.from_proposal(proposal)
        return await self._post_adjustment(
            target, adjustment, reference=proposal.id, idempotency_key=idempotency_key
        )

    async def revert(
        self,
        target: WriteTarget,
        proposal: Proposal,
        applied: WriteResult,
        *,
        idempotency_key: str,
    ) -> WriteResult:
        if proposal.kind == PURCHASE_ORDER:
            raise NotSupported("a sent purchase order is cancelled with the vendor, not reverted")
        if proposal.kind == TRANSFER:
            raise NotSupported("stock moved is moved back by another transfer, not reverted")
        adjustment = StockAdjustment.from_proposal(proposal)
        done = applied.details.get("applied", adjustment.delta)
        if not isinstance(done, int) or isinstance(done, bool):
            done = adjustment.delta
        if done == 0:  # the POS changed nothing (stock was already at zero): nothing to undo
            return WriteResult(
                reference=applied.reference,
                details={"reverted": False, "reason": "the adjustment changed nothing"},
            )
        undo = StockAdjustment(adjustment.location_id, adjustment.sku, -done)
        return await self._post_adjustment(
            target, undo, reference=f"{proposal.id}:revert", idempotency_key=idempotency_key
        )

    async def _post_purchase_order(
        self, target: WriteTarget, proposal: Proposal, idempotency_key: str
    ) -> WriteResult:
        if not target.api_base_url:  # a POS that only sends webhooks: documents instead
            raise NotSupported(f"connection {target.connection_id} has no POS API to order through")
        body = json.dumps(purchase_order_body(proposal), separators=(",", ":")).encode()
        resp = await self._post(
            target, PURCHASE_ORDERS_PATH, body, idempotency_key, optional_route=True
        )
        answer = _answer(resp, "a purchase-order id")
        details: dict[str, Any] = {
            "purchase_order_id": str(answer["id"]),
            "status": answer.get("status"),
            "expected_at": answer.get("expected_at"),
            "lines": len(proposal.payload.get("lines") or ()),
            **_delivery(resp),
        }
        return WriteResult(reference=str(answer["id"]), details=details)

    async def _post_transfer(
        self, target: WriteTarget, proposal: Proposal, idempotency_key: str
    ) -> WriteResult:
        if not target.api_base_url:  # a POS that only sends webhooks: two adjustments fail too
            raise NotSupported(f"connection {target.connection_id} has no POS API to transfer with")
        asked = transfer_body(proposal)
        body = json.dumps(asked, separators=(",", ":")).encode()
        resp = await self._post(target, TRANSFERS_PATH, body, idempotency_key, optional_route=True)
        answer = _answer(resp, "a transfer id")
        moved = answer.get("moved", asked["quantity"])
        details: dict[str, Any] = {
            "transfer_id": str(answer["id"]),
            "via": "transfer",
            "sku": asked["sku"],
            "from_location_id": asked["from_location_id"],
            "to_location_id": asked["to_location_id"],
            "quantity": asked["quantity"],
            "moved": moved if isinstance(moved, int) and not isinstance(moved, bool) else None,
            "status": answer.get("status"),
            "expected_at": answer.get("expected_at"),
            **_delivery(resp),
        }
        return WriteResult(reference=str(answer["id"]), details=details)

    async def _post_adjustment(
        self,
        target: WriteTarget,
        adjustment: StockAdjustment,
        *,
        reference: str,
        idempotency_key: str,
    ) -> WriteResult:
        body = json.dumps(
            {
                "location_id": adjustment.location_id,
                "sku": adjustment.sku,
                "delta": adjustment.delta,
                "reason": adjustment.reason,
                "reference": reference,
            },
            separators=(",", ":"),
        ).encode()
        resp = await self._post(target, ADJUSTMENTS_PATH, body, idempotency_key)
        return _result(resp, adjustment)

    async def _post(
        self,
        target: WriteTarget,
        path: str,
        body: bytes,
        idempotency_key: str,
        *,
        optional_route: bool = False,
    ) -> httpx.Response:
        """POST a signed body with its idempotency key; POS refusals become WriteBackError
        (:class:`NotSupported` for a 404/405 on an ``optional_route`` the POS may not serve)."""
        if not target.api_base_url:
            raise WriteBackError(
                f"connection {target.connection_id} has no api_base_url to write back to"
            )
        if not target.secrets or not target.secrets[0]:
            raise WriteBackError(f"connection {target.connection_id} has no secret to sign with")
        if not idempotency_key:
            raise WriteBackError("an idempotency key is required")
        url = target.api_base_url.rstrip("/") + path
        secret = target.secrets[0]

        async def signed() -> dict[str, str]:
            # signed per attempt: a retry after a long wait is still within the tolerance
            return {SIGNATURE_HEADER: sign(body, secret, int(self._wall_clock()))}

        client = ApiClient(
            base_url="",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
            auth=signed,
            retry=RetryPolicy(
                max_attempts=self.max_attempts,
                base=self._backoff_base,
                cap=self._backoff_cap,
                max_retry_after=self._max_retry_after,
            ),
            transport=self._transport,
            timeout=self._timeout,
            sleep=self._sleep,
            jitter=self._jitter,
            wall_clock=self._wall_clock,
        )
        try:
            async with client:
                resp = await client.request(
                    "POST", url, content=body, idempotency_key=idempotency_key
                )
        except ApiError as exc:
            if optional_route and exc.status in (404, 405):
                raise NotSupported(f"the POS does not serve {path}: {_from_the_pos(exc)}") from None
            raise WriteBackError(_from_the_pos(exc), retryable=exc.retryable) from None
        return resp


def _from_the_pos(exc: ApiError) -> str:
    return exc.detail.replace(f"HTTP {exc.status}:", f"HTTP {exc.status} from the POS:", 1)


def _answer(resp: httpx.Response, what: str) -> dict[str, Any]:
    """The POS's JSON answer, which must name the record it made (``id``)."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str | int):
        raise WriteBackError(
            f"the POS answered HTTP {resp.status_code} without {what}: {resp.text[:200]!r}"
        )
    return body


def _delivery(resp: httpx.Response) -> dict[str, Any]:
    """How the write went through: attempts made, and whether the POS replayed an answer."""
    return {
        "attempts": int(resp.extensions.get("attempts", 1)),
        "replayed": resp.headers.get(REPLAYED_HEADER, "").lower() == "true",
    }


def _result(resp: httpx.Response, asked: StockAdjustment) -> WriteResult:
    body = _answer(resp, "an adjustment id")
    details: dict[str, Any] = {
        "adjustment_id": str(body["id"]),
        "location_id": body.get("location_id", asked.location_id),
        "sku": body.get("sku", asked.sku),
        "delta": asked.delta,
        "applied": body.get("applied", asked.delta),
        "on_hand": body.get("on_hand"),
        "version": body.get("version"),
        **_delivery(resp),
    }
    return WriteResult(reference=str(body["id"]), details=details)
