"""Vendor terms as a CSV file: what ``tillwise vendors import`` reads and ``export`` writes.

One row per vendor and SKU (a row without ``sku`` gives vendor terms only); the columns,
each shown with an example value::

    vendor               vendor:apple          review_period_days   7
    vendor_name          Apple                 min_order_value      250.00
    email                orders@apple.example  currency             GBP
    lead_time_days       21                    sku                  IPOD2008PINK
    unit_cost            120.00                case_pack            6
    moq                  12                    vendor_sku           MB-PINK

* ``vendor`` (required): the vendor's id in Tillwise (``tillwise vendors export`` lists them;
  Shopify's is ``vendor:<name in lower case>``) or its name as the POS spells it (matched
  ignoring case and spacing). A vendor neither the POS nor earlier terms know is new: its id
  is ``vendor:<name in lower case>`` (Shopify's rule, so the products naming it later match)
  and its name ``vendor_name`` or the ``vendor`` cell.
* Vendor columns (``vendor_name``, ``email``, ``lead_time_days`` 0–365,
  ``review_period_days`` 1–90: its order cycle, the days between orders to it, in place of
  the store's review period; ``min_order_value``) may be on any of the vendor's rows; two rows
  giving different values is an error.
* Item columns: ``unit_cost``, ``case_pack`` (whole, at least 1), ``moq`` (whole, at least 0),
  ``vendor_sku``. Amounts are in ``currency`` (the row's, else ``--currency``).
* An empty cell changes nothing; only what is given is imported. ``POS`` in a term's cell
  (any column above but ``vendor``, ``vendor_name``, ``currency`` and ``sku``) takes back what
  was set in Tillwise, so plans use the POS's value again — as ``null`` does in the API.
  Column names are matched ignoring case; an unknown column is an error (a typo would
  otherwise be ignored silently).

Every error names the file, the row (the header is row 1) and the column, and nothing is
imported while any remains (:class:`InvalidTermsFile` lists up to :data:`MAX_ERRORS`).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tillwise.domain.catalog import Cleared, ItemTerms, Vendor, VendorTerms
from tillwise.domain.money import MAX_AMOUNT, Money, exponent
from tillwise.ports.repositories import UnitOfWork

from .planner import vendors_with_terms

VENDOR_COLUMNS = (
    "vendor",
    "vendor_name",
    "email",
    "lead_time_days",
    "review_period_days",
    "min_order_value",
)
ITEM_COLUMNS = ("sku", "unit_cost", "case_pack", "moq", "vendor_sku")
COLUMNS = (*VENDOR_COLUMNS, "currency", *ITEM_COLUMNS)
MAX_ERRORS = 20
SHOWN = 60  # characters of a bad cell an error message repeats
MAX_VENDOR_ID = 255
# characters a cell may hold, per column (as the terms keep them); other columns: numbers
TEXT_LIMITS = {
    "vendor": MAX_VENDOR_ID,
    "vendor_name": 255,
    "email": 320,
    "sku": 128,
    "vendor_sku": 128,
}
DEFAULT_LIMIT = 64
WHOLE = re.compile(r"[-+]?[0-9]+")
AMOUNT = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")  # 12, 12.5, 12., .5
BACK = "POS"  # a term's cell that takes it back to the POS's value (compared ignoring case)
CLEARABLE = VENDOR_COLUMNS[2:]  # the vendor's terms: not its id or name
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidTermsFile(ValueError):
    """What is wrong with a terms file, cell by cell (``errors``: one message each, the first
    ``MAX_ERRORS``; ``total``: how many there were)."""

    def __init__(self, errors: list[str], total: int | None = None) -> None:
        self.errors = errors
        self.total = len(errors) if total is None else total
        more = "" if self.total <= len(errors) else f"\n(the first {len(errors)} shown)"
        super().__init__("\n".join(errors) + more)


@dataclass(frozen=True)
class TermsFile:
    """What a terms file says: the terms it sets per vendor (in the file's order), and the ones
    it takes back to the POS's values (vendor id → :class:`Cleared`)."""

    terms: list[VendorTerms]
    cleared: dict[str, Cleared]


def vendor_key(name: str) -> str:
    """A vendor name compared ignoring case and spacing."""
    return " ".join(name.split()).casefold()


def new_vendor_id(name: str) -> str:
    """The id of a vendor first named in a terms file (Shopify's rule for a product vendor)."""
    return f"vendor:{vendor_key(name)}"


@dataclass
class _Reading:
    source: str
    currency: str | None
    errors: list[str] = field(default_factory=list)
    total: int = 0

    def bad(self, row: int, column: str, why: str, value: object) -> None:
        self.total += 1
        if len(self.errors) < MAX_ERRORS:
            if isinstance(value, str) and len(value) > SHOWN:
                value = value[:SHOWN] + "…"
            self.errors.append(
                f"{self.source}: row {row}, column {column!r}: {why} (got {value!r})"
            )

    def text(self, row: int, cell: Mapping[str, str]) -> bool:
        """Whether every cell of the row fits its column: no control characters (a NUL ends
        up nowhere good), no more characters than the column holds."""
        fits = True
        for column, value in cell.items():
            limit = TEXT_LIMITS.get(column, DEFAULT_LIMIT)
            if any(unicodedata.category(ch) == "Cc" for ch in value):
                self.bad(row, column, "contains a control character", value)
                fits = False
            elif len(value) > limit:
                self.bad(row, column, f"at most {limit} characters (got {len(value)})", value)
                fits = False
        return fits

    def whole(self, row: int, column: str, text: str, low: int, high: int) -> int | None:
        if not WHOLE.fullmatch(text):  # int() would take "1_0" as 10
            self.bad(row, column, "not a whole number", text)
            return None
        value = int(text)
        if not low <= value <= high:
            self.bad(row, column, f"must be between {low} and {high}", text)
            return None
        return value

    def money(self, row: int, column: str, text: str, currency: str | None) -> Money | None:
        if not AMOUNT.fullmatch(text):  # Decimal() would take "1_0", "1e3", "NaN"
            self.bad(row, column, "not an amount", text)
            return None
        amount = Decimal(text)
        if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT:
            self.bad(row, column, f"must be an amount from 0 to {MAX_AMOUNT:,}", text)
            return None
        if currency is None:
            self.bad(row, column, "an amount needs a currency column or --currency", text)
            return None
        try:
            exponent(currency)
        except ValueError as exc:  # the currency is what is wrong
            self.bad(row, "currency", _reason(exc), currency)
            return None
        try:
            return Money.from_decimal(amount, currency)
        except (ValueError, ValidationError) as exc:  # the amount is (too many decimals)
            self.bad(row, column, _reason(exc), text)
            return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return str(exc.errors()[0].get("msg", exc))
    return str(exc)


def read_terms(path: Path, *, known: Mapping[str, str], currency: str | None = None) -> TermsFile:
    """The terms of ``path`` per vendor, and those it takes back. ``known``: vendor id → name of
    the vendors the POS or earlier terms know. Raises :class:`InvalidTermsFile`."""
    reading = _Reading(str(path), currency.upper() if currency else None)
    by_name = {vendor_key(name): vid for vid, name in known.items()}
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidTermsFile([f"{path}: cannot be read as a UTF-8 CSV file: {exc}"]) from None
    if not rows:
        raise InvalidTermsFile([f"{path}: the file is empty (expected a header row)"])
    header = [h.strip().lower() for h in rows[0]]
    unknown = [h for h in header if h not in COLUMNS]
    twice = [h for k, h in enumerate(header) if h in header[:k]]
    if twice:  # one of the two would be read and the other's values silently lost
        raise InvalidTermsFile([f"{path}: row 1: the column {twice[0]!r} is named twice"])
    if unknown or "vendor" not in header:
        why = f"unknown column {unknown[0]!r}" if unknown else "the column 'vendor' is missing"
        raise InvalidTermsFile([f"{path}: row 1: {why}; the columns are {', '.join(COLUMNS)}"])
    vendors: dict[str, dict[str, Any]] = {}
    seen: dict[tuple[str, str], tuple[int, Any]] = {}  # (vendor, column) → (row, value)
    items: dict[str, dict[str, ItemTerms]] = {}
    back: dict[str, set[str]] = {}  # vendor id → vendor terms taken back
    items_back: dict[str, dict[str, set[str]]] = {}  # vendor id → sku → item terms taken back
    for number, raw in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) != len(header):
            reading.bad(number, "*", f"{len(raw)} cells for {len(header)} columns", ",".join(raw))
            continue
        cell = {h: v.strip() for h, v in zip(header, raw, strict=True)}
        if not reading.text(number, cell):
            continue
        if not cell["vendor"]:
            reading.bad(number, "vendor", "required", "")
            continue
        vid = _resolve(cell["vendor"], known, by_name)
        if len(vid) > MAX_VENDOR_ID:  # a new vendor's id is its name, prefixed
            most = MAX_VENDOR_ID - len(new_vendor_id(""))
            why = f"a new vendor's name is at most {most} characters"
            reading.bad(number, "vendor", why, cell["vendor"])
            continue
        row_currency = (cell.get("currency") or "").upper() or reading.currency
        terms = vendors.setdefault(vid, {"vendor_external_id": vid})
        if vid not in known:  # a new vendor: named by its first row unless vendor_name says
            terms.setdefault("name", cell["vendor"])
        values: dict[str, Any] = {}
        for column in CLEARABLE:
            if cell.get(column, "").upper() == BACK:
                cell[column] = ""
                values[column] = BACK
                back.setdefault(vid, set()).add(column)
        if cell.get("vendor_name"):
            values["name"] = cell["vendor_name"]
        if cell.get("email"):
            if EMAIL.match(cell["email"]):
                values["email"] = cell["email"]
            else:
                reading.bad(number, "email", "not an e-mail address", cell["email"])
        if cell.get("lead_time_days"):
            values["lead_time_days"] = reading.whole(
                number, "lead_time_days", cell["lead_time_days"], 0, 365
            )
        if cell.get("review_period_days"):
            values["review_period_days"] = reading.whole(
                number, "review_period_days", cell["review_period_days"], 1, 90
            )
        if cell.get("min_order_value"):
            values["min_order_value"] = reading.money(
                number, "min_order_value", cell["min_order_value"], row_currency
            )
        for name, value in values.items():
            if value is None:
                continue
            first = seen.setdefault((vid, name), (number, value))
            if first[1] != value:
                column = "vendor_name" if name == "name" else name
                reading.bad(number, column, f"differs from row {first[0]} ({first[1]})", value)
            if value != BACK:
                terms[name] = value
        if cell.get("sku"):
            taken = {c for c in ITEM_COLUMNS[1:] if cell.get(c, "").upper() == BACK}
            if taken:
                items_back.setdefault(vid, {}).setdefault(cell["sku"], set()).update(taken)
                cell.update(dict.fromkeys(taken, ""))
            item = _item(reading, number, cell, row_currency)
            if item is not None and (not taken or any(cell.get(c) for c in ITEM_COLUMNS[1:])):
                got = items.setdefault(vid, {})
                if item.sku in got:
                    reading.bad(number, "sku", "listed twice for this vendor", item.sku)
                got[item.sku] = item
        else:
            given = [c for c in ITEM_COLUMNS[1:] if cell.get(c)]
            if given:
                reading.bad(number, given[0], "an item's term needs the row's sku", cell[given[0]])
    if reading.errors:
        raise InvalidTermsFile(reading.errors, reading.total)
    return TermsFile(
        terms=[
            VendorTerms(**terms, items=tuple(items.get(vid, {}).values()))
            for vid, terms in vendors.items()
        ],
        cleared={
            vid: Cleared(
                frozenset(back.get(vid, ())),
                {sku: frozenset(fs) for sku, fs in items_back.get(vid, {}).items()},
            )
            for vid in {*back, *items_back}
        },
    )


