"""Employees and their shifts."""

from __future__ import annotations

from datetime import datetime

from pydantic import model_validator

from .ids import SourceRecord


class Employee(SourceRecord):
    kind: str = "employee"
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    role: str | None = None
    active: bool = True
    location_external_ids: tuple[str, ...] = ()


class Shift(SourceRecord):
    kind: str = "shift"
    employee_external_id: str
    location_external_id: str | None = None
    starts_at: datetime
    ends_at: datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Shift:
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError("a shift cannot end before it starts")
        return self
