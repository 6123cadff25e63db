"""Promotion effects: learned from the history's promo column, applied to planned promotions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tillwise.compute.forecasting import InvalidFuture, InvalidSalesFile, ProductionForecaster
from tillwise.compute.forecasting.backtest import day_profile
from tillwise.compute.forecasting.evaluate import backtest
from tillwise.compute.forecasting.panel import to_panel
from tillwise.compute.forecasting.promo import promo_effects
from tillwise.compute.forecasting.reader import validate_future

UPLIFT = 1.6


def promo_history(n: int = 20, days: int = 392, seed: int = 7) -> pd.DataFrame:
    """Stores selling ~30 units a day, a busy Saturday, closed on Sundays, and a promotion
    Monday to Friday every other week (as Rossmann runs them) that sells ``UPLIFT`` times."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=days, freq="D")  # a Monday
    dow = ds.dayofweek.to_numpy()
    week = np.arange(days) // 7
    promo = ((week % 2 == 1) & (dow < 5)).astype(float)
    shape = np.select([dow == 5, dow == 6], [1.5, 0.0], 1.0)
    frames = []
    for i in range(n):
        base = 30.0 * (1 + 0.05 * i)
        y = rng.poisson(base * shape * np.where(promo > 0, UPLIFT, 1.0))
        frames.append(pd.DataFrame({"unique_id": f"s{i:02d}", "ds": ds, "y": y, "promo": promo}))
    return pd.concat(frames, ignore_index=True)


def test_the_uplift_of_a_promotion_is_learned_from_the_history() -> None:
    panel = to_panel(promo_history())
    effect = promo_effects(panel, panel.periods)
    assert effect is not None
    assert effect == pytest.approx(np.full(panel.n, UPLIFT), rel=0.06)
    # no promo column, or one that never ran: no effect at all
    plain = promo_history().drop(columns="promo")
    assert promo_effects(to_panel(plain), 300) is None
    assert promo_effects(to_panel(plain.assign(promo=0.0)), 300) is None


def test_planned_promotion_days_get_the_uplift_over_the_same_weekdays_without() -> None:
    history = promo_history()
    cutoff = 364  # the window after it: weeks 52 (no promotion) and 53 (promotion)
    prof = day_profile(to_panel(history), cutoff, 14)
    mon_quiet, mon_promo = prof[:, 0], prof[:, 7]
    assert mon_promo / mon_quiet == pytest.approx(np.full(len(prof), UPLIFT), rel=0.06)
    assert (prof[:, 6] < 0.01).all()  # still closed on Sunday
    # the level the methods see holds promotions half of the weekdays: the multipliers of a
    # two-week cycle average to 1 (the level is not raised twice)
    assert prof.mean(axis=1) == pytest.approx(np.ones(len(prof)), abs=0.05)


def test_the_forecaster_applies_the_promotions_planned_in_future() -> None:
    history = promo_history(days=364)
    future_ds = pd.date_range(history["ds"].max() + pd.Timedelta(days=1), periods=14)
    planned = (future_ds.dayofweek < 5) & (np.arange(14) >= 7)  # the second week
    future = pd.DataFrame(
        [
            (u, d, float(p))
            for u in history["unique_id"].unique()
            for d, p in zip(future_ds, planned, strict=True)
        ],
        columns=["unique_id", "ds", "promo"],
    )
    fc = ProductionForecaster(inner_windows=2).fit_predict(history, 14, future=future)
    out = fc.frame()
    mon = out[out["ds"].dt.dayofweek == 0].pivot(index="unique_id", columns="ds", values="mean")
    ratio = mon.iloc[:, 1] / mon.iloc[:, 0]
    assert ratio.to_numpy() == pytest.approx(np.full(len(ratio), UPLIFT), rel=0.08)
    assert "planned promotions" in fc.method("s00")  # the justification names them
    # without promotions the two Mondays are forecast alike, and none are named
    plain = ProductionForecaster(inner_windows=2).fit_predict(history.drop(columns="promo"), 14)
    flat = plain.frame()
    mon = flat[flat["ds"].dt.dayofweek == 0].pivot(index="unique_id", columns="ds", values="mean")
    assert (mon.iloc[:, 1] / mon.iloc[:, 0]).to_numpy() == pytest.approx(1.0)
    assert "promotions" not in plain.method("s00") and "weekday" in plain.method("s00")


def test_the_backtest_scores_production_better_when_it_knows_the_promotions() -> None:
    history = promo_history(n=12)
    with_promo = backtest(history, 14, windows=2, singles=("WindowAverage",))
    without = backtest(history.drop(columns="promo"), 14, windows=2, singles=("WindowAverage",))
    assert with_promo.production.holdout.rmsse < 0.8 * without.production.holdout.rmsse
    assert with_promo.production.holdout.wape < 0.8 * without.production.holdout.wape


def test_planned_promotions_that_do_not_fit_the_history_are_refused() -> None:
    history = promo_history(n=2, days=60)
    last = history["ds"].max()

    def plan(uid: str, day: pd.Timestamp) -> pd.DataFrame:
        return pd.DataFrame({"unique_id": [uid], "ds": [day], "promo": [1.0]})

    fc = ProductionForecaster(inner_windows=1)
    with pytest.raises(InvalidFuture, match="'s00' on .* not after the history"):
        fc.fit_predict(history, 7, future=plan("s00", last))
    with pytest.raises(InvalidFuture, match="'nope' .* has no history"):
        fc.fit_predict(history, 7, future=plan("nope", last + pd.Timedelta(days=1)))
    with pytest.raises(InvalidSalesFile, match="missing column.*promo"):
        validate_future(pd.DataFrame({"unique_id": ["s00"], "ds": [last]}))
    with pytest.raises(InvalidSalesFile, match="row 1, column 'promo': not a number"):
        validate_future(pd.DataFrame({"unique_id": ["s00"], "ds": [last], "promo": ["yes"]}))
