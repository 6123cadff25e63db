"""`tillwise forecast backtest|predict` on a small panel cut from Online Retail II."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from tillwise.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "forecast" / "online_retail_sample.csv"
RDATA = Path(__file__).resolve().parents[1] / "fixtures" / "rdata"
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
    expected = {"ADIDA", "TSB", "CrostonSBA", "IMAPA", "SeasonalNaive", "WindowAverage", "AutoETS"}
    assert expected <= set(names)
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
    # the baseline is the best single method by RMSSE; WAPE is also set against the best by WAPE
    singles = [m for m in report["methods"] if m["method"] != "LightGBM"]
    best_rmsse = min(singles, key=lambda m: m["mean"]["rmsse"])
    best_wape = min(singles, key=lambda m: m["mean"]["wape"])
    assert report["baseline"]["method"] == best_rmsse["method"]
    assert report["baseline_by_wape"] == best_wape["method"]
    assert (
        ratio["wape_mean_best"] == report["production"]["mean"]["wape"] / best_wape["mean"]["wape"]
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


def test_backtest_and_predict_read_the_history_straight_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a SQLite store holding 120 days of daily demand of 3 SKUs at two stores
    from datetime import date, timedelta
    from decimal import Decimal

    import numpy as np

    from tillwise.bootstrap import build_container
    from tillwise.cli._common import load_settings
    from tillwise.ports.repositories import DemandContribution, DemandLine
    from tillwise.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'tw.db'}"
    monkeypatch.setenv("TILLWISE_DATABASE_URL", url)
    monkeypatch.setenv("TILLWISE_SECRET_KEY_FILE", str(tmp_path / "tillwise.key"))
    upgrade(url)
    rng = np.random.default_rng(3)
    container = build_container(load_settings())
    try:
        with container.uow() as work:
            for d in range(120):
                for store in ("S1", "S2"):
                    lines = tuple(
                        DemandLine(sku, Decimal(int(rng.poisson(rate))))
                        for sku, rate in (("A", 3.0), ("B", 0.4), ("C", 8.0))
                    )
                    work.replenishment.set_demand(
                        f"r-{store}-{d}",
                        DemandContribution(
                            "conn1", store, date(2024, 1, 1) + timedelta(days=d), lines
                        ),
                    )
    finally:
        import asyncio

        asyncio.run(container.close())

    # when the backtest runs on one store of the connection
    args = ["forecast", "backtest", "--connection", "conn1", "--location", "S1"]
    result = runner.invoke(
        app, [*args, "--horizon", "7", "--windows", "2", "--executor", "inline", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["series"] == 3 and len(report["cutoffs"]) == 2
    assert report["production"]["holdout"]["rmsse"] is not None

    # and predict on every store of the connection
    out = tmp_path / "fc.csv"
    result = runner.invoke(
        app,
        ["forecast", "predict", "--connection", "conn1", "--horizon", "7", "--executor", "inline"]
        + ["--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    fc = pd.read_csv(out)
    assert fc["unique_id"].nunique() == 6 and len(fc) == 6 * 7
    assert set(fc["unique_id"]) >= {"conn1:S1:A", "conn1:S2:C"}
    assert fc["ds"].min() == "2024-04-30"  # the day after the last day of history

    # an unknown connection is a clear error, and --sales with --connection is refused
    result = runner.invoke(app, ["forecast", "backtest", "--connection", "nope", "--horizon", "7"])
    assert result.exit_code == 1 and "no sales history" in result.output
    result = runner.invoke(
        app, ["forecast", "backtest", "--connection", "c", "--sales", "x.csv", "--horizon", "7"]
    )
    assert result.exit_code == 1


def test_predict_takes_a_holiday_calendar_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    def predict(spec: str, out: Path) -> Result:
        args = ["forecast", "predict", "--sales", str(SAMPLE), "--horizon", "7"]
        return runner.invoke(
            app, [*args, "--output", str(out), "--executor", "inline", "--holidays", spec]
        )

    ok = predict("GB-ENG", tmp_path / "gb.csv")
    assert ok.exit_code == 0, ok.output
    assert len(pd.read_csv(tmp_path / "gb.csv")) == 8 * 7
    bad = predict("XX", tmp_path / "xx.csv")
    assert bad.exit_code == 1
    assert "'XX'" in bad.output and "holiday" in bad.output
    assert not (tmp_path / "xx.csv").exists()


def test_backtest_scores_the_candidates_named_with_methods() -> None:
    args = ["forecast", "backtest", "--sales", str(SAMPLE), "--horizon", "14", "--windows", "1"]
    result = runner.invoke(
        app, [*args, "--executor", "inline", "--json", "--methods", "AutoETS, crostonsba"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [m["method"] for m in report["methods"]] == ["AutoETS", "CrostonSBA"]
    assert all(m["holdout"]["rmsse"] is not None for m in report["methods"])
    bad = runner.invoke(app, [*args, "--methods", "CrostonSBA,Prophet"])
    assert bad.exit_code == 1 and "unknown method 'Prophet'" in bad.output
    only_global = runner.invoke(app, [*args, "--methods", "LightGBM"])
    assert only_global.exit_code == 1 and "at least one statistical method" in only_global.output


def test_method_names_are_case_insensitive_and_lightgbm_switches_the_global_model_on() -> None:
    from tillwise.compute.forecasting import parse_methods

    assert parse_methods("lightgbm, TSB") == (("TSB",), True)
    assert parse_methods(None) == (
        ("SeasonalNaive", "WindowAverage", "AutoETS", "CrostonSBA", "TSB", "ADIDA", "IMAPA"),
        False,
    )


def test_predict_applies_the_promotions_planned_in_a_future_file(tmp_path: Path) -> None:
    from tests.unit.compute.test_promo import UPLIFT, promo_history

    history = promo_history(n=4, days=364)
    sales = tmp_path / "sales.csv"
    history.to_csv(sales, index=False)
    days = pd.date_range(history["ds"].max() + pd.Timedelta(days=1), periods=7)  # Mon..Sun
    future = tmp_path / "promos.csv"
    pd.DataFrame(
        {"unique_id": "s00", "ds": days, "promo": (days.dayofweek == 2).astype(int)}
    ).to_csv(future, index=False)

    def predict(plan: Path, out: Path) -> Result:
        args = ["forecast", "predict", "--sales", str(sales), "--horizon", "7"]
        return runner.invoke(
            app, [*args, "--output", str(out), "--executor", "inline", "--future", str(plan)]
        )

    ok = predict(future, tmp_path / "out.csv")
    assert ok.exit_code == 0, ok.output
    s00 = pd.read_csv(tmp_path / "out.csv").query("unique_id == 's00'")["mean"].to_numpy()
    assert s00[2] / s00[1] == pytest.approx(UPLIFT, rel=0.1)  # Wednesday planned, Tuesday not
    assert "after the horizon" not in ok.output
    # a promotion planned past the horizon changes nothing, and the forecast says so
    beyond = tmp_path / "beyond.csv"
    after = (days[-1] + pd.Timedelta(days=3)).date()
    beyond.write_text(f"unique_id,ds,promo\ns00,{days[2].date()},1\ns00,{after},1\n")
    far = predict(beyond, tmp_path / "far.csv")
    assert far.exit_code == 0, far.output
    said = " ".join(far.output.split())
    assert "1 row(s) of" in said and "fall after the horizon" in said
    assert f"its last period is {days[-1].date()}" in said
    late = tmp_path / "late.csv"
    late.write_text(f"unique_id,ds,promo\ns00,{history['ds'].max().date()},1\n")
    bad = predict(late, tmp_path / "bad.csv")
    assert bad.exit_code == 1
    said = " ".join(bad.output.split())  # rich wraps lines
    assert "late.csv" in bad.output.replace("\n", "") and "not after the history" in said
    assert not (tmp_path / "bad.csv").exists()
    # without a future file the forecast assumes no promotion ahead, and says so
    plain = runner.invoke(
        app,
        ["forecast", "predict", "--sales", str(sales), "--horizon", "7"]
        + ["--output", str(tmp_path / "plain.csv"), "--executor", "inline"],
    )
    assert plain.exit_code == 0, plain.output
    said = " ".join(plain.output.split())
    assert "has promotions but no --future file says which are planned" in said


def test_planned_promotions_without_any_in_the_history_are_reported_as_ignored(
    tmp_path: Path,
) -> None:
    uid = str(pd.read_csv(SAMPLE)["unique_id"].iloc[0])
    future = tmp_path / "promos.csv"
    future.write_text(f"unique_id,ds,promo\n{uid},2011-09-01,1\n")
    out = tmp_path / "out.csv"
    args = ["forecast", "predict", "--sales", str(SAMPLE), "--horizon", "7"]
    result = runner.invoke(
        app, [*args, "--output", str(out), "--executor", "inline", "--future", str(future)]
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps lines
    assert "no promotions to learn" in said and "promos.csv" in result.output.replace("\n", "")
    assert len(pd.read_csv(out)) == 8 * 7


def test_predict_learns_the_retailers_own_events_from_an_events_file(tmp_path: Path) -> None:
    """Black Friday is no public holiday: from the retailer's event calendar the forecast
    repeats its past effect; from the public holidays alone it is one more day after one."""
    rng = np.random.default_rng(5)
    ds = pd.date_range("2022-09-01", "2024-11-20", freq="D")
    black_fridays = pd.to_datetime(["2022-11-25", "2023-11-24", "2024-11-29"])
    factor = np.where(ds.isin(black_fridays), 3.0, 1.0)
    history = pd.concat(
        [
            pd.DataFrame({"unique_id": f"sku{i:02d}", "ds": ds, "y": rng.poisson(8.0 * factor)})
            for i in range(12)
        ]
    )
    sales, events = tmp_path / "sales.csv", tmp_path / "events.csv"
    history.to_csv(sales, index=False)
    pd.DataFrame({"ds": black_fridays.date, "name": "Black Friday"}).to_csv(events, index=False)

    def friday_ratio(*extra: str) -> float:
        out = tmp_path / "out.csv"
        args = ["forecast", "predict", "--sales", str(sales), "--horizon", "14"]
        result = runner.invoke(
            app, [*args, "--output", str(out), "--executor", "inline", "--holidays", "US", *extra]
        )
        assert result.exit_code == 0, result.output
        day = pd.read_csv(out, parse_dates=["ds"]).groupby("ds")["mean"].sum()
        return float(day[pd.Timestamp("2024-11-29")] / day[pd.Timestamp("2024-11-22")])

    assert friday_ratio("--events", str(events)) == pytest.approx(3.0, rel=0.2)
    assert friday_ratio() < 2.0  # the pooled day after a holiday: Black Friday diluted

    unnamed = tmp_path / "unnamed.csv"
    unnamed.write_text("ds,name\n2024-11-29,Black Friday\n2024-12-02,\n")
    bad = runner.invoke(
        app,
        ["forecast", "predict", "--sales", str(sales), "--horizon", "7", "--output"]
        + [str(tmp_path / "bad.csv"), "--events", str(unnamed)],
    )
    assert bad.exit_code == 1
    said = " ".join(bad.output.split())
    assert "unnamed.csv" in bad.output.replace("\n", "") and "row 3, column 'name'" in said
    assert not (tmp_path / "bad.csv").exists()


def test_a_file_with_its_own_column_names_is_read_with_id_time_and_target_cols(
    tmp_path: Path,
) -> None:
    """An M5-style file: the series is item x store, the day is ``date``, demand ``value``."""
    rng = np.random.default_rng(2)
    days = pd.date_range("2015-01-01", periods=200, freq="D")
    raw = pd.DataFrame(
        [
            {"item_id": item, "store_id": store, "date": d.date(), "value": int(v)}
            for item in ("FOODS_1_001", "HOBBIES_1_002")
            for store in ("CA_1", "TX_2")
            for d, v in zip(days, rng.poisson(3.0, len(days)), strict=True)
        ]
    )
    sales, out = tmp_path / "m5.csv", tmp_path / "out.csv"
    raw.to_csv(sales, index=False)
    args = ["forecast", "predict", "--sales", str(sales), "--horizon", "7", "--output", str(out)]
    names = ["--id-col", "item_id, store_id", "--time-col", "date", "--target-col", "value"]
    result = runner.invoke(app, [*args, "--executor", "inline", *names])
    assert result.exit_code == 0, result.output
    fc = pd.read_csv(out)
    assert set(fc["unique_id"]) == {
        "FOODS_1_001_CA_1",
        "FOODS_1_001_TX_2",
        "HOBBIES_1_002_CA_1",
        "HOBBIES_1_002_TX_2",
    }
    assert fc["ds"].min() == "2015-07-20" and len(fc) == 4 * 7
    bad = runner.invoke(app, [*args, "--id-col", "item_id,store_id", "--time-col", "day"])
    assert bad.exit_code == 1
    said = " ".join(bad.output.split())
    assert "no column 'day' for the period" in said and "date" in said
    plain = runner.invoke(app, args)  # the default names are not in this file
    said = " ".join(plain.output.split())
    assert plain.exit_code == 1 and "missing column(s) unique_id, ds, y" in said
    assert "--id-col, --time-col, --target-col" in said


def _m5_panel() -> pd.DataFrame:
    """Nine M5-shaped series over 420 days: SNAP days sell 1.6x, the Super Bowl 2.5x."""
    rng = np.random.default_rng(11)
    days = pd.date_range("2014-01-01", periods=420, freq="D")
    snap = (days.day <= 10).astype(int)  # SNAP benefits: the first ten days of each month
    superbowl = days.isin(pd.to_datetime(["2014-02-02", "2015-02-01"]))
    rows = []
    for k, item in enumerate(("FOODS_3_090", "FOODS_3_586", "FOODS_2_360")):
        for store in ("CA_1", "TX_2", "WI_3"):
            lam = (4.0 + k) * np.where(snap == 1, 1.6, 1.0) * np.where(superbowl, 2.5, 1.0)
            rows.append(
                pd.DataFrame(
                    {
                        "item_id": item,
                        "store_id": store,
                        "date": days.date,
                        "value": rng.poisson(lam),
                        "sell_price": np.where(np.arange(len(days)) < 20 * k, np.nan, 2.5 + k),
                        "snap": snap,
                        "event_name_1": np.where(superbowl, "SuperBowl", None),
                        "event_name_2": None,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def test_an_m5_shaped_file_gives_its_price_snap_days_and_events_by_their_own_names(
    tmp_path: Path,
) -> None:
    """M5's long format: ``sell_price`` (empty before an item is sold), ``snap`` days (known a
    month ahead; food sells more on them) and ``event_name_1``/``event_name_2`` on every row.
    Named with ``--price-col``, ``--promo-col`` and ``--events`` (the same file), the backtest
    learns the snap uplift and the events; without them it forecasts every day alike."""
    sales = tmp_path / "m5.csv"
    _m5_panel().to_csv(sales, index=False)

    def backtest(*extra: str) -> dict:
        names = ["--id-col", "item_id,store_id", "--time-col", "date", "--target-col", "value"]
        args = ["forecast", "backtest", "--sales", str(sales), "--horizon", "28", "--json"]
        methods = ["--methods", "CrostonSBA,WindowAverage", "--windows", "3"]
        result = runner.invoke(app, [*args, *names, *methods, "--executor", "inline", *extra])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.output))

    own = ["--price-col", "sell_price", "--promo-col", "snap", "--events", str(sales)]
    named, plain = backtest(*own), backtest()
    assert "planned promotions" in named["production"]["chosen"][0]
    assert "holidays and events" in named["production"]["chosen"][0]
    assert "planned promotions" not in plain["production"]["chosen"][0]
    # the snap uplift is learned: production's error falls against the same run without it
    assert named["production"]["mean"]["rmsse"] < 0.9 * plain["production"]["mean"]["rmsse"]

    bad = runner.invoke(
        app,
        ["forecast", "backtest", "--sales", str(sales), "--horizon", "28", "--id-col"]
        + ["item_id,store_id", "--time-col", "date", "--target-col", "value", "--promo-col"]
        + ["snap_CA"],
    )
    assert bad.exit_code == 1
    assert "no column 'snap_CA' for the promo" in " ".join(bad.output.split())
    # a bad value is named in the file's own words: its row and its column
    broken = tmp_path / "broken.csv"
    text = sales.read_text().splitlines()
    cells = text[5].split(",")
    cells[text[0].split(",").index("sell_price")] = "cheap"
    broken.write_text("\n".join([*text[:5], ",".join(cells), *text[6:]]) + "\n")
    args = ["forecast", "backtest", "--sales", str(broken), "--horizon", "28", "--id-col"]
    bad = runner.invoke(
        app,
        [*args, "item_id,store_id", "--time-col", "date", "--target-col", "value"]
        + ["--price-col", "sell_price"],
    )
    assert bad.exit_code == 1
    assert "row 6, column 'sell_price': not a number (got 'cheap')" in " ".join(bad.output.split())


def _write_rda(path: Path, name: str, frame: pd.DataFrame, dates: str) -> None:
    """An R data file as R saves a tibble of M5 (ids as factors, ``dates`` as R's ``Date``)."""
    from rdata.conversion import ConverterFromPythonToR, convert_python_to_r_data
    from rdata.conversion.to_r import build_r_object
    from rdata.parser import RObjectType
    from rdata.unparser import unparse_file

    days = (pd.to_datetime(frame[dates]) - pd.Timestamp("1970-01-01")).dt.days.astype(float)
    frame = frame.assign(**{dates: days.to_numpy()})
    r = convert_python_to_r_data({name: frame}, file_type="rda")
    columns = r.object.value[0].value
    at = list(frame.columns).index(dates)
    date_class = ConverterFromPythonToR().convert_to_r_attributes({"class": "Date"})
    columns[at] = build_r_object(
        RObjectType.REAL, value=columns[at].value, is_object=True, attributes=date_class
    )
    unparse_file(path, r, file_format="xdr", file_type="rda", compression="gzip")


def test_an_r_data_file_like_m5s_tiny_m5_is_read_as_its_csv_would_be(tmp_path: Path) -> None:
    """``tiny_m5.rda`` (the krzjoa/m5 R package's 280 series) is R data, not CSV: the same
    panel saved both ways gives the same backtest, figure for figure."""
    panel = _m5_panel()
    csv = tmp_path / "m5.csv"
    panel.to_csv(csv, index=False)
    rda = tmp_path / "tiny_m5.rda"
    as_r = panel.assign(
        item_id=pd.Categorical(panel["item_id"]), store_id=pd.Categorical(panel["store_id"])
    )
    _write_rda(rda, "tiny_m5", as_r, "date")

    def backtest(sales: Path) -> dict:
        args = ["forecast", "backtest", "--sales", str(sales), "--horizon", "28", "--json"]
        names = ["--id-col", "item_id,store_id", "--time-col", "date", "--target-col", "value"]
        own = ["--price-col", "sell_price", "--promo-col", "snap", "--events", str(sales)]
        methods = ["--methods", "CrostonSBA,WindowAverage", "--windows", "2"]
        result = runner.invoke(app, [*args, *names, *own, *methods, "--executor", "inline"])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.output))

    def figures(report: dict) -> dict:
        """Every accuracy figure of every method and of production (not the wall times)."""
        parts = [*report["methods"], report["production"]]
        return {str(m["method"]): (m["holdout"], m["windows"], m.get("chosen")) for m in parts}

    from_r, from_csv = backtest(rda), backtest(csv)
    assert figures(from_r) and figures(from_r) == figures(from_csv)
    assert from_r["series"] == from_csv["series"] == 9
    chosen = from_r["production"]["chosen"][0]  # the snap days and events were read too
    assert "planned promotions" in chosen and "holidays and events" in chosen


