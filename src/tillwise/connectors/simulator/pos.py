"""The simulator as a live POS: it owns the stock, takes write-backs, and reports every change.

:class:`SimulatorPos` keeps the on-hand of every (store, SKU), applies the replay's stock
changes *as they are sent* (:func:`play_step`), and serves the generic write-back contract
(``docs/generic-connector.md``, "Write-back") as an ASGI app, ``pos.app``, with relative routes
so it can be mounted anywhere (the demo mounts it at ``/simulator`` of the Tillwise server):

``POST /inventory/adjustments``
    ``{"location_id", "sku", "delta", "reason"?, "reference"?}``, signed with
    ``Tillwise-Signature`` under the connection's secret (constant-time check, 401 problem
    details otherwise) and carrying an ``Idempotency-Key`` (400 without one). Applies ``delta``,
    never below zero, and answers 201 ``{"id", "location_id", "sku", "delta", "applied",
    "on_hand", "version"}`` (``applied`` is the change made: less than asked when stock would go
    below zero). The same key again returns the first answer (with ``Idempotent-Replayed:
    true``) and changes nothing; the same key with a different request is a 409. Bad input is a
    422 naming the field (``location_id`` must be a store the POS has announced); only
    successful adjustments use up a key.

``POST /purchase-orders``
    ``{"reference", "vendor_id", "location_id", "currency", "expected_on"?, "notes"?,
    "lines": [{"sku", "name"?, "quantity", "unit_cost"?}]}``, signed and with an
    ``Idempotency-Key`` like adjustments. Books the order and answers 201 ``{"id", "reference",
    "status": "open", "lead_time_days", "ordered_at", "expected_at"}``; reports it as
    ``purchase_order.updated`` (``open``). When the POS's clock passes the vendor's lead time
    (:mod:`.purchasing`) the stock arrives: ``inventory.updated`` per line with ``reason:
    receipt``, then ``purchase_order.updated`` (``received``). The clock is the replay's
    simulated time, running on at the replay's ``speed`` after the last step, so an order
    approved after the replay still arrives (:meth:`SimulatorPos.run_deliveries`).

``POST /transfers``
    ``{"reference", "sku", "from_location_id", "to_location_id", "quantity"}``, signed and with
    an ``Idempotency-Key`` like adjustments (both stores must be announced). The source's stock
    falls at once by what it has (``moved``; nothing to move is a 409) and is reported with
    ``inventory.updated`` (``reason: transfer_out``); the units arrive at the destination after
    :data:`~.transfers.TRANSIT_DAYS` on the POS's clock (``reason: transfer_in``). Answers 201
    ``{"id", "reference", "sku", "from_location_id", "to_location_id", "quantity", "moved",
    "status": "in_transit", "transit_days", "shipped_at", "expected_at"}`` (:mod:`.transfers`).

``GET /inventory/{location_id}/{sku}``
    ``{"location_id", "sku", "on_hand", "version"}``. Reads are signed like writes (the HMAC of
    ``"<t>."`` and the empty body): stock figures are the merchant's data.

After a change (replayed or written back) the POS sends ``inventory.updated`` with the new level
and a per-level ``version`` that only goes up, through its :class:`WebhookSender`; write-backs
are reported in the background after the answer, as a POS's webhooks are (:meth:`drain` waits
for them). A report that cannot be delivered is kept in :attr:`SimulatorPos.undelivered`; the
next change of that level sends the whole level again, so the copy catches up. An order's
status has no next change once it is received, so a ``purchase_order.updated`` that could not
be delivered (Tillwise unreachable, 429 or 5xx: not refused) is sent again (its latest
version, same event id) by the delivery loop (:meth:`SimulatorPos.deliver_due`) until it is:
otherwise Tillwise would hold the order open, its units on order, for ever.

Thread-safe: the stock and the idempotency records are guarded by locks, so the replay and the
API may run on different threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tillwise.domain.inventory import MovementReason
from tillwise.ports.platform import SignatureError

from .._http import is_retryable
from .._signatures import DEFAULT_TOLERANCE, SIGNATURE_HEADER, verify_headers
from .client import SimulatorError, WebhookSender
from .purchasing import Order, OrderBook, OrderIn
from .replay import Replay, SimEvent, Step, StockChange, StockKey, iso_utc
from .transfers import ShipmentBook, TransferIn

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
PROBLEM_JSON = "application/problem+json"
MAX_BODY = 64 * 1024
MAX_DELTA = 1_000_000


# -- the stock -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    location_id: str
    sku: str
    on_hand: int
    version: int  # 0 until the level first changes; +1 per change


class Stock:
    """On-hand per (store, SKU): opened lazily at its opening figure (0 when none is known),
    never negative, versioned per level. Thread-safe."""

    def __init__(self, opening: Mapping[StockKey, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._opening: dict[StockKey, int] = dict(opening or {})
        self._on_hand: dict[StockKey, int] = {}
        self._version: dict[StockKey, int] = {}

    def open_with(self, opening: Mapping[StockKey, int]) -> None:
        """Opening figures for levels not yet touched (touched levels keep their stock)."""
        with self._lock:
            self._opening.update(opening)

    def level(self, key: StockKey) -> Level:
        with self._lock:
            return self._level(key)

    def change(self, key: StockKey, delta: int) -> tuple[Level, int]:
        """Apply ``delta`` (never below zero): the level after, and the change actually made."""
        with self._lock:
            old = self._level(key).on_hand
            new = max(0, old + delta)
            if new != old:
                self._on_hand[key] = new
                self._version[key] = self._version.get(key, 0) + 1
            return self._level(key), new - old

    def _level(self, key: StockKey) -> Level:
        if key not in self._on_hand:
            self._on_hand[key] = self._opening.get(key, 0)
        return Level(key[0], key[1], self._on_hand[key], self._version.get(key, 0))


def level_event(level: Level, at: datetime, reason: MovementReason | None = None) -> SimEvent:
    """The ``inventory.updated`` a POS sends for a level (its id names the version)."""
    data: dict[str, Any] = {
        "sku": level.sku,
        "location_id": level.location_id,
        "on_hand": level.on_hand,
        "updated_at": iso_utc(at),
        "version": level.version,
    }
    if reason is not None:
        data["reason"] = reason.value
    return SimEvent(
        f"sim:inventory.updated:{level.location_id}:{level.sku}:v{level.version}",
        "inventory.updated",
        at,
        data,
    )


def count_event(change: StockChange, counted: int) -> SimEvent:
    """The ``inventory.counted`` of the cycle count that follows ``change``."""
    return SimEvent(
        f"sim:inventory.counted:{change.location_id}:{change.sku}:{change.cause}",
        "inventory.counted",
        change.at,
        {
            "sku": change.sku,
            "location_id": change.location_id,
            "counted": counted,
            "counted_at": iso_utc(change.at),
            "count_id": change.count_id,
        },
    )


def play_step(stock: Stock, step: Step) -> list[SimEvent]:
    """What the POS sends for one replay step, applying a stock change to ``stock`` now."""
    if isinstance(step, SimEvent):
        return [step]
    level, applied = stock.change((step.location_id, step.sku), step.delta)
    events = [level_event(level, step.at)] if applied else []
    if step.count_shrink is not None:
        events.append(count_event(step, max(0, level.on_hand - step.count_shrink)))
    return events


def play_offline(replay: Replay) -> list[SimEvent]:
    """Every event of ``replay`` played on a fresh stock that nobody adjusts."""
    stock = Stock(replay.opening)
    return [event for step in replay.steps for event in play_step(stock, step)]


# -- the adjustments API ---------------------------------------------------------------------


class AdjustmentIn(BaseModel):
    """``POST /inventory/adjustments`` body."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    location_id: str = Field(min_length=1, max_length=255, strict=True)
    sku: str = Field(min_length=1, max_length=255, strict=True)
    delta: StrictInt = Field(ge=-MAX_DELTA, le=MAX_DELTA)
    reason: MovementReason = MovementReason.ADJUSTMENT
    reference: str | None = Field(default=None, max_length=255, strict=True)

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("must not be 0")
        return v