def _resolve(text: str, known: Mapping[str, str], by_name: Mapping[str, str]) -> str:
    if text in known:
        return text
    return by_name.get(vendor_key(text)) or new_vendor_id(text)


def _item(
    reading: _Reading, row: int, cell: Mapping[str, str], currency: str | None
) -> ItemTerms | None:
    before = len(reading.errors)
    sku = cell["sku"]
    cost = cell.get("unit_cost")
    pack, moq = cell.get("case_pack"), cell.get("moq")
    item = {
        "sku": sku,
        "unit_cost": reading.money(row, "unit_cost", cost, currency) if cost else None,
        "case_pack": reading.whole(row, "case_pack", pack, 1, 1_000_000) if pack else None,
        "moq": reading.whole(row, "moq", moq, 0, 1_000_000) if moq else None,
        "vendor_sku": cell.get("vendor_sku") or None,
    }
    return ItemTerms(**item) if len(reading.errors) == before else None


def vendor_public(v: Vendor, terms: VendorTerms | None = None) -> dict[str, Any]:
    """A vendor with the terms plans use, as the API and ``tillwise vendors list`` show it;
    ``set_in_tillwise`` names the terms the retailer set (``terms``) over the POS's."""
    fields, items = ([], {}) if terms is None else terms.given()
    return {
        "vendor_id": v.external_id,
        "connection_id": v.source.connection_id,
        "name": v.name,
        "email": v.email,
        "lead_time_days": v.lead_time_days,
        "review_period_days": v.review_period_days,
        "min_order_value": None if v.min_order_value is None else str(v.min_order_value),
        "set_in_tillwise": fields,
        "pos_knows": v.source.platform != "tillwise",
        "items": [
            {
                "sku": i.sku,
                "unit_cost": None if i.unit_cost is None else str(i.unit_cost),
                "case_pack": i.case_pack,
                "moq": i.moq,
                "vendor_sku": i.vendor_sku,
                "set_in_tillwise": items.get(i.sku, []),
            }
            for i in v.items
        ],
    }


