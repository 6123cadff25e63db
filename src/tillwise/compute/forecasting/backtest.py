"""Rolling-origin backtest: every candidate at several forecast origins, conformal intervals
from earlier origins, and the production combination chosen on those earlier origins.

Origins ("cutoffs") are ``T - k * horizon``: training uses periods before the cutoff, the window
is the ``horizon`` periods after it. The production forecast at a cutoff uses only the
``inner`` windows *before* it (its own backtest), so scoring it on later windows is honest.

Production forecaster (chosen by measurement on Online Retail II, see ``bench/forecast.py``):
the *level model* — one pooled LightGBM of each series' mean demand over the next ``horizon``
periods as a multiple of its recent spike-capped level (features: raw and capped window means,
zero shares, periods since the last sale, age, price relative to usual, catalogue-family and
panel trends, day of year and — where the history reaches a year back — last year's change
over the same season for the panel, the family and the series), trained on rolling origins
before the cutoff with the volume-weighted RMSSE as its loss (IRLS re-weighting for the square
root) — times the day profile (each series' weekday profile shrunk towards the panel's,
public-holiday effects and the series' planned promotions, :mod:`.promo`). On
panels too small to train it (fewer than ``LEVEL_MIN_ROWS`` rows at the cutoff or at any inner
origin) production is the *stacked* combination instead: ADIDA, TSB, IMAPA and WindowAverage,
each as is and with spikes capped at 3/5/10x the median non-zero demand, with non-negative
weights minimising the volume-weighted RMSSE over the inner windows only, times the day
profile — and on weekly panels with a year of history before the inner windows, the seasonal
naive (last year's same week) as a further member, as it is (Walmart's 45 stores: RMSSE x0.715 /
x0.864 of the best single method, from x0.911 / x1.040 without it; ``bench.forecast_stores``).
Per-series selection overfits; pooled models do not.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tillwise.ports.compute import Executor

from .holidays import holiday_profile, touched
from .methods import WEEKS_PER_YEAR, forecast_at, level_forecast
from .metrics import Scores, aggregate, window_errors
from .panel import Panel, season_length
from .promo import deflate, promo_effects, promo_profile

COMBINED = ("ADIDA", "TSB", "IMAPA", "WindowAverage")
CAPS: tuple[float | None, ...] = (3.0, 5.0, 10.0, None)
SINGLE_METHODS = (
    "SeasonalNaive",
    "WindowAverage",
    "AutoETS",
    "CrostonSBA",
    "TSB",
    "ADIDA",
    "IMAPA",
)
INNER_WINDOWS = 3
PRODUCTION = "Production"
LEVEL = "LevelModel"  # the pooled LightGBM level model (grid name)


def families(ids: Sequence[str] | np.ndarray) -> np.ndarray:
    """Catalogue family of each series for the level model: the first three characters of
    its SKU (the part after the last ':'), e.g. StockCode 85123A -> 851."""
    keys = [str(u).rsplit(":", 1)[-1][:3].upper() for u in ids]
    return np.unique(keys, return_inverse=True)[1]


def cap_label(cap: float | None) -> str:
    return "uncapped" if cap is None else f"cap{cap:g}"


def member(method: str, cap: float | None) -> str:
    """Grid name of one stacking member, e.g. ``TSB|cap5``."""
    return f"{method}|{cap_label(cap)}"


LEVEL_MEMBERS = tuple(member(m, cap) for cap in CAPS for m in COMBINED)
SEASONAL = "SeasonalNaive"  # a member as it is, not times the day profile


def yearly_seasonal(panel: Panel) -> bool:
    """Whether the seasonal naive repeats last year (weekly or coarser panels). On daily panels
    it repeats last week, which the weekday profile already carries better."""
    return season_length(panel.freq) == 1


def stack_members(panel: Panel, inner: Sequence[int]) -> tuple[str, ...]:
    """The stacking members fitted on the ``inner`` origins: the level members (each times the
    day profile) and, where the seasonal naive repeats last year, that forecast as it is — the
    yearly shape (holiday weeks, the Christmas peak) no day profile holds. It joins only when
    every inner origin has a year of history: before that it falls back to a flat mean, and a
    weight fitted on that fallback would not fit what it forecasts later."""
    yearly = yearly_seasonal(panel) and bool(inner) and min(inner) >= WEEKS_PER_YEAR
    return LEVEL_MEMBERS + ((SEASONAL,) if yearly else ())


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
    steps = len(grid.cutoffs) * (1 + len(CAPS) + int(lightgbm))
    done = 0
    for c in grid.cutoffs:
        here: dict[str, np.ndarray] = {}
        for name in singles:  # one at a time: each method's own wall time
            t0 = time.perf_counter()
            base = forecast_at(panel, c, horizon, (name,), executor)
            here[name] = _full(panel, base.rows, base.method(name))
            grid.seconds[name] = grid.seconds.get(name, 0.0) + time.perf_counter() - t0
        for cap in CAPS:
            t0 = time.perf_counter()
            if cap is None and all(m in here for m in COMBINED):
                for m in COMBINED:
                    here[member(m, cap)] = here[m]
            else:
                b = forecast_at(panel, c, horizon, COMBINED, executor, cap=cap)
                for m in COMBINED:
                    here[member(m, cap)] = _full(panel, b.rows, b.method(m))
                done += 1
                if progress:
                    progress(done, steps)
            grid.seconds[PRODUCTION] = grid.seconds.get(PRODUCTION, 0.0) + (
                time.perf_counter() - t0
            )
        t0 = time.perf_counter()
        if yearly_seasonal(panel) and SEASONAL not in here:
            b = forecast_at(panel, c, horizon, (SEASONAL,), executor)
            here[SEASONAL] = _full(panel, b.rows, b.method(SEASONAL))
        level = level_forecast(panel, c, horizon, groups=families(panel.ids))
        if level is not None:
            here[LEVEL] = level
        grid.seconds[PRODUCTION] = grid.seconds.get(PRODUCTION, 0.0) + (time.perf_counter() - t0)
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
    # production also pays for its uncapped members (run once, shared with the singles)
    shared = (*COMBINED, SEASONAL) if yearly_seasonal(panel) else COMBINED
    grid.seconds[PRODUCTION] = grid.seconds.get(PRODUCTION, 0.0) + sum(
        grid.seconds.get(m, 0.0) for m in shared
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
    actual: np.ndarray | None = None  # (n, windows, h) what sold where ``values`` is finite


def residuals(grid: Grid, name: str, cutoffs: Sequence[int]) -> Residuals:
    panel, h = grid.panel, grid.horizon
    res = np.full((panel.n, len(cutoffs), h), np.nan)
    sold = np.full_like(res, np.nan)
    for j, c in enumerate(cutoffs):
        a, o = actuals(panel, c, h)
        f = grid.values[c][name]
        kept = o & np.isfinite(f)
        res[:, j, :] = np.where(kept, a - f, np.nan)
        sold[:, j, :] = np.where(kept, a, np.nan)
    last = max(cutoffs) if cutoffs else panel.periods
    # its level before the last window; a series that started after it: over its history
    level = np.array(
        [
            np.nanmean(panel.y[i, s : last if s < last else panel.periods])
            if s < panel.periods
            else np.nan
            for i, s in enumerate(panel.start)
        ]
    )
    return Residuals(res, np.where(np.isfinite(level) & (level > 0), level, 1.0), sold)


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
    """``mean`` plus the residual quantiles, floored at 0 and never on the wrong side of the
    mean (a series whose backtest errors all point one way, a steady climb, has a positive
    lower quantile); for whole-unit demand the lower bound is rounded down to a whole unit (so
    ``[0.02, 1.5]`` becomes ``[0, 1.5]`` and an actual of 0 counts as inside). A period the
    whole panel is forecast to sell nothing in while it sells on others — a day the shop is
    closed (a weekday it never trades, a public holiday it shuts on) — has no interval: the
    residuals' spread belongs to the days it trades."""
    closed = (mean <= 0).all(axis=0) & (mean > 0).any()
    out = {}
    for lv, (lo, hi) in q.items():
        low = np.minimum(np.maximum(mean + lo[:, None], 0.0), mean)
        high = np.maximum(mean + hi[:, None], mean)
        if integer:
            low = np.floor(low + 1e-9)
        high[:, closed] = 0.0
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


