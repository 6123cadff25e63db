"""Candidate forecasting methods, run at one forecast origin over a whole panel.

Local methods are statsforecast models fitted per series (``model.forecast(y=..., h=...)`` on
the series' history, chunks of series mapped over a :class:`tillwise.ports.compute.Executor`).
The global method is one mlforecast LightGBM model over all series (Tweedie loss; lags, rolling
means, calendar, price and hierarchy features), predicted recursively. The production
forecaster's level model (:func:`level_forecast`) is a second, direct LightGBM: one pooled
model of each series' mean demand over the horizon, fitted to the volume-weighted RMSSE.
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
CHUNK_SERIES = 250  # series per executor task
WEEKS_PER_YEAR = 52


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
                if y.size < 2 or (y.size < season and names[k] == "SeasonalNaive"):
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
    if not daily:  # weekly data: the seasonal naive repeats last year's same week
        season = WEEKS_PER_YEAR
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
        if panel.promo is not None:  # the promotions planned for the window (0: none known)
            from .promo import promo_values

            x["promo"] = promo_values(panel.subset(rows[idx]), cutoff, horizon).reshape(-1)
        pred = fcst.predict(horizon, X_df=x)
    pred = pred.sort_values(["unique_id", "ds"])
    vals = pred["lgbm"].to_numpy().reshape(len(idx), horizon)
    out[idx] = np.maximum(vals, 0.0) * scale[idx, None]
    return out


# --- the global level model (production) ---------------------------------------------------

LEVEL_MIN_ROWS = 2000  # fewer training rows: no level model (the production stack instead)
LEVEL_WINDOWS = (7, 14, 28, 56, 112, 224)


def _level_features(
    y: np.ndarray,
    yc: np.ndarray,
    start: np.ndarray,
    t: int,
    groups: np.ndarray,
    price: np.ndarray | None,
    doy: np.ndarray,
    cums: dict[str, np.ndarray],
    dates: pd.DatetimeIndex,
    horizon: int,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features of every series at origin ``t`` (data before ``t`` only) and its scale."""
    cs, ccs, cst, nzc = cums["y"], cums["capped"], cums["started"], cums["nonzero"]
    n = y.shape[0]

    def mean(c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        lo = max(t - k, 0)
        den = cst[:, t] - cst[:, lo]
        return (c[:, t] - c[:, lo]) / np.maximum(den, 1), den

    s112, d112 = mean(ccs, 112)
    s_all, _ = mean(ccs, 10**9)
    scale = np.maximum(np.where(s112 > 0, s112, s_all), 1e-3)
    f: dict[str, np.ndarray] = {}
    for k in LEVEL_WINDOWS:
        f[f"raw{k}"] = mean(cs, k)[0] / scale
        f[f"capped{k}"] = mean(ccs, k)[0] / scale
    lo28 = max(t - 28, 0)
    f["zero28"] = 1 - (nzc[:, t] - nzc[:, lo28]) / np.maximum(cst[:, t] - cst[:, lo28], 1)
    f["zero112"] = 1 - (nzc[:, t] - nzc[:, max(t - 112, 0)]) / np.maximum(d112, 1)
    sold = np.where(y[:, :t] > 0, np.arange(t)[None, :], -1).max(axis=1)
    f["since_sale"] = np.minimum(t - 1 - sold, 200).astype(float)
    f["age"] = np.minimum(t - start, 400).astype(float)
    f["log_scale"] = np.log(scale)
    if price is not None:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = np.nanmedian(price[:, max(0, t - 112) : t], axis=1)
            f["rel_price"] = price[:, t - 1] / ref
    g28 = pd.Series(cs[:, t] - cs[:, lo28]).groupby(groups).transform("sum").to_numpy()
    g112 = pd.Series(cs[:, t] - cs[:, max(t - 112, 0)]).groupby(groups).transform("sum")
    f["family_trend"] = g28 / np.maximum(g112.to_numpy() / 4, 1e-9)
    total112 = float((cs[:, t] - cs[:, max(t - 112, 0)]).sum())
    f["panel_trend"] = np.full(n, float((cs[:, t] - cs[:, lo28]).sum()) / max(total112 / 4, 1e-9))
    f["day_of_year"] = np.full(n, float(doy[min(t, len(doy) - 1)]))
    f.update(_yearly_features(cs, start, t, groups, scale, dates, horizon))
    return pd.DataFrame(f), scale


YEARLY = ("panel_yoy", "family_yoy", "series_yoy", "series_ly_level")


def _yearly_features(
    cs: np.ndarray,
    start: np.ndarray,
    t: int,
    groups: np.ndarray,
    scale: np.ndarray,
    dates: pd.DatetimeIndex,
    horizon: int,
) -> dict[str, np.ndarray]:
    """Last year's memory at origin ``t``: the mean demand of the ``horizon`` periods from
    364 days before ``t`` relative to the ``horizon`` periods before that (for the panel, the
    series' catalogue family and the series), and the series' level then relative to its
    current scale. NaN where the history does not reach a year plus a horizon back (the
    model then learns nothing from them): the first year of a history."""
    n = cs.shape[0]
    nan = {k: np.full(n, np.nan) for k in YEARLY}
    if t >= len(dates):
        return nan
    back = dates[t] - pd.Timedelta(days=364)
    ly = int(dates.searchsorted(back))
    if back < dates[0] or ly - horizon < 0 or ly + horizon > t:
        return nan
    nxt = cs[:, ly + horizon] - cs[:, ly]
    prv = cs[:, ly] - cs[:, ly - horizon]
    g_n = pd.Series(nxt).groupby(groups).transform("sum").to_numpy()
    g_p = pd.Series(prv).groupby(groups).transform("sum").to_numpy()
    known = start < ly - horizon
    return {
        "panel_yoy": np.full(n, float(nxt.sum()) / max(float(prv.sum()), 1e-9)),
        "family_yoy": np.where(g_p > 0, g_n / np.maximum(g_p, 1e-9), np.nan),
        "series_yoy": np.where(
            known & (prv > 0), np.minimum(nxt / np.maximum(prv, 1e-9), 10.0), np.nan
        ),
        "series_ly_level": np.where(known, nxt / horizon / scale, np.nan),
    }


def level_forecast(
    panel: Panel,
    cutoff: int,
    horizon: int,
    *,
    groups: np.ndarray | None = None,
    threads: int = 2,
    cap: float = 5.0,
    origins_back: int = 364,
    step: int = 7,
    reweight: int = 2,
) -> np.ndarray | None:
    """One pooled LightGBM model of each series' mean demand over the next ``horizon``
    periods, as a multiple of its recent (spike-capped) level — (n, horizon) flat forecasts,
    NaN for series not started, or None when the panel is too small to learn from.

    Training rows: every series at origins every ``step`` periods over the last
    ``origins_back`` periods whose whole window lies before ``cutoff``. The loss is the
    volume-weighted RMSSE: squared error in scaled units weighted by the series' recent
    volume over its naive error, re-weighted ``reweight`` times by 1/(its RMSSE) so that the
    model fits the metric's square root (IRLS) — which shrinks away from one-off orders."""
    import lightgbm as lgb

    n = panel.n
    y = np.nan_to_num(panel.y[:, :cutoff])
    started = np.arange(cutoff)[None, :] >= panel.start[:, None]
    limit = np.full(n, np.inf)
    for i in range(n):
        nz = y[i, panel.start[i] : cutoff]
        nz = nz[nz > 0]
        if nz.size >= 3:
            limit[i] = max(float(np.median(nz)) * cap, 1.0)
    yc = np.minimum(y, limit[:, None])
    zero = np.zeros((n, 1))
    cums = {
        "y": np.concatenate([zero, np.cumsum(y, axis=1)], axis=1),
        "capped": np.concatenate([zero, np.cumsum(yc, axis=1)], axis=1),
        "started": np.concatenate([zero, np.cumsum(started, axis=1)], axis=1),
        "nonzero": np.concatenate([zero, np.cumsum((y > 0) & started, axis=1)], axis=1),
    }
    fam = np.zeros(n, dtype=int) if groups is None else np.asarray(groups)
    doy = panel.calendar.dayofyear.to_numpy()
    dates = panel.dates(0, cutoff + 1)
    xs, ys, ws, meta = [], [], [], []
    for t in range(cutoff - horizon, max(cutoff - horizon - origins_back, 2 * horizon), -step):
        f, scale = _level_features(
            y, yc, panel.start, t, fam, panel.price, doy, cums, dates, horizon
        )
        volume = cums["y"][:, t] - cums["y"][:, max(t - 28, 0)]
        ok = (panel.start < t - horizon) & (volume > 0)
        if not ok.any():
            continue
        d = np.diff(y[:, max(t - 112, 0) : t], axis=1)
        naive = np.maximum((d**2).mean(axis=1), 1e-6)
        future = y[ok, t : t + horizon]
        xs.append(f[ok])
        ys.append(np.minimum(future.mean(axis=1) / scale[ok], 30.0))
        ws.append((volume * scale**2 / naive)[ok])
        meta.append((future, scale[ok], naive[ok]))
    rows = sum(len(x) for x in xs)
    if rows < LEVEL_MIN_ROWS:
        return None
    x, target, w = pd.concat(xs, ignore_index=True), np.concatenate(ys), np.concatenate(ws)
    model = lgb.LGBMRegressor(
        objective="l2",
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=200,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=10.0,
        n_jobs=threads,
        random_state=0,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    weight = np.minimum(w / w.mean(), 50.0)
    model.fit(x, target, sample_weight=weight)
    future = np.concatenate([m[0] for m in meta])
    scale = np.concatenate([m[1] for m in meta])
    naive = np.concatenate([m[2] for m in meta])
    for _ in range(reweight):
        pred = np.maximum(model.predict(x), 0.0) * scale
        r = np.maximum(np.sqrt(((future - pred[:, None]) ** 2).mean(axis=1) / naive), 0.3)
        weight = w / r
        model.fit(x, target, sample_weight=np.minimum(weight / weight.mean(), 50.0))
    f, scale = _level_features(
        y, yc, panel.start, cutoff, fam, panel.price, doy, cums, dates, horizon
    )
    level = np.maximum(model.predict(f), 0.0) * scale
    out = np.full((n, horizon), np.nan)
    live = panel.start < cutoff
    out[live] = level[live, None]
    return out
