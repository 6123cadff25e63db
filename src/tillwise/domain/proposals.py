"""Proposals: what a workflow (or a person) wants done to the POS.

Governance decides what happens to each — per store and workflow a mode: off, shadow (kept and
logged, nothing written), draft (waits for approval), auto (written at once within limits) —
and the connector's write-back carries out the approved ones. Later workflows add their own
kinds (``draft_purchase_order``, ``transfer``, ``discount``, ``risk_decision``, ``schedule``,
``return_draft``, ``customer_note``); the first real kind is ``stock_adjustment``.

A proposal's ``id`` is deterministic in what it was computed from (the triggering event and
the workflow), so a redelivered event proposes the same thing once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .money import Money

_NAMESPACE = uuid.UUID("0d8f7a52-61c4-4b8e-a1f0-3c2e9b7d5a14")


class ProposalKind(StrEnum):
    STOCK_ADJUSTMENT = "stock_adjustment"
    DRAFT_PURCHASE_ORDER = "draft_purchase_order"
    TRANSFER = "transfer"
    DISCOUNT = "discount"
    CUSTOMER_NOTE = "customer_note"
    RISK_DECISION = "risk_decision"
    SCHEDULE = "schedule"
    RETURN_DRAFT = "return_draft"


class Proposal(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    kind: str  # a ProposalKind value
    workflow: str  # the workflow's name, or "manual" for a person's proposal
    workflow_version: str = ""
    proposed_by: str = ""  # audit actor: "workflow:<name>@<version>" or "user:<id>"
    connection_id: str
    location_external_id: str | None = None
    created_at: datetime
    summary: str
    explanation: str = ""  # deterministic: why, from structured facts
    payload: dict[str, Any] = Field(default_factory=dict)  # what would be written
    value: Money | None = None  # what it is worth, for approval thresholds
    new_vendor: bool = False  # e.g. a purchase order to a vendor never ordered from
    inputs: dict[str, Any] = Field(default_factory=dict)  # what it was computed from


def proposal_id(workflow: str, kind: str, key: str) -> str:
    """Deterministic id: the same workflow, kind and key (e.g. the triggering event id) always
    give the same proposal id."""
    return str(uuid.uuid5(_NAMESPACE, f"{workflow}\x1f{kind}\x1f{key}"))
