"""The production demand forecaster (implements :class:`tillwise.ports.forecasting.Forecaster`).

``ProductionForecaster.fit_predict`` builds the panel (:mod:`.panel`: zero-filled gaps,
censored periods imputed, never zero), runs its own rolling-origin backtest over
``INNER_WINDOWS`` windows of ``horizon`` periods, lets them decide between the level model and
the stacked combination fitted there (:mod:`.backtest`), and forecasts ``horizon`` periods past
the panel's last period.

The method — and why (measured by ``python -m bench.forecast`` on Online Retail II to
2011-08-31: 2,669 SKUs, trading days, horizon 28, holdout + 3 windows; see :mod:`.backtest` for
the definition): the level model (pooled LightGBM fitted to the volume-weighted RMSSE) x day
profile (weekday, public holidays, planned promotions), with the stacked combination where the
level model cannot be trained (small panels) or loses to the statistical methods' plain mean on
the inner windows. Against the best single method (CrostonSBA: RMSSE 0.677 holdout / 0.652 mean,
WAPE 1.256 / 1.268) it scores RMSSE 0.649 / 0.626 (x0.958 / x0.960), WAPE 1.080 / 1.083 (x0.860
/ x0.854), bias -26.0% / -19.9%, 80% coverage 87.6% / 87.3%. On the same season a year earlier
(``--until 2010-12-09``, the pre-Christmas ramp with one year of history) x0.991 / x0.980, WAPE
x0.902 / x0.857. The stacked combination alone: x0.966 / x0.965. The 5% RMSSE target is *not*
met and is close to out of reach for these data: even the hindsight-optimal flat forecast (each
series' true mean over the window) reaches only x0.930 (x0.918 with the weekday profile), and
the hindsight-true panel level makes it worse (x0.977) — the loss is one-off orders, mostly from
customers new to the SKU. RMSSE is a mean of square roots per series, so its optimum sits below
the conditional mean (windows with a one-off order weigh less): that is the negative bias.
Forcing it towards 0 costs the RMSSE gain (stack rescaled to bias +2%: x0.998). Intervals and
lead-time quantiles are conformal on this forecast's own residuals, so the bias does not leak
into the safety-stock quantiles. On store-level daily sales with promotions (Rossmann, 100
stores, ``python -m bench.forecast_stores``) production is the stacked combination x day
profile: RMSSE 0.212 / 0.242 against SeasonalNaive's 0.496 / 0.680 — per-series weekday
profiles and the planned promotions make most of that (0.352 / 0.401 without them). On weekly
store sales (Walmart, 45 stores) last year's same week joins the stack: RMSSE 0.310 / 0.383
against the best single method's 0.433 / 0.443 (x0.715 / x0.864).

Intervals are conformal: quantiles of the series' own backtest residuals (``actual -
forecast``, all steps of all inner windows), or — with fewer than 20 residuals — the panel's
residuals scaled by the series' mean level. Lower bounds are floored at 0.

``lead_time_demand(uid, days, level)`` is the quantile of the *sum* of demand over ``days``
periods: the forecast sum corrected by the series' own mean error of ``days``-period sums
(every offset inside each window; never below zero), plus their spread times a multiple learned
on held-out windows — for each inner window, mean and spread from the *other* windows, the
multiple whose quantiles lose least (pinball at ``level``) on that window's first ``days``
periods; above the median never below a shorter period's, below it never above. Location and
scale are the series' own, the multiple the panel's: a tail quantile of a few dozen overlapping
sums — three windows' worth — jumps from one protection period to the next; their mean and
spread grow smoothly. (The panel's errors standardized by their own mean and spread — the
multiple until version 2026.6, x1.77 at 95 % on Online Retail — look tighter than the next
window's: the 95 % quantile covered 92 % of the next 5 days' demand and 84 % of the next 26.
Held out, the multiple grows from x2.2 at 5 days to x3.55 at 26: 93 % and 91.5 % covered, the
pinball loss lower from 8 days on; ``python -m bench.reorder_points``. That standardized tail
remains where too few windows say.) When a long protection period or stock-outs leave fewer
than 5 such sums, the mean and spread of its longest sums that have enough are grown to
``days`` (the spread by the square root of the ratio). Above the median the quantile is at
least the Poisson quantile of the mean sum (the randomness of sales at that rate, which three
windows of errors can understate) and at least the mean sum. With no backtest at all (a history
shorter than two horizons, or an item new since the last window) it is the Poisson quantile of
the mean sum. A longer period's quantile is never below a shorter one's. All of it is computed
once per level for every series and period (a table), then read. (An earlier version scaled the
panel's errors by level·sqrt(days) for a series with fewer than 20 sums: a high-volume item got
several times the safety stock it needed, and the reorder point jumped where the sums ran
short.) A series' level
— which scales its daily intervals when it has few errors — is its mean before the last inner
window, or, for one that started after it, over its history.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from tillwise.ports.compute import Executor
from tillwise.ports.forecasting import DEFAULT_LEVELS, Accuracy, CalendarEffect, LeadTimeDemand

from .backtest import (
    COMBINED,
    PRODUCTION,
    Residuals,
    actuals,
    apply_intervals,
    describe_production,
    inner_cutoffs,
    inner_values,
    interval_quantiles,
    production_stack,
    production_values,
    residuals,
    run_grid,
    summarize_production,
)
from .metrics import window_errors
from .panel import Panel, history_panel

MIN_CALENDAR_EFFECT = 0.05  # a holiday that moves demand less is not worth a buyer's reading
VERSION = "2026.7"  # .3: holidays, last-year features; .4: promotions; .5: weekly seasonal;
# .6: stack weights need two windows and sum to at least a half; events; .7: the stack never
# below half its members' plain mean per series, lead-time quantiles' multiple held out


class ProductionForecaster:
    """The forecaster the backtest chose (see :mod:`.backtest`). ``executor`` runs the
    per-series work (default: in this process)."""

    name = "tillwise-demand"  # the level model or, on small panels, the stacked combination
    version = VERSION

    def __init__(self, executor: Executor | None = None, inner_windows: int | None = None) -> None:
        from tillwise.compute.executors import InlineExecutor

        self.executor: Executor = executor or InlineExecutor()
        self.inner_windows = inner_windows

    def fit_predict(
        self,
        history: pd.DataFrame,
        horizon: int,
        *,
        freq: Any = "D",
        levels: Sequence[int] = DEFAULT_LEVELS,
        holidays: str | Mapping[date, str] | None = None,
        future: pd.DataFrame | None = None,
        events: Mapping[date, str] | None = None,
    ) -> Forecast:
        if horizon < 1:
            raise ValueError("horizon must be at least 1")
        panel = history_panel(history, freq, horizon, holidays, future, events)
        end = panel.periods
        kw = {} if self.inner_windows is None else {"windows": self.inner_windows}
        inner = inner_cutoffs(end, horizon, panel, **kw)
        grid = run_grid(panel, horizon, [*inner, end], self.executor, singles=COMBINED)
        stack = production_stack(grid, end, inner)
        mean = production_values(grid, end, stack)
        chosen = PRODUCTION
        for c, values in inner_values(grid, end, inner, stack).items():
            grid.values[c][chosen] = values  # the conformal residuals
        res = residuals(grid, chosen, inner) if inner else None
        method = describe_production(stack, panel)
        return Forecast(
            model=self.name,
            version=self.version,
            horizon=horizon,
            freq=str(freq) if isinstance(freq, str) else getattr(freq, "freqstr", str(freq)),
            panel=panel,
            mean=np.nan_to_num(mean),
            levels=tuple(levels),
            residuals=res,
            method_name=method,
            summary=summarize_production(stack, panel),
            accuracy_by_row=_accuracy(grid, chosen, inner, levels, method),
        )


class Forecast:
    """A fitted :class:`tillwise.ports.forecasting.DemandForecast`."""

    def __init__(
        self,
        *,
        model: str,
        version: str,
        horizon: int,
        freq: str,
        panel: Panel,
        mean: np.ndarray,
        levels: tuple[int, ...],
        residuals: Residuals | None,
        method_name: str,
        summary: str,
        accuracy_by_row: list[Accuracy | None],
    ) -> None:
        self.model, self.version, self.horizon, self.freq = model, version, horizon, freq
        self._panel = panel
        self._mean = mean
        self._levels = levels
        self._res = residuals
        self._method = method_name
        self._summary = summary
        self._accuracy = accuracy_by_row
        self._row = {uid: i for i, uid in enumerate(panel.ids)}
        self._spreads: SumSpreads | None = None
        self._tables: dict[float, QuantileTable] = {}
        if residuals is not None:
            self._q = interval_quantiles(residuals, levels)
        else:
            self._q = _poisson_quantiles(mean, levels)

    def frame(self) -> pd.DataFrame:
        panel, h = self._panel, self.horizon
        ds = panel.future(panel.periods, h)
        out = pd.DataFrame(
            {
                "unique_id": np.repeat(panel.ids, h),
                "ds": np.tile(ds.to_numpy(), panel.n),
                "mean": self._mean.reshape(-1),
            }
        )
        for lv, (lo, hi) in apply_intervals(self._mean, self._q, self._panel.integer).items():
            out[f"lo-{lv}"] = lo.reshape(-1)
            out[f"hi-{lv}"] = hi.reshape(-1)
        return out

    def accuracy(self, unique_id: str) -> Accuracy | None:
        return self._accuracy[self._index(unique_id)]

    def method(self, unique_id: str) -> str:
        self._index(unique_id)
        return self._method

    def summary(self, unique_id: str) -> str:
        self._index(unique_id)
        return self._summary

    def lead_time_demand(self, unique_id: str, days: int, level: float) -> LeadTimeDemand:
        i = self._index(unique_id)
        if not 1 <= days <= self.horizon:
            raise ValueError(f"days must be between 1 and the horizon ({self.horizon})")
        p = level / 100 if level > 1 else level
        if not 0 < p < 1:
            raise ValueError("level must be a probability such as 0.95")
        if p not in self._tables:
            self._tables[p] = self._table(p)
        table = self._tables[p]
        d = days - 1
        mean = float(self._mean[i, :days].sum())
        if self._res is None or not np.isfinite(table.rule[i, d]):
            how = "Poisson quantile of the mean sum (" + (
                "history too short to backtest)" if self._res is None else "no backtest errors)"
            )
        elif p >= 0.5 and table.by_count[i, d] > table.rule[i, d]:
            how = "Poisson quantile of the mean sum (above its backtest errors' quantile)"
        else:
            assert self._spreads is not None
            how = (
                f"conformal: {int(self._spreads.count[i, d])} backtest errors of {days}-period sums"
            )
        return LeadTimeDemand(unique_id, days, mean, float(table.quantile[i, d]), p, how)

    def observed_periods(self, unique_id: str) -> int:
        return int(self._panel.observed[self._index(unique_id)].sum())

    def calendar_effects(self) -> list[CalendarEffect]:
        """The horizon's days a holiday or event moves by at least ``MIN_CALENDAR_EFFECT``."""
        from .holidays import holiday_days

        days = self._panel.future(self._panel.periods, self.horizon)
        return [
            CalendarEffect(days[k].date(), name, round(effect, 3))
            for k, name, effect in holiday_days(self._panel, self._panel.periods, self.horizon)
            if abs(effect - 1.0) >= MIN_CALENDAR_EFFECT
        ]

    def _table(self, p: float) -> QuantileTable:
        """The ``p`` quantiles of every series' demand over 1 … horizon periods (see the module
        docstring): the bias-corrected mean sum (never below zero) plus the spread times the
        held-out multiple of each period; above the median at least the Poisson quantile of the
        mean sum and the mean sum; never below a shorter period's quantile."""
        sums = np.cumsum(self._mean, axis=1)  # (n, horizon) mean demand over 1 … h periods
        by_count = _by_count(sums, p)
        rule = np.full_like(sums, np.nan)
        if self._res is not None:
            if self._spreads is None:
                self._spreads = _sum_spreads(self._res.values)
            spreads = self._spreads
            shapes = _held_out_shapes(self._res, p)
            if shapes is None:
                shapes = np.full(self.horizon, _pooled_shape(self._res.values, p))
            rule = np.maximum(sums + spreads.location, 0.0) + shapes[None, :] * spreads.scale
        q = np.maximum(np.where(np.isfinite(rule), rule, by_count), _floor(sums, p))
        q = np.maximum.accumulate(np.maximum(q, 0.0), axis=1)
        return QuantileTable(q, rule, by_count)

    def _index(self, unique_id: str) -> int:
        try:
            return self._row[unique_id]
        except KeyError:
            raise KeyError(f"no forecast for series {unique_id!r}") from None


