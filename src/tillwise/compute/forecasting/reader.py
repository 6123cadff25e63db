"""Read a long-format sales history (CSV, Parquet, or R data) with errors that name the file
and row.

Columns: ``unique_id`` (text), ``ds`` (a date), ``y`` (units, a number >= 0), optional
``censored`` (true/false), ``price`` (number) and ``promo`` (number or true/false). Other
columns are ignored. Rows are numbered as a person sees them: the CSV header is line 1, so the
first data row is line 2; for Parquet and R data, row 1 is the first row.

R data files (``.rda``/``.RData`` holding one data frame, or ``.rds``) are read with the
MIT-licensed ``rdata`` package (pyreadr is AGPL): M5's ``tiny_m5`` from the ``krzjoa/m5`` R
package is such a file (``--id-col item_id,store_id --time-col date --target-col value``). R's
``Date`` and ``POSIXct`` columns become dates, factors text, tibbles data frames.

Two companions: the promotions planned for the forecast window (:func:`read_future`) and the
retailer's own event calendar (:func:`read_events`: ``ds, name`` — Black Friday, a store's
anniversary sale — or M5's ``event_name_1``/``event_name_2`` columns), whose effects are learned
like public holidays'.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from tillwise.domain.errors import DomainError

from .holidays import merge_calendars

REQUIRED = ("unique_id", "ds", "y")
OPTIONAL = ("censored", "price", "promo")


class InvalidSalesFile(DomainError):
    """A sales history that cannot be read; the message names the file, row and column."""

    code = "invalid_sales_file"


class MissingColumns(InvalidSalesFile):
    """A file without a column it needs (the message names it and the columns there are)."""


class BadCell(InvalidSalesFile):
    """One cell that cannot be read: its file, row, column, what is wrong and its value."""

    def __init__(self, source: str, row: int, column: str, why: str, value: object) -> None:
        super().__init__(f"{source}: row {row}, column {column!r}: {why} (got {value!r})")
        self.source, self.row, self.column, self.why, self.value = source, row, column, why, value

    def in_column(self, column: str) -> BadCell:
        """The same error, naming the column as the file does."""
        return BadCell(self.source, self.row, column, self.why, self.value)


@dataclass(frozen=True)
class Columns:
    """Where a file keeps the series id, the period and the demand — statsforecast's
    ``id_col``, ``time_col`` and ``target_col`` — and its optional price and promotion flags.
    The id may be several columns, joined with ``_`` (M5's ``item_id`` and ``store_id`` →
    ``HOBBIES_1_001_CA_1``); the promotion flags may be any driver planned ahead (M5's
    ``snap`` days)."""

    id_col: str | tuple[str, ...] = "unique_id"
    time_col: str = "ds"
    target_col: str = "y"
    price_col: str = "price"
    promo_col: str = "promo"

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id_col,) if isinstance(self.id_col, str) else tuple(self.id_col)

    def own(self, error: InvalidSalesFile) -> InvalidSalesFile:
        """``error`` (about a cell of the renamed frame) naming the file's own column."""
        names = {
            "unique_id": ",".join(self.ids),
            "ds": self.time_col,
            "y": self.target_col,
            "price": self.price_col,
            "promo": self.promo_col,
        }
        if isinstance(error, BadCell) and names.get(error.column, error.column) != error.column:
            return error.in_column(names[error.column])
        return error

    def apply(self, df: pd.DataFrame, source: str, target: bool = True) -> pd.DataFrame:
        """``df`` with ``unique_id``, ``ds`` (and ``y``) from the named columns."""
        if self == Columns():
            return df
        named = {"series id": self.ids, "period": (self.time_col,)}
        if target:
            named["demand"] = (self.target_col,)
        drivers = {"price": self.price_col, "promo": self.promo_col}
        if not target:  # planned promotions only
            drivers.pop("price")
        drivers = {k: c for k, c in drivers.items() if c != k}
        for role, col in drivers.items():
            named[role] = (col,)
        for role, cols in named.items():
            missing = [c for c in cols if c not in df.columns]
            if missing:
                raise MissingColumns(
                    f"{source}: no column {missing[0]!r} for the {role} "
                    f"(columns: {', '.join(map(str, df.columns))})"
                )
        out = df.copy()
        if len(self.ids) > 1:
            uid = out[self.ids[0]].astype("string")
            for c in self.ids[1:]:
                uid = uid + "_" + out[c].astype("string")
        else:
            uid = out[self.ids[0]]
        own = ("unique_id", "ds", "y", *drivers)
        out = out.drop(columns=[c for c in own if c in out.columns])
        out["unique_id"] = uid
        out["ds"] = df[self.time_col]
        if target:
            out["y"] = df[self.target_col]
        for role, col in drivers.items():
            out[role] = df[col]
        return out


def read_sales(path: str | Path, columns: Columns = Columns()) -> pd.DataFrame:
    """The validated history in ``path`` (``.csv``, ``.parquet``/``.pq``)."""
    raw, source, first_row = _read_frame(path, columns.ids)
    frame = columns.apply(raw, source)
    try:
        return validate_history(frame, source=source, first_row=first_row)
    except InvalidSalesFile as exc:
        raise columns.own(exc) from None


