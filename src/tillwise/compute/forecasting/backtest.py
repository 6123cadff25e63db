"""Rolling-origin backtest: every candidate at several forecast origins, conformal intervals
from earlier origins, and the production combination chosen on those earlier origins.

Origins ("cutoffs") are ``T - k * horizon``: training uses periods before the cutoff, the window
is the ``horizon`` periods after it. The production forecast at a cutoff uses only the
``inner`` windows *before* it (its own backtest), so scoring it on later windows is honest.

Production forecaster (chosen by measurement on Online Retail II, see ``bench/forecast.py``):
the mean of ADIDA, TSB, IMAPA and WindowAverage — fitted on the history with rare spikes
capped at ``cap`` times the series' median non-zero demand — where the cap (3, 5 or none) is
the one with the best volume-weighted RMSSE over the inner windows, chosen once for the panel.
Per-series selection overfits; combining the intermittent family and damping one-off orders
does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tillwise.ports.compute import Executor

from .methods import forecast_at
from .metrics import Scores, aggregate, mean_scores, window_errors
from .panel import Panel

COMBINED = ("ADIDA", "TSB", "IMAPA", "WindowAverage")
CAPS: tuple[float | None, ...] = (3.0, 5.0, None)
SINGLE_METHODS = ("SeasonalNaive", "WindowAverage", "CrostonSBA", "TSB", "ADIDA", "IMAPA")
INNER_WINDOWS = 3
PRODUCTION = "Production"


def cap_label(cap: float | None) -> str:
    return "uncapped" if cap is None else f"cap{cap:g}"


@dataclass
class Grid:
    """Point forecasts of every candidate at every cutoff: ``values[cutoff][name]`` is an
    (n, h) array over all panel rows, NaN for series not started at that cutoff."""

    panel: Panel
    horizon: int
    cutoffs: list[int]
    values: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per candidate
    chosen: dict[int, str] = field(default_factory=dict)  # production's combination per cutoff


def run_grid(
    panel: Panel,
    horizon: int,
    cutoffs: Sequence[int],
    executor: Executor,
    singles: Sequence[str] = SINGLE_METHODS,
    lightgbm: bool = False,
    groups: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Grid:
    import time

    grid = Grid(panel, horizon, sorted(set(cutoffs)))
    steps = len(grid.cutoffs) * (1 + len(CAPS) - 1 + int(lightgbm))
    done = 0
    for c in grid.cutoffs:
        here: dict[str, np.ndarray] = {}
        t0 = time.perf_counter()
        base = forecast_at(panel, c, horizon, tuple(singles), executor)
        per = (time.perf_counter() - t0) / max(len(singles), 1)
        for name in singles:
            here[name] = _full(panel, base.rows, base.method(name))
            grid.seconds[name] = grid.seconds.get(name, 0.0) + per
        for cap in CAPS:
            t0 = time.perf_counter()
            if cap is None:
                comb = np.mean([here[m] for m in COMBINED], axis=0)
            else:
                b = forecast_at(panel, c, horizon, COMBINED, executor, cap=cap)
                comb = _full(panel, b.rows, b.values.mean(axis=1))
                done += 1
                if progress:
                    progress(done, steps)
            here[f"combination({cap_label(cap)})"] = comb
            grid.seconds[PRODUCTION] = grid.seconds.get(PRODUCTION, 0.0) + (
                time.perf_counter() - t0
            )
        if lightgbm:
            t0 = time.perf_counter()
            b = forecast_at(panel, c, horizon, ("LightGBM",), executor, groups=groups)
            here["LightGBM"] = _full(panel, b.rows, b.method("LightGBM"))
            grid.seconds["LightGBM"] = grid.seconds.get("LightGBM", 0.0) + (
                time.perf_counter() - t0
            )
            done += 1
        done += 1
        if progress:
            progress(done, steps)
        grid.values[c] = here
    grid.seconds[PRODUCTION] = grid.seconds.get(PRODUCTION, 0.0) + sum(
        grid.seconds.get(m, 0.0) for m in COMBINED if m != "WindowAverage"
    )
    return grid


def _full(panel: Panel, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full((panel.n, values.shape[-1]), np.nan)
    out[rows] = values
    return out


def actuals(panel: Panel, cutoff: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(actual, observed) for the window after ``cutoff`` (observed False past the data)."""
    end = min(cutoff + horizon, panel.periods)
    a = np.zeros((panel.n, horizon))
    o = np.zeros((panel.n, horizon), dtype=bool)
    a[:, : end - cutoff] = np.nan_to_num(panel.y[:, cutoff:end])
    o[:, : end - cutoff] = panel.observed[:, cutoff:end]
    return a, o


# --- conformal intervals ---------------------------------------------------------------------

MIN_OWN_RESIDUALS = 20  # fewer than this: the series borrows the panel's scaled residuals


@dataclass
class Residuals:
    """``actual - forecast`` of one method in the inner windows: (n, windows, h), NaN where
    the step was censored, unobserved or the series had not started."""

    values: np.ndarray
    scale: np.ndarray  # (n,) the series' mean level (scales pooled residuals)


