"""Promotion effects on demand, learned from the panel's own history and applied to the
promotions planned for the forecast window.

A ``promo`` column (see :mod:`.reader`) flags the periods a series is on promotion (any value
above 0). Promotions are planned ahead, so the flags of the forecast window are known: in a
backtest they are the file's own rows after the origin, in ``forecast predict`` the rows of
``--future`` (statsforecast's ``X_df`` convention).

Each past promotion period of a series is compared with its *reference*: the mean of the same
weekday within four weeks either side (the periods ±1–4 for weekly data) on periods without a
promotion and untouched by a public holiday. The effect of a series is the ratio of its summed
promotion demand to its summed references, shrunk towards the panel's pooled ratio by the
number of promotion periods it has (``SHRINK`` periods weigh as much as the pool), clipped to
[1/``MAX_EFFECT``, ``MAX_EFFECT``]. With fewer than ``MIN_PERIODS`` promotion periods in the
panel's last year there is no effect (1).

:func:`promo_profile` gives each series' multipliers of its flat level over the forecast
window: the effect on promotion periods, divided by the mean multiplier over its recent
periods (the level the forecast methods saw already holds that share of promotions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .panel import Panel

LOOKBACK = 364  # periods of history the effects are estimated on
MIN_PERIODS = 10  # promotion periods (with a reference) the panel needs for any effect
SHRINK = 20.0  # a series' own ratio weighs n / (n + SHRINK) against the pool's (log scale)
MAX_EFFECT = 5.0
REFERENCE_STEPS = 4  # same-weekday (daily) or neighbouring (weekly) periods either side


def promo_values(panel: Panel, start: int, periods: int) -> np.ndarray:
    """(n, periods) the promo column at ``start`` … ``start + periods - 1`` (0 where unknown:
    no promo column, or beyond the periods the panel knows promotions for)."""
    out = np.zeros((panel.n, periods))
    if panel.promo is None:
        return out
    lo, hi = max(start, 0), min(start + periods, panel.promo.shape[1])
    if hi > lo:
        out[:, lo - start : hi - start] = panel.promo[:, lo:hi]
    return out


def promo_flags(panel: Panel, start: int, periods: int) -> np.ndarray:
    """(n, periods) bool: on promotion (see :func:`promo_values`)."""
    return promo_values(panel, start, periods) > 0


def promo_effects(panel: Panel, cutoff: int) -> np.ndarray | None:
    """(n,) multiplicative promotion effect per series from the history before ``cutoff``,
    or None when the panel has no promotions to learn from."""
    from .holidays import touched
    from .panel import season_length

    if panel.promo is None or cutoff <= 0:
        return None
    lo = max(0, cutoff - LOOKBACK)
    width = cutoff - lo
    flags = promo_flags(panel, lo, width)
    if not flags.any():
        return None
    y = np.nan_to_num(panel.y[:, lo:cutoff])
    usable = panel.observed[:, lo:cutoff].copy()
    if panel.holidays:
        usable &= ~touched(panel.calendar[lo:cutoff], panel.holidays)[None, :]
    step = max(season_length(panel.freq), 1)  # the same weekday; weeks: the next week
    ref_sum = np.zeros_like(y)
    ref_n = np.zeros_like(y)
    quiet = usable & ~flags
    for k in range(1, REFERENCE_STEPS + 1):
        for off in (k * step, -k * step):
            if abs(off) >= width:
                continue
            src = slice(max(off, 0), width + min(off, 0))  # the reference periods
            dst = slice(max(-off, 0), width - max(off, 0))  # the periods they refer to
            ref_sum[:, dst] += np.where(quiet[:, src], y[:, src], 0.0)
            ref_n[:, dst] += quiet[:, src]
    has_ref = usable & flags & (ref_n >= 2)
    ref = np.where(has_ref, ref_sum / np.maximum(ref_n, 1), 0.0)
    promo_y = np.where(has_ref, y, 0.0).sum(axis=1)
    base = ref.sum(axis=1)
    count = has_ref.sum(axis=1).astype(float)
    if count.sum() < MIN_PERIODS or base.sum() <= 0:
        return None
    pooled = float(np.clip(promo_y.sum() / base.sum(), 1 / MAX_EFFECT, MAX_EFFECT))
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.log(np.clip(promo_y / base, 1 / MAX_EFFECT, MAX_EFFECT))
    own = np.where((base > 0) & (promo_y > 0), own, np.log(pooled))
    shrunk = (count * own + SHRINK * np.log(pooled)) / (count + SHRINK)
    return np.asarray(np.exp(shrunk))


def promo_profile(
    panel: Panel,
    cutoff: int,
    horizon: int,
    effect: np.ndarray | None,
    weekday: np.ndarray | None = None,
) -> np.ndarray:
    """(n, horizon) multipliers of each series' flat level for the promotions planned after
    ``cutoff`` given the series' ``effect`` (:func:`promo_effects`; ones when None).
    ``weekday`` (n, 7) are the weekday profiles the level is spread with, so the recent
    promotion share is measured on the same footing."""
    ones = np.ones((panel.n, horizon))
    if effect is None:
        return ones
    recent = min(cutoff, max(28, min(2 * horizon, 112)))
    past = promo_flags(panel, cutoff - recent, recent)
    days = panel.calendar[cutoff - recent : cutoff].dayofweek.to_numpy()
    w = np.ones((panel.n, recent)) if weekday is None else weekday[:, days]
    seen = np.where(past, effect[:, None], 1.0)
    norm = (seen * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-9)
    ahead = np.where(promo_flags(panel, cutoff, horizon), effect[:, None], 1.0)
    return np.asarray(ahead / np.maximum(norm, 1e-9)[:, None])


def deflate(panel: Panel, cutoff: int, lo: int, effect: np.ndarray | None) -> np.ndarray:
    """The panel's demand over ``lo`` … ``cutoff - 1`` with promotion periods divided by their
    series' ``effect`` (what it would have sold without the promotion)."""
    y = np.nan_to_num(panel.y[:, lo:cutoff])
    if effect is None:
        return y
    return np.asarray(np.where(promo_flags(panel, lo, cutoff - lo), y / effect[:, None], y))