SHAPES = np.round(np.arange(-4.0, 8.0 + 1e-9, 0.05), 2)  # the multiples tried
MIN_HELD_OUT = 50  # fewer series-windows to judge by: the panel's standardized tail instead
MIN_SUMS = 5  # fewer sums than this say too little of how they spread
CHUNK = 4096  # series-windows scored at once (bounds the memory of the multiples' losses)


@dataclass(frozen=True)
class SumSpreads:
    """Each series' errors of sums over 1 … h periods (n, h): their mean, their standard
    deviation (NaN: fewer than ``MIN_SUMS`` sums, or none varying, and no shorter sums that
    have enough to grow) and how many there were."""

    location: np.ndarray
    scale: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class QuantileTable:
    quantile: np.ndarray  # (n, h) what lead_time_demand answers
    rule: np.ndarray  # (n, h) the conformal rule alone (NaN: no spread)
    by_count: np.ndarray  # (n, h) the Poisson quantile of the mean sum


def _sum_spreads(res: np.ndarray) -> SumSpreads:
    """:class:`SumSpreads` of residuals (n, windows, h) — every offset inside each window. With
    too few sums of ``d`` periods (a protection period near the window's length, stock-outs),
    the mean and spread of the longest shorter sums that have enough, grown to ``d`` (the
    spread by the square root of the ratio)."""
    n, _, h = res.shape
    location = np.full((n, h), np.nan)
    scale = np.full((n, h), np.nan)
    count = np.zeros((n, h))
    unit_loc = np.full(n, np.nan)  # per period, of the longest sums so far that had enough
    unit_var = np.full(n, np.nan)
    for d in range(1, h + 1):
        m, sd, c = _spread_of(_offset_sums(res, d).reshape(n, -1))
        count[:, d - 1] = c
        own = np.isfinite(sd)
        unit_loc = np.where(own, m / d, unit_loc)
        unit_var = np.where(own, sd * sd / d, unit_var)
        location[:, d - 1] = unit_loc * d
        scale[:, d - 1] = np.sqrt(unit_var * d)
    return SumSpreads(location, scale, count)


