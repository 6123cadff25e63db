"""`tillwise forecast backtest|predict` on a small panel cut from Online Retail II."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from tillwise.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "forecast" / "online_retail_sample.csv"
runner = CliRunner()


def test_backtest_json_has_every_method_the_production_forecaster_and_the_baseline() -> None:
    result = runner.invoke(
        app,
        [
            "forecast",
            "backtest",
            "--sales",
            str(SAMPLE),
            "--horizon",
            "14",
            "--windows",
            "2",
            "--executor",
            "inline",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    names = [m["method"] for m in report["methods"]]
    assert {"ADIDA", "TSB", "CrostonSBA", "IMAPA", "SeasonalNaive", "WindowAverage"} <= set(names)
    assert report["series"] == 8 and len(report["cutoffs"]) == 2
    for m in [*report["methods"], report["production"], report["baseline"]]:
        assert set(m["holdout"]) >= {"rmsse", "mase", "wape", "bias", "coverage_80", "coverage_95"}
        assert len(m["windows"]) == 2 and m["seconds"] >= 0
    assert report["baseline"]["method"] in names
    ratio = report["ratio_to_baseline"]
    assert (
        ratio["rmsse_holdout"]
        == report["production"]["holdout"]["rmsse"] / (report["baseline"]["holdout"]["rmsse"])
    )


def test_backtest_prints_a_table_with_the_baseline_ratio() -> None:
    result = runner.invoke(
        app,
        [
            "forecast",
            "backtest",
            "--sales",
            str(SAMPLE),
            "--horizon",
            "7",
            "--windows",
            "1",
            "--executor",
            "inline",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "production" in result.output and "vs baseline" in result.output


def test_predict_writes_statsforecast_columns(tmp_path: Path) -> None:
    out = tmp_path / "forecast.csv"
    result = runner.invoke(
        app,
        [
            "forecast",
            "predict",
            "--sales",
            str(SAMPLE),
            "--horizon",
            "7",
            "--output",
            str(out),
            "--executor",
            "inline",
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["unique_id", "ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert frame["unique_id"].nunique() == 8 and len(frame) == 8 * 7
    # the sample ends 2011-08-31: the forecast starts the next day
    assert frame["ds"].min() == "2011-09-01"
    assert (frame["lo-95"] <= frame["mean"]).all() and (frame["mean"] <= frame["hi-95"]).all()


def test_a_bad_row_is_named_with_its_file_row_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "sales.csv"
    bad.write_text("unique_id,ds,y\nA,2024-01-01,3\nA,2024-01-02,three\n")
    result = runner.invoke(
        app,
        [
            "forecast",
            "predict",
            "--sales",
            str(bad),
            "--horizon",
            "3",
            "--output",
            str(tmp_path / "o.csv"),
        ],
    )
    assert result.exit_code == 1
    # header is line 1: the bad value is on line 3
    assert "sales.csv" in result.output and "row 3" in result.output and "'y'" in result.output
    assert not (tmp_path / "o.csv").exists()


def test_a_missing_column_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "sales.csv"
    bad.write_text("sku,day,units\nA,2024-01-01,3\n")
    result = runner.invoke(app, ["forecast", "backtest", "--sales", str(bad), "--horizon", "3"])
    assert result.exit_code == 1
    assert "missing column" in result.output