@dataclass(frozen=True)
class Stack:
    """The production combination at one origin: ``weights[k]`` of ``members[k]``."""

    weights: np.ndarray
    windows: int  # inner windows the weights were fitted on (0: equal weights, uncapped)
    members: tuple[str, ...]

    def describe(self, profile: str = "") -> str:
        """In words; ``profile`` names the day profile the level members are multiplied by
        ("": none)."""
        top = np.argsort(-self.weights)
        parts = [
            f"{self.members[k]} {self.weights[k]:.2f}" for k in top if self.weights[k] >= 0.005
        ]
        how = (
            f"fitted on {self.windows} earlier windows"
            if self.windows
            else f"equal weights: fewer than {MIN_STACK_WINDOWS} earlier windows to fit them on"
        )
        return (
            f"stacked combination ({how}; weights sum {self.weights.sum():.2f}: "
            f"{', '.join(parts[:6])}{', ...' if len(parts) > 6 else ''})"
            + (f"; level members x {profile}" if profile else "")
        )


def day_profile(panel: Panel, cutoff: int, horizon: int) -> np.ndarray:
    """(n, horizon) multipliers of each series' flat level: its weekday profile times the
    holiday effects (:mod:`.holidays`) times its planned promotions (:mod:`.promo`)."""
    effect = promo_effects(panel, cutoff)
    week = weekday_levels(panel, cutoff, effect)
    days = panel.dates(cutoff, horizon).dayofweek.to_numpy()
    shape = np.ones((panel.n, horizon)) if week is None else week[:, days]
    shape = shape * holiday_profile(panel, cutoff, horizon)[None, :]
    return shape * promo_profile(panel, cutoff, horizon, effect, week)