def test_r_dates_in_a_file_r_itself_saved_are_read_as_dates() -> None:
    """The completejourney R package's campaign table (CC0), saved by R: its ``Date`` columns
    are days since 1970 on disk."""
    from tillwise.compute.forecasting.reader import _read_frame

    frame, source, first_row = _read_frame(RDATA / "campaign_descriptions.rda")
    assert first_row == 1 and len(frame) == 27
    first = frame.iloc[0]
    assert (first["campaign_id"], first["campaign_type"]) == ("1", "Type B")
    assert first["start_date"] == pd.Timestamp("2017-03-03")  # 17228 days after 1970-01-01
    assert first["end_date"] == pd.Timestamp("2017-04-09")


def _m5_files(tmp_path: Path) -> tuple[Path, Path, Path, pd.DataFrame]:
    """:func:`_m5_panel` as M5 ships it: ``sales_train`` wide (a row per item and store, a
    column per day ``d_1..d_420``), the calendar (as R data, 28 days past the sales, SNAP days
    per state, the Super Bowl) and weekly prices; and the calendar as a frame."""
    panel = _m5_panel()
    days = pd.date_range("2014-01-01", periods=448, freq="D")
    superbowl = days.isin(pd.to_datetime(["2014-02-02", "2015-02-01", "2016-02-07"]))
    snap = (days.day <= 10).astype(int)
    calendar = pd.DataFrame(
        {
            "date": days,
            "wm_yr_wk": 11348 + (np.arange(len(days)) + 3) // 7,  # weeks start on Saturday
            "d": [f"d_{i}" for i in range(1, len(days) + 1)],
            "event_name_1": np.where(superbowl, "SuperBowl", None),
            "event_name_2": None,
            "snap_CA": snap,
            "snap_TX": snap,
            "snap_WI": snap,
        }
    )
    cal = tmp_path / "calendar.rda"
    _write_rda(cal, "calendar", calendar, "date")
    wide = panel.pivot(index=["item_id", "store_id"], columns="date", values="value")
    wide.columns = [f"d_{i}" for i in range(1, wide.shape[1] + 1)]
    wide = wide.reset_index()
    wide.insert(2, "state_id", wide["store_id"].str[:2])
    sales = tmp_path / "sales_train.csv"
    wide.to_csv(sales, index=False)
    weeks = sorted(calendar["wm_yr_wk"].unique())
    prices = pd.DataFrame(
        [
            {"store_id": s, "item_id": i, "wm_yr_wk": w, "sell_price": 2.5 + k + 0.25 * (w % 2)}
            for k, i in enumerate(sorted(panel["item_id"].unique()))
            for s in sorted(panel["store_id"].unique())
            for w in weeks
            if not (k == 0 and w < weeks[3])  # the first item is sold from its fourth week on
        ]
    )
    sell = tmp_path / "sell_prices.csv"
    prices.to_csv(sell, index=False)
    return sales, cal, sell, calendar


