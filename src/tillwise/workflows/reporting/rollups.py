"""Which local calendar day an instant falls on for a store (pure)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def local_day(instant: datetime, time_zone: str) -> date:
    """The store's local calendar day of a UTC instant (days are the store's, not UTC's)."""
    return instant.astimezone(ZoneInfo(time_zone)).date()