def read_future(path: str | Path, columns: Columns = Columns()) -> pd.DataFrame:
    """The validated planned promotions in ``path``: ``unique_id, ds, promo`` for periods after
    the history (statsforecast's ``X_df`` convention)."""
    raw, source, first_row = _read_frame(path, columns.ids)
    frame = columns.apply(raw, source, target=False)
    try:
        return validate_future(frame, source=source, first_row=first_row)
    except InvalidSalesFile as exc:
        raise columns.own(exc) from None


def read_events(
    path: str | Path,
    connection: str | None = None,
    location: str | None = None,
    time_col: str = "ds",
) -> dict[date, str]:
    """The event calendar in ``path`` (see :func:`validate_events`); its day is in the first
    of ``time_col`` (the sales file's), ``ds`` and ``date`` (M5's calendar) that it has."""
    raw, source, first_row = _read_frame(path)
    day = next((c for c in (time_col, "ds", "date") if c in raw.columns), "ds")
    if day != "ds":
        raw = raw.drop(columns=["ds"], errors="ignore").rename(columns={day: "ds"})
    return validate_events(raw, source, first_row, connection=connection, location=location)


def _read_frame(
    path: str | Path, ids: tuple[str, ...] = ("unique_id",)
) -> tuple[pd.DataFrame, str, int]:
    p = Path(path)
    if not p.exists():
        raise InvalidSalesFile(f"{p}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p), str(p), 1
        if suffix in R_SUFFIXES:
            return _read_r(p), str(p), 1
        if suffix in (".csv", ".txt"):
            return pd.read_csv(p, dtype=dict.fromkeys(ids, str), keep_default_na=True), str(p), 2
    except Exception as exc:  # the parser's own words say what is wrong
        raise InvalidSalesFile(f"{p}: cannot be read: {exc}") from exc
    raise InvalidSalesFile(f"{p}: unknown format {suffix!r} (use .csv, .parquet or .rda)")


R_SUFFIXES = (".rda", ".rdata", ".rds")


def _r_dates(obj: object, attrs: object) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(obj, dtype=float), unit="D")  # days since 1970-01-01


def _r_times(obj: object, attrs: object) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(obj, dtype=float), unit="s")  # seconds, UTC


