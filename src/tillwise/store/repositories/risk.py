"""Scores, the review queue, labels and the scorer's snapshot (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tillwise.domain.events import Envelope
from tillwise.domain.locations import store_key
from tillwise.ports.repositories import (
    RiskCaseDraft,
    RiskLabel,
    RiskScoreRow,
    ScorerSnapshot,
)

from .. import mappers
from ..tables import events, processed_messages
from ..tables_risk import risk_cases, risk_labels, risk_scorer_state, risk_scores
from ._insert import insert_for, insert_if_absent


def _score_values(score: RiskScoreRow) -> dict[str, object]:
    return {
        "event_key": score.event_key,
        "event_id": score.event_id,
        "kind": score.kind,
        "connection_id": score.connection_id,
        "location_external_id": score.location_external_id,
        "employee_id": score.employee_id,
        "occurred_at": score.occurred_at,
        "local_day": score.local_day,
        "currency": score.currency,
        "amount": score.amount,
        "score": score.score,
        "decision": score.decision,
        "reasons": list(score.reasons),
        "model": score.model,
        "version": score.version,
        "scored_at": score.scored_at,
        "features": None if score.features is None else list(score.features),
    }


class SqlRiskRepository:
    """Implements :class:`tillwise.ports.repositories.RiskRepository` in a session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def scored(self, event_key: str) -> bool:
        query = select(risk_scores.c.event_key).where(risk_scores.c.event_key == event_key)
        return self._session.connection().execute(query).first() is not None

    def record_score(self, score: RiskScoreRow) -> bool:
        return insert_if_absent(self._session, risk_scores, _score_values(score))

    def open_case(self, case: RiskCaseDraft) -> bool:
        s = case.score
        values = {
            "id": case.id,
            "connection_id": s.connection_id,
            "location_external_id": s.location_external_id,
            "store": store_key(s.connection_id, s.location_external_id),
            "event_key": s.event_key,
            "event_id": s.event_id,
            "kind": s.kind,
            "record_id": case.record_id,
            "employee_id": s.employee_id,
            "register_id": case.register_id,
            "customer_id": case.customer_id,
            "occurred_at": s.occurred_at,
            "local_day": s.local_day,
            "currency": s.currency,
            "amount": s.amount,
            "score": s.score,
            "decision": s.decision,
            "severity": case.severity,
            "reasons": list(s.reasons),
            "model": s.model,
            "version": s.version,
            "summary": case.summary,
            "event": case.event,
            "state": "new",
            "owner": None,
            "sla_due": case.sla_due,
            "proposal_id": case.proposal_id,
            "created_at": s.scored_at,
            "updated_at": s.scored_at,
        }
        return insert_if_absent(self._session, risk_cases, values)

    def snapshot(self, name: str) -> ScorerSnapshot | None:
        row = (
            self._session.connection()
            .execute(select(risk_scorer_state).where(risk_scorer_state.c.name == name))
            .first()
        )
        if row is None:
            return None
        return ScorerSnapshot(
            name=row.name,
            data=bytes(row.data),
            model=row.model,
            version=row.version,
            events_seen=row.events_seen,
            labels_learned=row.labels_learned,
            saved_at=mappers.utc(row.saved_at) or row.saved_at,
        )

    def save_snapshot(self, snapshot: ScorerSnapshot) -> None:
        values = {
            "name": snapshot.name,
            "data": snapshot.data,
            "model": snapshot.model,
            "version": snapshot.version,
            "events_seen": snapshot.events_seen,
            "labels_learned": snapshot.labels_learned,
            "saved_at": snapshot.saved_at,
        }
        insert = insert_for(self._session, risk_scorer_state).values(values)
        changed = {k: v for k, v in values.items() if k != "name"}
        self._session.connection().execute(
            insert.on_conflict_do_update(index_elements=["name"], set_=changed)
        )

    def labels(self, limit: int = 10_000) -> list[RiskLabel]:
        scored = risk_labels.outerjoin(
            risk_cases, risk_cases.c.id == risk_labels.c.case_id
        ).outerjoin(risk_scores, risk_scores.c.event_key == risk_cases.c.event_key)
        rows = self._session.connection().execute(
            select(risk_labels, risk_scores.c.features)
            .select_from(scored)
            .order_by(risk_labels.c.decided_at.desc(), risk_labels.c.case_id)
            .limit(limit)
        )
        return [
            RiskLabel(
                case_id=r.case_id,
                event=dict(r.event),
                label=bool(r.label),
                decided_at=mappers.utc(r.decided_at) or r.decided_at,
                learned_version=r.learned_version,
                features=None if r.features is None else tuple(r.features),
            )
            for r in rows
        ]

    def unlearned_count(self) -> int:
        query = select(func.count()).where(risk_labels.c.learned_version.is_(None))
        return int(self._session.connection().execute(query).scalar_one())

    def mark_learned(self, case_ids: Sequence[str], version: str, at: datetime) -> None:
        if not case_ids:
            return
        self._session.connection().execute(
            update(risk_labels)
            .where(risk_labels.c.case_id.in_(list(case_ids)))
            .where(risk_labels.c.learned_version.is_(None))
            .values(learned_version=version, learned_at=at)
        )

    def recent_events(
        self, types: Collection[str], limit: int, *, processed_by: str | None = None
    ) -> list[Envelope]:
        query = select(events).where(events.c.type.in_(sorted(types)))
        if processed_by is not None:
            handled = select(processed_messages.c.message_id).where(
                processed_messages.c.consumer == processed_by
            )
            query = query.where(events.c.id.in_(handled))
        newest = query.order_by(events.c.time.desc(), events.c.id.desc()).limit(limit).subquery()
        rows = self._session.connection().execute(
            select(newest).order_by(newest.c.time, newest.c.id)
        )
        return [mappers.envelope_from_row(r._mapping) for r in rows]
