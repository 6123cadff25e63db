"""Multi-store reporting: rollups of sales per store per local day."""

from .workflow import DailySalesRollup

__all__ = ["DailySalesRollup"]