def test_m5s_own_wide_files_with_calendar_and_prices_give_the_long_files_backtest(
    tmp_path: Path,
) -> None:
    """``sales_train`` as M5 ships it (wide, ``d_1..d_N``), dated by ``--calendar`` (R data
    here) and priced by ``--prices``, is the same history as the long file a person would
    build from them: the backtest gives the same figures, figure for figure."""
    sales, cal, sell, calendar = _m5_files(tmp_path)
    # the long file by hand: a row per series and day, its week's price, its state's SNAP flag
    wide = pd.read_csv(sales)
    long = wide.melt(id_vars=["item_id", "store_id", "state_id"], var_name="d", value_name="y")
    long = long.merge(calendar[["d", "date", "wm_yr_wk", "snap_CA"]], on="d")
    price = pd.read_csv(sell).set_index(["store_id", "item_id", "wm_yr_wk"])["sell_price"]
    keys = zip(long["store_id"], long["item_id"], long["wm_yr_wk"], strict=True)
    long["price"] = [price.get(k) for k in keys]
    long["unique_id"] = long["item_id"] + "_" + long["store_id"]
    by_hand = tmp_path / "long.csv"
    long.rename(columns={"date": "ds", "snap_CA": "promo"})[
        ["unique_id", "ds", "y", "price", "promo"]
    ].to_csv(by_hand, index=False)
    events = tmp_path / "events.csv"
    calendar.dropna(subset=["event_name_1"]).rename(columns={"date": "ds", "event_name_1": "name"})[
        ["ds", "name"]
    ].to_csv(events, index=False)

    def backtest(*given: str) -> dict:
        args = ["forecast", "backtest", *given, "--horizon", "28", "--json"]
        methods = ["--methods", "CrostonSBA,WindowAverage", "--windows", "2"]
        result = runner.invoke(app, [*args, *methods, "--executor", "inline"])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.output))

    def figures(report: dict) -> dict:
        parts = [*report["methods"], report["production"]]
        return {str(m["method"]): (m["holdout"], m["windows"], m.get("chosen")) for m in parts}

    as_shipped = backtest(
        *["--sales", str(sales), "--calendar", str(cal), "--prices", str(sell)],
        *["--id-col", "item_id,store_id"],
    )
    assert as_shipped["series"] == 9
    assert figures(as_shipped) == figures(
        backtest("--sales", str(by_hand), "--events", str(events))
    )
    chosen = as_shipped["production"]["chosen"][0]
    assert "planned promotions" in chosen and "holidays and events" in chosen