class _Refused(Exception):
    def __init__(self, status: int, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.field = status, code, detail, field


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    422: "Unprocessable content",
}


def _problem(
    request: Request, status: int, code: str, detail: str, field: str | None = None
) -> JSONResponse:
    """RFC 9457 problem details, shaped like the Tillwise API's own."""
    body: dict[str, Any] = {
        "type": f"urn:tillwise:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
    }
    if field:
        body["field"] = field
        body["errors"] = [{"field": field, "message": detail}]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def _parse(body: bytes, shape: type[BaseModel] = AdjustmentIn) -> Any:
    try:
        return shape.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] in ("json_invalid", "model_type") or not first["loc"]:
            raise _Refused(400, "invalid_body", "the body must be a JSON object", "body") from exc
        path = _field(tuple(first["loc"]))
        raise _Refused(422, "invalid_field", f"{path}: {first['msg']}", path) from exc


@dataclass(frozen=True)
class _Answer:
    fingerprint: str
    body: dict[str, Any]


class SimulatorPos:
    """A live simulated POS for one Tillwise generic connection (see the module docstring).

    ``tillwise_url``, ``connection_id`` and ``secret`` say where its webhooks go and how they
    are signed; the same secret authenticates calls to its API. Open it (``async with pos``)
    before replaying or taking write-backs, on the event loop that serves ``pos.app``.
    """

    def __init__(
        self,
        tillwise_url: str,
        connection_id: str,
        secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        tolerance: int = DEFAULT_TOLERANCE,
        wall_clock: Callable[[], float] = time.time,
        max_attempts: int = 6,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.webhooks = WebhookSender(
            tillwise_url,
            connection_id,
            secret,
            client=client,
            max_attempts=max_attempts,
            wall_clock=wall_clock,
            sleep=sleep,
            jitter=jitter,
        )
        self.stock = Stock()
        self.orders = OrderBook()
        self.shipments = ShipmentBook()
        # simulated s per real s: after a replay the clock runs on this fast while an order or
        # a transfer is on its way (so it arrives in seconds), else at real time (so the
        # clock stays near the replay's end: orders are dated as the plans that made them)
        self.speed: float | None = None
        self.undelivered: list[SimulatorError] = []
        self._secret = secret
        self._tolerance = tolerance
        self._wall_clock = wall_clock
        self._lock = threading.Lock()  # locations, simulated time, idempotency records
        self._locations: set[str] = set()
        self._zones: dict[str, str] = {}  # store -> its time zone (IANA name)
        self._unreported: dict[str, SimEvent] = {}  # order id -> its lost status report
        self._sim_now: datetime | None = None
        self._sim_wall: float = 0.0  # wall-clock time of the latest replayed moment
        self._busy = False  # an order or a transfer is on its way: the clock runs at speed
        self._answers: dict[str, _Answer] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self.app = Starlette(
            routes=[
                Route("/inventory/adjustments", self._post_adjustment, methods=["POST"]),
                Route("/purchase-orders", self._post_purchase_order, methods=["POST"]),
                Route("/transfers", self._post_transfer, methods=["POST"]),
                Route("/inventory/{location_id}/{sku:path}", self._get_level, methods=["GET"]),
            ],
            exception_handlers={HTTPException: self._http_problem},
        )

    async def __aenter__(self) -> SimulatorPos:
        await self.webhooks.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.drain()
        finally:
            await self.webhooks.__aexit__(*exc)

    # -- the replay side ---------------------------------------------------------------------

    def load(self, replay: Replay) -> None:
        """Take the replay's opening stock (levels already touched keep theirs)."""
        self.stock.open_with(replay.opening)

    def play(self, step: Step) -> list[SimEvent]:
        """What to send for one replay step, now: what was due by the step's time is delivered
        first, then a stock change is applied to the live stock (so it builds on deliveries and
        any write-back made before it)."""
        with self._lock:
            if self._sim_now is None or step.at > self._sim_now:
                self._sim_now = step.at
                self._sim_wall = self._wall_clock()
            if isinstance(step, SimEvent) and step.event == "location.updated":
                self._locations.add(str(step.data["id"]))
                self._zones[str(step.data["id"])] = str(step.data.get("time_zone") or "UTC")
        delivered = self.deliveries(step.at)
        return delivered + play_step(self.stock, step)

    @property
    def locations(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._locations)

    def now(self) -> datetime:
        """The POS's (simulated) time: the latest replayed moment, else the wall clock; after
        a replay, on from it at ``speed`` while something is on its way, else at real time."""
        with self._lock:
            return self._now(self._wall_clock())

    def _now(self, wall: float) -> datetime:
        if self._sim_now is None:
            return datetime.fromtimestamp(wall, UTC)
        if self.speed is None:
            return self._sim_now
        rate = self.speed if self._busy else 1.0
        return self._sim_now + timedelta(seconds=max(0.0, wall - self._sim_wall) * rate)

    def _set_busy(self, busy: bool) -> None:
        """Something is (or nothing is any longer) on its way: the clock's rate changes here."""
        wall = self._wall_clock()
        with self._lock:
            if busy != self._busy and self._sim_now is not None:
                self._sim_now, self._sim_wall = self._now(wall), wall
            self._busy = busy

    # -- purchase orders ---------------------------------------------------------------------

    def deliveries(self, now: datetime) -> list[SimEvent]:
        """Deliver every order due by ``now``: the stock of its lines arrives at its store
        (``inventory.updated``, reason receipt) and the order is reported received; and every
        transfer in transit due by ``now`` arrives (reason transfer_in)."""
        events: list[SimEvent] = []
        for shipment in self.shipments.due(now):
            r = shipment.request
            level, applied = self.stock.change((r.to_location_id, r.sku), shipment.moved)
            if applied:
                events.append(level_event(level, shipment.due_at, MovementReason.TRANSFER_IN))
        for order in self.orders.due(now):
            at = max(order.due_at, order.ordered_at)
            for line in order.request.lines:
                level, applied = self.stock.change(
                    (order.request.location_id, line.sku), line.quantity
                )
                if applied:
                    events.append(level_event(level, at, MovementReason.RECEIPT))
            events.append(order.event(at))
        self._set_busy(bool(self.orders.open_orders()) or self.shipments.in_transit())
        return events

    async def deliver_due(self) -> int:
        """Deliver what is due by the POS's clock now, reporting it in the background, and
        report again the order statuses that could not be delivered before; returns the
        number of new events."""
        events = self.deliveries(self.now())
        with self._lock:
            kept, self._unreported = list(self._unreported.values()), {}
        for event in kept:  # the order's latest status only (a newer one went out since)
            if self._latest_status(event):
                self._report(event, again=True)
        for event in events:
            self._report(event)
        return len(events)

    async def run_deliveries(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Deliver due orders every ``interval`` real seconds until ``stop`` (the demo runs it
        beside the replay, so orders approved after the replay arrive too)."""
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception:
                log.exception("simulator POS could not deliver due purchase orders")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    def order(self, request: OrderIn, idempotency_key: str) -> tuple[dict[str, Any], bool]:
        """Book a purchase order once per key: (the answer, whether it is a replayed one)."""
        fingerprint = _fingerprint(b"po", request)
        with self._lock:
            known = self._replayed(idempotency_key, fingerprint)
            if known is not None:
                return known, True
            self._known_store(request.location_id, "location_id")
            time_zone = self._zones.get(request.location_id, "UTC")
        self._set_busy(True)
        now = self.now()
        order: Order = self.orders.book(f"po_{uuid.uuid4().hex[:16]}", request, now, time_zone)
        answer = order.answer()
        with self._lock:
            self._answers[idempotency_key] = _Answer(fingerprint, answer)
        self._report(order.event(now))
        return answer, False

    # -- the write-back side -----------------------------------------------------------------

    def adjust(self, request: AdjustmentIn, idempotency_key: str) -> tuple[dict[str, Any], bool]:
        """Apply an adjustment once per key: (the answer, whether it is a replayed answer).
        Reports the change to Tillwise in the background (needs a running event loop)."""
        fingerprint = _fingerprint(b"", request)
        with self._lock:
            known = self._replayed(idempotency_key, fingerprint)
            if known is not None:
                return known, True
            self._known_store(request.location_id, "location_id")
            level, applied = self.stock.change((request.location_id, request.sku), request.delta)
            answer = {
                "id": f"adj_{uuid.uuid4().hex}",
                "location_id": request.location_id,
                "sku": request.sku,
                "delta": request.delta,
                "applied": applied,
                "on_hand": level.on_hand,
                "version": level.version,
            }
            self._answers[idempotency_key] = _Answer(fingerprint, answer)
            at = self._sim_now
        if applied:
            self._report(level_event(level, at or self.now()))
        return answer, False

    def transfer(self, request: TransferIn, idempotency_key: str) -> tuple[dict[str, Any], bool]:
        """Ship a transfer once per key (see :mod:`.transfers`): (the answer, whether it is a
        replayed one). Reports the source's new level in the background."""
        fingerprint = _fingerprint(b"transfer", request)
        with self._lock:
            known = self._replayed(idempotency_key, fingerprint)
            if known is not None:
                return known, True
            self._known_store(request.from_location_id, "from_location_id")
            self._known_store(request.to_location_id, "to_location_id")
            source = (request.from_location_id, request.sku)
            if self.stock.level(source).on_hand <= 0:
                raise _Refused(
                    409,
                    "nothing_to_move",
                    f"quantity: store {request.from_location_id!r} has no {request.sku!r} to move",
                    "quantity",
                )
            level, applied = self.stock.change(source, -request.quantity)
        self._set_busy(True)
        now = self.now()
        shipment = self.shipments.book(f"tr_{uuid.uuid4().hex[:16]}", request, -applied, now)
        answer = shipment.answer()
        with self._lock:
            self._answers[idempotency_key] = _Answer(fingerprint, answer)
        self._report(level_event(level, now, MovementReason.TRANSFER_OUT))
        return answer, False

    def _replayed(self, idempotency_key: str, fingerprint: str) -> dict[str, Any] | None:
        """The first answer to this key (None: a new key); a key reused for another request
        is a 409. Call with ``self._lock`` held."""
        known = self._answers.get(idempotency_key)
        if known is None:
            return None
        if known.fingerprint != fingerprint:
            raise _Refused(
                409,
                "idempotency_key_reused",
                f"{IDEMPOTENCY_HEADER} {idempotency_key!r} was used for another request",
                IDEMPOTENCY_HEADER,
            )
        return known.body

    def _known_store(self, location_id: str, field: str) -> None:
        """A 422 naming ``field`` unless the POS has announced the store (``self._lock`` held)."""
        if location_id not in self._locations:
            raise _Refused(
                422, "unknown_location", f"{field}: this POS has no store {location_id!r}", field
            )

    def _report(self, event: SimEvent, *, again: bool = False) -> None:
        if event.event == "purchase_order.updated":  # it supersedes a lost status report
            with self._lock:
                self._unreported.pop(str(event.data["id"]), None)
        task = asyncio.get_running_loop().create_task(self._deliver(event, again=again))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, event: SimEvent, *, again: bool = False) -> None:
        try:
            await self.webhooks.send(event)
        except SimulatorError as exc:
            if not again:  # recorded (and logged) once, however often it is sent again
                log.warning("simulator POS could not report %s: %s", event.event_id, exc)
                self.undelivered.append(exc)
            if event.event == "purchase_order.updated" and is_retryable(exc.status):
                self._report_again(event)
        except RuntimeError as exc:  # the POS was not opened: nowhere to send from
            log.warning("simulator POS could not report %s: %s", event.event_id, exc)
            self.undelivered.append(SimulatorError(str(exc), event=event))

    def _report_again(self, event: SimEvent) -> None:
        """Keep a lost order status for :meth:`deliver_due` to send again — unless the order
        has moved on since (its newer status is reported, or kept, instead)."""
        if self._latest_status(event):
            with self._lock:
                self._unreported[str(event.data["id"])] = event

    def _latest_status(self, event: SimEvent) -> bool:
        """Whether a ``purchase_order.updated`` is its order's current version."""
        order = self.orders.orders.get(str(event.data["id"]))
        return order is not None and order.version == event.data["version"]

    async def drain(self) -> None:
        """Wait until every change reported so far has been delivered (or given up on)."""
        while self._pending:
            await asyncio.gather(*list(self._pending))

    # -- HTTP --------------------------------------------------------------------------------

    def _authenticate(self, body: bytes, request: Request) -> None:
        try:
            verify_headers(
                body,
                request.headers,
                [self._secret],
                self._wall_clock(),
                tolerance=self._tolerance,
                header=SIGNATURE_HEADER,
            )
        except SignatureError as exc:
            raise _Refused(401, exc.code, exc.detail, exc.field) from exc

    async def _post_adjustment(self, request: Request) -> Response:
        return await self._post_write(request, AdjustmentIn, self.adjust)

    async def _post_purchase_order(self, request: Request) -> Response:
        return await self._post_write(request, OrderIn, self.order)

    async def _post_transfer(self, request: Request) -> Response:
        return await self._post_write(request, TransferIn, self.transfer)

    async def _post_write(
        self,
        request: Request,
        shape: type[BaseModel],
        write: Callable[[Any, str], tuple[dict[str, Any], bool]],
    ) -> Response:
        """A signed write with its ``Idempotency-Key``: 201 with the answer (a replayed one
        says so in ``Idempotent-Replayed``), or problem details."""
        try:
            body = await _read_body(request)
            self._authenticate(body, request)
            key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
            if not key or len(key) > 255:
                raise _Refused(
                    400,
                    "idempotency_key_required",
                    f"{IDEMPOTENCY_HEADER} header is required (1-255 characters)",
                    IDEMPOTENCY_HEADER,
                )
            answer, replayed = write(_parse(body, shape), key)
        except _Refused as exc:
            return _problem(request, exc.status, exc.code, exc.detail, exc.field)
        headers = {REPLAYED_HEADER: "true"} if replayed else {}
        return JSONResponse(answer, status_code=201, headers=headers)

    async def _get_level(self, request: Request) -> Response:
        location_id = request.path_params["location_id"]
        sku = request.path_params["sku"]
        try:
            self._authenticate(await _read_body(request), request)
            if location_id not in self.locations:
                raise _Refused(
                    404, "unknown_location", f"this POS has no store {location_id!r}", "location_id"
                )
        except _Refused as exc:
            return _problem(request, exc.status, exc.code, exc.detail, exc.field)
        level = self.stock.level((location_id, sku))
        return JSONResponse(
            {
                "location_id": level.location_id,
                "sku": level.sku,
                "on_hand": level.on_hand,
                "version": level.version,
            }
        )

    async def _http_problem(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        return _problem(request, status, code, str(getattr(exc, "detail", exc)))


def _fingerprint(kind: bytes, request: BaseModel) -> str:
    """What a write asked, to tell a repeat from another request under the same key."""
    prefix = kind + b"\x1f" if kind else b""
    return hashlib.sha256(prefix + request.model_dump_json().encode()).hexdigest()


async def _read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _Refused(413, "body_too_large", f"body exceeds {MAX_BODY} bytes", "body")
        chunks.append(chunk)
    return b"".join(chunks)
