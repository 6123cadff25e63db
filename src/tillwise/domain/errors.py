"""Domain errors, each with a stable ``code`` that reaches the API as a problem type.

DomainError
├── InvalidMoney          amount or currency that cannot be represented exactly
├── InvalidGtin           bad length, non-digits or wrong check digit
└── InvalidTimeZone       not an IANA zone name
"""

from __future__ import annotations


class DomainError(ValueError):
    code = "domain_error"


class InvalidMoney(DomainError):
    code = "invalid_money"


class InvalidGtin(DomainError):
    code = "invalid_gtin"


class InvalidTimeZone(DomainError):
    code = "invalid_time_zone"
