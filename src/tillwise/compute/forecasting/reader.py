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

A file may also be *wide*: one row per series and one column per period, headed by the
period's date (``2024-01-01``, ``2024-01-08`` …, as spreadsheets and ERP exports lay weekly
sales out) or by M5's day numbers ``d_1`` … ``d_N`` (M5's ``sales_train_evaluation.csv`` and
the ``krzjoa/m5`` package's ``sales_train.rda``), which M5's calendar dates
(:func:`read_calendar`). The other columns are the series' keys (``item_id``, ``store_id``,
``state_id`` …); an empty cell is a period without a figure. With the calendar, a file gets
M5's drivers too: the SNAP days of the row's ``state_id`` as its promotion flags (known ahead,
so they are the planned promotions of a forecast: :attr:`SalesFile.planned`), the calendar's
events, and with M5's ``sell_prices`` (:func:`read_prices`) the week's price.

Two companions: the promotions planned for the forecast window (:func:`read_future`) and the
retailer's own event calendar (:func:`read_events`: ``ds, name`` — Black Friday, a store's
anniversary sale — or M5's ``event_name_1``/``event_name_2`` columns), whose effects are learned
like public holidays'.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES  # read_csv's own missing-value words

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
        shown = value.item() if isinstance(value, np.generic) else value  # 3, not np.int64(3)
        super().__init__(f"{source}: row {row}, column {column!r}: {why} (got {shown!r})")
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


@dataclass(frozen=True)
class SalesFile:
    """A sales file as the forecaster takes it."""

    history: pd.DataFrame  # validated: unique_id, ds, y[, censored, price, promo]
    # promotion flags the calendar knows after the history (M5's SNAP days): unique_id, ds, promo
    planned: pd.DataFrame | None = None
    events: dict[date, str] = field(default_factory=dict)  # the calendar's events


def read_sales(
    path: str | Path,
    columns: Columns = Columns(),
    calendar: str | Path | None = None,
    prices: str | Path | None = None,
) -> pd.DataFrame:
    """The validated history in ``path`` (see :func:`read_sales_file`)."""
    return read_sales_file(path, columns, calendar, prices).history


def read_sales_file(
    path: str | Path,
    columns: Columns = Columns(),
    calendar: str | Path | None = None,
    prices: str | Path | None = None,
    freq: str | None = None,
) -> SalesFile:
    """The history in ``path`` (``.csv``, ``.parquet``/``.pq``, ``.rda``/``.rds``; long or
    wide), with M5's ``calendar`` (:func:`read_calendar`) and weekly ``prices``
    (:func:`read_prices`) when given; ``freq`` (``D``/``W``): every ``ds`` must be on that
    calendar (a weekly file's weeks all start on the same weekday)."""
    raw, source, first_row = _read_frame(path, columns.ids)
    days = None if calendar is None else read_calendar(calendar)
    wide = _melt_wide(raw, source, first_row, columns, days)
    if wide is not None:
        raw, first_row = wide, 1  # checked cell by cell as the file lays them out
    frame = columns.apply(raw, source)
    if prices is not None:
        frame = _priced(frame, source, days, read_prices(prices))
    if days is not None:
        frame = days.with_snap(frame)
    try:
        history = validate_history(frame, source=source, first_row=first_row, freq=freq)
    except InvalidSalesFile as exc:
        raise columns.own(exc) from None
    if days is None:
        return SalesFile(history)
    return SalesFile(history, days.planned(frame, history["ds"].max()), days.events)


DAY_NUMBER = re.compile(r"^d_([1-9][0-9]*)$")  # M5's day columns
M5_KEYS = ("item_id", "store_id", "state_id")  # what M5's prices and SNAP days are by
ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # a wide file's period headers


