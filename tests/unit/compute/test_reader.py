"""The sales-file reader: dates as the store's wall clock recorded them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tillwise.compute.forecasting import InvalidSalesFile, read_sales


def test_a_local_time_export_across_a_summer_time_change_keeps_its_own_days(
    tmp_path: Path,
) -> None:
    # Europe/London: +00:00 before 2024-03-31, +01:00 after; one row a plain date
    path = tmp_path / "sales.csv"
    path.write_text(
        "unique_id,ds,y\n"
        "a,2024-03-30T23:30:00+00:00,1\n"
        "a,2024-03-31T23:30:00+01:00,2\n"
        "a,2024-04-01,3\n"
    )
    days = read_sales(path)["ds"].dt.strftime("%Y-%m-%d %H:%M").tolist()
    assert days == ["2024-03-30 23:30", "2024-03-31 23:30", "2024-04-01 00:00"]
    path.write_text("unique_id,ds,y\na,2024-03-30,1\na,next week,2\n")
    with pytest.raises(InvalidSalesFile, match=r"sales.csv: row 3, column 'ds': not a date"):
        read_sales(path)


def test_one_format_for_the_whole_column_is_read_at_once() -> None:
    frame = pd.DataFrame(
        {"unique_id": ["a", "a"], "ds": ["2024-01-01T00:00Z", "2024-01-02T00:00Z"], "y": [1, 2]}
    )
    from tillwise.compute.forecasting import validate_history

    out = validate_history(frame)
    assert out["ds"].dt.tz is None
    assert out["ds"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")]
