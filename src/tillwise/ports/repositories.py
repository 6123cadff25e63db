"""Repositories over the canonical store, and the unit of work that bounds a transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, TypeVar

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
    ) -> list[R]:
        """``stores``: only records of those (connection id, location external id) pairs."""
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


class ProposalInbox(Protocol):
    def add(self, proposal: Proposal) -> bool:
        """Store a workflow's proposal for governance to route (False: already stored)."""
        ...


class UnitOfWork(Protocol):
    """One database transaction. ``with uow:`` commits on success, rolls back on error."""

    records: RecordRepository
    events: EventLog
    reporting: ReportingRepository
    proposals: ProposalInbox

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
