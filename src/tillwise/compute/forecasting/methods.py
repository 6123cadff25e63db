"""Candidate forecasting methods, run at one forecast origin over a whole panel.

Local methods are statsforecast models fitted per series (``model.forecast(y=..., h=...)`` on
the series' history, chunks of series mapped over a :class:`tillwise.ports.compute.Executor`).
The global method is one mlforecast LightGBM model over all series (Tweedie loss; lags, rolling
means, calendar, price and hierarchy features), predicted recursively.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tillwise.ports.compute import Executor

from .panel import Panel, season_length

LOCAL_METHODS = (
    "SeasonalNaive",
    "WindowAverage",
    "HistoricAverage",
    "CrostonSBA",
    "TSB",
    "ADIDA",
    "IMAPA",
    "AutoETS",
)
GLOBAL_METHODS = ("LightGBM",)
DEFAULT_METHODS = (
    "SeasonalNaive",
    "WindowAverage",
    "CrostonSBA",
    "TSB",
    "ADIDA",
    "IMAPA",
    "LightGBM",
)
CHUNK_SERIES = 250  # series per executor task


def _local_model(name: str, season: int, freq_days: bool) -> Any:
    from statsforecast import models as m

    if name == "SeasonalNaive":
        return m.SeasonalNaive(season_length=max(season, 1))
    if name == "WindowAverage":
        return m.WindowAverage(window_size=28 if freq_days else 8)
    if name == "HistoricAverage":
        return m.HistoricAverage()
    if name == "CrostonSBA":
        return m.CrostonSBA()
    if name == "TSB":
        return m.TSB(alpha_d=0.1, alpha_p=0.1)
    if name == "ADIDA":
        return m.ADIDA()
    if name == "IMAPA":
        return m.IMAPA()
    if name == "AutoETS":  # non-seasonal only: the seasonal search is too slow for thousands
        return m.AutoETS(season_length=1)
    raise ValueError(f"unknown method {name!r}")


def cap_spikes(y: np.ndarray, cap: float | None) -> np.ndarray:
    """Limit each period to ``cap`` times the median non-zero demand (at least 1 unit).

    Wholesale-style histories hold rare huge orders that inflate every level estimate; the
    backtest decides whether (and how hard) to cap them. ``None`` leaves ``y`` alone."""
    if cap is None:
        return y
    nz = y[y > 0]
    if nz.size < 3:
        return y
    return np.minimum(y, max(float(np.median(nz)) * cap, 1.0))


def local_chunk(
    task: tuple[list[np.ndarray], int, tuple[str, ...], int, bool, float | None],
) -> np.ndarray:
    """Forecast one chunk of series: ``(histories, h, methods, season, daily, cap)`` →
    array (series, methods, h). Module-level so process pools and Dask can pickle it."""
    histories, h, names, season, daily, cap = task
    histories = [cap_spikes(y, cap) for y in histories]
    models = [_local_model(name, season, daily) for name in names]
    out = np.zeros((len(histories), len(names), h))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, y in enumerate(histories):
            fallback = float(np.mean(y[-28:])) if y.size else 0.0
            for k, model in enumerate(models):
                if y.size < 2 or (y.size < season and k == 0):
                    out[i, k] = fallback
                    continue
                try:
                    mean = np.asarray(model.forecast(y=y, h=h)["mean"], dtype=float)
                except Exception:  # a method that cannot fit this series falls back
                    mean = np.full(h, fallback)
                out[i, k] = np.where(np.isfinite(mean), np.maximum(mean, 0.0), fallback)
    return out


@dataclass
class BaseForecasts:
    """Every method's point forecast at one origin: ``values[series, method, step]``."""

    cutoff: int  # training uses periods < cutoff
    horizon: int
    methods: tuple[str, ...]
    values: np.ndarray
    rows: np.ndarray  # which panel rows have a forecast (started before the cutoff)

    def method(self, name: str) -> np.ndarray:
        return self.values[:, self.methods.index(name), :]


def forecast_at(
    panel: Panel,
    cutoff: int,
    horizon: int,
    methods: Sequence[str],
    executor: Executor,
    groups: np.ndarray | None = None,
    lgbm_threads: int = 2,
    cap: float | None = None,
) -> BaseForecasts:
    rows = np.flatnonzero(panel.start < cutoff)
    locals_ = tuple(m for m in methods if m in LOCAL_METHODS)
    values = np.zeros((len(rows), len(methods), horizon))
    season = season_length(panel.freq)
    daily = season > 1
    if locals_:
        hist = [panel.y[i, panel.start[i] : cutoff] for i in rows]
        tasks = [
            (hist[k : k + CHUNK_SERIES], horizon, locals_, season, daily, cap)
            for k in range(0, len(hist), CHUNK_SERIES)
        ]
        parts = executor.map(local_chunk, tasks)
        local_values = np.concatenate(parts, axis=0)
        for j, name in enumerate(locals_):
            values[:, list(methods).index(name), :] = local_values[:, j, :]
    if "LightGBM" in methods:
        values[:, list(methods).index("LightGBM"), :] = lightgbm_forecast(
            panel, rows, cutoff, horizon, groups=groups, threads=lgbm_threads
        )
    unknown = set(methods) - set(LOCAL_METHODS) - set(GLOBAL_METHODS)
    if unknown:
        raise ValueError(f"unknown methods: {sorted(unknown)}")
    return BaseForecasts(cutoff, horizon, tuple(methods), values, rows)


