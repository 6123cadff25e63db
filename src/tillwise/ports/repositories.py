"""Repositories over the canonical store, and the unit of work that bounds a transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from tillwise.domain.catalog import VendorTerms
from tillwise.domain.events import Envelope
from tillwise.domain.locations import Location
from tillwise.domain.merge import MergeDecision
from tillwise.domain.normalized import CanonicalRecord
from tillwise.domain.proposals import Proposal

R = TypeVar("R", bound=CanonicalRecord)


@dataclass(frozen=True)
class Page:
    """Keyset pagination: pass ``after`` = the last item's canonical id to get the next page."""

    limit: int = 100
    after: str | None = None
    newest_first: bool = False  # by when it happened (sales, refunds), then id


class RecordRepository(Protocol):
    """All canonical records, one table per kind behind it."""

    def upsert(self, record: CanonicalRecord) -> MergeDecision:
        """Insert, or replace unless the stored copy is fresher (never move backwards)."""
        ...

    def get(self, record_type: type[R], canonical_id: str) -> R | None: ...

    def find(
        self,
        record_type: type[R],
        *,
        external_id: str | None = None,
        connection_id: str | None = None,
        page: Page = Page(),
        stores: Collection[tuple[str, str]] | None = None,
        connections: Collection[str] | None = None,
        sku: str | None = None,
    ) -> list[R]:
        """``stores``: only records of those (connection id, location external id) pairs;
        ``connections``: only records of those connections; ``sku``: only records of that SKU
        (kinds that carry one: variants, inventory levels)."""
        ...

    def location(self, connection_id: str, external_id: str) -> Location | None: ...


class EventLog(Protocol):
    """Canonical events as they were derived from deliveries (append-only, idempotent on id)."""

    def append(self, envelope: Envelope) -> bool:
        """False when an event with this id was already stored."""
        ...

    def list(
        self, *, type: str | None = None, connection_id: str | None = None, page: Page = Page()
    ) -> list[Envelope]: ...

    def counts_by_type(self, since: datetime | None = None) -> dict[str, int]: ...


@dataclass(frozen=True)
class DailySales:
    location_external_id: str
    connection_id: str
    day: date  # the store's local calendar day
    currency: str
    sales_count: int
    sales_amount: int  # minor units
    refunds_count: int
    refunds_amount: int  # minor units, positive


@dataclass(frozen=True)
class SalesContribution:
    """What one sale or refund adds to its store's day (a voided sale adds nothing)."""

    connection_id: str
    location_external_id: str
    day: date  # the store's local calendar day
    currency: str
    sales_count: int = 0
    sales_amount: int = 0  # minor units
    refunds_count: int = 0
    refunds_amount: int = 0  # minor units, positive


class ReportingRepository(Protocol):
    def set_contribution(self, record_id: str, contribution: SalesContribution | None) -> None:
        """Make ``record_id``'s share of ``daily_sales`` equal ``contribution`` (None: nothing):
        its previous share, if any, is taken back first, so re-deliveries and corrections of a
        record never count twice."""
        ...

    def daily_sales(
        self, *, since: date | None = None, until: date | None = None
    ) -> Sequence[DailySales]: ...


@dataclass(frozen=True)
class DemandLine:
    """Units of one SKU in one sale or refund."""

    sku: str
    sold: Decimal = Decimal(0)
    returned: Decimal = Decimal(0)  # kept apart from sales, never netted


@dataclass(frozen=True)
class DemandContribution:
    """What one sale or refund adds to its store's demand on its local day, per SKU."""

    connection_id: str
    location_external_id: str
    day: date  # the store's local calendar day
    lines: tuple[DemandLine, ...]


@dataclass(frozen=True)
class DemandDay:
    sku: str
    day: date  # the store's local calendar day
    sold: Decimal
    returned: Decimal


@dataclass(frozen=True)
class StockObservation:
    """A level the POS reported (``inventory.updated``), with the store's local day of it."""

    connection_id: str
    location_external_id: str
    sku: str
    on_hand: Decimal
    as_of: datetime  # when the POS says the level was so
    day: date  # local day of ``as_of``
    version: int | None = None  # the POS's version of the level, where it keeps one


@dataclass(frozen=True)
class ObservedStock:
    fresh: bool  # newer than every report seen before (by version, else time; an older one
    # changes no state)
    previous: Decimal | None  # the level before it (None: none known)