def weekday_levels(
    panel: Panel, cutoff: int, effect: np.ndarray | None = None, lookback: int = 364
) -> np.ndarray | None:
    """(n, 7) each series' weekday profile (Monday first): mean demand per weekday over the
    last ``lookback`` periods — days no holiday touches, promotion periods divided by the
    series' ``effect`` (:func:`.promo.promo_effects`) — relative to the mean over the
    weekdays; 1 for a weekday without data; None for weekly data or too little.

    A series' own profile is shrunk towards the panel's (empirical Bayes, per weekday): it
    keeps the share tau² / (tau² + se²), se² the variance of its own weekday mean (its daily
    variance within a weekday, pooled over the weekdays, over the days behind that mean) and
    tau² the spread of the true profiles across the panel. Smooth store-level series keep their own
    pattern (a store open on Sundays); sparse SKUs take the panel's; a series without any
    day-to-day variation (se² = 0) keeps its own exactly."""
    if season_length(panel.freq) <= 1:
        return None
    lo = max(0, cutoff - lookback)
    dates = panel.calendar[lo:cutoff]
    days = dates.dayofweek.to_numpy()
    normal = ~touched(dates, panel.holidays) if panel.holidays else np.ones(len(dates), bool)
    y = deflate(panel, cutoff, lo, effect)
    pool = np.full(7, np.nan)
    total = y.sum(axis=0)
    for d in range(7):
        k = (days == d) & normal
        pool[d] = total[k].mean() if k.sum() >= 4 else np.nan
    known = np.isfinite(pool)
    if not known.any() or np.nanmean(pool) <= 0:
        return None
    pool = np.where(known, pool / np.nanmean(pool), 1.0)
    use = panel.observed[:, lo:cutoff] & normal[None, :] & known[days][None, :]
    count = use.sum(axis=1)
    mean = np.where(count > 0, np.where(use, y, 0.0).sum(axis=1) / np.maximum(count, 1), 0.0)
    z = np.where(use & (mean[:, None] > 0), y / np.maximum(mean, 1e-12)[:, None], np.nan)
    own = np.full((panel.n, 7), np.nan)  # the series' mean per weekday / its overall mean
    within = np.full((panel.n, 7), np.nan)  # its day-to-day variance within each weekday
    days_behind = np.full((panel.n, 7), np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for wd in np.flatnonzero(known):
            zd = z[:, days == wd]
            nd = np.isfinite(zd).sum(axis=1)
            ok = nd >= 4
            own[ok, wd] = np.nanmean(zd[ok], axis=1)
            within[ok, wd] = np.nanvar(zd[ok], axis=1, ddof=1)
            days_behind[ok, wd] = nd[ok]
        # the variance pooled over its weekdays: stable for sparse series
        se2 = np.nanmean(within, axis=1)[:, None] / days_behind
        tau2 = np.maximum(np.nanvar(own, axis=0) - np.nanmean(se2, axis=0), 0.0)
        finite = np.isfinite(own) & np.isfinite(se2)
        share = np.where(finite, tau2 / (tau2 + se2), 0.0)
        # a series that sells the same every such day knows its own profile exactly
        share = np.where(finite & (se2 <= 0), 1.0, np.nan_to_num(share))
    prof = share * np.nan_to_num(own) + (1 - share) * pool[None, :]
    prof[:, ~known] = 1.0
    norm = prof[:, known].mean(axis=1)
    return np.asarray(prof / np.where(norm > 0, norm, 1.0)[:, None])


def plain_mean(members: tuple[str, ...] = LEVEL_MEMBERS) -> Stack:
    """The plain mean of the uncapped level members (the stack before any backtest)."""
    weights = [1.0 / len(COMBINED) if m.endswith("|uncapped") else 0.0 for m in members]
    return Stack(np.array(weights), 0, members)


def member_forecasts(grid: Grid, cutoff: int, members: Sequence[str]) -> np.ndarray:
    """(n, h, members) forecasts of the stacking members at ``cutoff``: the level members
    times the day profile, the seasonal naive as it is."""
    here = grid.values[cutoff]
    profile = day_profile(grid.panel, cutoff, grid.horizon)
    return np.stack([here[m] * (1.0 if m == SEASONAL else profile) for m in members], axis=-1)


MIN_STACK_WINDOWS = 2  # fewer inner windows: the plain mean (see fit_stack)
MIN_WEIGHT_SUM = 0.5  # the stack never forecasts less than half its members' level


def stack_values(grid: Grid, stack: Stack, cutoff: int) -> np.ndarray:
    """The stacked forecast at ``cutoff`` (NaN rows: series not started), for each series never
    below ``MIN_WEIGHT_SUM`` times its members' plain mean. The weights are the panel's, fitted
    mostly on its high-volume series, where the members agree; they can all sit on one member
    (the 28-day window average, TSB) that reads an intermittent item between two sales as no
    demand — a zero forecast for an item that sells every few weeks."""
    x = member_forecasts(grid, cutoff, stack.members)
    values = np.einsum("nhk,k->nh", x, stack.weights)
    plain = np.einsum("nhk,k->nh", x, plain_mean(stack.members).weights)
    return np.asarray(np.maximum(values, MIN_WEIGHT_SUM * plain))


def fit_stack(grid: Grid, cutoff: int, leave_out: int | None = None) -> Stack:
    """Non-negative member weights minimising the mean volume-weighted RMSSE over the inner
    windows before ``cutoff`` (L-BFGS-B with the exact gradient), without the window after
    ``leave_out`` when given.

    Two guards keep a short history from talking the forecast down to nothing. With fewer than
    ``MIN_STACK_WINDOWS`` windows the weights are not fitted (the plain mean): one window is
    an anecdote — three months of a gift shop fitted on January after the Christmas peak gave
    every weight 0, a zero forecast for the whole store. And the weights sum to at least
    ``MIN_WEIGHT_SUM`` (scaled up when they sum to less): RMSSE's optimum already sits below
    the mean for lumpy series, and a replenishment forecast cut further runs shelves empty.
    (:func:`stack_values` holds the same floor for each series.)"""
    from scipy.optimize import minimize

    from .metrics import naive_scales

    panel, h = grid.panel, grid.horizon
    inner = [c for c in inner_cutoffs(cutoff, h, panel) if c in grid.values]
    equal = plain_mean(stack_members(panel, inner))
    members, k = equal.members, len(equal.members)
    inner = [c for c in inner if c != leave_out]
    data = []
    for c in inner:
        a, o = actuals(panel, c, h)
        x = member_forecasts(grid, c, members)
        s = np.array([naive_scales(row)[0] or np.nan for row in panel.y[:, :c]])
        w = np.nansum(panel.y[:, max(0, c - 28) : c], axis=1)
        ok = np.isfinite(x[:, 0, 0]) & np.isfinite(s) & (w > 0) & o.any(axis=1)
        if ok.any():
            n_obs = o[ok].sum(axis=1).astype(float)
            data.append((x[ok], a[ok], o[ok].astype(float), w[ok] / w[ok].sum(), s[ok] * n_obs))
    if len(data) < MIN_STACK_WINDOWS:
        return equal

    def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros(k)
        for x, a, o, w, denom in data:
            e = (np.einsum("nhk,k->nh", x, beta) - a) * o
            r = np.sqrt(np.maximum((e**2).sum(axis=1) / denom, 1e-12))
            total += float(w @ r)
            grad += np.einsum("nh,nhk->k", e * (w / (r * denom))[:, None], x)
        return total / len(data), grad / len(data)

    start = equal.weights
    res = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * k)
    beta = np.maximum(res.x, 0.0) if res.success or np.isfinite(res.fun) else start
    if objective(beta)[0] > objective(start)[0]:
        beta = start
    if beta.sum() < MIN_WEIGHT_SUM:
        beta = beta * (MIN_WEIGHT_SUM / beta.sum()) if beta.sum() > 0 else start
    return Stack(beta, len(data), members)


