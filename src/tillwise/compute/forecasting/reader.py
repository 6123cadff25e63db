"""Read a long-format sales history (CSV or Parquet) with errors that name the file and row.

Columns: ``unique_id`` (text), ``ds`` (a date), ``y`` (units, a number >= 0), optional
``censored`` (true/false), ``price`` (number) and ``promo`` (number or true/false). Other
columns are ignored. Rows are numbered as a person sees them: the CSV header is line 1, so the
first data row is line 2; for Parquet, row 1 is the first row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tillwise.domain.errors import DomainError

REQUIRED = ("unique_id", "ds", "y")
OPTIONAL = ("censored", "price", "promo")


class InvalidSalesFile(DomainError):
    """A sales history that cannot be read; the message names the file, row and column."""

    code = "invalid_sales_file"


def read_sales(path: str | Path) -> pd.DataFrame:
    """The validated history in ``path`` (``.csv``, ``.parquet``/``.pq``)."""
    p = Path(path)
    if not p.exists():
        raise InvalidSalesFile(f"{p}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            raw = pd.read_parquet(p)
            first_row = 1
        elif suffix in (".csv", ".txt"):
            raw = pd.read_csv(p, dtype={"unique_id": str}, keep_default_na=True)
            first_row = 2
        else:
            raise InvalidSalesFile(f"{p}: unknown format {suffix!r} (use .csv or .parquet)")
    except InvalidSalesFile:
        raise
    except Exception as exc:  # the parser's own words say what is wrong
        raise InvalidSalesFile(f"{p}: cannot be read: {exc}") from exc
    return validate_history(raw, source=str(p), first_row=first_row)


def validate_history(df: pd.DataFrame, source: str = "history", first_row: int = 1) -> pd.DataFrame:
    """Check and normalise a long frame: types, no missing keys, y >= 0, unique (id, ds)."""

    def bad(mask: np.ndarray | pd.Series, column: str, why: str) -> InvalidSalesFile:
        k = int(np.flatnonzero(np.asarray(mask))[0])
        value = df[column].iloc[k] if column in df else None
        return InvalidSalesFile(
            f"{source}: row {k + first_row}, column {column!r}: {why} (got {value!r})"
        )

    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InvalidSalesFile(
            f"{source}: missing column(s) {', '.join(missing)}; "
            f"expected unique_id, ds, y (optional: {', '.join(OPTIONAL)})"
        )
    if df.empty:
        raise InvalidSalesFile(f"{source}: no rows")
    out = pd.DataFrame({"unique_id": df["unique_id"]})
    if out["unique_id"].isna().any():
        raise bad(out["unique_id"].isna(), "unique_id", "empty series id")
    out["unique_id"] = out["unique_id"].astype(str)
    ds = pd.to_datetime(df["ds"], errors="coerce")
    if ds.isna().any():
        raise bad(ds.isna(), "ds", "not a date")
    if getattr(ds.dt, "tz", None) is not None:
        ds = ds.dt.tz_localize(None)
    out["ds"] = ds
    y = pd.to_numeric(df["y"], errors="coerce")
    if y.isna().any():
        raise bad(y.isna(), "y", "not a number")
    if (y < 0).any():
        raise bad(y < 0, "y", "negative demand (returns belong in a separate series)")
    if not np.isfinite(y.to_numpy(dtype=float)).all():
        raise bad(~np.isfinite(y.to_numpy(dtype=float)), "y", "not a finite number")
    out["y"] = y.astype(float)
    if "censored" in df:
        c = df["censored"]
        if c.dtype != bool:
            text = c.astype(str).str.strip().str.lower()
            ok = text.isin(["true", "false", "1", "0", "1.0", "0.0", "nan", "none", ""])
            if not ok.all():
                raise bad(~ok, "censored", "expected true or false")
            c = text.isin(["true", "1", "1.0"])
        out["censored"] = c.astype(bool)
    for col in ("price", "promo"):
        if col in df:
            v = df[col]
            if v.dtype == bool:
                v = v.astype(float)
            num = pd.to_numeric(v, errors="coerce")
            if (num.isna() & v.notna()).any():
                raise bad(num.isna() & v.notna(), col, "not a number")
            out[col] = num.astype(float)
    dup = out.duplicated(["unique_id", "ds"]).to_numpy()
    if dup.any():
        raise bad(dup, "ds", "a second row for the same unique_id and ds")
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