def residuals(grid: Grid, name: str, cutoffs: Sequence[int]) -> Residuals:
    panel, h = grid.panel, grid.horizon
    res = np.full((panel.n, len(cutoffs), h), np.nan)
    for j, c in enumerate(cutoffs):
        a, o = actuals(panel, c, h)
        f = grid.values[c][name]
        res[:, j, :] = np.where(o & np.isfinite(f), a - f, np.nan)
    last = max(cutoffs) if cutoffs else panel.periods
    level = np.array(
        [
            np.nanmean(panel.y[i, panel.start[i] : last]) if panel.start[i] < last else np.nan
            for i in range(panel.n)
        ]
    )
    return Residuals(res, np.where(np.isfinite(level) & (level > 0), level, 1.0))


def interval_quantiles(
    r: Residuals, levels: Sequence[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per-series (q_low, q_high) of daily residuals per level; pooled-scaled when short."""
    flat = r.values.reshape(r.values.shape[0], -1)
    own = np.sum(np.isfinite(flat), axis=1)
    scaled = flat / r.scale[:, None]
    out = {}
    for lv in levels:
        a = (1 - lv / 100) / 2
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lo = np.nanquantile(flat, a, axis=1)
                hi = np.nanquantile(flat, 1 - a, axis=1)
                pool = scaled[np.isfinite(scaled)]
        if pool.size:
            plo, phi = np.quantile(pool, a), np.quantile(pool, 1 - a)
        else:  # no backtest at all: a wide default of +-1.5 levels
            plo, phi = -1.5, 1.5
        short = own < MIN_OWN_RESIDUALS
        lo = np.where(short | ~np.isfinite(lo), plo * r.scale, lo)
        hi = np.where(short | ~np.isfinite(hi), phi * r.scale, hi)
        out[lv] = (lo, hi)
    return out


def apply_intervals(
    mean: np.ndarray, q: dict[int, tuple[np.ndarray, np.ndarray]], integer: bool = False
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``mean`` plus the residual quantiles, floored at 0; for whole-unit demand the bounds are
    lower bound is rounded down to a whole unit (so ``[0.02, 1.5]`` becomes ``[0, 1.5]`` and an
    actual of 0 counts as inside)."""
    out = {}
    for lv, (lo, hi) in q.items():
        low = np.maximum(mean + lo[:, None], 0.0)
        high = np.maximum(mean + hi[:, None], mean)
        if integer:
            low = np.floor(low + 1e-9)
        out[lv] = (low, high)
    return out


# --- the production choice -----------------------------------------------------------------


def inner_cutoffs(
    cutoff: int, horizon: int, panel: Panel, windows: int = INNER_WINDOWS
) -> list[int]:
    """The backtest origins the production forecast at ``cutoff`` may learn from."""
    out = []
    for k in range(1, windows + 1):
        c = cutoff - k * horizon
        if c >= max(2 * horizon, 8) and (panel.start < c).any():
            out.append(c)
    return sorted(out)


def window_scores(grid: Grid, name: str, cutoff: int, levels: Sequence[int] = ()) -> Scores:
    """Panel figures of ``name`` on the window after ``cutoff`` (intervals from its inner
    windows when ``levels``)."""
    panel, h = grid.panel, grid.horizon
    a, o = actuals(panel, cutoff, h)
    f = grid.values[cutoff][name]
    rows = np.flatnonzero(np.isfinite(f[:, 0]))
    intervals = None
    if levels:
        inner = [c for c in inner_cutoffs(cutoff, h, panel) if c in grid.values]
        source = grid.chosen.get(cutoff, name) if name == PRODUCTION else name
        q = interval_quantiles(residuals(grid, source, inner), levels)
        iv = apply_intervals(
            f[rows], {lv: (lo[rows], hi[rows]) for lv, (lo, hi) in q.items()}, panel.integer
        )
        intervals = iv
    hist = panel.y[rows, :cutoff]
    return aggregate(window_errors(a[rows], f[rows], o[rows], hist, intervals))


def choose_combination(grid: Grid, cutoff: int) -> str:
    """The combination (cap) with the best mean volume-weighted RMSSE on the inner windows."""
    inner = [c for c in inner_cutoffs(cutoff, grid.horizon, grid.panel) if c in grid.values]
    names = [f"combination({cap_label(cap)})" for cap in CAPS]
    if not inner:
        return names[-1]
    best, best_score = names[-1], np.inf
    for name in names:
        s = mean_scores([window_scores(grid, name, c) for c in inner]).rmsse
        if s is not None and s < best_score:
            best, best_score = name, s
    return best


def add_production(grid: Grid, cutoffs: Sequence[int]) -> dict[int, str]:
    """Store the production forecast (``PRODUCTION``) at each cutoff; returns what it chose."""
    chosen = {}
    for c in cutoffs:
        name = choose_combination(grid, c)
        grid.values[c][PRODUCTION] = grid.values[c][name]
        chosen[c] = grid.chosen[c] = name
    return chosen