def test_a_forecast_from_m5s_wide_file_knows_the_snap_days_ahead_from_the_calendar(
    tmp_path: Path,
) -> None:
    """The calendar runs 28 days past the sales: ``predict`` takes its SNAP days as planned,
    so the first ten days of March (SNAP; food sells 1.6x) get more than the rest."""
    sales, cal, _, _ = _m5_files(tmp_path)
    out = tmp_path / "forecast.csv"
    args = ["forecast", "predict", "--sales", str(sales), "--calendar", str(cal)]
    result = runner.invoke(
        app,
        [*args, "--id-col", "item_id,store_id", "--horizon", "28", "--output", str(out)]
        + ["--executor", "inline"],
    )
    assert result.exit_code == 0, result.output
    fc = pd.read_csv(out, parse_dates=["ds"])
    assert fc["ds"].min() == pd.Timestamp("2015-02-25") and fc["ds"].nunique() == 28
    daily = fc.groupby("ds")["mean"].sum()
    snap = daily[daily.index.day <= 10].mean()
    other = daily[daily.index.day > 10].mean()
    assert snap > 1.3 * other
    # without the calendar the d_N columns have no dates: refused, naming what to give
    bad = runner.invoke(
        app,
        ["forecast", "predict", "--sales", str(sales), "--id-col", "item_id,store_id"]
        + ["--horizon", "28", "--output", str(out)],
    )
    assert bad.exit_code == 1
    assert "give the calendar that dates them (--calendar" in " ".join(bad.output.split())