def production_values(grid: Grid, cutoff: int, stack: Stack | None) -> np.ndarray:
    """The production forecast at ``cutoff``: the level model times the day profile
    (``stack`` None), else the stacked combination."""
    if stack is None:
        level = grid.values[cutoff][LEVEL]
        return level * day_profile(grid.panel, cutoff, grid.horizon)
    return stack_values(grid, stack, cutoff)


def production_stack(grid: Grid, cutoff: int, inner: Sequence[int]) -> Stack | None:
    """None when the level model is the production forecast: it ran at ``cutoff`` and at every
    inner origin, and on the inner windows it scores no worse (volume-weighted RMSSE) than the
    plain mean of the statistical members. Otherwise the stacked combination fitted on the
    inner windows — the backtest decides."""
    if all(LEVEL in grid.values[c] for c in [cutoff, *inner]):
        mean = plain_mean()
        level = _inner_rmsse(grid, inner, lambda c: production_values(grid, c, None))
        plain = _inner_rmsse(grid, inner, lambda c: stack_values(grid, mean, c))
        if level <= plain:
            return None
    return fit_stack(grid, cutoff)


def _inner_rmsse(grid: Grid, inner: Sequence[int], forecast: Callable[[int], np.ndarray]) -> float:
    """Mean volume-weighted RMSSE of ``forecast(cutoff)`` over the windows after ``inner``
    (infinite without any)."""
    panel, h = grid.panel, grid.horizon
    scores = []
    for c in inner:
        a, o = actuals(panel, c, h)
        f = forecast(c)
        rows = np.flatnonzero(np.isfinite(f[:, 0]))
        s = aggregate(window_errors(a[rows], f[rows], o[rows], panel.y[rows, :c])).rmsse
        if s is not None:
            scores.append(s)
    return float(np.mean(scores)) if scores else np.inf


