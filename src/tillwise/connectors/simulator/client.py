"""Send the replay to a Tillwise server as signed webhooks, on an accelerated clock.

* Each body is signed with :func:`tillwise.connectors._signatures.sign` at the moment it is
  sent (real unix time: the server checks the timestamp against its own clock), and carries
  ``Tillwise-Event-Id`` so a retried or re-run delivery is recognised as a duplicate.
* ``speed`` is simulated seconds per real second (86 400: a day of trading per second);
  ``None`` sends as fast as the server takes them.
* At most ``concurrency`` requests are in flight. The ``location.updated`` events are sent
  (and acknowledged) before anything else so every sale finds its store.
* A replay step that changes stock is applied to the live POS
  (:class:`~tillwise.connectors.simulator.pos.SimulatorPos`) when its time comes, just before
  it is sent, so the level reported builds on any write-back made meanwhile; a cycle count is
  sent after the change it follows.
* 5xx, 429 and connection errors are retried with capped exponential backoff and jitter
  (``Retry-After`` is obeyed when present); any other 4xx stops the run with a
  :class:`SimulatorError` naming the event.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from .._http import is_retryable
from .._signatures import SIGNATURE_HEADER, sign
from ..generic.webhooks import EVENT_ID_HEADER
from .replay import Replay, SimEvent, Step, StockChange

if TYPE_CHECKING:
    from .pos import SimulatorPos

USER_AGENT = "tillwise-simulator/1"
RETRY_BASE = 0.5  # seconds
RETRY_CAP = 5.0


class SimulatorError(RuntimeError):
    """The server refused an event (4xx) or kept failing past the retry limit."""

    def __init__(self, message: str, *, event: SimEvent, status: int | None = None) -> None:
        super().__init__(message)
        self.event = event
        self.status = status


@dataclass
class SimulationCounts:
    """What was delivered: events per generic event name, plus retries and duplicates."""

    by_event: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0  # answered 2xx as already received (a re-run)
    retries: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_event.values())

    def as_dict(self) -> dict[str, int]:
        return {
            **dict(sorted(self.by_event.items())),
            "total": self.total,
            "duplicates": self.duplicates,
            "retries": self.retries,
        }

    def __str__(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_event.items()))
        return (
            f"{self.total} events ({parts or 'none'}); {self.duplicates} duplicates, "
            f"{self.retries} retries"
        )


def should_retry(status: int | None, attempt: int, max_attempts: int) -> bool:
    """Pure retry decision: connection errors (``status`` None), 429 and 5xx, within limits."""
    return attempt < max_attempts and is_retryable(status)


def retry_delay(attempt: int, retry_after: float | None = None, *, jitter: float = 0.0) -> float:
    """Seconds before attempt ``attempt + 1``: the server's hint, else 0.5 s doubling to 5 s.

    ``jitter`` in [0, 1) scales the delay down by up to half (kept separate for testing).
    """
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, 60.0)
    base = min(RETRY_CAP, RETRY_BASE * (2 ** max(0, attempt - 1)))
    return base * (1 - jitter / 2)


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("title") or body
        fieldname = body.get("field")
        return f"{detail} (field {fieldname})" if fieldname else str(detail)
    return str(body)[:300]


def webhook_url(base_url: str, connection_id: str) -> str:
    return f"{base_url.rstrip('/')}/webhooks/generic/{connection_id}"


class WebhookSender:
    """Posts signed generic events to one connection's webhook URL."""

    def __init__(
        self,
        base_url: str,
        connection_id: str,
        secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        max_attempts: int = 6,
        timeout: float = 30.0,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be http(s)://..., not {base_url!r}")
        if not secret:
            raise ValueError("the connection's webhook secret is needed to sign events")
        self.url = webhook_url(base_url, connection_id)
        self._secret = secret
        self._client = client
        self._own_client = client is None
        self._timeout = timeout
        self.max_attempts = max_attempts
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._jitter = jitter
        self.counts = SimulationCounts()

    async def __aenter__(self) -> WebhookSender:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def headers_for(self, event: SimEvent, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: event.event_id,
            SIGNATURE_HEADER: sign(body, self._secret, int(self._wall_clock())),
        }

    async def send(self, event: SimEvent) -> None:
        """Deliver one event (retrying as documented); raises SimulatorError on refusal."""
        if self._client is None:
            raise RuntimeError("use 'async with WebhookSender(...)'")
        body = event.body()
        attempt = 0
        while True:
            attempt += 1
            status: int | None = None
            hint: float | None = None
            problem: str
            try:
                resp = await self._client.post(
                    self.url, content=body, headers=self.headers_for(event, body)
                )
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    self.counts.by_event[event.event] += 1
                    if _is_duplicate(resp):
                        self.counts.duplicates += 1
                    return
                problem = f"HTTP {status}: {_detail(resp)}"
                hint = _retry_after(resp)
                if status < 500 and status != 429:  # the request itself is wrong: stop
                    raise SimulatorError(
                        f"the server rejected {event.event} {event.event_id!r} ({problem})",
                        event=event,
                        status=status,
                    )
            if not should_retry(status, attempt, self.max_attempts):
                raise SimulatorError(
                    f"giving up on {event.event} {event.event_id!r} after {attempt} attempts "
                    f"({problem})",
                    event=event,
                    status=status,
                )
            self.counts.retries += 1
            await self._sleep(retry_delay(attempt, hint, jitter=self._jitter()))


def _is_duplicate(resp: httpx.Response) -> bool:
    try:
        body = resp.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") == "duplicate"


async def replay_events(
    events: Sequence[Step],
    sender: WebhookSender,
    *,
    speed: float | None,
    pos: SimulatorPos | None = None,
    limit: int | None = None,
    concurrency: int = 8,
    progress: bool = False,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> SimulationCounts:
    """Send the replay's steps in order on the accelerated clock; returns ``sender.counts``.

    Stock changes need the live ``pos`` that applies them (and it learns its stores from the
    ``location.updated`` events); a list of finished events can be sent without one.
    ``limit`` stops after that many events. The progress bar counts steps.
    """
    if speed is not None and speed <= 0:
        raise ValueError("speed is simulated seconds per real second (> 0), or None")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if pos is None and any(isinstance(step, StockChange) for step in events):
        raise ValueError("stock changes are applied by a live SimulatorPos: pass pos=...")
    left = None if limit is None else max(0, limit)
    if not events or left == 0:
        return sender.counts

    def _play(step: Step) -> list[SimEvent]:
        """The step's events, now (a stock change moves the POS's stock at send time)."""
        nonlocal left
        batch = [step] if isinstance(step, SimEvent) else []  # (stock changes need a pos)
        if pos is not None:
            batch = pos.play(step)
        if left is not None:
            batch = batch[:left]
            left -= len(batch)
        return batch

    bar = _ProgressBar(len(events)) if progress else None
    lead = 0
    while lead < len(events) and _is_store(events[lead]):
        lead += 1
    try:
        for step in events[:lead]:  # stores first, acknowledged before any sale
            for ev in _play(step):
                await sender.send(ev)
            if bar:
                bar.advance(step)
            if left == 0:
                return sender.counts
        sim_start = events[0].at
        real_start = monotonic()
        gate = asyncio.Semaphore(concurrency)

        async def _one(step: Step, batch: list[SimEvent]) -> None:
            try:
                for ev in batch:  # a count goes after the change it follows
                    await sender.send(ev)
            finally:
                gate.release()
            if bar:
                bar.advance(step)

        try:
            async with asyncio.TaskGroup() as tasks:
                for step in events[lead:]:
                    if speed is not None:
                        due = real_start + (step.at - sim_start).total_seconds() / speed
                        wait = due - monotonic()
                        if wait > 0:
                            await sleep(wait)
                    await gate.acquire()
                    batch = _play(step)
                    if batch:
                        tasks.create_task(_one(step, batch))
                    else:  # sold past zero, nothing counted: nothing to send
                        gate.release()
                        if bar:
                            bar.advance(step)
                    if left == 0:
                        break
        except BaseExceptionGroup as group:
            errors = group.subgroup(SimulatorError)
            if errors is not None:
                raise _first(errors) from None
            raise
    finally:
        if bar:
            bar.close()
    return sender.counts


def _is_store(step: Step) -> bool:
    """Set-up sent (and acknowledged) before anything else: the stores, then the vendors."""
    return isinstance(step, SimEvent) and step.event in ("location.updated", "vendor.updated")


def _first(group: BaseExceptionGroup) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


class _ProgressBar:
    """A rich progress bar showing the simulated date (only built when asked)."""

    def __init__(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]simulator[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        self._task = self._progress.add_task("", total=total)
        self._progress.start()

    def advance(self, event: Step) -> None:
        self._progress.update(
            self._task, advance=1, description=event.at.strftime("%Y-%m-%d %H:%M UTC")
        )

    def close(self) -> None:
        self._progress.stop()


async def simulate(
    base_url: str,
    connection_id: str,
    secret: str,
    *,
    pos: SimulatorPos | None = None,
    speed: float | None = 86_400.0,
    limit: int | None = None,
    progress: bool = False,
    concurrency: int = 8,
    client: httpx.AsyncClient | None = None,
    events: Replay | Sequence[SimEvent] | None = None,
) -> SimulationCounts:
    """Replay the bundled Online Retail II window to ``base_url`` as the generic connection
    ``connection_id`` signed with ``secret``; returns what was delivered.

    ``pos`` is the live POS to replay through — one whose API is served somewhere (the demo
    mounts ``pos.app`` in its server), opened by the caller (``async with pos``) and reporting
    to the same connection; by default a private one is made for the run (its stock then
    cannot be written back to). ``limit`` stops after that many events (the stores come
    first). ``events`` replaces the bundled replay (tests); ``client`` replaces the HTTP
    client of a POS made here (tests, custom TLS).
    """
    if pos is None:
        from .pos import SimulatorPos

        async with SimulatorPos(base_url, connection_id, secret, client=client) as own:
            return await _run(own, speed, limit, progress, concurrency, events)
    if pos.webhooks.url != webhook_url(base_url, connection_id):
        raise ValueError(
            f"the POS reports to {pos.webhooks.url}, not {webhook_url(base_url, connection_id)}"
        )
    return await _run(pos, speed, limit, progress, concurrency, events)


async def _run(
    pos: SimulatorPos,
    speed: float | None,
    limit: int | None,
    progress: bool,
    concurrency: int,
    events: Replay | Sequence[SimEvent] | None,
) -> SimulationCounts:
    if events is None:
        events = await asyncio.to_thread(_bundled_replay)
    pos.speed = speed  # its clock runs on at this speed after the replay (deliveries)
    steps: Sequence[Step]
    if isinstance(events, Replay):
        pos.load(events)
        steps = events.steps
    else:
        steps = events
    return await replay_events(
        steps,
        pos.webhooks,
        pos=pos,
        speed=speed,
        limit=limit,
        concurrency=concurrency,
        progress=progress,
    )


def _bundled_replay() -> Replay:
    from .dataset import load_invoices
    from .replay import build_replay

    return build_replay(load_invoices())