@dataclass(frozen=True)
class DayCalendar:
    """M5's ``calendar.csv`` (or the organisers' copy, which has no ``d`` column: row *i* is
    ``d_i``): each numbered day's ``date``, its retail week ``wm_yr_wk`` (M5's prices are by
    week), the SNAP days per state (``snap_CA``, ``snap_TX``, ``snap_WI``: 1 when food stamps
    may be spent) and the events (``event_name_1``/``event_name_2``)."""

    source: str
    days: pd.DataFrame  # index: day number; ds, [wm_yr_wk], [snap_<STATE> ...]
    events: dict[date, str]

    @property
    def states(self) -> list[str]:
        return [str(c)[5:] for c in self.days.columns if str(c).startswith("snap_")]

    def dates(self, numbers: dict[str, int], source: str) -> dict[str, pd.Timestamp]:
        """The date of each ``d_<n>`` column (an error names a column the calendar lacks)."""
        known = self.days.index
        for column, n in numbers.items():
            if n not in known:
                raise InvalidSalesFile(
                    f"{source}: column {column!r} is not a day of the calendar {self.source} "
                    f"(it has d_{known.min()} to d_{known.max()})"
                )
        return {c: self.days.at[n, "ds"] for c, n in numbers.items()}

    def weeks(self, ds: pd.Series) -> pd.Series:
        """The ``wm_yr_wk`` of each day (NaN off the calendar)."""
        by_day = self.days.set_index("ds")["wm_yr_wk"]
        day = pd.to_datetime(ds, errors="coerce").dt.normalize()
        return pd.Series(by_day.reindex(day).to_numpy(), index=ds.index)

    def _snap(self) -> pd.Series:
        """SNAP flag by (day, state)."""
        snap = self.days.set_index("ds")[[f"snap_{s}" for s in self.states]]
        return snap.set_axis(self.states, axis=1).stack()

    def with_snap(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (``ds``, ``state_id``) with the SNAP days of each row's state as its
        promotion flags, when the calendar has them and ``frame`` no ``promo`` of its own."""
        if not self.states or "state_id" not in frame or "promo" in frame:
            return frame
        ds = pd.to_datetime(frame["ds"], errors="coerce").dt.normalize()  # bad: named later
        at = pd.MultiIndex.from_arrays([ds, frame["state_id"].astype(str)])
        return frame.assign(promo=self._snap().reindex(at).to_numpy())

    def planned(self, frame: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame | None:
        """The SNAP days after ``end`` of each series of ``frame`` (``unique_id``,
        ``state_id``) as planned promotions; None without SNAP days or states."""
        if not self.states or "state_id" not in frame:
            return None
        series = frame[["unique_id", "state_id"]].drop_duplicates("unique_id")
        after = self.days[self.days["ds"] > end]
        if after.empty:
            return None
        snap = self._snap()
        rows = series.merge(pd.DataFrame({"ds": after["ds"].to_numpy()}), how="cross")
        at = pd.MultiIndex.from_arrays([rows["ds"], rows["state_id"].astype(str)])
        rows["promo"] = snap.reindex(at).to_numpy()
        rows = rows.dropna(subset=["promo"])
        return None if rows.empty else rows[["unique_id", "ds", "promo"]].reset_index(drop=True)


def read_calendar(path: str | Path) -> DayCalendar:
    """M5's calendar (see :class:`DayCalendar`): ``date`` required; ``d``, ``wm_yr_wk``,
    ``snap_*`` and ``event_name_*`` used when there."""
    raw, source, first_row = _read_frame(path)
    day = next((c for c in ("date", "ds") if c in raw.columns), None)
    if day is None:
        raise MissingColumns(
            f"{source}: no column 'date' for the calendar's days "
            f"(columns: {', '.join(map(str, raw.columns))})"
        )
    frame = raw.drop(columns=["ds"], errors="ignore").rename(columns={day: "ds"})
    _columns(frame, source, ("ds",))
    days = pd.DataFrame({"ds": _dates(frame, source, first_row).dt.normalize()})
    if "d" in frame:
        found = _text(frame, "d").str.extract(DAY_NUMBER, expand=False)
        if found.isna().any():
            raise _bad(frame, source, first_row, found.isna(), "d", "expected d_<number>")
        numbers = found.astype(int).to_numpy()
    else:  # the organisers' calendar: row i is d_i
        numbers = np.arange(1, len(frame) + 1)
    days.index = pd.Index(numbers, name="d")
    for column, dup in (("d", days.index.duplicated()), ("ds", days["ds"].duplicated())):
        if dup.any():
            raise _bad(frame, source, first_row, dup, column, "a second row for the same day")
    numeric = ["wm_yr_wk", *(c for c in map(str, frame.columns) if c.startswith("snap_"))]
    for column in (c for c in numeric if c in frame):
        value = pd.to_numeric(frame[column], errors="coerce")
        if value.isna().any():
            raise _bad(frame, source, first_row, value.isna(), column, "not a number")
        days[column] = value.to_numpy()
    named = [c for c in map(str, frame.columns) if c.startswith("event_name")]
    has_events = any((_text(frame, c) != "").any() for c in named)
    events = validate_events(frame, source, first_row) if has_events else {}
    return DayCalendar(source, days, events)


def read_prices(path: str | Path) -> pd.DataFrame:
    """M5's ``sell_prices``: ``wm_yr_wk``, ``sell_price`` and the keys they are for
    (``store_id``, ``item_id``), one row per key and week, checked."""
    raw, source, first_row = _read_frame(path, ("store_id", "item_id"))
    _columns(raw, source, ("wm_yr_wk", "sell_price"))
    out = raw.copy()
    for column in ("wm_yr_wk", "sell_price"):
        value = pd.to_numeric(raw[column], errors="coerce")
        if (value.isna() & raw[column].notna()).any() or raw["wm_yr_wk"].isna().any():
            bad = value.isna() & (raw[column].notna() | (column == "wm_yr_wk"))
            raise _bad(raw, source, first_row, bad, column, "not a number")
        if (value < 0).any():
            raise _bad(raw, source, first_row, value < 0, column, "negative")
        out[column] = value
    keys = [c for c in out.columns if c not in ("wm_yr_wk", "sell_price")]
    dup = out.duplicated([*keys, "wm_yr_wk"]).to_numpy()
    if dup.any():
        raise _bad(raw, source, first_row, dup, "wm_yr_wk", "a second price for the same week")
    return out


def _priced(
    frame: pd.DataFrame, source: str, days: DayCalendar | None, prices: pd.DataFrame
) -> pd.DataFrame:
    """``frame`` (``ds`` and the prices' keys) with each row's ``price``: its keys'
    ``sell_price`` in the row's week."""
    if days is None or "wm_yr_wk" not in days.days:
        raise InvalidSalesFile(
            f"{source}: prices by week (wm_yr_wk) need the calendar that dates the weeks "
            "(M5's calendar, with its wm_yr_wk column)"
        )
    keys = [c for c in prices.columns if c not in ("wm_yr_wk", "sell_price")]
    missing = [c for c in keys if c not in frame.columns]
    if missing:
        raise MissingColumns(
            f"{source}: no column {missing[0]!r} to match the prices by "
            f"(columns: {', '.join(map(str, frame.columns))})"
        )
    left = pd.DataFrame({k: frame[k].astype(str).to_numpy() for k in keys})
    left["wm_yr_wk"] = days.weeks(frame["ds"]).to_numpy(dtype=float)
    right = prices.astype(dict.fromkeys(keys, str) | {"wm_yr_wk": float})
    price = left.merge(right, on=[*keys, "wm_yr_wk"], how="left")["sell_price"]
    return frame.assign(price=price.to_numpy())


def _melt_wide(
    raw: pd.DataFrame,
    source: str,
    first_row: int,
    columns: Columns,
    days: DayCalendar | None,
) -> pd.DataFrame | None:
    """A wide file (one row per series, one column per period) in long format, its cells
    checked where the file has them; None for a long file."""
    if columns.time_col in raw.columns or columns.target_col in raw.columns:
        return None
    names = [str(c) for c in raw.columns]
    numbered = {c: int(m[1]) for c in names if (m := DAY_NUMBER.match(c))}
    if numbered:
        if days is None:
            first, last = next(iter(numbered)), list(numbered)[-1]
            raise InvalidSalesFile(
                f"{source}: columns {first} to {last} are M5's day numbers: give the calendar "
                "that dates them (--calendar, M5's calendar.csv)"
            )
        periods = days.dates(numbered, source)
    else:
        periods = {c: pd.Timestamp(c) for c in names if ISO_DAY.match(c)}
        if not periods:
            return None
    raw = raw.set_axis(names, axis=1)
    keys = [c for c in names if c not in periods]
    for column in columns.ids:
        if column not in keys:
            raise MissingColumns(
                f"{source}: no column {column!r} for the series id (columns: {', '.join(keys)})"
            )
    empty = raw[list(columns.ids)].isna().any(axis=1).to_numpy()
    if empty.any():
        col = next(c for c in columns.ids if raw[c].isna().to_numpy()[empty][0])
        raise _bad(raw, source, first_row, empty, col, "empty series id")
    dup = raw.duplicated(list(columns.ids)).to_numpy()
    if dup.any():
        raise _bad(raw, source, first_row, dup, columns.ids[0], "a second row for the same series")
    values = raw[list(periods)]
    y = values.apply(pd.to_numeric, errors="coerce")
    for mask, why in (
        (y.isna() & values.notna(), "not a number"),
        (y < 0, "negative demand (returns belong in a separate series)"),
        (~np.isfinite(y.fillna(0)), "not a finite number"),
    ):
        if mask.to_numpy().any():
            r, c = np.argwhere(mask.to_numpy())[0]
            column = values.columns[c]
            raise BadCell(source, _row(values, r, first_row), column, why, values[column].iloc[r])
    y.columns = [periods[c] for c in y.columns]
    # the keys the id, M5's SNAP days and prices need (a row per cell: no more columns than that)
    keys = [c for c in keys if c in columns.ids or c in M5_KEYS]
    long = pd.concat([raw[keys], y], axis=1).melt(
        id_vars=keys, var_name=columns.time_col, value_name=columns.target_col
    )
    return long[long[columns.target_col].notna()].reset_index(drop=True)


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
    if suffix in COMPRESSED and p.with_suffix("").suffix.lower() in (".csv", ".txt"):
        suffix = ".csv"  # sales.csv.gz: read as the CSV it holds
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
            if any(name is not None for name in frame.index.names):  # saved with its keys
                frame = frame.reset_index()  # as the index
            return frame.reset_index(drop=True), str(p), 1
        if suffix in R_SUFFIXES:
            return _read_r(p), str(p), 1
        if suffix in (".csv", ".txt"):
            # a series id is text as written: "NA" (Namibia), "null" or "None" are ids, not gaps
            header = pd.read_csv(p, nrows=0).columns
            missing = {c: ([""] if c in ids else sorted(STR_NA_VALUES)) for c in header}
            frame = pd.read_csv(
                p,
                dtype=dict.fromkeys(ids, str),
                keep_default_na=False,
                na_values=missing,
                skip_blank_lines=False,
            )
            # blank lines and a spreadsheet's empty rows (",,,") are left out; the index keeps
            # each row's place in the file, so errors name the row an editor shows
            frame.index = frame.index.rename(FILE_ROW)
            return frame[~frame.isna().all(axis=1).to_numpy()], str(p), 2
    except UnicodeDecodeError as exc:  # a spreadsheet's export in its own code page
        raise InvalidSalesFile(
            f"{p}: cannot be read: it is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
            f"offset {exc.start}); save it as CSV UTF-8"
        ) from exc
    except Exception as exc:  # the parser's own words say what is wrong
        raise InvalidSalesFile(f"{p}: cannot be read: {exc}") from exc
    raise InvalidSalesFile(f"{p}: unknown format {suffix!r} (use .csv, .csv.gz, .parquet or .rda)")


COMPRESSED = (".gz", ".bz2", ".xz", ".zip")  # what pandas reads a CSV from as it is
FILE_ROW = "file row"  # the index of a CSV as read: each row's place in the file


def _row(df: pd.DataFrame | pd.Series, k: int, first_row: int) -> int:
    """The row number of ``df``'s ``k``-th row: its place in the file for a CSV as read (blank
    lines left out), else its position counted from ``first_row``."""
    return int(df.index[k]) + first_row if df.index.name == FILE_ROW else k + first_row


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
    return BadCell(source, _row(df, k, first_row), column, why, value)


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
        found = [str(c) for c in df.columns]
        read = f"; its header reads {', '.join(repr(c) for c in found[:8])}"
        if len(found) > 8:
            read += ", …"
        hint = next(
            (
                f" — one column: is the file separated by {name}? Save it comma-separated"
                for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars"))
                if len(found) == 1 and sep in found[0]
            ),
            "",
        )
        spaced = [c for c in found if c != c.strip() and c.strip() in required]
        if spaced:
            hint += f" — {spaced[0]!r} has spaces around its name"
        raise MissingColumns(
            f"{source}: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(required)}{also}{read}{hint}"
        )
    if df.empty:
        raise InvalidSalesFile(f"{source}: no rows")


def _dates(df: pd.DataFrame, source: str, first_row: int) -> pd.Series:
    """The ``ds`` column as naive timestamps on the wall clock of the place they were recorded,
    checked. ISO 8601 (``2024-11-29``, ``2024-11-29 00:00``, with or without UTC offsets — a
    local-time export across a change to or from summer time keeps each value's wall clock) is
    read as it is. Any other text must be in ONE format for the whole column, day-first or
    month-first (``29/11/2024``, ``11/29/24``, ``29.11.2024``); a column that fits both with
    different dates is refused as ambiguous rather than guessed. Numbers are not dates."""
    raw = df["ds"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        ds = raw
    elif pd.api.types.is_numeric_dtype(raw):
        raise BadCell(
            source,
            _row(raw, 0, first_row),
            "ds",
            "a number, not a date (write dates as YYYY-MM-DD)",
            raw.iloc[0],
        )
    else:
        text = raw.astype("string").str.strip()
        iso = _iso_dates(text)
        ds = iso if iso is not None else _one_format(df, text, source, first_row)
    if ds.isna().any():
        raise _bad(df, source, first_row, ds.isna(), "ds", "not a date")
    if getattr(ds.dt, "tz", None) is not None:
        ds = ds.dt.tz_localize(None)
    return ds


def _iso_dates(text: pd.Series) -> pd.Series | None:
    """Every value read as ISO 8601, each on its own wall clock; None unless all are ISO."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns about mixed offsets before it refuses
        try:
            ds = pd.to_datetime(text, format="ISO8601", errors="coerce")
            if pd.api.types.is_datetime64_any_dtype(ds) and not ds.isna().any():
                return ds
        except (ValueError, TypeError):
            pass
        if pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).isna().any():
            return None
    # all ISO 8601, with different UTC offsets: each value keeps its own wall clock
    return pd.Series([_wall_clock(v) for v in text], index=text.index, dtype="datetime64[ns]")


def _date_formats() -> list[str]:
    days = []
    for sep in "/.-":
        for year in ("%Y", "%y"):
            days += [f"%d{sep}%m{sep}{year}", f"%m{sep}%d{sep}{year}"]
    return [d + t for d in days for t in ("", " %H:%M", " %H:%M:%S")]


DATE_FORMATS = _date_formats()  # the non-ISO formats a column may be in (one per column)


def _one_format(df: pd.DataFrame, text: pd.Series, source: str, first_row: int) -> pd.Series:
    """The column read in the one day-first or month-first format that fits every value."""
    parsed = {f: pd.to_datetime(text, format=f, errors="coerce") for f in DATE_FORMATS}
    whole = {f: ds for f, ds in parsed.items() if not ds.isna().any()}
    readings = list({tuple(ds.array): f for f, ds in whole.items()}.values())
    if len(readings) == 1:
        return whole[readings[0]]
    if len(readings) > 1:
        a, b = whole[readings[0]], whole[readings[1]]
        differ = (a != b).to_numpy()
        k = int(np.flatnonzero(differ)[0])
        raise BadCell(
            source,
            _row(text, k, first_row),
            "ds",
            f"ambiguous date: {a.iloc[k]:%Y-%m-%d} or {b.iloc[k]:%Y-%m-%d}? "
            "write dates as YYYY-MM-DD",
            text.iloc[k],
        )
    best = min(DATE_FORMATS, key=lambda f: int(parsed[f].isna().sum()))
    if parsed[best].notna().any():  # most values fit one format: the first that does not
        raise _bad(
            df,
            source,
            first_row,
            parsed[best].isna(),
            "ds",
            f"not in the format of the column's other dates ({best})",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iso = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    where = iso.isna() if iso.notna().any() else text.isna() | text.notna()
    raise _bad(df, source, first_row, where, "ds", "not a date")


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
            if np.isinf(num.to_numpy(dtype=float)).any():
                raise _bad(df, source, first_row, np.isinf(num), col, "not a finite number")
            if (num < 0).any():
                why = "a price below zero" if col == "price" else "a promotion below zero"
                raise _bad(df, source, first_row, num < 0, col, why)
            out[col] = num.astype(float)


def _unique(df: pd.DataFrame, out: pd.DataFrame, source: str, first_row: int) -> pd.DataFrame:
    dup = out.duplicated(["unique_id", "ds"]).to_numpy()
    if dup.any():
        raise _bad(df, source, first_row, dup, "ds", "a second row for the same unique_id and ds")
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


INTERVALS = ("lo-80", "hi-80", "lo-95", "hi-95")


def read_forecast(path: str | Path, model: str = "mean") -> pd.DataFrame:
    """A forecast file in statsforecast's convention (what ``tillwise forecast predict``
    writes): ``unique_id, ds, <model>`` and optionally the intervals ``lo-80, hi-80, lo-95,
    hi-95``; checked, one row per series and period."""
    raw, source, first_row = _read_frame(path)
    out = _keys(raw, source, first_row, ("unique_id", "ds", model), INTERVALS)
    _numbers(raw, out, source, first_row, (model, *(c for c in INTERVALS if c in raw)))
    for column in (model, *(c for c in INTERVALS if c in raw)):
        if out[column].isna().any():  # an interval with a gap would score as a miss
            raise _bad(raw, source, first_row, out[column].isna(), column, "missing")
    return _unique(raw, out, source, first_row)


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


def validate_history(
    df: pd.DataFrame, source: str = "history", first_row: int = 1, freq: str | None = None
) -> pd.DataFrame:
    """Check and normalise a long frame: types, no missing keys, y >= 0, unique (id, ds) and,
    given ``freq``, every ``ds`` on that calendar."""

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
    if freq is not None:
        _on_calendar(df, out, source, first_row, freq)
    return _unique(df, out, source, first_row)


def _on_calendar(
    df: pd.DataFrame, out: pd.DataFrame, source: str, first_row: int, freq: str
) -> None:
    from .panel import build_calendar  # here: panel imports this module

    if freq.upper() == "D":  # a time of day (a UTC instant of a local midnight) is no day
        timed = out["ds"] != out["ds"].dt.normalize()
        if timed.any():
            why = (
                "not on the D calendar: expected a whole day, got a time of day (give each "
                "row the store's local date)"
            )
            raise _bad(df, source, first_row, timed, "ds", why)
    calendar = build_calendar(out["ds"], freq)
    off = calendar.get_indexer(out["ds"]) < 0
    if off.any():
        start = calendar[0]
        period = (
            f"a week starting on a {start:%A} (the first date is {start:%Y-%m-%d})"
            if freq.upper() == "W"
            else "a whole day (no time of day)"
        )
        raise _bad(
            df, source, first_row, off, "ds", f"not on the {freq} calendar: expected {period}"
        )
