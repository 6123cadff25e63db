"""The unit of work: one database transaction around the repositories, the processed-message
marks and the outbox.

``with factory() as uow:`` commits when the block ends normally and rolls back when it raises.
Outbox rows are written in the same transaction as the effect that caused them, so nothing
reaches the bus for a write that rolled back; after a commit that wrote outbox rows the factory's
``on_commit`` hook is called (the relay uses it to wake up at once instead of at its next poll).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tillwise.ports.clock import Clock, SystemClock
from tillwise.ports.repositories import (
    EventLog,
    ProposalInbox,
    RecordRepository,
    ReplenishmentRepository,
    ReportingRepository,
    RiskRepository,
)

from .repositories import SqlEventLog, SqlRecordRepository, SqlReportingRepository
from .repositories._insert import insert_if_absent
from .repositories.proposals import SqlProposalInbox
from .repositories.replenishment import SqlReplenishmentRepository
from .repositories.risk import SqlRiskRepository
from .tables import outbox, processed_messages

log = logging.getLogger(__name__)


class SqlUnitOfWork:
    """Implements :class:`tillwise.ports.repositories.UnitOfWork`; use once, in a ``with``."""

    def __init__(
        self,
        session: Session,
        *,
        clock: Clock,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._session = session
        self._clock = clock
        self._on_commit = on_commit
        self._outbox_rows = 0
        self.records: RecordRepository = SqlRecordRepository(session, clock)
        self.events: EventLog = SqlEventLog(session, clock)
        self.reporting: ReportingRepository = SqlReportingRepository(session)
        self.replenishment: ReplenishmentRepository = SqlReplenishmentRepository(session)
        self.proposals: ProposalInbox = SqlProposalInbox(session, clock.now)
        self.risk: RiskRepository = SqlRiskRepository(session)

    def __enter__(self) -> SqlUnitOfWork:
        self._session.begin()
        return self

    def __exit__(self, *exc: object) -> None:
        failed = exc[0] is not None
        try:
            if not failed:
                self._session.commit()
            else:
                self._session.rollback()
        finally:
            self._session.close()
        if not failed and self._outbox_rows and self._on_commit is not None:
            try:
                self._on_commit()
            except Exception:  # the commit stands; the relay still finds the rows by polling
                log.exception("on_commit hook failed after a successful commit")

    def mark_processed(self, consumer: str, message_id: str) -> bool:
        """Record that ``consumer`` handled ``message_id``; False when it already had."""
        return insert_if_absent(
            self._session,
            processed_messages,
            {"consumer": consumer, "message_id": message_id, "processed_at": self._clock.now()},
        )

    def publish_after_commit(self, topic: str, message_id: str, payload: dict[str, Any]) -> None:
        """Queue a bus message in this transaction (once per ``message_id``)."""
        row = {
            "topic": topic,
            "message_id": message_id,
            "payload": payload,
            "created_at": self._clock.now(),
        }
        if insert_if_absent(self._session, outbox, row):
            self._outbox_rows += 1


class SqlUnitOfWorkFactory:
    """Implements :class:`tillwise.ports.repositories.UnitOfWorkFactory`: each call is a new
    unit of work on a new session."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        on_commit: Callable[[], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._on_commit = on_commit
        self._clock = clock or SystemClock()

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._session_factory(), clock=self._clock, on_commit=self._on_commit)
