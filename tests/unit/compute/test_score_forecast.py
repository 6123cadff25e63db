"""Scoring a forecast file against what was sold: the figures worked by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from tillwise.compute.forecasting import (
    InvalidSalesFile,
    read_forecast,
    score_forecast,
    validate_history,
)


def _frame(rows: dict[str, list[float]], start: str) -> pd.DataFrame:
    return validate_history(
        pd.DataFrame(
            [
                {"unique_id": uid, "ds": day, "y": y}
                for uid, ys in rows.items()
                for day, y in zip(pd.date_range(start, periods=len(ys)), ys, strict=True)
            ]
        )
    )


def test_rmsse_mase_wape_bias_and_coverage_are_the_textbook_figures() -> None:
    # a: 0,2,1,3 from its first sale is 2,1,3 → naive errors -1, 2: mse 5/2, mae 3/2
    # b: 4,4,4,4 → d = 0,0,0: no scale (RMSSE/MASE undefined), still in WAPE and bias
    history = _frame({"a": [0, 2, 1, 3], "b": [4, 4, 4, 4]}, "2024-03-01")
    actuals = _frame({"a": [2, 4, 3], "b": [4, 5, 3]}, "2024-03-05")
    forecast = pd.DataFrame(
        {
            "unique_id": ["a"] * 3 + ["b"] * 3,
            "ds": list(pd.date_range("2024-03-05", periods=3)) * 2,
            "mean": [3.0, 3.0, 3.0, 4.0, 4.0, 4.0],
            "lo-80": [2.5, 2.5, 2.5, 3.5, 3.5, 3.5],
            "hi-80": [3.5, 3.5, 3.5, 4.5, 4.5, 4.5],
        }
    )
    result = score_forecast(history, actuals, forecast)
    a = result.per_series.set_index("unique_id").loc["a"]
    # errors of a: 1, -1, 0 → mse 2/3, mae 2/3
    assert a["rmsse"] == pytest.approx(math.sqrt((2 / 3) / (5 / 2)))
    assert a["mase"] == pytest.approx((2 / 3) / (3 / 2))
    assert a["weight"] == 6 and a["periods"] == 3
    s = result.scores
    assert s.rmsse == pytest.approx(a["rmsse"])  # b has no scale, so a alone
    assert s.wape == pytest.approx((2 + 2) / (9 + 12))  # |e| of a: 2, of b: 0+1+1
    assert s.bias == pytest.approx((0 + 0) / 21)
    assert s.coverage_80 == pytest.approx(2 / 6)  # only 3 (a, day 3) and 4 (b, day 1) inside
    assert s.coverage_95 is None and s.series == 2


def test_a_period_without_an_actual_is_skipped_and_a_bad_forecast_file_is_named(
    tmp_path: Path,
) -> None:
    history = _frame({"a": [1, 3, 2, 4]}, "2024-03-01")
    actuals = _frame({"a": [3]}, "2024-03-06")  # they start after 03-05: nothing known of it
    path = tmp_path / "fc.csv"
    path.write_text("unique_id,ds,mean\na,2024-03-05,3\na,2024-03-06,5\n")
    result = score_forecast(history, actuals, read_forecast(path))
    assert result.per_series["periods"].tolist() == [1]
    assert result.scores.wape == pytest.approx(2 / 3)
    path.write_text("unique_id,ds,mean\na,2024-03-05,3\nb,2024-03-06,lots\n")
    with pytest.raises(InvalidSalesFile, match=r"fc.csv: row 3, column 'mean': not a number"):
        read_forecast(path)
    path.write_text("unique_id,ds,mean\nz,2024-03-05,3\n")
    with pytest.raises(ValueError, match="series 'z' has no history"):
        score_forecast(history, actuals, read_forecast(path))
    path.write_text("unique_id,ds,AutoETS\na,2024-03-05,3\n")
    with pytest.raises(InvalidSalesFile, match="missing column"):
        read_forecast(path)
    assert read_forecast(path, "AutoETS")["AutoETS"].tolist() == [3.0]
