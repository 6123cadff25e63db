"""Accuracy metrics on examples worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tillwise.compute.forecasting import bias, coverage, mase, rmsse, wape
from tillwise.compute.forecasting.metrics import aggregate, window_errors

# in-sample history 0, 2, 0, 4: scaling starts at the first non-zero value (M5), so the
# one-step naive errors are 0-2 = -2 and 4-0 = 4 -> mean square (4+16)/2 = 10, mean abs 3
HISTORY = [0.0, 2.0, 0.0, 4.0]
ACTUAL = [1.0, 3.0]
FORECAST = [2.0, 2.0]  # errors +1, -1


def test_rmsse_scales_by_the_in_sample_naive_squared_error() -> None:
    # sqrt(mean(1, 1) / 10) = sqrt(0.1)
    assert rmsse(ACTUAL, FORECAST, HISTORY) == pytest.approx(math.sqrt(0.1))


def test_mase_scales_by_the_in_sample_naive_absolute_error() -> None:
    # mean(|1|, |-1|) / 3 = 1/3
    assert mase(ACTUAL, FORECAST, HISTORY) == pytest.approx(1 / 3)


def test_wape_and_bias_are_relative_to_units_sold() -> None:
    # |2-1| + |2-3| = 2 over 4 units sold; bias (1 - 1) / 4 = 0
    assert wape(ACTUAL, FORECAST) == pytest.approx(0.5)
    assert bias(ACTUAL, FORECAST) == pytest.approx(0.0)
    assert bias([1.0, 1.0], [2.0, 2.0]) == pytest.approx(1.0)  # (1 + 1) / 2


def test_coverage_counts_actuals_inside_the_interval() -> None:
    # 1 in [0, 2], 3 not in [0, 2.5], 5 in [4, 6] -> 2 of 3
    assert coverage([1.0, 3.0, 5.0], [0.0, 0.0, 4.0], [2.0, 2.5, 6.0]) == pytest.approx(2 / 3)


def test_a_history_without_sales_cannot_be_scaled() -> None:
    assert rmsse([1.0], [1.0], [0.0, 0.0, 0.0]) is None
    assert wape([0.0, 0.0], [1.0, 1.0]) is None


def test_panel_figures_weight_series_by_recent_volume_and_skip_censored_days() -> None:
    # series A: history 0,2,0,4 (weight: 6 units sold), forecast 2,2 vs actual 1,3 -> sqrt(0.1)
    # series B: history 1,1,3,1 (weight 6): naive errors 0, 2, -2 -> mean square 8/3;
    #   forecast 1,1 vs actual 1,9 but the 9 is censored, so only the first step counts: 0
    history = np.array([HISTORY, [1.0, 1.0, 3.0, 1.0]])
    actual = np.array([ACTUAL, [1.0, 9.0]])
    forecast = np.array([FORECAST, [1.0, 1.0]])
    observed = np.array([[True, True], [True, False]])
    s = aggregate(window_errors(actual, forecast, observed, history))
    # equal weights: (sqrt(0.1) + 0) / 2
    assert s.rmsse == pytest.approx(math.sqrt(0.1) / 2)
    # pooled WAPE: (1 + 1 + 0) / (1 + 3 + 1) = 0.4
    assert s.wape == pytest.approx(0.4)