@dataclass(frozen=True)
class StockOuts:
    """Days a SKU was out of stock at a store: ``days`` = (sku, local day) on which the level
    was zero at some point; ``open_since`` = SKUs still at zero, since that local day."""

    days: frozenset[tuple[str, date]] = frozenset()
    open_since: dict[str, date] = field(default_factory=dict)


@dataclass(frozen=True)
class StorePlan:
    """A store's latest replenishment plan (summary; its items are stored beside it)."""

    connection_id: str
    location_external_id: str
    planned_at: datetime
    model: str
    version: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanItem:
    """One SKU of a store's plan: its reorder point and order-up-to level, and what the event
    trigger needs to decide without forecasting again (``data``: outlook, terms, forecast)."""

    sku: str
    reorder_point: int
    order_up_to: int
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReorderStop:
    """A person stopped reordering one SKU at one store (a discontinued or phased-out item):
    the planner proposes no purchase or transfer for it until the stop is lifted."""

    connection_id: str
    location_external_id: str
    sku: str
    reason: str
    stopped_by: str  # the actor ("user:<id>", "token:<id>", "cli")
    stopped_at: datetime


@dataclass(frozen=True)
class ForecastAdjustment:
    """A person's change of one SKU's forecast at one store over some of its local days (an
    end-cap display, a local event, a range about to be delisted): the planner multiplies the
    forecast of those days by ``factor`` (1.5: half as much again; 0: none expected)."""

    connection_id: str
    location_external_id: str
    sku: str
    factor: float
    starts_on: date
    ends_on: date  # inclusive
    reason: str
    set_by: str  # the actor ("user:<id>", "token:<id>", "cli")
    set_at: datetime

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on

    def public(self) -> dict[str, Any]:
        """As plans, the API, the CLI and the audit log show it."""
        return {
            "factor": self.factor,
            "starts_on": self.starts_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
            "reason": self.reason,
            "set_by": self.set_by,
            "set_at": self.set_at.isoformat(),
        }


class ReplenishmentRepository(Protocol):
    """Demand history, stock-outs and plans, per store (SQLite and PostgreSQL alike)."""

    def set_demand(self, record_id: str, contribution: DemandContribution | None) -> None:
        """Make ``record_id``'s share of daily demand equal ``contribution`` (None: nothing);
        its previous share is replaced, so re-deliveries and corrections never count twice."""
        ...

    def observe_stock(self, observation: StockObservation) -> ObservedStock:
        """Record a reported level for the stock-out history; says whether it is the newest
        report so far and the level known before it."""
        ...

    def demand(self, connection_id: str, location_external_id: str) -> list[DemandDay]:
        """Daily units per SKU at the store, by day (days with neither sales nor returns are
        absent)."""
        ...

    def last_sale_day(self, connection_id: str) -> date | None:
        """The latest day with a sale at any of the connection's stores (each its own local
        day; None: no sale yet)."""
        ...

    def stock_outs(self, connection_id: str, location_external_id: str) -> StockOuts: ...

    def demand_stores(self) -> list[tuple[str, str]]:
        """(connection id, location external id) of every store with demand history."""
        ...

    def save_plan(self, plan: StorePlan, items: Sequence[PlanItem]) -> None:
        """Replace the store's plan and all its items."""
        ...

    def plan(self, connection_id: str, location_external_id: str) -> StorePlan | None: ...

    def plans(self) -> list[StorePlan]: ...

    def plan_items(
        self,
        connection_id: str,
        location_external_id: str,
        skus: Collection[str] | None = None,
    ) -> list[PlanItem]: ...

    def reorder_stops(
        self, connection_id: str, location_external_id: str
    ) -> dict[str, ReorderStop]:
        """The store's stopped SKUs (sku → stop); people set them through governance."""
        ...

    def forecast_adjustments(
        self, connection_id: str, location_external_id: str
    ) -> dict[str, ForecastAdjustment]:
        """The store's forecast adjustments (sku → adjustment), set through governance."""
        ...

    def vendor_terms(self, connection_id: str) -> dict[str, VendorTerms]:
        """The retailer's terms per vendor id of the connection (imported through governance)."""
        ...


