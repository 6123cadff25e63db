"""The bundled data: a 3-month window of UCI Online Retail II, read as invoices.

``data/online_retail_subset.parquet`` is made by ``scripts/make_demo_subset.py`` (see
``DATA_LICENSES.md``: Chen, D. (2019), Online Retail II, UCI ML Repository id 502, CC BY 4.0).
Runtime code reads only this bundled file. Prices are exact decimal strings in sterling;
``invoice_date`` is UK wall-clock time (Europe/London) and is converted to UTC here. Stock
codes are upper-cased: the data writes some products' codes in both cases (``15056BL`` and
``15056bl``, both EDWARDIAN PARASOL BLACK; 79 products in the bundled window), which would
split one product's sales and stock over two SKUs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SOURCE_ZONE = ZoneInfo("Europe/London")
SUBSET_FILE = "online_retail_subset.parquet"
COLUMNS = (
    "invoice",
    "stock_code",
    "description",
    "quantity",
    "invoice_date",
    "price",
    "customer_id",
    "country",
)


@dataclass(frozen=True)
class InvoiceLine:
    stock_code: str
    description: str | None
    quantity: int  # as in the data: negative on cancellations and stock adjustments
    price: Decimal  # sterling, major units


@dataclass(frozen=True)
class Invoice:
    invoice: str  # "536365"; cancellations start with "C"
    invoiced_at: datetime  # UTC
    customer_id: str | None  # None for guests
    country: str
    lines: tuple[InvoiceLine, ...]

    @property
    def is_cancellation(self) -> bool:
        return self.invoice.startswith("C")


def to_utc(local: datetime) -> datetime:
    """UK wall-clock time → UTC (the earlier instant when a time repeats in October)."""
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    return local.replace(tzinfo=SOURCE_ZONE, fold=0).astimezone(UTC)


def bundled_path() -> Path:
    ref = resources.files(__package__).joinpath("data").joinpath(SUBSET_FILE)
    return Path(str(ref))


def invoices_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Invoice]:
    """Group rows (file order) into invoices, ordered by time then first appearance."""
    heads: dict[str, Mapping[str, Any]] = {}
    lines: dict[str, list[InvoiceLine]] = {}
    for row in rows:
        number = str(row["invoice"])
        if number not in heads:
            heads[number] = row
            lines[number] = []
        lines[number].append(
            InvoiceLine(
                stock_code=str(row["stock_code"]).upper(),
                description=row["description"],
                quantity=int(row["quantity"]),
                price=Decimal(str(row["price"])),
            )
        )
    invoices = [
        Invoice(
            invoice=number,
            invoiced_at=to_utc(head["invoice_date"]),
            customer_id=head["customer_id"] or None,
            country=str(head["country"]),
            lines=tuple(lines[number]),
        )
        for number, head in heads.items()
    ]
    invoices.sort(key=lambda inv: inv.invoiced_at)  # stable: file order breaks ties
    return invoices


def load_invoices(path: Path | None = None) -> list[Invoice]:
    """Read the bundled subset (or ``path`` with the same columns) as invoices."""
    import pyarrow.parquet as pq

    table = pq.read_table(path or bundled_path(), columns=list(COLUMNS))
    return invoices_from_rows(table.to_pylist())


def countries(invoices: Sequence[Invoice]) -> list[str]:
    return sorted({inv.country for inv in invoices})
