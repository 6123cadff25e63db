"""Money as integer minor units plus an ISO 4217 code; never a float.

The exponent (number of minor-unit digits) comes from ISO 4217. Conversions from decimal
strings are exact: a value with more fractional digits than the currency allows is rejected
unless a rounding mode is named explicitly.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import InvalidMoney

# ISO 4217 minor-unit exponents that differ from 2 (all others active codes use 2).
# The largest amount a person or a file may enter (a price, a cost, a threshold): a trillion
# in any currency. Above it is a typo — and 1e30 would overflow the arithmetic of an order.
MAX_AMOUNT = Decimal(10**12)

_EXPONENTS: dict[str, int] = {
    # zero-decimal
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # three-decimal
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # four-decimal
    "CLF": 4,
    "UYW": 4,
}
# Active ISO 4217 codes with two decimals (the common case); unknown codes are rejected.
_TWO_DECIMAL = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR
    LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD
    PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UZS VES WST XCD YER ZAR ZMW ZWL
    """.split()  # noqa: SIM905
)

# The symbols English (CLDR "en") writes for the currencies a reader knows by sign; the others
# are written with their code.
_SYMBOLS: dict[str, str] = {
    "GBP": "£",
    "USD": "$",
    "EUR": "€",
    "JPY": "¥",
    "AUD": "A$",
    "CAD": "CA$",
    "NZD": "NZ$",
    "HKD": "HK$",
    "INR": "₹",
    "CNY": "CN¥",
    "KRW": "₩",
    "ILS": "₪",
    "MXN": "MX$",
    "BRL": "R$",
    "TWD": "NT$",
    "VND": "₫",
    "PHP": "₱",
    "XAF": "FCFA",
    "XCD": "EC$",
}

CurrencyCode = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]


def exponent(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (JPY 0, USD 2, KWD 3)."""
    code = currency.upper()
    if code in _EXPONENTS:
        return _EXPONENTS[code]
    if code in _TWO_DECIMAL:
        return 2
    raise InvalidMoney(f"unknown ISO 4217 currency code {currency!r}")


class Money(BaseModel):
    """An exact amount: ``amount`` minor units of ``currency``."""

    model_config = ConfigDict(frozen=True)

    amount: int
    currency: CurrencyCode

    @field_validator("amount", mode="before")
    @classmethod
    def _no_floats(cls, v: Any) -> Any:
        if isinstance(v, float | bool):
            raise InvalidMoney("money amounts are integer minor units, not floats")
        return v

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, v: str) -> str:
        exponent(v)
        return v

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount=0, currency=currency)

    @classmethod
    def from_decimal(
        cls, value: str | int | Decimal, currency: str, *, rounding: str | None = None
    ) -> Money:
        """Exact conversion of a decimal major-unit value ("29.99", Decimal) to minor units.

        Floats are refused: pass the string the POS sent. With ``rounding`` (a ``decimal``
        rounding mode such as ``ROUND_HALF_EVEN``) extra digits are rounded instead of refused.
        """
        if isinstance(value, float | bool):
            raise InvalidMoney("pass decimal strings, not floats, to Money.from_decimal")
        try:
            dec = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise InvalidMoney(f"not a decimal amount: {value!r}") from exc
        if not dec.is_finite():
            raise InvalidMoney(f"not a finite amount: {value!r}")
        exp = exponent(currency)
        scaled = dec.scaleb(exp)
        if scaled != scaled.to_integral_value():
            if rounding is None:
                raise InvalidMoney(
                    f"{value!r} has more than {exp} decimal places for {currency.upper()}"
                )
            scaled = scaled.quantize(Decimal(1), rounding=rounding)
        return cls(amount=int(scaled), currency=currency.upper())

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-exponent(self.currency))

    def __str__(self) -> str:
        exp = exponent(self.currency)
        return f"{self.to_decimal():.{exp}f} {self.currency}"

    def display(self) -> str:
        """For people: grouped digits and the currency's English symbol where it has one that
        no other currency shares ("£19,885.50", "-$3.00", "¥1,200", "CA$12.00"); otherwise the
        code after the amount ("1,234.500 KWD"). ``str()`` stays the plain "19885.50 GBP"."""
        exp = exponent(self.currency)
        digits = f"{abs(self.to_decimal()):,.{exp}f}"
        sign = "-" if self.amount < 0 else ""
        symbol = _SYMBOLS.get(self.currency)
        return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {self.currency}"

    @staticmethod
    def written(currency: str) -> re.Pattern[str]:
        """An amount of ``currency`` as :meth:`display` or ``str()`` writes it, in a text."""
        code = currency.upper()
        number = r"\d[\d,]*(?:\.\d+)?"
        forms = [rf"-?{number} {code}\b"]
        if code in _SYMBOLS:
            forms.insert(0, rf"-?{re.escape(_SYMBOLS[code])}{number}")
        return re.compile("|".join(forms))

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidMoney(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def times(self, quantity: int | Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Multiply by a quantity (integer or decimal, e.g. weighed goods), rounding half-even."""
        if isinstance(quantity, float):
            raise InvalidMoney("quantities multiplying money must be int or Decimal")
        value = (Decimal(self.amount) * Decimal(quantity)).quantize(Decimal(1), rounding=rounding)
        return Money(amount=int(value), currency=self.currency)

    def allocate(self, ratios: list[int]) -> list[Money]:
        """Split into parts proportional to ``ratios`` without losing a minor unit."""
        if not ratios or any(r < 0 for r in ratios) or sum(ratios) == 0:
            raise InvalidMoney("allocation ratios must be non-negative and not all zero")
        total = sum(ratios)
        parts = [self.amount * r // total for r in ratios]
        remainder = self.amount - sum(parts)
        for i in range(abs(remainder)):
            parts[i % len(parts)] += 1 if remainder > 0 else -1
        return [Money(amount=p, currency=self.currency) for p in parts]


def sum_money(items: list[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for m in items:
        total = total + m
    return total
