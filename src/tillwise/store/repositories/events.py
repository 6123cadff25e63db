"""The event log: canonical events as derived from deliveries, append-only, idempotent on id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from tillwise.domain.events import Envelope
from tillwise.ports.clock import Clock
from tillwise.ports.repositories import Page

from .. import mappers
from ..tables import events
from ._insert import insert_if_absent


class SqlEventLog:
    """Implements :class:`tillwise.ports.repositories.EventLog` inside a session."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def append(self, envelope: Envelope) -> bool:
        """False when an event with this id was already stored (nothing changes then)."""
        values = mappers.envelope_values(envelope, recorded_at=self._clock.now())
        return insert_if_absent(self._session, events, values)

    def list(
        self, *, type: str | None = None, connection_id: str | None = None, page: Page = Page()
    ) -> list[Envelope]:
        """Newest recorded first; ``page.after`` (an event id) continues after that event."""
        query = (
            select(events)
            .order_by(events.c.recorded_at.desc(), events.c.id.desc())
            .limit(page.limit)
        )
        if type is not None:
            query = query.where(events.c.type == type)
        if connection_id is not None:
            query = query.where(events.c.connection_id == connection_id)
        if page.after is not None:
            cursor = select(events.c.recorded_at).where(events.c.id == page.after)
            cursor_at = cursor.scalar_subquery()
            query = query.where(
                or_(
                    events.c.recorded_at < cursor_at,
                    and_(events.c.recorded_at == cursor_at, events.c.id < page.after),
                )
            )
        rows = self._session.connection().execute(query).mappings()
        return [mappers.envelope_from_row(row) for row in rows]

    def counts_by_type(self, since: datetime | None = None) -> dict[str, int]:
        """Events per type, of those recorded at or after ``since`` (all when None)."""
        query = select(events.c.type, func.count().label("n")).group_by(events.c.type)
        if since is not None:
            query = query.where(events.c.recorded_at >= mappers.utc(since))
        return {row.type: row.n for row in self._session.connection().execute(query)}
