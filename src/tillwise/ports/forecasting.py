"""The demand-forecasting port: fit on daily (or weekly) history, forecast with intervals.

Implementations live in :mod:`tillwise.compute.forecasting` (statsforecast / mlforecast); the
replenishment workflow depends only on this port.

History is a long-format frame in Nixtla's convention — one row per series and period:

=========== ================================================================================
unique_id   str: the series ("<connection>:<location>:<sku>" for store demand)
ds          datetime64: the period (a local calendar day, or a week's start)
y           float: units demanded (sold) in the period, >= 0
censored    bool, optional: the item was out of stock during the period, so ``y`` is a lower
            bound of demand, not demand (treated as missing, never as zero demand)
price       float, optional: average selling price in the period
promo       float/bool, optional: a promotion ran
=========== ================================================================================

Forecasts use statsforecast's column convention: ``unique_id, ds, mean, lo-80, hi-80, lo-95,
hi-95``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_LEVELS: tuple[int, ...] = (80, 95)


@dataclass(frozen=True)
class Accuracy:
    """Rolling-origin backtest figures of one method on one series (None: not computable)."""

    method: str
    windows: int  # how many backtest windows the figures average over
    rmsse: float | None  # M5 style: scaled by the in-sample one-step naive error
    mase: float | None
    wape: float | None
    bias: float | None  # mean(forecast - actual) / mean(actual)
    coverage_80: float | None  # share of actuals inside the 80% interval
    coverage_95: float | None


@dataclass(frozen=True)
class LeadTimeDemand:
    """Total demand over the next ``days`` periods: its mean and its quantile at ``level``."""

    unique_id: str
    days: int
    mean: float
    quantile: float
    level: float  # the service level asked for, e.g. 0.95
    method: str  # how the quantile was obtained (e.g. "conformal sums of backtest errors")


@dataclass(frozen=True)
class CalendarEffect:
    """A day of the forecast horizon that a public holiday or one of the retailer's events
    moves: ``name`` ("Christmas Day", "the day after Boxing Day", "Black Friday") and the
    multiplier learned from its earlier occurrences (0 where the store closes)."""

    day: date
    name: str
    effect: float


class UnknownHolidays(ValueError):
    """No public-holiday calendar exists for the country code given to a forecaster."""


class DemandForecast(Protocol):
    """One fitted forecast over many series."""

    model: str  # the production forecaster's name, recorded with every proposal
    version: str
    horizon: int
    freq: str

    def frame(self) -> pd.DataFrame:
        """``unique_id, ds, mean, lo-80, hi-80, lo-95, hi-95``: one row per series and step."""
        ...

    def accuracy(self, unique_id: str) -> Accuracy | None:
        """The production method's backtest figures on this series (None: too short)."""
        ...

    def method(self, unique_id: str) -> str:
        """What produced this series' forecast (e.g. "combination(ADIDA, TSB, LightGBM)")."""
        ...

    def summary(self, unique_id: str) -> str:
        """The same in a buyer's words: how it was forecast, without the analyst's detail."""
        ...

    def lead_time_demand(self, unique_id: str, days: int, level: float) -> LeadTimeDemand:
        """Demand over the next ``days`` periods (1 <= days <= horizon) at service ``level``."""
        ...

    def observed_periods(self, unique_id: str) -> int:
        """Periods of the series' history when its demand was seen (in stock, not censored);
        0: out of stock every period since it first sold, so its demand was never measured."""
        ...

    def calendar_effects(self) -> Sequence[CalendarEffect]:
        """The horizon's days a holiday or event moves (every series alike), in date order."""
        ...


class Forecaster(Protocol):
    name: str
    version: str

    def fit_predict(
        self,
        history: pd.DataFrame,
        horizon: int,
        *,
        freq: str = "D",
        levels: Sequence[int] = DEFAULT_LEVELS,
        holidays: str | Mapping[date, str] | None = None,
        future: pd.DataFrame | None = None,
        events: Mapping[date, str] | None = None,
    ) -> DemandForecast:
        """Fit on ``history`` (see the module docstring) and forecast ``horizon`` periods
        past each series' last ``ds``. Series too short for a method fall back to a simpler
        one; every series in ``history`` gets a forecast. ``holidays`` — a country code with an
        optional subdivision (``GB``, ``US-CA``: its public holidays) or ``{date: name}`` over
        the history and the horizon — are the days whose effects are learned where history
        allows; :class:`UnknownHolidays` when there is no calendar for the code. ``future``
        (``unique_id, ds, promo`` after the history) are the promotions planned for the
        horizon, whose effects are learned from the history's ``promo`` column. ``events`` —
        the retailer's own ``{date: name}`` (Black Friday, a store's sale days), past and
        planned — are learned like holidays."""
        ...
