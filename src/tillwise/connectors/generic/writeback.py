"""Write-back for the generic connector: approved stock adjustments go to the POS's API.

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
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from tillwise.domain.proposals import Proposal, ProposalKind
from tillwise.ports.writeback import NotSupported, WriteBackError, WriteResult, WriteTarget

from .._signatures import SIGNATURE_HEADER, sign

ADJUSTMENTS_PATH = "/inventory/adjustments"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
USER_AGENT = "tillwise-writeback/1"
STOCK_ADJUSTMENT = ProposalKind.STOCK_ADJUSTMENT.value


@dataclass(frozen=True)
class StockAdjustment:
    """What a ``stock_adjustment`` proposal asks the POS to do."""

    location_id: str
    sku: str
    delta: int

    @classmethod
    def from_proposal(cls, proposal: Proposal) -> StockAdjustment:
        if proposal.kind != STOCK_ADJUSTMENT:
            raise NotSupported(f"the generic connector cannot write {proposal.kind!r} proposals")
        payload = proposal.payload
        delta = payload.get("delta")
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            raise WriteBackError("proposal payload.delta must be a non-zero integer")
        return cls(
            location_id=_text(payload, "location_external_id"),
            sku=_text(payload, "sku"),
            delta=delta,
        )


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise WriteBackError(f"proposal payload.{name} is missing or not a string")
    return value


# -- pure retry policy -----------------------------------------------------------------------


def is_retryable(status: int | None) -> bool:
    """Network errors (``status`` None), 429 and 5xx are worth another attempt."""
    return status is None or status == 429 or status >= 500


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (unix seconds): delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def backoff(attempt: int, jitter: float, *, base: float, cap: float) -> float:
    """Full jitter: a uniform wait in [0, min(cap, base * 2^(attempt-1)))."""
    return jitter * min(cap, base * 2 ** max(0, attempt - 1))


def _problem(resp: httpx.Response) -> str:
    """The POS's problem detail (RFC 9457), with the field at fault when it names one."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300] or resp.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:300]
    detail = str(body.get("detail") or body.get("title") or body)[:300]
    field = body.get("field")
    errors = body.get("errors")
    if not field and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        field = errors[0].get("field")
    return f"{detail} (field {field})" if field else detail


class GenericWriteBack:
    """Implements :class:`tillwise.ports.writeback.WriteBack` for the generic connector."""

    kinds = frozenset({STOCK_ADJUSTMENT})
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

    def _client(self) -> httpx.AsyncClient:
        """The one place this module builds an HTTP client (a transport may be injected)."""
        return httpx.AsyncClient(
            transport=self._transport,
            timeout=self._timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    async def apply(
        self, target: WriteTarget, proposal: Proposal, *, idempotency_key: str
    ) -> WriteResult:
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

    async def _post_adjustment(
        self,
        target: WriteTarget,
        adjustment: StockAdjustment,
        *,
        reference: str,
        idempotency_key: str,
    ) -> WriteResult:
        if not target.api_base_url:
            raise WriteBackError(
                f"connection {target.connection_id} has no api_base_url to write back to"
            )
        if not target.secrets or not target.secrets[0]:
            raise WriteBackError(f"connection {target.connection_id} has no secret to sign with")
        if not idempotency_key:
            raise WriteBackError("an idempotency key is required")
        url = target.api_base_url.rstrip("/") + ADJUSTMENTS_PATH
        body = json.dumps(
            {
                "location_id": adjustment.location_id,
                "sku": adjustment.sku,
                "delta": adjustment.delta,
                "reason": "count",
                "reference": reference,
            },
            separators=(",", ":"),
        ).encode()
        async with self._client() as client:
            resp, attempts = await self._send(client, url, body, target.secrets[0], idempotency_key)
        return _result(resp, adjustment, attempts)

    async def _send(
        self, client: httpx.AsyncClient, url: str, body: bytes, secret: str, key: str
    ) -> tuple[httpx.Response, int]:
        attempt = 0
        while True:
            attempt += 1
            status: int | None = None
            hint: float | None = None
            headers = {
                "Content-Type": "application/json",
                IDEMPOTENCY_HEADER: key,
                # signed per attempt: a retry after a long wait is still within the tolerance
                SIGNATURE_HEADER: sign(body, secret, int(self._wall_clock())),
            }
            try:
                resp = await client.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    return resp, attempt
                problem = f"HTTP {status} from the POS: {_problem(resp)}"
                if not is_retryable(status):
                    raise WriteBackError(problem, retryable=False)
                hint = retry_after_seconds(resp.headers.get("retry-after"), self._wall_clock())
            if attempt >= self.max_attempts:
                raise WriteBackError(
                    f"{problem} (gave up after {attempt} attempts)", retryable=True
                )
            if hint is not None and hint > self._max_retry_after:
                raise WriteBackError(
                    f"{problem} (the POS asks to retry in {hint:.0f} s)", retryable=True
                )
            if hint is None:
                hint = backoff(
                    attempt, self._jitter(), base=self._backoff_base, cap=self._backoff_cap
                )
            await self._sleep(hint)


def _result(resp: httpx.Response, asked: StockAdjustment, attempts: int) -> WriteResult:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str | int):
        raise WriteBackError(
            f"the POS answered HTTP {resp.status_code} without an adjustment id: "
            f"{resp.text[:200]!r}"
        )
    details: dict[str, Any] = {
        "adjustment_id": str(body["id"]),
        "location_id": body.get("location_id", asked.location_id),
        "sku": body.get("sku", asked.sku),
        "delta": asked.delta,
        "applied": body.get("applied", asked.delta),
        "on_hand": body.get("on_hand"),
        "version": body.get("version"),
        "attempts": attempts,
        "replayed": resp.headers.get(REPLAYED_HEADER, "").lower() == "true",
    }
    return WriteResult(reference=str(body["id"]), details=details)
