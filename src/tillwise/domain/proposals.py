"""Proposals: what a workflow wants done. Governance decides what happens to each
(off / shadow / draft for approval / auto); later workflows add their own kinds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Proposal(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    kind: str  # e.g. "stock_adjustment", "draft_purchase_order"
    workflow: str
    connection_id: str
    location_external_id: str | None = None
    created_at: datetime
    summary: str
    payload: dict[str, Any] = Field(default_factory=dict)
