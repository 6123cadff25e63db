"""Proposals as workflows make them: stored as ``new`` in the workflow's own transaction (so a
crash can neither lose one nor, with deterministic ids, store one twice); governance routes
them from there (see :mod:`tillwise.governance.approvals`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tillwise.domain.locations import store_key
from tillwise.domain.proposals import Proposal

from ..tables_governance import proposals
from ._insert import insert_if_absent

NEW = "new"


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