def test_a_forecast_scored_against_the_weeks_that_followed_gives_the_backtests_holdout(
    tmp_path: Path,
) -> None:
    """``predict`` on M5's wide file without its last 28 days, then ``score`` against those
    days (M5's ``sales_test`` layout: the same ids, ``d_393..d_420``), gives the figures the
    backtest reports for its holdout: one forecaster, one way of scoring."""
    sales, cal, _, _ = _m5_files(tmp_path)
    wide = pd.read_csv(sales)
    keys = ["item_id", "store_id", "state_id"]
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    wide[keys + [f"d_{i}" for i in range(1, 393)]].to_csv(train, index=False)
    wide[keys + [f"d_{i}" for i in range(393, 421)]].to_csv(test, index=False)
    m5 = ["--calendar", str(cal), "--id-col", "item_id,store_id", "--executor", "inline"]
    result = runner.invoke(
        app,
        ["forecast", "backtest", "--sales", str(sales), "--horizon", "28", "--windows", "1"]
        + ["--methods", "CrostonSBA,WindowAverage", "--json", *m5],
    )
    assert result.exit_code == 0, result.output
    holdout = json.loads(result.output)["production"]["holdout"]
    out = tmp_path / "forecast.csv"
    result = runner.invoke(
        app,
        ["forecast", "predict", "--sales", str(train), "--horizon", "28", "--output", str(out)]
        + m5,
    )
    assert result.exit_code == 0, result.output
    m5 = m5[:-2]  # score takes no executor
    result = runner.invoke(
        app,
        ["forecast", "score", "--forecast", str(out), "--actuals", str(test), "--sales"]
        + [str(train), "--json", *m5],
    )
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    for name in ("rmsse", "mase", "wape", "bias", "coverage_80", "coverage_95"):
        assert scored[name] == pytest.approx(holdout[name], rel=1e-4, abs=1e-6), name
    assert scored["series"] == 9 and len(scored["per_series"]) == 9
    # a long sales file leaves out the days nothing sold: no row is zero demand there, so it
    # scores as the wide file with its zeros written out (some days made zero here)
    quiet = test.with_name("test_quiet.csv")
    days = [f"d_{i}" for i in range(393, 421)]
    zeroed = wide[keys + days].copy()
    zeroed.loc[::2, days[::3]] = 0
    zeroed.to_csv(quiet, index=False)
    melted = zeroed.melt(id_vars=keys, var_name="d", value_name="y")
    melted["ds"] = pd.Timestamp("2014-01-01") + pd.to_timedelta(
        melted["d"].str[2:].astype(int) - 1, unit="D"
    )
    long = test.with_name("test_long.csv")
    melted[melted["y"] > 0][["item_id", "store_id", "ds", "y"]].to_csv(long, index=False)
    both = []
    for actuals in (quiet, long):
        result = runner.invoke(
            app,
            ["forecast", "score", "--forecast", str(out), "--actuals", str(actuals), "--sales"]
            + [str(train), "--json", *m5],
        )
        assert result.exit_code == 0, result.output
        both.append(json.loads(result.output))
    for name in ("rmsse", "mase", "wape", "bias", "coverage_80", "coverage_95"):
        assert both[1][name] == pytest.approx(both[0][name], rel=1e-9), name
    assert both[0]["wape"] != pytest.approx(scored["wape"])  # the zeros changed the figures
    # the table, and a forecast of periods the history already has, refused
    table = runner.invoke(
        app,
        ["forecast", "score", "--forecast", str(out), "--actuals", str(test), "--sales"]
        + [str(sales), *m5],
    )
    assert table.exit_code == 1
    assert "is not after the history (it ends 2015-02-24)" in " ".join(table.output.split())


