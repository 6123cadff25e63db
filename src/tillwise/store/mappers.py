"""Row ↔ domain conversion, in one place.

Records are read back from their ``data`` document (``model_dump(mode="json")``), so Decimals
(kept as strings) and Money (integer minor units) survive exactly; the other columns of a record
row are copies for queries. Times are stored in UTC, in columns and documents alike (a naive time
is taken to be UTC), and come back timezone-aware UTC, also from SQLite, whose DATETIME keeps no
offset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import RowMapping

from tillwise.domain.events import Envelope
from tillwise.domain.ids import SourceRecord

from .tables import RECORD_COLUMNS, record_table

R = TypeVar("R", bound=SourceRecord)
D = TypeVar("D")

# Query columns that are not simply the record's attribute of the same name.
_DERIVED: dict[str, Callable[[Any], Any]] = {
    "total_amount": lambda record: record.total.amount,
    "issue_count": lambda record: len(record.issues),
    "amount_minor": lambda record: record.amount.amount,
}


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC; a naive value is taken to be UTC already (that is how it is stored)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def with_utc_times(value: Any) -> Any:
    """``value`` with every datetime in it (nested models and tuples too) converted to UTC."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return value.model_copy(
            update={name: with_utc_times(getattr(value, name)) for name in fields}
        )
    if isinstance(value, tuple):
        return tuple(with_utc_times(item) for item in value)
    return value


def record_values(record: SourceRecord) -> dict[str, Any]:
    """Column values of a record's row, except ``first_seen_at`` / ``updated_at``."""
    table = record_table(type(record))
    record = with_utc_times(record)
    values: dict[str, Any] = {
        "id": record.id,
        "platform": record.source.platform,
        "connection_id": record.source.connection_id,
        "external_id": record.source.external_id,
        "source_version": record.source_version,
        "source_updated_at": record.source_updated_at,
        "data": record.model_dump(mode="json"),
    }
    for column in table.columns:
        if column.name not in RECORD_COLUMNS:
            get = _DERIVED.get(column.name)
            value = get(record) if get else getattr(record, column.name)
            values[column.name] = value
    return values


def record_from_data(record_type: type[R], data: Mapping[str, Any]) -> R:
    return record_type.model_validate(data)


def envelope_values(envelope: Envelope, recorded_at: datetime) -> dict[str, Any]:
    return {
        "id": envelope.id,
        "type": envelope.type,
        "source": envelope.source,
        "subject": envelope.subject,
        "time": utc(envelope.time),
        "platform": envelope.platform,
        "connection_id": envelope.connectionid,
        "data": envelope.data,
        "recorded_at": utc(recorded_at),
    }


def envelope_from_row(row: RowMapping) -> Envelope:
    return Envelope(
        id=row["id"],
        type=row["type"],
        source=row["source"],
        subject=row["subject"],
        time=utc(row["time"]),
        platform=row["platform"],
        connectionid=row["connection_id"],
        data=row["data"],
    )


def dataclass_from_row(cls: type[D], row: RowMapping) -> D:
    """A port dataclass (DailySales, SalesContribution, ...) from a row with its field names."""
    return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})  # type: ignore[arg-type]
