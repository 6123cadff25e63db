"""Customer identity and consent flags (personal data: tokenized before any external model)."""

from __future__ import annotations

from .ids import SourceRecord


class Customer(SourceRecord):
    kind: str = "customer"
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    country_code: str | None = None
    accepts_marketing: bool = False