def inner_values(
    grid: Grid, cutoff: int, inner: Sequence[int], stack: Stack | None
) -> dict[int, np.ndarray]:
    """Production's forecasts at the inner origins of ``cutoff`` — the residuals its conformal
    intervals come from. The level model was trained before each origin; a stack fitted on the
    inner windows is refitted without the window it forecasts (leave one window out), so that
    the residuals are out of sample and the intervals not too narrow."""
    out = {}
    for ic in inner:
        own = stack
        if stack is not None and stack.windows > 1:
            own = fit_stack(grid, cutoff, leave_out=ic)
        out[ic] = production_values(grid, ic, own)
    return out


def _profile_parts(panel: Panel) -> list[str]:
    """The parts of the day profile this panel has."""
    parts = ["weekday"] if season_length(panel.freq) > 1 else []
    if panel.holidays and parts:
        parts.append("holidays and events")
    if panel.promo is not None and (panel.promo > 0).any():
        parts.append("planned promotions")
    return parts


PLAIN_MEMBERS = {"WindowAverage": "a recent average", "SeasonalNaive": "last year's same period"}


def summarize_production(stack: Stack | None, panel: Panel) -> str:
    """Production in a buyer's words (:func:`describe_production` is the analyst's)."""
    if stack is None:
        what = (
            "a model that learned, from all the items forecast with this one, how sales go on "
            "after a history like this item's"
        )
    else:
        order = np.argsort(-stack.weights, kind="stable")  # the heaviest first
        used = [stack.members[k].split("|")[0] for k in order if stack.weights[k] > 0]
        names = [PLAIN_MEMBERS.get(m, m) for m in dict.fromkeys(used)]
        what = f"a blend of methods made for irregular demand ({_and(names)})"
    plain = {"weekday": "the day of the week"}
    shaped = [f"by {plain.get(p, p)}" for p in _profile_parts(panel)]
    return f"{what}, shaped {_and(shaped)}" if shaped else what


