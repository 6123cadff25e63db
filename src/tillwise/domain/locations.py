"""Store locations, each with its IANA time zone (days for reporting are the store's local days)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from .errors import InvalidTimeZone
from .ids import SourceRecord


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "Europe", a folder
        raise InvalidTimeZone(f"{name!r} is not an IANA time zone") from exc
    return name


class Location(SourceRecord):
    kind: str = "location"
    name: str
    time_zone: str = "UTC"
    country_code: str | None = Field(default=None, min_length=2, max_length=2)
    currency: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_time_zone(v)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def store_key(connection_id: str, location_external_id: str) -> str:
    """How governance names a store: ``<connection_id>:<location_external_id>`` (unique across
    connections, readable in the audit log and in user scopes)."""
    return f"{connection_id}:{location_external_id}"
