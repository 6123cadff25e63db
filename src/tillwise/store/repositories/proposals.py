"""Proposals as workflows make them: stored as ``new`` in the workflow's own transaction (so a
crash can neither lose one nor, with deterministic ids, store one twice); governance routes
them from there (see :mod:`tillwise.governance.approvals`)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from tillwise.domain.locations import store_key
from tillwise.domain.proposals import Proposal
from tillwise.ports.repositories import OpenProposal

from .. import mappers
from ..tables_governance import proposals
from ._insert import insert_if_absent

NEW = "new"
IN_PLAY = ("new", "pending", "approved")
APPLIED = "applied"


def proposal_row(proposal: Proposal, *, status: str, now: datetime) -> dict[str, Any]:
    """The ``proposals`` row for a proposal as first stored (one definition for every writer)."""
    store = (
        store_key(proposal.connection_id, proposal.location_external_id)
        if proposal.location_external_id
        else None
    )
    return {
        "id": proposal.id,
        "kind": proposal.kind,
        "workflow": proposal.workflow,
        "connection_id": proposal.connection_id,
        "store": store,
        "status": status,
        "mode": None,
        "created_at": proposal.created_at,
        "updated_at": now,
        "expires_at": None,
        "proposed_by": proposal.proposed_by or f"workflow:{proposal.workflow}",
        "value_amount": None if proposal.value is None else proposal.value.amount,
        "value_currency": None if proposal.value is None else proposal.value.currency,
        "required_role": None,
        "required_approvals": 1,
        "approvals": [],
        "data": proposal.model_dump(mode="json"),
        "decided_by": None,
        "decided_at": None,
        "reason": None,
        "result": None,
    }


class SqlProposalInbox:
    """Implements :class:`tillwise.ports.repositories.ProposalInbox`."""

    def __init__(self, session: Session, now: Any) -> None:
        self._session = session
        self._now = now

    def add(self, proposal: Proposal) -> bool:
        return insert_if_absent(
            self._session, proposals, proposal_row(proposal, status=NEW, now=self._now())
        )

    def in_play(
        self,
        connection_id: str,
        location_external_id: str | None,
        *,
        kinds: Collection[str],
        applied_since: datetime | None = None,
    ) -> list[OpenProposal]:
        p = proposals.c
        status: ColumnElement[bool] = p.status.in_(IN_PLAY)
        if applied_since is not None:
            status = or_(status, and_(p.status == APPLIED, p.updated_at >= applied_since))
        where = (
            p.connection_id == connection_id
            if location_external_id is None
            else p.store == store_key(connection_id, location_external_id)
        )
        query = (
            select(p.data, p.status, p.updated_at, p.result)
            .where(where)
            .where(p.kind.in_(sorted(kinds)))
            .where(status)
            .order_by(p.created_at, p.id)
        )
        out = []
        for data, state, updated_at, result in self._session.connection().execute(query):
            when = mappers.utc(updated_at)
            assert when is not None
            out.append(
                OpenProposal(
                    proposal=Proposal.model_validate(data),
                    status=state,
                    updated_at=when,
                    result=result,
                )
            )
        return out
