"""The workflows that ship with Tillwise."""

from __future__ import annotations

from .base import Workflow
from .replenishment import Replenishment
from .reporting import DailySalesRollup
from .stock import StockCountCheck


def default_workflows() -> list[Workflow]:
    return [DailySalesRollup(), StockCountCheck(), Replenishment()]