def _predict(sales: Path, output: Path, *extra: str) -> Result:
    return runner.invoke(
        app,
        [
            "forecast",
            "predict",
            "--sales",
            str(sales),
            "--horizon",
            "7",
            "--output",
            str(output),
            "--executor",
            "inline",
            *extra,
        ],
    )


def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path: Path) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_bytes(SAMPLE.read_bytes())
    before = sales.read_bytes()
    events = tmp_path / "events.csv"
    events.write_text("ds,name\n2011-09-02,Fair\n")
    cases = [
        (tmp_path / "missing" / "o.csv", "does not exist"),
        (tmp_path, "is a folder"),
        (sales, "is also an input file"),
        (events, "is also an input file"),
    ]
    for output, why in cases:
        result = _predict(sales, output, "--events", str(events))
        assert result.exit_code == 1, output
        said = " ".join(result.output.split())  # the console wraps long lines
        assert why in said and "Traceback" not in said
    assert sales.read_bytes() == before  # the history was not overwritten
    assert events.read_text() == "ds,name\n2011-09-02,Fair\n"  # nor the events
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv", "sales.csv"]


def test_intervals_keep_their_order_whatever_the_series_shape(tmp_path: Path) -> None:
    # steady climbs, steps, decays: a series whose backtest errors all point one way has a
    # positive lower error quantile, which must not lift the lower bounds past the mean
    t = np.arange(100)
    shapes = {
        "decay": 1000 * np.exp(-t / 20),
        "step-up": np.where(t < 75, 5, 50),
        "step-down": np.where(t < 80, 50, 5),
        "saw": (t % 20) * 3,
        "quad": (t / 10) ** 2,
        "sqrt": 10 * np.sqrt(t),
        "log": 20 * np.log1p(t),
        "weekly": np.where(t % 7 == 5, 100, 1),
    }
    days = pd.date_range("2024-01-01", periods=len(t), freq="D").strftime("%Y-%m-%d")
    rows = [(k, d, float(np.round(y[i]))) for k, y in shapes.items() for i, d in enumerate(days)]
    sales = tmp_path / "sales.csv"
    pd.DataFrame(rows, columns=["unique_id", "ds", "y"]).to_csv(sales, index=False)
    out = tmp_path / "o.csv"
    assert _predict(sales, out).exit_code == 0
    f = pd.read_csv(out)
    assert (f["lo-95"] <= f["lo-80"]).all() and (f["lo-80"] <= f["mean"]).all()
    assert (f["mean"] <= f["hi-80"]).all() and (f["hi-80"] <= f["hi-95"]).all()
    assert (f["lo-95"] >= 0).all()