def _read_r(p: Path) -> pd.DataFrame:
    """The one data frame of an R data file, its columns as pandas reads a CSV's."""
    import rdata

    frame = rdata.conversion.DEFAULT_CLASS_MAP["data.frame"]
    constructors = {
        **rdata.conversion.DEFAULT_CLASS_MAP,
        "tbl_df": frame,  # tibbles
        "tbl": frame,
        "spec_tbl_df": frame,
        "Date": _r_dates,
        "POSIXct": _r_times,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "missing constructor" for classes it falls back on
        if p.suffix.lower() == ".rds":
            objects = {p.stem: rdata.read_rds(p, constructor_dict=constructors)}
        else:
            objects = rdata.read_rda(p, constructor_dict=constructors)
    frames = {name: v for name, v in objects.items() if isinstance(v, pd.DataFrame)}
    if len(frames) != 1:
        names = ", ".join(objects) or "nothing"
        raise ValueError(f"expected one data frame, found {len(frames)} (objects: {names})")
    df = next(iter(frames.values())).reset_index(drop=True)
    for column in df.columns:  # factors and R strings: plain text, NA as missing
        if isinstance(df[column].dtype, pd.CategoricalDtype | pd.StringDtype):
            df[column] = df[column].astype(object).where(df[column].notna(), None)
    return df


def _bad(
    df: pd.DataFrame,
    source: str,
    first_row: int,
    mask: np.ndarray | pd.Series,
    column: str,
    why: str,
) -> BadCell:
    k = int(np.flatnonzero(np.asarray(mask))[0])
    value = df[column].iloc[k] if column in df else None
    return BadCell(source, k + first_row, column, why, value)


def _keys(
    df: pd.DataFrame,
    source: str,
    first_row: int,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> pd.DataFrame:
    """``unique_id`` (text) and ``ds`` (naive timestamps) of a long frame that must have the
    ``required`` columns, checked."""
    _columns(df, source, required, optional)
    out = pd.DataFrame({"unique_id": df["unique_id"]})
    if out["unique_id"].isna().any():
        raise _bad(df, source, first_row, out["unique_id"].isna(), "unique_id", "empty series id")
    out["unique_id"] = out["unique_id"].astype(str)
    out["ds"] = _dates(df, source, first_row)
    return out


def _columns(
    df: pd.DataFrame, source: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> None:
    """The frame has rows and the ``required`` columns."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        also = f" (optional: {', '.join(optional)})" if optional else ""
        raise MissingColumns(
            f"{source}: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(required)}{also}"
        )
    if df.empty:
        raise InvalidSalesFile(f"{source}: no rows")


def _dates(df: pd.DataFrame, source: str, first_row: int) -> pd.Series:
    """The ``ds`` column as naive timestamps on the wall clock of the place they were recorded,
    checked. The format is inferred from the first value; a column that mixes formats
    (``2024-11-29``, ``2024-11-29 00:00``) or UTC offsets (a local-time export across a change to
    or from summer time) is read value by value."""
    raw = df["ds"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns about mixed offsets before it refuses
            ds = pd.to_datetime(raw, errors="coerce")
        vector = pd.api.types.is_datetime64_any_dtype(ds) and not ds.isna().any()
    except (ValueError, TypeError):
        vector = False
    if not vector:
        ds = pd.Series([_wall_clock(v) for v in raw], index=raw.index, dtype="datetime64[ns]")
    if ds.isna().any():
        raise _bad(df, source, first_row, ds.isna(), "ds", "not a date")
    if getattr(ds.dt, "tz", None) is not None:
        ds = ds.dt.tz_localize(None)
    return ds


def _wall_clock(value: object) -> object:
    """One date or timestamp, its UTC offset dropped; NaT where it is none."""
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError):
        return pd.NaT
    return t.tz_localize(None) if t is not pd.NaT and t.tzinfo is not None else t


def _numbers(
    df: pd.DataFrame,
    out: pd.DataFrame,
    source: str,
    first_row: int,
    columns: tuple[str, ...] = ("price", "promo"),
) -> None:
    """Copy the ``columns`` there are as numbers (true/false as 1/0)."""
    for col in columns:
        if col in df:
            v = df[col]
            if v.dtype == bool:
                v = v.astype(float)
            num = pd.to_numeric(v, errors="coerce")
            if (num.isna() & v.notna()).any():
                raise _bad(df, source, first_row, num.isna() & v.notna(), col, "not a number")
            out[col] = num.astype(float)


def _unique(df: pd.DataFrame, out: pd.DataFrame, source: str, first_row: int) -> pd.DataFrame:
    dup = out.duplicated(["unique_id", "ds"]).to_numpy()
    if dup.any():
        raise _bad(df, source, first_row, dup, "ds", "a second row for the same unique_id and ds")
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def validate_future(df: pd.DataFrame, source: str = "future", first_row: int = 1) -> pd.DataFrame:
    """Check and normalise planned promotions: ``unique_id``, ``ds``, ``promo``; unique (id, ds).
    Whether they lie after the history is checked when the panel is built."""
    out = _keys(df, source, first_row, ("unique_id", "ds", "promo"))
    _numbers(df, out, source, first_row, ("promo",))
    if out["promo"].isna().any():
        raise _bad(df, source, first_row, out["promo"].isna(), "promo", "missing")
    return _unique(df, out, source, first_row)


def validate_events(
    df: pd.DataFrame,
    source: str = "events",
    first_row: int = 1,
    *,
    connection: str | None = None,
    location: str | None = None,
) -> dict[date, str]:
    """Check an event calendar: ``ds`` (a day) and ``name`` (text) per row, optionally
    ``connection`` and ``location`` (a store's external id) for an event of some stores only;
    other columns are ignored. Given a ``connection``/``location``, the events of that store:
    rows whose cell is empty or names it. Two events on one day become one named after both
    (:func:`merge_calendars`).

    A file without ``name`` but with ``event_name…`` columns — M5's ``calendar.csv`` or its
    sales in long format (``event_name_1``, ``event_name_2``; empty or ``NA`` on most days) —
    gives the events those columns name; the same day on many rows counts once."""
    wide = [str(c) for c in df.columns if str(c).startswith("event_name")]
    wide = [] if "name" in df.columns else wide
    _columns(df, source, ("ds", *(() if wide else ("name",))), ("connection", "location"))
    days = pd.Series(_dates(df, source, first_row).dt.date.to_numpy(), index=df.index)
    keep = np.ones(len(df), dtype=bool)
    for column, store in (("connection", connection), ("location", location)):
        if store is not None and column in df:
            cell = _text(df, column)
            keep &= ((cell == "") | (cell == store)).to_numpy(dtype=bool)
    found: list[tuple[date, str]] = []
    for column in wide or ["name"]:
        names = _text(df, column)
        empty = (names == "").to_numpy(dtype=bool)
        if not wide and empty.any():
            raise _bad(df, source, first_row, empty, column, "an event needs a name")
        rows = keep & ~empty
        pairs = pd.DataFrame({"day": days[rows], "name": names[rows]}).drop_duplicates()
        found += list(zip(pairs["day"], pairs["name"].astype(str), strict=True))
    if wide and not found:
        raise InvalidSalesFile(f"{source}: no event named in {', '.join(wide)}")
    return merge_calendars(*({d: n} for d, n in found))


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    """A column as stripped text, '' where empty."""
    return df[column].astype("string").fillna("").str.strip()


def validate_history(df: pd.DataFrame, source: str = "history", first_row: int = 1) -> pd.DataFrame:
    """Check and normalise a long frame: types, no missing keys, y >= 0, unique (id, ds)."""

    def bad(mask: np.ndarray | pd.Series, column: str, why: str) -> InvalidSalesFile:
        return _bad(df, source, first_row, mask, column, why)

    out = _keys(df, source, first_row, REQUIRED, OPTIONAL)
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
    _numbers(df, out, source, first_row)
    return _unique(df, out, source, first_row)
