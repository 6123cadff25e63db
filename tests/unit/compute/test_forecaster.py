"""The production forecaster on small synthetic panels: intervals, censoring, lead time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tillwise.compute import make_executor
from tillwise.compute.forecasting import ProductionForecaster
from tillwise.compute.forecasting.backtest import Grid, Stack, actuals
from tillwise.compute.forecasting.panel import Panel

DAYS = 200


def poisson_panel(n: int = 30, days: int = DAYS, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    rows = []
    for i in range(n):
        rate = [0.3, 1.0, 4.0][i % 3]
        rows.append(
            pd.DataFrame({"unique_id": f"s{i:02d}", "ds": ds, "y": rng.poisson(rate, days)})
        )
    return pd.concat(rows, ignore_index=True)


def test_intervals_cover_held_out_poisson_demand_close_to_their_level() -> None:
    # fit on the first 172 days, score the 80% and 95% intervals on the last 28
    panel = poisson_panel()
    cut = panel["ds"].min() + pd.Timedelta(days=DAYS - 28)
    train, test = panel[panel["ds"] < cut], panel[panel["ds"] >= cut]
    fc = ProductionForecaster().fit_predict(train, 28).frame()
    merged = fc.merge(test, on=["unique_id", "ds"])
    assert len(merged) == 30 * 28
    inside80 = ((merged["y"] >= merged["lo-80"]) & (merged["y"] <= merged["hi-80"])).mean()
    inside95 = ((merged["y"] >= merged["lo-95"]) & (merged["y"] <= merged["hi-95"])).mean()
    # a broken interval (the mean alone, or +-0) covers far less; a huge one covers ~100%
    assert 0.70 <= inside80 <= 0.92
    assert 0.88 <= inside95 <= 0.995
    assert (merged["lo-95"] <= merged["lo-80"]).all() and (merged["hi-80"] <= merged["hi-95"]).all()


def test_a_stock_out_stretch_does_not_drag_the_forecast_to_zero() -> None:
    # 5 units a day for 120 days, then 30 days out of stock (recorded sales 0, censored)
    ds = pd.date_range("2024-01-01", periods=150, freq="D")
    y = np.r_[np.full(120, 5.0), np.zeros(30)]
    history = pd.DataFrame(
        {"unique_id": "sku", "ds": ds, "y": y, "censored": np.r_[np.zeros(120), np.ones(30)] > 0}
    )
    mean = ProductionForecaster().fit_predict(history, 7).frame()["mean"]
    assert mean.min() == pytest.approx(5.0, rel=0.05)
    uncensored = ProductionForecaster().fit_predict(history.drop(columns="censored"), 7)
    assert uncensored.frame()["mean"].max() < 1.0  # read as zero demand, it would collapse


def test_an_item_out_of_stock_since_its_first_sale_is_forecast_at_least_what_it_sold() -> None:
    """One order of 100 took the whole stock on its first day and no day since was in stock:
    its demand was never seen, but it was at least its sales, not zero."""
    ds = pd.date_range("2024-01-01", periods=70, freq="D")
    steady = pd.DataFrame(
        {"unique_id": "steady", "ds": ds, "y": np.full(70, 4.0), "censored": False}
    )
    sold_out = pd.DataFrame(
        {"unique_id": "sold-out", "ds": ds[20:], "y": np.r_[100.0, np.zeros(49)], "censored": True}
    )
    fc = ProductionForecaster().fit_predict(pd.concat([steady, sold_out]), 7)
    mean = fc.frame().query("unique_id == 'sold-out'")["mean"]
    assert mean.min() == pytest.approx(100 / 50, rel=0.1)  # 100 units over its 50 days
    assert fc.lead_time_demand("sold-out", 7, 0.95).quantile >= 7 * 2.0
    assert fc.observed_periods("sold-out") == 0 and fc.observed_periods("steady") == 70


def test_lead_time_demand_is_a_quantile_of_the_sum_above_the_mean() -> None:
    fc = ProductionForecaster().fit_predict(poisson_panel(n=6), 14)
    for uid in ["s01", "s02"]:
        ltd90 = fc.lead_time_demand(uid, 7, 0.90)
        ltd99 = fc.lead_time_demand(uid, 7, 0.99)
        daily = fc.frame().query("unique_id == @uid")["mean"].to_numpy()
        assert ltd90.mean == pytest.approx(daily[:7].sum())
        assert ltd90.quantile >= ltd90.mean
        assert ltd99.quantile > ltd90.quantile
        # the quantile of a sum is below the sum of the daily 95% upper bounds
        hi95 = fc.frame().query("unique_id == @uid")["hi-95"].to_numpy()[:7].sum()
        assert fc.lead_time_demand(uid, 7, 0.975).quantile < hi95
    assert fc.accuracy("s02") is not None and fc.accuracy("s02").rmsse is not None
    assert fc.method("s02").startswith("stacked combination")
    with pytest.raises(KeyError):
        fc.lead_time_demand("nope", 7, 0.9)


def test_protection_quantiles_grow_smoothly_with_the_period_and_cover_new_items() -> None:
    """Lumpy sellers beside a steady 10-a-day item and an item new this week (30 a day)."""
    rng = np.random.default_rng(3)
    ds = pd.date_range("2024-01-01", periods=365, freq="D")
    rows = [
        pd.DataFrame(
            {"unique_id": f"lumpy{i}", "ds": ds, "y": rng.poisson(0.05, 365) * rng.integers(1, 40)}
        )
        for i in range(10)
    ]
    rows.append(pd.DataFrame({"unique_id": "steady", "ds": ds, "y": rng.poisson(10, 365)}))
    rows.append(pd.DataFrame({"unique_id": "new", "ds": ds[-3:], "y": [28, 31, 30]}))
    fc = ProductionForecaster().fit_predict(pd.concat(rows, ignore_index=True), 28)

    q = [fc.lead_time_demand("steady", days, 0.95).quantile for days in range(1, 29)]
    steps = np.diff(q)
    # one more day of lead time adds about a day of demand and its share of safety stock — no
    # jump where the item's own backtest sums run short (past 22 days here)
    daily = fc.frame().query("unique_id == 'steady'")["mean"].max()
    assert (steps > 0).all() and steps.max() < 2 * daily, steps
    # an item new this week gets at least the randomness of sales at its rate
    from scipy.stats import poisson

    new = fc.lead_time_demand("new", 8, 0.95)
    assert new.quantile >= poisson.ppf(0.95, new.mean) and new.mean > 8 * 25


def test_reorder_point_quantiles_hold_their_service_level_over_long_protection_periods() -> None:
    """Items sold in orders of a few units at random (compound Poisson), 280 days of history;
    the next four weeks are drawn from the same process. The 95 % quantile of the next 14 and
    21 days' demand — the reorder point's protection — must cover close to 95 % of the items,
    and the 80 % interval about 80 %. (The spread of a few windows' sums understates the tail;
    standardized by themselves, the panel's errors covered about 82 % and 63-67 % here.)"""
    rng = np.random.default_rng(11)
    days, horizon = 280, 28
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    rows, future = [], {}
    for i in range(200):
        rate, size = rng.uniform(0.05, 0.6), rng.uniform(1, 8)
        orders = rng.poisson(rate, days + horizon)
        y = np.array([rng.geometric(1 / size, k).sum() if k else 0 for k in orders])
        rows.append(pd.DataFrame({"unique_id": f"item{i}", "ds": ds, "y": y[:days]}))
        future[f"item{i}"] = y[days:]
    fc = ProductionForecaster().fit_predict(pd.concat(rows, ignore_index=True), horizon)
    for period in (14, 21):
        sold = np.array([future[uid][:period].sum() for uid in future])
        q = {
            level: np.array([fc.lead_time_demand(uid, period, level).quantile for uid in future])
            for level in (0.10, 0.90, 0.95)
        }
        assert 0.88 <= np.mean(sold <= q[0.95]) <= 0.99, (period, np.mean(sold <= q[0.95]))
        # the plan's 80 % interval of the period's demand (shown with each line)
        inside = np.mean((q[0.10] <= sold) & (sold <= q[0.90]))
        assert 0.72 <= inside <= 0.92, (period, inside)
    # a longer protection period never asks for less
    for uid in future:
        steps = np.diff([fc.lead_time_demand(uid, d, 0.95).quantile for d in range(1, 29)])
        assert (steps >= 0).all(), (uid, steps)


def test_a_very_short_series_still_gets_a_forecast() -> None:
    history = pd.DataFrame(
        {
            "unique_id": ["new", "new"],
            "ds": pd.to_datetime(["2024-03-01", "2024-03-02"]),
            "y": [2, 0],
        }
    )
    fc = ProductionForecaster().fit_predict(history, 5)
    frame = fc.frame()
    assert (
        len(frame) == 5 and (frame["mean"] >= 0).all() and (frame["hi-95"] >= frame["mean"]).all()
    )
    assert fc.lead_time_demand("new", 5, 0.95).quantile >= fc.lead_time_demand("new", 5, 0.95).mean


def test_process_pool_and_dask_give_the_same_forecasts(monkeypatch: pytest.MonkeyPatch) -> None:
    # Dask's in-process cluster learns the host's IP by "connecting" a UDP socket to 8.8.8.8
    # (nothing is sent); the test suite forbids sockets to the outside, so name the host here
    import distributed.comm.inproc

    monkeypatch.setattr(distributed.comm.inproc, "get_ip", lambda: "127.0.0.1")
    history = poisson_panel(n=8, days=120)
    frames = []
    for kind in ("processes", "dask"):
        ex = make_executor(kind, workers=2)
        try:
            frames.append(ProductionForecaster(ex).fit_predict(history, 14).frame())
        finally:
            ex.close()
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_actuals_past_the_end_of_the_data_are_not_observed() -> None:
    from tillwise.compute.forecasting.panel import to_panel

    panel = to_panel(poisson_panel(n=1, days=10))
    a, o = actuals(panel, 8, 4)
    assert o[0].tolist() == [True, True, False, False]


def small_stack_grid() -> tuple[Panel, int, list[int], Grid]:
    """(panel, origin, inner origins, grid) of 9 Poisson series over 150 days, horizon 14."""
    from tillwise.compute.executors import InlineExecutor
    from tillwise.compute.forecasting.backtest import inner_cutoffs, run_grid
    from tillwise.compute.forecasting.panel import to_panel

    panel = to_panel(poisson_panel(n=9, days=150))
    end = panel.periods - 14
    inner = inner_cutoffs(end, 14, panel)
    grid = run_grid(panel, 14, [*inner, end], InlineExecutor(), singles=("ADIDA", "TSB"))
    return panel, end, inner, grid


def test_the_stack_is_fitted_on_earlier_windows_only_with_non_negative_weights() -> None:
    from tillwise.compute.forecasting.backtest import fit_stack, stack_members

    panel, end, inner, grid = small_stack_grid()
    stack = fit_stack(grid, end)
    assert stack.windows == 3 and stack.members == stack_members(panel, inner)
    assert len(stack.weights) == len(stack.members) and "SeasonalNaive" not in stack.members
    assert (stack.weights >= 0).all() and stack.weights.sum() > 0
    # what happens after the origin cannot move the weights
    panel.y[:, end:] *= 10
    assert np.array_equal(fit_stack(grid, end).weights, stack.weights)


def test_the_stacks_interval_residuals_come_from_weights_fitted_without_their_window() -> None:
    """A stack scored on the windows it was fitted on has too small residuals (and too
    narrow intervals): each inner window is forecast by the stack fitted on the others."""
    from tillwise.compute.forecasting.backtest import fit_stack, inner_values, production_values

    _, end, inner, grid = small_stack_grid()
    stack = fit_stack(grid, end)
    values = inner_values(grid, end, inner, stack)
    for ic in inner:
        without = fit_stack(grid, end, leave_out=ic)
        assert without.windows == len(inner) - 1
        assert np.array_equal(values[ic], production_values(grid, ic, without), equal_nan=True)
    assert any(
        not np.allclose(fit_stack(grid, end, leave_out=ic).weights, stack.weights) for ic in inner
    )


def test_day_of_week_profile_follows_the_weekday_pattern() -> None:
    from tillwise.compute.forecasting.backtest import day_profile
    from tillwise.compute.forecasting.panel import to_panel

    ds = pd.date_range("2024-01-01", periods=140, freq="D")  # a Monday
    y = np.where(ds.dayofweek == 5, 8.0, 4.0)  # Saturdays sell double
    panel = to_panel(pd.DataFrame({"unique_id": "a", "ds": ds, "y": y}))
    prof = day_profile(panel, 140, 7)[0]  # the 7 days after 2024-05-19 (a Sunday): Mon..Sun
    assert prof[5] == pytest.approx(2 * prof[0]) and np.mean(prof) == pytest.approx(1.0)
    weekly = to_panel(pd.DataFrame({"unique_id": "a", "ds": ds[::7], "y": 1.0}), "W")
    assert (day_profile(weekly, 10, 4) == 1.0).all()


def test_a_clear_weekday_pattern_of_its_own_is_kept_and_a_sparse_series_takes_the_panels() -> None:
    """Stores that close on Sundays next to stores busiest on Saturdays: each keeps its own
    pattern; a SKU selling a few units a month gets the panel's, not its own noise."""
    from tillwise.compute.forecasting.backtest import weekday_levels
    from tillwise.compute.forecasting.panel import to_panel

    rng = np.random.default_rng(5)
    ds = pd.date_range("2024-01-01", periods=364, freq="D")
    dow = ds.dayofweek.to_numpy()
    rows = []
    for i in range(8):
        busy_saturday = np.where(dow == 5, 2.0, 1.0)
        closed_sunday = np.where(dow == 6, 0.0, 1.0)
        factor = busy_saturday if i % 2 else closed_sunday
        rows.append(
            pd.DataFrame({"unique_id": f"store{i}", "ds": ds, "y": rng.poisson(50 * factor)})
        )
    rows.append(pd.DataFrame({"unique_id": "sparse", "ds": ds, "y": rng.poisson(0.1, len(ds))}))
    panel = to_panel(pd.concat(rows, ignore_index=True))
    week = weekday_levels(panel, panel.periods)
    assert week is not None
    i_sat, i_sun, i_sparse = (list(panel.ids).index(k) for k in ("store1", "store0", "sparse"))
    assert week[i_sat, 5] / week[i_sat, 0] == pytest.approx(2.0, rel=0.1)
    assert week[i_sun, 6] < 0.05 and week[i_sun, 5] == pytest.approx(week[i_sun, 0], rel=0.1)
    total = pd.Series(np.nansum(panel.y, axis=0)).groupby(dow).mean().to_numpy()
    own = pd.Series(panel.y[i_sparse]).groupby(dow).mean().to_numpy()
    pool, own = total / total.mean(), own / own.mean()
    # at least half-way from its own noise to the panel's pattern on every weekday
    assert (np.abs(week[i_sparse] - pool) <= 0.5 * np.abs(own - pool) + 0.02).all()
    assert week.mean(axis=1) == pytest.approx(np.ones(panel.n))


def test_a_series_that_sells_the_same_every_day_keeps_its_flat_week_among_lumpy_ones() -> None:
    from tillwise.compute.forecasting.backtest import weekday_levels
    from tillwise.compute.forecasting.panel import to_panel

    rng = np.random.default_rng(7)
    ds = pd.date_range("2024-01-01", periods=364, freq="D")
    weekend = np.where(ds.dayofweek >= 5, 0.2, 1.0)  # the lumpy ones sell little at weekends
    rows = [
        pd.DataFrame({"unique_id": f"lumpy{i}", "ds": ds, "y": rng.poisson(0.3 * weekend) * 12})
        for i in range(12)
    ]
    rows.append(pd.DataFrame({"unique_id": "steady", "ds": ds, "y": 5.0}))
    panel = to_panel(pd.concat(rows, ignore_index=True))
    week = weekday_levels(panel, panel.periods)
    assert week is not None
    steady = list(panel.ids).index("steady")
    assert week[steady] == pytest.approx(np.ones(7))  # not the panel's quiet weekend


def test_the_level_model_learns_the_level_from_the_past_only_and_drives_production() -> None:
    from tillwise.compute.forecasting.backtest import families
    from tillwise.compute.forecasting.methods import level_forecast
    from tillwise.compute.forecasting.panel import to_panel

    history = poisson_panel(n=90, days=300)
    panel = to_panel(history)
    cut = 272
    level = level_forecast(panel, cut, 28, groups=families(panel.ids))
    assert level is not None and level.shape == (90, 28)
    assert (level == level[:, :1]).all()  # one level per series over the horizon
    rate = np.array([0.3, 1.0, 4.0] * 30)
    for r in (1.0, 4.0):  # close to the true rate (shrunk a little: the RMSSE optimum)
        assert 0.6 * r < np.median(level[rate == r, 0]) < 1.15 * r
    panel.y[:, cut:] *= 10  # what happens after the origin cannot move it
    again = level_forecast(panel, cut, 28, groups=families(panel.ids))
    assert again is not None and np.array_equal(again, level)
    # too small a panel: no level model (production falls back to the stacked combination)
    assert level_forecast(to_panel(poisson_panel(n=5, days=120)), 92, 28) is None
    # with enough history at every inner origin too, the level model is the production forecast
    fc = ProductionForecaster().fit_predict(poisson_panel(n=90, days=360), 28)
    assert fc.method("s01").startswith("level model")
    assert fc.accuracy("s02") is not None


def test_the_level_model_remembers_last_years_season_only_where_history_reaches_it() -> None:
    from tillwise.compute.forecasting.methods import _yearly_features

    # one series: 1 a day, except 5 a day for the 28 days from day 400 (last year: from day 36)
    ds = pd.date_range("2023-01-01", periods=420, freq="D")
    y = np.ones(420)
    y[36:64] = 5.0
    y[400:] = 5.0
    cs = np.concatenate([[0.0], np.cumsum(y)])[None, :]
    start, groups, scale = np.array([0]), np.array([0]), np.array([1.0])
    at = _yearly_features(cs, start, 400, groups, scale, ds, 28)  # 364 days back: day 36
    assert at["series_yoy"][0] == pytest.approx(5.0)  # the next 28 days were 5x the 28 before
    assert at["panel_yoy"][0] == pytest.approx(5.0) and at["series_ly_level"][0] == 5.0
    early = _yearly_features(cs, start, 380, groups, scale, ds, 28)  # a year back: day 16 < 28
    assert all(np.isnan(v[0]) for v in early.values())
    young = _yearly_features(cs, np.array([20]), 400, groups, scale, ds, 28)  # born on day 20
    assert np.isnan(young["series_yoy"][0]) and young["panel_yoy"][0] == pytest.approx(5.0)


def test_the_backtest_decides_between_the_level_model_and_the_stack() -> None:
    from tillwise.compute.executors import InlineExecutor
    from tillwise.compute.forecasting.backtest import (
        COMBINED,
        LEVEL,
        inner_cutoffs,
        production_stack,
        run_grid,
    )
    from tillwise.compute.forecasting.panel import to_panel

    panel = to_panel(poisson_panel(n=90, days=360))
    end = panel.periods
    inner = inner_cutoffs(end, 28, panel)
    grid = run_grid(panel, 28, [*inner, end], InlineExecutor(), singles=COMBINED)
    assert production_stack(grid, end, inner) is None  # the level model holds its own
    for c in inner:  # a level model that over-forecasts 3x in every inner window loses
        grid.values[c][LEVEL] = grid.values[c][LEVEL] * 3
    stack = production_stack(grid, end, inner)
    assert stack is not None and stack.windows == len(inner)


def test_on_weekly_data_the_seasonal_naive_repeats_last_years_same_week() -> None:
    from tillwise.compute.executors import InlineExecutor
    from tillwise.compute.forecasting.methods import forecast_at
    from tillwise.compute.forecasting.panel import to_panel

    ds = pd.date_range("2022-01-07", periods=110, freq="7D")
    pattern = 100.0 + 10 * (np.arange(110) % 52)  # the week of the year
    history = pd.concat(
        [
            pd.DataFrame({"unique_id": "long", "ds": ds, "y": pattern}),
            pd.DataFrame({"unique_id": "young", "ds": ds[-40:], "y": 5.0}),  # under a year
        ]
    )
    panel = to_panel(history, "W")
    base = forecast_at(panel, 104, 4, ("SeasonalNaive",), InlineExecutor())
    long_row, young_row = (list(panel.ids[base.rows]).index(k) for k in ("long", "young"))
    assert base.method("SeasonalNaive")[long_row] == pytest.approx(pattern[52:56])
    assert base.method("SeasonalNaive")[young_row] == pytest.approx(np.full(4, 5.0))


def weekly_stores(weeks: int, seed: int = 3) -> pd.DataFrame:
    """12 stores' weekly sales with a yearly season (+-30%) and a Christmas peak (weeks 47-51
    of each year at 1.8x)."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-01", periods=weeks, freq="7D")
    week = ds.isocalendar().week.to_numpy()
    season = (1 + 0.3 * np.sin(2 * np.pi * week / 52)) * np.where(
        np.isin(week, range(47, 52)), 1.8, 1.0
    )
    return pd.concat(
        [
            pd.DataFrame(
                {"unique_id": f"store{i:02d}", "ds": ds, "y": 1000 * (1 + i) * season}
            ).assign(y=lambda d: d["y"] * rng.normal(1.0, 0.05, weeks))
            for i in range(12)
        ],
        ignore_index=True,
    )


def test_a_weekly_forecast_follows_last_years_peak_once_there_is_a_year_to_learn_from() -> None:
    history = weekly_stores(160)
    ds = history["ds"].drop_duplicates().sort_values()
    # the forecast origin: three weeks before the third year's peak
    peak = ds[(ds.dt.year == 2023) & (ds.dt.isocalendar().week == 47)].iloc[0]
    train = history[history["ds"] < peak - pd.Timedelta(weeks=3)]
    fc = ProductionForecaster().fit_predict(train, 8, freq="W")
    assert "SeasonalNaive" in fc.method("store05")
    f = fc.frame()
    week = f["ds"].dt.isocalendar().week
    before = f[week.isin([44, 45, 46])].groupby("unique_id")["mean"].mean()
    during = f[week.isin(range(47, 52))].groupby("unique_id")["mean"].mean()
    # a flat level forecast gives ~1.0; last year's peak was 1.8x
    assert ((during / before) > 1.4).all()


def test_the_yearly_seasonal_naive_joins_the_stack_only_with_a_year_before_every_inner_origin() -> (
    None
):
    from tillwise.compute.executors import InlineExecutor
    from tillwise.compute.forecasting.backtest import fit_stack, inner_cutoffs, run_grid
    from tillwise.compute.forecasting.panel import to_panel

    for weeks, member in ((70, False), (90, True)):
        panel = to_panel(weekly_stores(weeks), "W")
        end = panel.periods
        cutoffs = [*inner_cutoffs(end, 8, panel), end]  # the first inner origin: week 62 or 66
        grid = run_grid(panel, 8, cutoffs, InlineExecutor(), singles=())
        stack = fit_stack(grid, end)
        assert ("SeasonalNaive" in stack.members) is member, weeks


def test_three_months_after_a_christmas_peak_still_forecast_the_demand_that_goes_on() -> None:
    """One earlier window (January, after the peak) is too little to fit stack weights on:
    fitted there they were all 0 — a zero forecast for the whole store."""
    rng = np.random.default_rng(11)
    ds = pd.date_range("2010-12-01", "2011-02-28", freq="D")
    orders_a_day = np.where(ds < "2010-12-23", 0.64, 0.04)
    history = pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"sku{i:02d}",
                    "ds": ds,
                    "y": rng.poisson(orders_a_day) * rng.integers(6, 24, len(ds)),
                }
            )
            for i in range(60)
        ]
    )
    fc = ProductionForecaster().fit_predict(history, 28)
    assert "equal weights" in fc.method("sku00")
    expected = 0.04 * 14.5 * 28 * 60  # orders a day x mean order x days x SKUs after the peak
    assert 0.5 * expected < fc.frame()["mean"].sum() < 2.0 * expected


def test_stack_weights_never_sum_below_half_however_demand_fell_in_the_windows() -> None:
    from tillwise.compute.executors import InlineExecutor
    from tillwise.compute.forecasting.backtest import (
        MIN_WEIGHT_SUM,
        fit_stack,
        inner_cutoffs,
        run_grid,
    )
    from tillwise.compute.forecasting.panel import to_panel

    rng = np.random.default_rng(3)
    ds = pd.date_range("2024-01-01", periods=150, freq="D")
    halving = 40 * 0.5 ** (np.arange(150) / 10)  # demand halves every ten days
    panel = to_panel(
        pd.concat(
            [
                pd.DataFrame({"unique_id": f"s{i:02d}", "ds": ds, "y": rng.poisson(halving)})
                for i in range(12)
            ]
        )
    )
    end = panel.periods
    inner = inner_cutoffs(end, 14, panel)
    grid = run_grid(panel, 14, [*inner, end], InlineExecutor(), singles=("ADIDA", "TSB"))
    stack = fit_stack(grid, end)
    assert stack.windows == 3
    assert stack.weights.sum() == pytest.approx(MIN_WEIGHT_SUM)  # fitted alone: ~0


def test_production_says_how_it_forecast_in_a_buyers_words_and_in_the_analysts() -> None:
    from tillwise.compute.forecasting.backtest import summarize_production
    from tillwise.compute.forecasting.panel import to_panel

    rng = np.random.default_rng(0)
    ds = pd.date_range("2023-01-01", periods=400)
    history = pd.concat(
        [
            pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": rng.poisson(3, len(ds))})
            for i in range(3)
        ]
    )
    fc = ProductionForecaster().fit_predict(history, 14, holidays="GB")
    plain, detail = fc.summary("s0"), fc.method("s0")
    assert plain.startswith("a blend of methods made for irregular demand (")
    assert "a recent average" in plain and "TSB" in plain  # members by name, not by cap
    assert plain.endswith(", shaped by the day of the week and by holidays and events")
    assert "|" not in plain and "weights" not in plain
    assert detail.startswith("stacked combination (fitted on") and "|uncapped" in detail
    # the level model, on a panel without holidays
    assert summarize_production(None, to_panel(history)) == (
        "a model that learned, from all the items forecast with this one, how sales go on "
        "after a history like this item's, shaped by the day of the week"
    )


def test_an_item_between_two_sales_is_not_forecast_zero_whichever_member_the_weights_favour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stack's weights are the panel's, fitted mostly on its high-volume series. On small
    panels they sat all on the 28-day window average, which reads an item that sells 8 units a
    month — its last sale 29 days ago — as no demand: a zero forecast, never reordered. For
    each series the stack holds at least ``MIN_WEIGHT_SUM`` of its members' plain mean."""
    import importlib

    from tillwise.compute.forecasting.backtest import LEVEL_MEMBERS

    backtest = importlib.import_module("tillwise.compute.forecasting.backtest")
    days = 180
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    rng = np.random.default_rng(5)
    history = pd.concat(
        [
            *(
                pd.DataFrame({"unique_id": f"steady{i}", "ds": ds, "y": rng.poisson(3 + i, days)})
                for i in range(4)
            ),
            pd.DataFrame(
                {"unique_id": "rare", "ds": ds, "y": np.where(np.arange(days) % 30 == 0, 8, 0)}
            ),
        ]
    )

    def on_the_window_average(grid: Grid, cutoff: int, leave_out: int | None = None) -> Stack:
        weights = np.array([m == "WindowAverage|uncapped" for m in LEVEL_MEMBERS], dtype=float)
        return Stack(weights, 3, LEVEL_MEMBERS)

    monkeypatch.setattr(backtest, "fit_stack", on_the_window_average)
    fc = ProductionForecaster().fit_predict(history, 28)
    assert fc.method("rare").startswith("stacked combination (fitted on 3 earlier windows")
    rare = fc.frame().query("unique_id == 'rare'")
    rate = 8 / 30
    assert rare["mean"].min() > 0 and rare["mean"].mean() > 0.15 * rate  # was 0
    assert (rare["hi-95"] > 0).all()
    assert fc.lead_time_demand("rare", 8, 0.5).mean > 0
