"""SQL implementations of :mod:`tillwise.ports.repositories` (SQLite and PostgreSQL alike)."""

from .events import SqlEventLog
from .records import SqlRecordRepository
from .reporting import SqlReportingRepository

__all__ = ["SqlEventLog", "SqlRecordRepository", "SqlReportingRepository"]
