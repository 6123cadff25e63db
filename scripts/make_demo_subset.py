"""Build the simulator's bundled data: a 3-month window of UCI Online Retail II (dev-only).

Reads the re-hosted 2010-2011 file from ``../shared/data/online_retail/`` (see
``/work/shared/data/DATASETS.md`` §1), keeps every row whose InvoiceDate falls in
[2010-12-01, 2011-03-01) — all countries, cancellations included, nothing else dropped — and
writes ``src/tillwise/connectors/simulator/data/online_retail_subset.parquet`` with normalized
columns:

    invoice       string   "536365", "C536379"
    stock_code    string   "85123A"
    description   string   nullable, as in the original
    quantity      int32    negative on cancellations and stock adjustments, as in the original
    invoice_date  timestamp  naive UK wall-clock time (Europe/London), as in the original
    price         string   exact decimal sterling, e.g. "2.55" (never a float at runtime)
    customer_id   string   nullable ("17850"; guests have none)
    country       string   "United Kingdom", "EIRE", ...

Rows keep the file order. Runtime code reads only the bundled file, never ../shared.
Licence: CC BY 4.0 (Chen, D. (2019). Online Retail II. UCI ML Repository id 502); see
DATA_LICENSES.md.

    .venv/bin/python scripts/make_demo_subset.py [--source PATH] [--start D] [--end D]
"""

from __future__ import annotations

import argparse
import hashlib
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SOURCE = (
    ROOT.parent / "shared" / "data" / "online_retail"
    / "online_retail_2010-2011_until_2011-08-31.parquet"
)
TARGET = (
    ROOT / "src" / "tillwise" / "connectors" / "simulator" / "data"
    / "online_retail_subset.parquet"
)
MAX_BYTES = 2 * 1024 * 1024

SCHEMA = pa.schema(
    [
        ("invoice", pa.string()),
        ("stock_code", pa.string()),
        ("description", pa.string()),
        ("quantity", pa.int32()),
        ("invoice_date", pa.timestamp("s")),
        ("price", pa.string()),
        ("customer_id", pa.string()),
        ("country", pa.string()),
    ]
)


def _price(value: float) -> str:
    """The float the re-hosted file stores, back to the exact pence it stood for."""
    text = f"{value:.2f}"
    if abs(float(text) - value) > 1e-9:
        raise ValueError(f"price {value!r} is not a whole number of pence")
    return str(Decimal(text))


def _customer(value: float) -> str | None:
    if pd.isna(value):
        return None
    if value != int(value):
        raise ValueError(f"customer id {value!r} is not an integer")
    return str(int(value))


def build(source: Path, start: str, end: str) -> pa.Table:
    df = pd.read_parquet(source)
    df = df.rename(
        columns={
            "InvoiceNo": "Invoice",
            "UnitPrice": "Price",
            "CustomerID": "Customer ID",
        }
    )
    dates = pd.to_datetime(df["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    window = df[(dates >= pd.Timestamp(start)) & (dates < pd.Timestamp(end))].copy()
    out = pd.DataFrame(
        {
            "invoice": window["Invoice"].astype(str),
            "stock_code": window["StockCode"].astype(str),
            "description": window["Description"].where(window["Description"].notna(), None),
            "quantity": window["Quantity"].astype("int32"),
            "invoice_date": dates.loc[window.index].astype("datetime64[s]"),
            "price": window["Price"].map(_price),
            "customer_id": window["Customer ID"].map(_customer),
            "country": window["Country"].astype(str),
        }
    )
    table = pa.Table.from_pandas(out, schema=SCHEMA, preserve_index=False)
    return table.replace_schema_metadata(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--target", type=Path, default=TARGET)
    parser.add_argument("--start", default="2010-12-01")
    parser.add_argument("--end", default="2011-03-01", help="exclusive")
    args = parser.parse_args()
    table = build(args.source, args.start, args.end)
    args.target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, args.target, compression="zstd", compression_level=19,
                   use_dictionary=True, write_statistics=False)
    size = args.target.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{args.target} is {size} bytes, over the {MAX_BYTES} byte budget")
    digest = hashlib.sha256(args.target.read_bytes()).hexdigest()
    dates = table.column("invoice_date")
    print(  # noqa: T201 - a dev script reports what it wrote
        f"wrote {args.target.relative_to(ROOT)}: {table.num_rows} rows, "
        f"{len(set(table.column('invoice').to_pylist()))} invoices, "
        f"{pc.min(dates)} .. {pc.max(dates)}, {size} bytes, sha256 {digest}"
    )


if __name__ == "__main__":
    main()