# --- the global LightGBM model -------------------------------------------------------------

TRAIN_PERIODS = 364  # periods of history the global model learns from (per origin)


def _calendar_frame(dates: pd.DatetimeIndex, season: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dow": dates.dayofweek.to_numpy() if season > 1 else 0,
        }
    )


def lightgbm_forecast(
    panel: Panel,
    rows: np.ndarray,
    cutoff: int,
    horizon: int,
    groups: np.ndarray | None = None,
    threads: int = 2,
) -> np.ndarray:
    """One Tweedie LightGBM over the scaled series, predicted recursively ``horizon`` steps."""
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import ExpandingMean, RollingMean, SeasonalRollingMean

    season = season_length(panel.freq)
    lo = max(0, cutoff - TRAIN_PERIODS)
    out = np.zeros((len(rows), horizon))
    y = panel.y[rows]
    start = np.maximum(panel.start[rows], 0)
    # per-series scale: the recent mean level (so one model learns shapes, not sizes)
    recent = np.array(
        [np.nanmean(y[k, max(start[k], cutoff - 112) : cutoff]) for k in range(len(rows))]
    )
    longrun = np.array([np.nanmean(y[k, start[k] : cutoff]) for k in range(len(rows))])
    scale = np.where(recent > 0, recent, longrun)
    fit = scale > 0
    if fit.sum() == 0:
        return out
    idx = np.flatnonzero(fit)
    cal = _calendar_frame(panel.dates(0, cutoff + horizon), season)
    frames = []
    statics = {
        "log_scale": np.log1p(scale[idx]),
        "zero_share": np.array([np.mean(y[k, start[k] : cutoff] == 0) for k in idx]),
    }
    if groups is not None:
        statics["group"] = np.asarray(groups)[rows][idx]
    s0 = np.maximum(start[idx], lo)
    lengths = cutoff - s0
    uid = np.repeat(np.arange(len(idx)), lengths)
    t = np.concatenate([np.arange(a, cutoff) for a in s0])
    target = np.concatenate([y[k, a:cutoff] / scale[k] for k, a in zip(idx, s0, strict=True)])
    df = pd.DataFrame({"unique_id": uid, "ds": t, "y": target})
    for col in cal:
        df[col] = cal[col].to_numpy()[t]
    for name, vals in statics.items():
        df[name] = np.repeat(vals, lengths)
    price = panel.price
    if price is not None:
        p = price[rows][idx]
        ref = np.array(
            [np.nanmedian(p[k]) if np.isfinite(p[k]).any() else np.nan for k in range(len(idx))]
        )
        rel = p / ref[:, None]
        df["rel_price"] = np.concatenate([rel[k, a:cutoff] for k, a in enumerate(s0)])
    frames.append(df)
    static_cols = list(statics)
    if panel.promo is not None:
        pr = panel.promo[rows][idx]
        df["promo"] = np.concatenate([pr[k, a:cutoff] for k, a in enumerate(s0)])
    model = lgb.LGBMRegressor(
        objective="tweedie",
        tweedie_variance_power=1.3,
        n_estimators=250,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=100,
        subsample=0.7,
        subsample_freq=1,
        colsample_bytree=0.8,
        n_jobs=threads,
        random_state=0,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    # direct, not recursive: every feature is lagged by at least the horizon, so the forecast
    # never feeds on its own output (recursion blows up on intermittent series)
    s = max(season, 1)
    lags = [horizon, horizon + s] if s > 1 else [horizon, horizon + 1]
    lag_tf: dict[int, list[Any]] = {
        horizon: [RollingMean(s), RollingMean(28), RollingMean(56), ExpandingMean()]
    }
    if s > 1:
        lag_tf[horizon].append(SeasonalRollingMean(season_length=s, window_size=8))
    fcst = MLForecast(models={"lgbm": model}, freq=1, lags=lags, lag_transforms=lag_tf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fcst.fit(df, static_features=static_cols, dropna=True)
        fut_t = np.arange(cutoff, cutoff + horizon)
        x = pd.DataFrame(
            {"unique_id": np.repeat(np.arange(len(idx)), horizon), "ds": np.tile(fut_t, len(idx))}
        )
        for col in cal:
            x[col] = cal[col].to_numpy()[x["ds"].to_numpy()]
        if price is not None:
            last_rel = np.array([rel[k, cutoff - 1] for k in range(len(idx))])
            x["rel_price"] = np.repeat(last_rel, horizon)
        if panel.promo is not None:
            x["promo"] = 0.0
        pred = fcst.predict(horizon, X_df=x)
    pred = pred.sort_values(["unique_id", "ds"])
    vals = pred["lgbm"].to_numpy().reshape(len(idx), horizon)
    out[idx] = np.maximum(vals, 0.0) * scale[idx, None]
    return out
