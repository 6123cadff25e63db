"""Forecast accuracy: RMSSE, MASE, WAPE, bias and interval coverage, per series and panel-wide.

Definitions (``e = forecast - actual`` over the forecast window, censored periods skipped):

* RMSSE  = sqrt(mean(e²) / mean(d²)), ``d`` the one-step naive errors ``y_t - y_{t-1}`` of the
  in-sample history from the series' first non-zero value (M5). None when that is all zero.
* MASE   = mean(|e|) / mean(|d|), same scaling with absolute errors.
* WAPE   = sum(|e|) / sum(actual). Panel-wide: pooled sums over all series (volume-weighted by
  construction). None when nothing was sold.
* bias   = sum(e) / sum(actual): positive means over-forecasting.
* coverage_L = share of actuals inside the L% interval [lo-L, hi-L] (pooled counts panel-wide).

Panel-wide RMSSE and MASE are volume-weighted means of the per-series values: weight = units
sold in the last 28 periods before the forecast origin (M5 weights by recent sales).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

WEIGHT_PERIODS = 28


def naive_scales(insample: np.ndarray) -> tuple[float | None, float | None]:
    """(mean squared, mean absolute) one-step naive error from the first non-zero value."""
    y = np.asarray(insample, dtype=float)
    y = y[~np.isnan(y)]
    nz = np.flatnonzero(y != 0)
    if nz.size == 0:
        return None, None
    d = np.diff(y[nz[0] :])
    if d.size == 0:
        return None, None
    mse, mae = float(np.mean(d**2)), float(np.mean(np.abs(d)))
    return (mse or None), (mae or None)


def rmsse(
    actual: Sequence[float], forecast: Sequence[float], insample: Sequence[float]
) -> float | None:
    scale, _ = naive_scales(np.asarray(insample, dtype=float))
    if scale is None:
        return None
    e = np.asarray(forecast, dtype=float) - np.asarray(actual, dtype=float)
    return float(np.sqrt(np.mean(e**2) / scale))


def mase(
    actual: Sequence[float], forecast: Sequence[float], insample: Sequence[float]
) -> float | None:
    _, scale = naive_scales(np.asarray(insample, dtype=float))
    if scale is None:
        return None
    e = np.asarray(forecast, dtype=float) - np.asarray(actual, dtype=float)
    return float(np.mean(np.abs(e)) / scale)


def wape(actual: Sequence[float], forecast: Sequence[float]) -> float | None:
    a = np.asarray(actual, dtype=float)
    total = float(np.sum(a))
    if total <= 0:
        return None
    return float(np.sum(np.abs(np.asarray(forecast, dtype=float) - a)) / total)


def bias(actual: Sequence[float], forecast: Sequence[float]) -> float | None:
    a = np.asarray(actual, dtype=float)
    total = float(np.sum(a))
    if total <= 0:
        return None
    return float(np.sum(np.asarray(forecast, dtype=float) - a) / total)


def coverage(actual: Sequence[float], lo: Sequence[float], hi: Sequence[float]) -> float | None:
    a = np.asarray(actual, dtype=float)
    if a.size == 0:
        return None
    return float(np.mean((a >= np.asarray(lo)) & (a <= np.asarray(hi))))


@dataclass(frozen=True)
class Scores:
    """Panel-wide figures of one method over one or more windows (see the module docstring)."""

    rmsse: float | None
    mase: float | None
    wape: float | None
    bias: float | None
    coverage_80: float | None
    coverage_95: float | None
    series: int

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


@dataclass
class WindowErrors:
    """Per-series sufficient statistics of one method in one window (vectorised scoring)."""

    sq: np.ndarray  # sum of squared errors over observed steps
    ab: np.ndarray  # sum of absolute errors
    err: np.ndarray  # sum of errors (forecast - actual)
    actual: np.ndarray  # sum of observed actuals
    count: np.ndarray  # observed steps
    inside: dict[int, np.ndarray]  # level -> observed steps inside the interval
    scale_sq: np.ndarray  # naive mse (NaN: not scalable)
    scale_ab: np.ndarray
    weight: np.ndarray

    def rmsse(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sqrt(self.sq / np.maximum(self.count, 1) / self.scale_sq)

    def mase(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.ab / np.maximum(self.count, 1) / self.scale_ab


def window_errors(
    actual: np.ndarray,
    forecast: np.ndarray,
    observed: np.ndarray,
    history: np.ndarray,
    intervals: Mapping[int, tuple[np.ndarray, np.ndarray]] | None = None,
) -> WindowErrors:
    """``actual``/``forecast``/``observed`` (n, h); ``history`` (n, t) with NaN before a start."""
    a = np.where(observed, actual, 0.0)
    e = np.where(observed, forecast - actual, 0.0)
    scales = [naive_scales(row) for row in history]
    scale_sq = np.array([np.nan if s[0] is None else s[0] for s in scales])
    scale_ab = np.array([np.nan if s[1] is None else s[1] for s in scales])
    weight = np.nansum(history[:, -WEIGHT_PERIODS:], axis=1)
    inside = {}
    for level, (lo, hi) in (intervals or {}).items():
        inside[level] = np.sum(observed & (actual >= lo - 1e-9) & (actual <= hi + 1e-9), axis=1)
    return WindowErrors(
        sq=np.sum(e**2, axis=1),
        ab=np.sum(np.abs(e), axis=1),
        err=np.sum(e, axis=1),
        actual=np.sum(a, axis=1),
        count=np.sum(observed, axis=1),
        inside=inside,
        scale_sq=scale_sq,
        scale_ab=scale_ab,
        weight=weight,
    )


def _weighted(values: np.ndarray, weight: np.ndarray) -> float | None:
    ok = np.isfinite(values) & (weight > 0)
    if not ok.any():
        return None
    return float(np.sum(values[ok] * weight[ok]) / np.sum(weight[ok]))


def aggregate(w: WindowErrors) -> Scores:
    total = float(w.actual.sum())
    steps = float(w.count.sum())
    cov = {lv: (float(w.inside[lv].sum()) / steps if steps else None) for lv in w.inside}
    return Scores(
        rmsse=_weighted(w.rmsse(), w.weight),
        mase=_weighted(w.mase(), w.weight),
        wape=float(w.ab.sum()) / total if total > 0 else None,
        bias=float(w.err.sum()) / total if total > 0 else None,
        coverage_80=cov.get(80),
        coverage_95=cov.get(95),
        series=int(np.sum(w.count > 0)),
    )


def mean_scores(scores: Sequence[Scores]) -> Scores:
    """The plain mean of per-window panel figures (each window counts once)."""

    def avg(name: str) -> float | None:
        vals = [getattr(s, name) for s in scores if getattr(s, name) is not None]
        return float(np.mean(vals)) if vals else None

    return Scores(
        rmsse=avg("rmsse"),
        mase=avg("mase"),
        wape=avg("wape"),
        bias=avg("bias"),
        coverage_80=avg("coverage_80"),
        coverage_95=avg("coverage_95"),
        series=max((s.series for s in scores), default=0),
    )