def vendors_public(uow: UnitOfWork, connection_id: str) -> list[dict[str, Any]]:
    """The connection's vendors as plans use them (:func:`vendor_public`), by id."""
    terms = uow.replenishment.vendor_terms(connection_id)
    vendors = vendors_with_terms(uow, connection_id)
    return [vendor_public(v, terms.get(vid)) for vid, v in sorted(vendors.items())]


def changes_of(terms: Iterable[VendorTerms], vendors: Mapping[str, Vendor]) -> list[VendorTerms]:
    """Of ``terms``, only what differs from ``vendors`` as plans use them now (an export
    imported back changes nothing, and pins nothing the POS may later change)."""
    out = []
    for t in terms:
        change = t.beyond(vendors.get(t.vendor_external_id))
        if change is not None:
            out.append(change)
    return out


def write_terms(vendors: Iterable[Vendor], path: Path) -> int:
    """Write the vendors' terms as plans use them: a row of vendor terms, then one row per
    item; returns the rows written. The file imports back unchanged."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for v in sorted(vendors, key=lambda v: v.external_id):
            low = v.min_order_value
            out.writerow(
                [
                    v.external_id,
                    v.name,
                    v.email or "",
                    "" if v.lead_time_days is None else v.lead_time_days,
                    "" if v.review_period_days is None else v.review_period_days,
                    "" if low is None else low.to_decimal(),
                    "" if low is None else low.currency,
                    *[""] * len(ITEM_COLUMNS),
                ]
            )
            for item in v.items:
                cost = item.unit_cost
                out.writerow(
                    [
                        v.external_id,
                        *[""] * (len(VENDOR_COLUMNS) - 1),
                        "" if cost is None else cost.currency,
                        item.sku,
                        "" if cost is None else cost.to_decimal(),
                        item.case_pack,
                        item.moq,
                        item.vendor_sku or "",
                    ]
                )
            count += 1 + len(v.items)
    return count