def _and(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)


def describe_production(stack: Stack | None, panel: Panel) -> str:
    """Production in words, naming the parts of the day profile this panel has."""
    parts = _profile_parts(panel)
    profile = f"day profile ({', '.join(parts)})" if parts else ""
    if stack is None:
        return (
            "level model (pooled LightGBM of each series' mean demand over the horizon, "
            "fitted to the volume-weighted RMSSE)" + (f" x {profile}" if profile else "")
        )
    return stack.describe(profile)


def add_production(grid: Grid, cutoffs: Sequence[int]) -> dict[int, str]:
    """Store the production forecast (``PRODUCTION``) at each cutoff — and, under
    ``production@<cutoff>``, the same method at its inner cutoffs (the residuals its
    conformal intervals come from). Returns what production was at each cutoff."""
    chosen = {}
    for c in cutoffs:
        inner = [ic for ic in inner_cutoffs(c, grid.horizon, grid.panel) if ic in grid.values]
        stack = production_stack(grid, c, inner)
        grid.values[c][PRODUCTION] = production_values(grid, c, stack)
        name = f"{PRODUCTION}@{c}"
        for ic, values in inner_values(grid, c, inner, stack).items():
            grid.values[ic][name] = values
        grid.chosen[c] = name
        chosen[c] = describe_production(stack, grid.panel)
    return chosen
