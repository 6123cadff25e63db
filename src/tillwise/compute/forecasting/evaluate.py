"""The backtest behind ``tillwise forecast backtest`` and ``bench/forecast.py``.

Windows: the last ``horizon`` periods (the holdout) and ``windows - 1`` earlier windows, one
every ``horizon`` periods. Every candidate is scored on each; its intervals come from the (up to
three) windows before it. The production forecaster at each origin fits its stacking weights
on those earlier windows only. The baseline is the single statsforecast method with the best
mean volume-weighted RMSSE over the windows (chosen after the fact, in its favour); WAPE is also
compared with the single method that has the best mean WAPE (``wape_baseline``), which may be
another: a method with a poor WAPE would flatter production's WAPE ratio.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from tillwise.ports.compute import Executor

from .backtest import (
    PRODUCTION,
    SINGLE_METHODS,
    add_production,
    inner_cutoffs,
    run_grid,
    window_scores,
)
from .metrics import Scores, mean_scores
from .panel import Panel, history_panel

LEVELS = (80, 95)


@dataclass
class MethodReport:
    name: str
    holdout: Scores
    mean: Scores  # mean over all windows (holdout included)
    windows: list[Scores]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.name,
            "holdout": self.holdout.as_dict(),
            "mean": self.mean.as_dict(),
            "windows": [w.as_dict() for w in self.windows],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class BacktestReport:
    horizon: int
    freq: str
    series: int
    cutoffs: list[str]  # the last training period of each window, holdout first
    methods: list[MethodReport]
    production: MethodReport
    production_method: list[str]  # what production chose at each window
    baseline: MethodReport
    wape_baseline: MethodReport  # the single method best by mean WAPE (may be the baseline)
    seconds: float
    windows_requested: int = 0  # asked for; ``cutoffs`` says how many the history allowed

    def ratios(self) -> dict[str, float | None]:
        """Production over the baseline; ``wape_*_best``: over the best single method by
        WAPE (``wape_baseline``)."""

        def r(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None or b == 0 else a / b

        p, b = self.production, self.baseline
        w = self.wape_baseline
        return {
            "rmsse_holdout": r(p.holdout.rmsse, b.holdout.rmsse),
            "wape_holdout": r(p.holdout.wape, b.holdout.wape),
            "rmsse_mean": r(p.mean.rmsse, b.mean.rmsse),
            "wape_mean": r(p.mean.wape, b.mean.wape),
            "wape_holdout_best": r(p.holdout.wape, w.holdout.wape),
            "wape_mean_best": r(p.mean.wape, w.mean.wape),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "horizon": self.horizon,
            "freq": self.freq,
            "series": self.series,
            "cutoffs": self.cutoffs,
            "windows_requested": self.windows_requested,
            "seconds": round(self.seconds, 3),
            "methods": [m.as_dict() for m in self.methods],
            "production": {**self.production.as_dict(), "chosen": self.production_method},
            "baseline": self.baseline.as_dict(),
            "baseline_by_wape": self.wape_baseline.name,
            "ratio_to_baseline": self.ratios(),
        }


def parse_methods(spec: str | None) -> tuple[tuple[str, ...], bool]:
    """(statsforecast candidates, whether the LightGBM global model runs) from a
    comma-separated list such as ``"AutoETS,CrostonSBA,LightGBM"`` (case-insensitive; None:
    the default candidates). ValueError naming an unknown method."""
    from .methods import GLOBAL_METHODS, LOCAL_METHODS

    if spec is None:
        return SINGLE_METHODS, False
    names = [m.strip() for m in spec.split(",") if m.strip()]
    known = {m.lower(): m for m in (*LOCAL_METHODS, *GLOBAL_METHODS)}
    unknown = [m for m in names if m.lower() not in known]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r} (known: {', '.join(known.values())})")
    chosen = [known[m.lower()] for m in names]
    singles = tuple(dict.fromkeys(m for m in chosen if m in LOCAL_METHODS))
    if not singles:
        raise ValueError("name at least one statistical method (the baseline is the best)")
    return singles, "LightGBM" in chosen


def backtest(
    history: pd.DataFrame | Panel,
    horizon: int,
    *,
    freq: Any = "D",
    windows: int = 3,
    executor: Executor | None = None,
    lightgbm: bool = False,
    groups: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
    singles: Sequence[str] = SINGLE_METHODS,
    holidays: str | Mapping[date, str] | None = None,
    events: Mapping[date, str] | None = None,
) -> BacktestReport:
    from tillwise.compute.executors import InlineExecutor

    t0 = time.perf_counter()
    panel = (
        history
        if isinstance(history, Panel)
        else history_panel(history, freq, horizon, holidays, events=events)
    )
    executor = executor or InlineExecutor()
    outer = [
        panel.periods - k * horizon
        for k in range(1, windows + 1)
        if panel.periods - k * horizon > 1 and (panel.start < panel.periods - k * horizon).any()
    ]
    if not outer:
        periods = f"{panel.periods} period{'s' if panel.periods != 1 else ''}"
        raise ValueError(f"the history ({periods}) is too short for a {horizon}-period backtest")
    cutoffs = sorted({c for o in outer for c in [o, *inner_cutoffs(o, horizon, panel)]})
    grid = run_grid(
        panel, horizon, cutoffs, executor, singles, lightgbm, groups=groups, progress=progress
    )
    chosen = add_production(grid, outer)
    names = [*singles, *(["LightGBM"] if lightgbm else []), PRODUCTION]
    reports = {}
    for name in names:
        per = [window_scores(grid, name, c, LEVELS) for c in outer]
        reports[name] = MethodReport(
            name=name,
            holdout=per[0],
            mean=mean_scores(per),
            windows=per,
            seconds=grid.seconds.get(name, 0.0),
        )
    production = reports.pop(PRODUCTION)
    production.name = "production"
    single = [reports[m] for m in singles]
    baseline = min(single, key=lambda r: (r.mean.rmsse is None, r.mean.rmsse or 0.0))
    by_wape = min(single, key=lambda r: (r.mean.wape is None, r.mean.wape or 0.0))
    return BacktestReport(
        horizon=horizon,
        freq=str(freq) if isinstance(freq, str) else type(freq).__name__,
        series=panel.n,
        cutoffs=[str(panel.calendar[c - 1].date()) for c in outer],
        methods=list(reports.values()),
        production=production,
        production_method=[chosen[c] for c in outer],
        baseline=baseline,
        wape_baseline=by_wape,
        seconds=time.perf_counter() - t0,
        windows_requested=windows,
    )


@dataclass
class ForecastScore:
    """A forecast file scored against what was sold (``tillwise forecast score``)."""

    model: str
    scores: Scores  # panel-wide, as the backtest reports them
    per_series: pd.DataFrame  # unique_id, rmsse, mase, wape, weight, periods

    def as_dict(self) -> dict[str, Any]:
        rows = self.per_series.astype(object).where(self.per_series.notna(), None)
        return {
            "model": self.model,
            **self.scores.as_dict(),
            "per_series": rows.to_dict(orient="records"),
        }


def score_forecast(
    history: pd.DataFrame,
    actuals: pd.DataFrame,
    forecast: pd.DataFrame,
    *,
    freq: Any = "D",
    model: str = "mean",
) -> ForecastScore:
    """Score ``forecast`` (``unique_id, ds, <model>[, lo-80, hi-80, lo-95, hi-95]``, a
    :func:`.reader.read_forecast` frame) against ``actuals`` (validated like a history) with
    the RMSSE/MASE scales and the weights (units of the last 28 periods) of ``history``, as
    the backtest scores a window. As in a sales file, a period within the actuals' span (their
    first to their last period) with no row for a series is zero demand; periods outside it and
    censored ones are not scored.
    Raises ValueError for a forecast of a series without history or of a period inside it."""
    from .metrics import aggregate, window_errors
    from .panel import to_panel

    panel = to_panel(history, freq)
    ids = forecast["unique_id"].astype(str)
    unknown = sorted(set(ids) - set(panel.ids))
    if unknown:
        raise ValueError(f"series {unknown[0]!r} has no history ({len(unknown)} such series)")
    early = forecast["ds"] <= panel.calendar[-1]
    if early.any():
        k = int(np.flatnonzero(early.to_numpy())[0])
        raise ValueError(
            f"the forecast of {ids.iloc[k]!r} for {forecast['ds'].iloc[k].date()} is not after "
            f"the history (it ends {panel.calendar[-1].date()})"
        )

    def grid(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame.pivot(index="unique_id", columns="ds", values=column)

    f = grid(forecast, model)
    a = grid(actuals, "y").reindex(index=f.index, columns=f.columns)
    span = (f.columns >= actuals["ds"].min()) & (f.columns <= actuals["ds"].max())
    observed = f.notna().to_numpy() & np.asarray(span)[None, :]
    if "censored" in actuals:
        censored = grid(actuals, "censored").reindex(index=f.index, columns=f.columns)
        observed &= ~censored.fillna(False).astype(bool).to_numpy()
    if not observed.any():
        raise ValueError("no actual for any period of the forecast")
    rows = panel.ids.searchsorted(f.index.to_numpy())
    intervals = {
        level: (
            grid(forecast, f"lo-{level}").reindex_like(f).to_numpy(),
            grid(forecast, f"hi-{level}").reindex_like(f).to_numpy(),
        )
        for level in LEVELS
        if f"lo-{level}" in forecast and f"hi-{level}" in forecast
    }
    errors = window_errors(
        np.nan_to_num(a.to_numpy()),
        np.nan_to_num(f.to_numpy()),
        observed,
        panel.y[rows],
        intervals,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        wape = errors.ab / errors.actual
    per_series = pd.DataFrame(
        {
            "unique_id": f.index.to_numpy(),
            "rmsse": errors.rmsse(),
            "mase": errors.mase(),
            "wape": np.where(errors.actual > 0, wape, np.nan),
            "weight": errors.weight,
            "periods": errors.count,
        }
    ).replace([np.inf, -np.inf], np.nan)
    return ForecastScore(model, aggregate(errors), per_series)