@dataclass(frozen=True)
class OpenProposal:
    """A proposal still in play for a store, with what governance made of it so far."""

    proposal: Proposal
    status: str  # new, pending, approved (not yet written) or applied
    updated_at: datetime
    result: dict[str, Any] | None = None


class ProposalInbox(Protocol):
    def add(self, proposal: Proposal) -> bool:
        """Store a workflow's proposal for governance to route (False: already stored)."""
        ...

    def in_play(
        self,
        connection_id: str,
        location_external_id: str | None,
        *,
        kinds: Collection[str],
        applied_since: datetime | None = None,
    ) -> list[OpenProposal]:
        """The store's proposals of ``kinds`` (``location_external_id`` None: those of every
        store of the connection) that are new, pending or approved (oldest first), and those
        applied since ``applied_since`` (none when it is None)."""
        ...


@dataclass(frozen=True)
class RiskScoreRow:
    """One scored till event (with the model and version that scored it)."""

    event_key: str  # "<event type>:<record id>": an event re-sent (any delivery id) scores once
    event_id: str  # the event data's id (sale id, refund id, ...)
    kind: str
    connection_id: str
    location_external_id: str
    employee_id: str | None
    occurred_at: datetime
    local_day: date
    currency: str
    amount: int
    score: float
    decision: str
    reasons: tuple[dict[str, Any], ...]
    model: str
    version: str
    scored_at: datetime
    # the supervised model's input as scored: what a label of the event trains on
    features: tuple[float, ...] | None = None


@dataclass(frozen=True)
class RiskCaseDraft:
    """A flagged event, as the risk workflow opens it in the review queue (state ``new``)."""

    id: str  # derived from the event: a redelivered event opens no second case
    score: RiskScoreRow
    record_id: str | None
    register_id: str | None
    customer_id: str | None
    severity: str
    summary: str
    sla_due: datetime
    event: dict[str, Any]  # the flattened event scored (JSON-ready), what a label learns from
    proposal_id: str | None = None  # require_manager: the approval waiting for a manager


@dataclass(frozen=True)
class RiskLabel:
    case_id: str
    event: dict[str, Any]
    label: bool  # True: confirmed
    decided_at: datetime
    learned_version: str | None = None
    features: tuple[float, ...] | None = None  # its score's; None: scored before they were kept


@dataclass(frozen=True)
class ScorerSnapshot:
    name: str
    data: bytes
    model: str
    version: str
    events_seen: int
    labels_learned: int
    saved_at: datetime


class RiskRepository(Protocol):
    """Scores, the review queue's cases, reviewers' labels, the scorer's snapshot."""

    def scored(self, event_key: str) -> bool:
        """Whether the event of ``event_key`` has a score already."""
        ...

    def record_score(self, score: RiskScoreRow) -> bool:
        """False when the event was already scored (nothing written)."""
        ...

    def open_case(self, case: RiskCaseDraft) -> bool:
        """False when a case for the event exists already (nothing written)."""
        ...

    def snapshot(self, name: str) -> ScorerSnapshot | None: ...

    def save_snapshot(self, snapshot: ScorerSnapshot) -> None: ...

    def labels(self, limit: int = 10_000) -> list[RiskLabel]:
        """Reviewers' labels, newest first, each with the features stored with its event's
        score."""
        ...

    def unlearned_count(self) -> int: ...

    def mark_learned(self, case_ids: Sequence[str], version: str, at: datetime) -> None: ...

    def recent_events(
        self, types: Collection[str], limit: int, *, processed_by: str | None = None
    ) -> list[Envelope]:
        """The newest ``limit`` canonical events of ``types`` (by event time), oldest first;
        with ``processed_by``, only those that consumer has handled."""
        ...


class UnitOfWork(Protocol):
    """One database transaction. ``with uow:`` commits on success, rolls back on error."""

    records: RecordRepository
    events: EventLog
    reporting: ReportingRepository
    replenishment: ReplenishmentRepository
    proposals: ProposalInbox
    risk: RiskRepository

    def mark_processed(self, consumer: str, message_id: str) -> bool:
        """Record that ``consumer`` handled ``message_id`` in this transaction; False when it
        already had (the handler must then do nothing: exactly-once in effect)."""
        ...

    def publish_after_commit(self, topic: str, message_id: str, payload: dict) -> None:
        """Outbox: queue a bus message in this transaction; a relay publishes it after commit."""
        ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
