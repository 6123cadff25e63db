"""A long-format history as a dense panel: one row per series, one column per period.

Conventions (documented for every caller):

* The calendar is shared by all series: every period from the earliest to the latest ``ds`` at
  ``freq`` ("D", "W" = 7 days from the first ``ds``, or any pandas offset such as a
  ``CustomBusinessDay`` for a trading-day calendar). A ``ds`` off that calendar is an error.
* A series starts at its first row; a period after its start with no row is **zero demand**
  (sales data records sales, not their absence). Every series runs to the panel's last period.
* ``censored`` periods (out of stock) are demand we did not see: they are **not zero**. Before
  fitting, each is imputed with the mean of the series' previous 28 uncensored periods (the
  recent level; the whole uncensored history when the series is younger), and metrics skip
  them. A series censored throughout (out of stock from its first sale on, e.g. one order took
  the whole stock) is imputed with what it sold per period over its life: demand was at least
  its sales, so that lower bound, not zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

IMPUTE_WINDOW = 28


def freq_offset(freq: Any) -> pd.DateOffset:
    """ "D", "W" (7 days, anchored on the first ds) or any pandas offset."""
    if isinstance(freq, str) and freq.upper() == "W":
        return pd.DateOffset(days=7)
    if isinstance(freq, str) and freq.upper() == "D":
        return pd.DateOffset(days=1)
    return pd.tseries.frequencies.to_offset(freq)


def season_length(freq: Any) -> int:
    """The weekly season in periods: 7 for days, 6 for a six-day trading week, 1 for weeks."""
    off = freq_offset(freq)
    weekmask = getattr(off, "weekmask", None)
    if weekmask:
        return len(str(weekmask).split())
    if off == pd.DateOffset(days=1):
        return 7
    return 1


@dataclass
class Panel:
    ids: np.ndarray  # object array of str, sorted
    calendar: pd.DatetimeIndex  # the shared periods, length T
    freq: Any
    y: np.ndarray  # (n, T) float: demand; NaN before a series starts; censored imputed
    observed: np.ndarray  # (n, T) bool: a real (uncensored) observation after the start
    start: np.ndarray  # (n,) int: index of the first period of each series
    price: np.ndarray | None = None  # (n, T) float, carried forward; NaN before known
    promo: np.ndarray | None = None  # (n, >= T) float, 0 when unknown; past T: planned
    holidays: Mapping[date, str] = field(default_factory=dict)  # public holidays (see .holidays)

    @property
    def integer(self) -> bool:
        """Whole-unit demand (every observed value an integer): intervals in whole units."""
        v = self.y[self.observed]
        return bool(np.all(v == np.round(v)))

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def periods(self) -> int:
        return len(self.calendar)

    def future(self, cutoff: int, horizon: int) -> pd.DatetimeIndex:
        """The ``horizon`` periods after ``cutoff`` (exclusive end of training)."""
        last = self.calendar[cutoff - 1]
        off = freq_offset(self.freq)
        return pd.DatetimeIndex([last + off * (k + 1) for k in range(horizon)])

    def dates(self, cutoff: int, horizon: int) -> pd.DatetimeIndex:
        """Dates of periods ``cutoff .. cutoff + horizon - 1`` (known or extrapolated)."""
        if cutoff + horizon <= self.periods:
            return self.calendar[cutoff : cutoff + horizon]
        known = self.calendar[cutoff:]
        return known.append(self.future(self.periods, cutoff + horizon - self.periods))

    def subset(self, rows: np.ndarray) -> Panel:
        return Panel(
            ids=self.ids[rows],
            calendar=self.calendar,
            freq=self.freq,
            y=self.y[rows],
            observed=self.observed[rows],
            start=self.start[rows],
            price=None if self.price is None else self.price[rows],
            promo=None if self.promo is None else self.promo[rows],
            holidays=self.holidays,
        )


def build_calendar(ds: pd.Series, freq: Any) -> pd.DatetimeIndex:
    first, last = ds.min(), ds.max()
    off = freq_offset(freq)
    if isinstance(off, pd.DateOffset) and off == pd.DateOffset(days=7):
        return pd.date_range(first, last, freq="7D")
    return pd.date_range(first, last, freq=off)


def to_panel(
    history: pd.DataFrame,
    freq: Any = "D",
    holidays: Mapping[date, str] | None = None,
    future: pd.DataFrame | None = None,
) -> Panel:
    """Build the dense panel from a validated long frame (see :mod:`.reader`); ``holidays``
    (``{date: name}``) are the public holidays whose effects the forecast learns; ``future``
    (``unique_id, ds, promo``, :func:`.reader.validate_future`) the promotions planned after
    the history."""
    df = history.copy()
    df["unique_id"] = df["unique_id"].astype(str)
    df["ds"] = pd.to_datetime(df["ds"])
    calendar = build_calendar(df["ds"], freq)
    pos = calendar.get_indexer(df["ds"])
    if (pos < 0).any():
        bad = df.loc[pos < 0, "ds"].iloc[0]
        raise ValueError(f"ds {bad.date()} is not on the {freq} calendar starting {calendar[0]}")
    ids, rows = np.unique(df["unique_id"].to_numpy(), return_inverse=True)
    n, t = len(ids), len(calendar)
    y_obs = np.zeros((n, t))
    np.add.at(y_obs, (rows, pos), df["y"].to_numpy(dtype=float))
    start = np.full(n, t, dtype=int)
    np.minimum.at(start, rows, pos)
    started = np.arange(t)[None, :] >= start[:, None]
    censored = np.zeros((n, t), dtype=bool)
    if "censored" in df:
        c = df["censored"].fillna(False).astype(bool).to_numpy()
        censored[rows[c], pos[c]] = True
    observed = started & ~censored
    y = np.where(started, y_obs, np.nan)
    y[censored] = np.nan
    y = _impute(y, observed, start, np.where(started, y_obs, 0.0))
    price = promo = None
    if "price" in df and df["price"].notna().any():
        raw = np.full((n, t), np.nan)
        ok = df["price"].notna().to_numpy()
        raw[rows[ok], pos[ok]] = df["price"].to_numpy(dtype=float)[ok]
        price = pd.DataFrame(raw.T).ffill().to_numpy().T
    if "promo" in df and df["promo"].notna().any():
        promo = np.zeros((n, t))
        ok = df["promo"].notna().to_numpy()
        promo[rows[ok], pos[ok]] = df["promo"].astype(float).to_numpy()[ok]
    if future is not None and not future.empty:
        promo = _planned(promo, ids, calendar, freq, future)
    return Panel(ids, calendar, freq, y, observed, start, price, promo, dict(holidays or {}))


class InvalidFuture(ValueError):
    """Planned promotions that do not fit the history (unknown series, past or off-calendar
    periods)."""


def _planned(
    promo: np.ndarray | None,
    ids: np.ndarray,
    calendar: pd.DatetimeIndex,
    freq: Any,
    future: pd.DataFrame,
) -> np.ndarray:
    """The promo array extended past the history with the ``future`` rows
    (:class:`InvalidFuture` for an unknown series, a period inside the history or off the
    calendar)."""
    ds = pd.to_datetime(future["ds"])
    uid = future["unique_id"].astype(str).to_numpy()
    row = np.searchsorted(ids, uid)
    span = build_calendar(pd.Series([calendar[0], max(ds.max(), calendar[-1])]), freq)
    pos = span.get_indexer(ds)
    known = (row < len(ids)) & (ids[np.minimum(row, len(ids) - 1)] == uid)
    for mask, why in (
        (~known, "has no history"),
        (pos < 0, f"is not on the {freq} calendar"),
        (
            (pos >= 0) & (pos < len(calendar)),
            f"is not after the history (ends {calendar[-1].date()})",
        ),
    ):
        if mask.any():
            k = int(np.flatnonzero(mask)[0])
            raise InvalidFuture(f"planned promotion of {uid[k]!r} on {ds.iloc[k].date()} {why}")
    out = np.zeros((len(ids), len(span)))
    if promo is not None:
        out[:, : promo.shape[1]] = promo
    out[row, pos] = future["promo"].to_numpy(dtype=float)
    return out


def history_panel(
    history: pd.DataFrame,
    freq: Any,
    horizon: int,
    holidays: str | Mapping[date, str] | None = None,
    future: pd.DataFrame | None = None,
    events: Mapping[date, str] | None = None,
) -> Panel:
    """Validate a long-format ``history`` (:mod:`.reader`) and build its panel with the
    holidays a forecaster was given (a country code or ``{date: name}``, :mod:`.holidays`)
    over the history and the ``horizon`` periods after it and the retailer's ``events``, and
    the promotions planned in ``future`` (:func:`.reader.validate_future`)."""
    from .holidays import holidays_for
    from .reader import validate_future, validate_history

    valid = validate_history(history)
    planned = None if future is None else validate_future(future)
    return to_panel(valid, freq, holidays_for(holidays, valid, horizon, freq, events), planned)


def _impute(y: np.ndarray, observed: np.ndarray, start: np.ndarray, sold: np.ndarray) -> np.ndarray:
    """Fill censored periods (NaN after the start) with the recent uncensored level; a series
    never observed uncensored with its ``sold`` units per period since its start."""
    out = y.copy()
    n, t = y.shape
    some: np.ndarray = np.asarray(observed.any(axis=1))
    holes = np.argwhere(some[:, None] & np.isnan(y) & (np.arange(t) >= start[:, None]))
    for i, j in holes:
        lo = max(int(start[i]), int(j) - 4 * IMPUTE_WINDOW)
        past = y[i, lo:j][observed[i, lo:j]][-IMPUTE_WINDOW:]
        if past.size == 0:
            past = y[i][observed[i]]
        out[i, j] = float(past.mean()) if past.size else 0.0
    never = ~observed.any(axis=1)
    for i in np.flatnonzero(never):
        life = sold[i, start[i] :]
        out[i, start[i] :] = float(life.mean()) if life.size else 0.0
    return out
