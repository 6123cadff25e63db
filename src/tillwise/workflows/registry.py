"""The workflows that ship with Tillwise."""

from __future__ import annotations

from .base import Workflow
from .replenishment import Replenishment
from .reporting import DailySalesRollup
from .risk.workflow import RiskTriage, ScorerState
from .stock import StockCountCheck


def default_workflows(*, risk: ScorerState | None = None) -> list[Workflow]:
    """``risk``: the process's in-memory risk scorer (shared with ``POST /v1/risk/score``)."""
    return [DailySalesRollup(), StockCountCheck(), Replenishment(), RiskTriage(risk)]