def _spread_of(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, standard deviation, count) of each row's finite sums; the deviation NaN with
    fewer than ``MIN_SUMS`` or none varying."""
    ok = np.isfinite(sums)
    c = ok.sum(axis=1)
    x = np.where(ok, sums, 0.0)
    with np.errstate(all="ignore"):
        m = x.sum(axis=1) / c
        var = np.where(ok, (sums - m[:, None]) ** 2, 0.0).sum(axis=1) / (c - 1)
    sd = np.where((c >= MIN_SUMS) & (var > 1e-12), np.sqrt(var), np.nan)
    return m, sd, c


def _pooled_shape(res: np.ndarray, p: float) -> float:
    """The ``p`` quantile of the panel's sum errors, each series' standardized by its own mean
    and spread, for sums of half the horizon; the normal quantile when no series has enough.
    (The multiple until forecaster version 2026.6; now only where too few windows say.)"""
    n, _, h = res.shape
    sums = _offset_sums(res, max(1, h // 2)).reshape(n, -1)
    m, sd, _ = _spread_of(sums)
    z = (sums - m[:, None]) / sd[:, None]
    pool = z[np.isfinite(z)]
    if pool.size:
        return float(np.quantile(pool, p))
    from scipy.stats import norm

    return float(norm.ppf(p))


def _held_out_shapes(res: Residuals, p: float) -> np.ndarray | None:
    """The spread multiple for sums of 1 … h periods (h,): for each ``d``, the one whose ``p``
    quantiles, set as :meth:`Forecast._table` sets them (location, floors and all), lose least
    (pinball) on each inner window's first ``d`` periods when mean and spread come from the
    *other* windows; above the median never below a shorter period's, below it never above
    (the quantiles spread out as the period grows). Standardized by their own errors, as the
    panel's tail is, the sums of a few windows look tighter than they are: that tail (x1.77 at
    95 % on Online Retail) covered 83-92 % of the next 5-26 days' demand, less the longer the
    period; held out, the multiple grows from x2.2 at 5 days to x3.55 at 26. A period without
    ``MIN_HELD_OUT`` series-windows to judge by takes a shorter period's multiple; None when
    none has (fewer than two windows, a small panel)."""
    values = res.values
    n, w, h = values.shape
    if res.actual is None or w < 2:
        return None
    out = np.full(h, np.nan)
    for d in range(1, h + 1):
        out[d - 1] = _held_out_shape(values, res.actual, d, p)
    if not np.isfinite(out).any():
        return None
    # a period with too few cases takes the shorter periods' (the first judged, before it)
    if p >= 0.5:
        out = np.maximum.accumulate(np.where(np.isfinite(out), out, -np.inf))
    else:
        out = np.minimum.accumulate(np.where(np.isfinite(out), out, np.inf))
    return np.where(np.isfinite(out), out, out[np.isfinite(out)][0])


def _held_out_shape(values: np.ndarray, actual: np.ndarray, days: int, p: float) -> float:
    """The multiple for ``days``-period sums (see :func:`_held_out_shapes`); NaN with fewer
    than ``MIN_HELD_OUT`` series-windows. Among multiples that lose the same, the widest."""
    sums = _offset_sums(values, days)  # (n, windows, offsets)
    ok = np.isfinite(sums)
    count = ok.sum(axis=2)
    total = np.where(ok, sums, 0.0).sum(axis=2)
    squares = np.where(ok, sums * sums, 0.0).sum(axis=2)
    # each window's sums against the mean and spread of the other windows' (as _spread_of)
    c = count.sum(axis=1, keepdims=True) - count
    with np.errstate(all="ignore"):
        location = (total.sum(axis=1, keepdims=True) - total) / c
        var = (squares.sum(axis=1, keepdims=True) - squares - c * location**2) / (c - 1)
    first = values[:, :, :days]
    case = np.isfinite(first).all(axis=2) & (c >= MIN_SUMS) & (var > 1e-12)
    if case.sum() < MIN_HELD_OUT:
        return float("nan")
    sold = actual[:, :, :days].sum(axis=2)[case]
    mean = sold - first.sum(axis=2)[case]  # what the forecast said for that window
    base = np.maximum(mean + location[case], 0.0)
    spread = np.sqrt(var[case])
    floor = _floor(mean, p)
    loss = np.zeros(SHAPES.size)
    for k in range(0, sold.size, CHUNK):
        part = slice(k, k + CHUNK)
        q = base[None, part] + SHAPES[:, None] * spread[None, part]
        q = np.maximum(np.maximum(q, floor[None, part]), 0.0)
        miss = sold[None, part] - q
        loss += np.where(miss > 0, p * miss, (p - 1) * miss).sum(axis=1)
    tied = np.flatnonzero(loss <= loss.min() * (1 + 1e-12) + 1e-12)
    return float(SHAPES[tied[-1] if p >= 0.5 else tied[0]])


def _by_count(mean: np.ndarray, p: float) -> np.ndarray:
    """The ``p`` quantile of a Poisson count with these means (0 where the mean is 0)."""
    from scipy.stats import poisson

    return np.asarray(np.where(mean > 0, poisson.ppf(p, np.maximum(mean, 1e-12)), 0.0))


def _floor(mean: np.ndarray, p: float) -> np.ndarray:
    """What a ``p`` quantile of demand with these means is never below: above the median the
    Poisson quantile and the mean itself; below it, nothing."""
    if p < 0.5:
        return np.zeros_like(mean)
    return np.maximum(_by_count(mean, p), mean)


def _offset_sums(res: np.ndarray, days: int) -> np.ndarray:
    """(n, windows, offsets) errors of ``days``-period sums at every offset of every window;
    NaN where a step inside is NaN."""
    n, w, h = res.shape
    filled = np.concatenate([np.zeros((n, w, 1)), np.cumsum(np.nan_to_num(res), axis=2)], axis=2)
    seen = np.concatenate([np.zeros((n, w, 1)), np.cumsum(np.isfinite(res), axis=2)], axis=2)
    sums = filled[:, :, days:] - filled[:, :, : h - days + 1]
    full = (seen[:, :, days:] - seen[:, :, : h - days + 1]) == days
    return np.where(full, sums, np.nan)


def _poisson_quantiles(
    mean: np.ndarray, levels: Sequence[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    from scipy.stats import poisson

    lvl = np.nanmean(mean, axis=1)
    out = {}
    for lv in levels:
        a = (1 - lv / 100) / 2
        out[lv] = (poisson.ppf(a, lvl) - lvl, poisson.ppf(1 - a, lvl) - lvl)
    return out


def _accuracy(
    grid: Any, name: str, inner: list[int], levels: Sequence[int], method: str
) -> list[Accuracy | None]:
    """Per-series figures of the chosen combination over the inner windows; coverage with
    intervals from the *other* inner windows (leave one window out)."""
    panel = grid.panel
    n = panel.n
    if not inner:
        return [None] * n
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("rmsse", "mase", "wape", "bias")}
    cover: dict[int, list[np.ndarray]] = {lv: [] for lv in levels}
    counts: list[np.ndarray] = []
    for j, c in enumerate(inner):
        a, o = actuals(panel, c, grid.horizon)
        f = grid.values[c][name]
        ok = np.isfinite(f[:, 0])
        f0 = np.nan_to_num(f)
        o = o & ok[:, None]
        others = [k for k in range(len(inner)) if k != j]
        intervals = None
        if others:
            r = residuals(grid, name, [inner[k] for k in others])
            intervals = apply_intervals(f0, interval_quantiles(r, levels), panel.integer)
        w = window_errors(a, f0, o, panel.y[:, :c], intervals)
        with np.errstate(all="ignore"):
            cols["rmsse"].append(np.where(o.any(1), w.rmsse(), np.nan))
            cols["mase"].append(np.where(o.any(1), w.mase(), np.nan))
            cols["wape"].append(
                np.where(w.actual > 0, w.ab / np.where(w.actual > 0, w.actual, 1), np.nan)
            )
            cols["bias"].append(
                np.where(w.actual > 0, w.err / np.where(w.actual > 0, w.actual, 1), np.nan)
            )
        for lv in levels:
            cover[lv].append(
                np.where(o.any(1), w.inside[lv] / np.maximum(w.count, 1), np.nan)
                if intervals
                else np.full(n, np.nan)
            )
        counts.append(o.any(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        means = {k: np.nanmean(np.stack(v), axis=0) for k, v in cols.items()}
        cov = {lv: np.nanmean(np.stack(v), axis=0) for lv, v in cover.items()}
    windows = np.sum(np.stack(counts), axis=0)

    def val(x: np.ndarray, i: int) -> float | None:
        return float(x[i]) if np.isfinite(x[i]) else None

    out: list[Accuracy | None] = []
    for i in range(n):
        if windows[i] == 0:
            out.append(None)
            continue
        out.append(
            Accuracy(
                method=method,
                windows=int(windows[i]),
                rmsse=val(means["rmsse"], i),
                mase=val(means["mase"], i),
                wape=val(means["wape"], i),
                bias=val(means["bias"], i),
                coverage_80=val(cov[80], i) if 80 in cov else None,
                coverage_95=val(cov[95], i) if 95 in cov else None,
            )
        )
    return out