def test_backtest_says_when_the_history_holds_fewer_windows_than_asked() -> None:
    result = runner.invoke(
        app,
        [
            "forecast",
            "backtest",
            "--sales",
            str(SAMPLE),
            "--horizon",
            "28",
            "--windows",
            "40",
            "--json",
            "--executor",
            "inline",
            "--methods",
            "CrostonSBA",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "of the 40 windows asked for" in result.stderr
    report = json.loads(result.stdout)
    assert report["windows_requested"] == 40 and 0 < len(report["cutoffs"]) < 40


def test_predict_writes_the_format_its_output_is_named_for_and_the_files_permissions(
    tmp_path: Path,
) -> None:
    plain = tmp_path / "fc.csv"
    assert _predict(SAMPLE, plain).exit_code == 0
    expected = pd.read_csv(plain)
    # a new file gets what the umask gives (as any file the user writes), not a private 0600
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~umask
    for name, read in (("fc.csv.gz", pd.read_csv), ("fc.parquet", pd.read_parquet)):
        result = _predict(SAMPLE, tmp_path / name)
        assert result.exit_code == 0, result.output
        got = read(tmp_path / name)
        pd.testing.assert_frame_equal(got.astype(expected.dtypes), expected, atol=1e-4)
    # a link is written through: the link stays, its target gets the forecasts
    target, link = tmp_path / "target.csv", tmp_path / "link.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    link.symlink_to(target)
    assert _predict(SAMPLE, link).exit_code == 0
    assert link.is_symlink() and pd.read_csv(target).equals(expected)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # an existing file keeps its mode


def test_weekly_totals_read_as_days_are_pointed_out(tmp_path: Path) -> None:
    weeks = pd.date_range("2024-01-01", periods=30, freq="W-MON")
    sales = tmp_path / "weekly.csv"
    pd.DataFrame({"unique_id": "A", "ds": weeks, "y": 30.0}).to_csv(sales, index=False)
    result = _predict(sales, tmp_path / "daily.csv")
    said = " ".join(result.output.split())
    assert result.exit_code == 0
    assert f"every date in {sales} is a Monday, as in weekly data" in said
    assert "pass --freq W" in said
    weekly = _predict(sales, tmp_path / "weekly_fc.csv", "--freq", "W")
    assert weekly.exit_code == 0 and "as in weekly data" not in weekly.output


def test_a_day_the_shop_never_trades_on_has_no_interval(tmp_path: Path) -> None:
    # the Online Retail sample: the shop trades Sunday to Friday; on Saturdays the forecast is
    # 0 for every item, and so are its bounds, while the other days keep their intervals
    out = tmp_path / "fc.csv"
    assert _predict(SAMPLE, out).exit_code == 0
    f = pd.read_csv(out, parse_dates=["ds"])
    saturday = f["ds"].dt.dayofweek == 5
    assert saturday.any() and (f.loc[saturday, "mean"] == 0).all()
    bounds = ["lo-80", "hi-80", "lo-95", "hi-95"]
    assert (f.loc[saturday, bounds] == 0).all().all()
    assert (f.loc[~saturday, "hi-95"] > f.loc[~saturday, "mean"]).any()


def test_backtest_warns_when_its_earliest_window_has_almost_no_history(tmp_path: Path) -> None:
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    sales = tmp_path / "short.csv"
    pd.DataFrame({"unique_id": "A", "ds": days, "y": np.arange(60) % 5}).to_csv(sales, index=False)

    def run(windows: str) -> str:
        result = runner.invoke(
            app,
            ["forecast", "backtest", "--sales", str(sales), "--horizon", "14"]
            + ["--windows", windows, "--executor", "inline"],
        )
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    # four windows of 14 days leave the earliest 4 days to be fitted on
    assert "the earliest window is fitted on 4 periods of history" in run("4")
    assert "the earliest window" not in run("2")  # 32 days: enough
