"""The sales-file reader: dates as the store's wall clock recorded them; wide files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tillwise.compute.forecasting import Columns, InvalidSalesFile, read_sales, read_sales_file


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


# --- wide files: a column per period ------------------------------------------------------


def test_a_wide_file_of_dated_columns_reads_as_its_long_form(tmp_path: Path) -> None:
    """Weekly sales as a spreadsheet lays them out: a row per store, a column per week; an
    empty cell is a week without a figure (the store had not opened), not a zero."""
    wide = tmp_path / "weekly.csv"
    wide.write_text(
        "Store,Region,2012-01-06,2012-01-13,2012-01-20\n1,North,120.5,98,101\n2,South,,77,80.25\n"
    )
    got = read_sales(wide, Columns("Store"))
    long = tmp_path / "long.csv"
    long.write_text(
        "unique_id,ds,y\n"
        "1,2012-01-06,120.5\n1,2012-01-13,98\n1,2012-01-20,101\n"
        "2,2012-01-13,77\n2,2012-01-20,80.25\n"
    )
    pd.testing.assert_frame_equal(got, read_sales(long))


def _m5(tmp_path: Path, *, with_d: bool = True) -> tuple[Path, Path, Path]:
    """M5's three files in miniature: two series × d_1..d_10 (one in CA, one in TX), a
    calendar of 14 days (two weeks of prices, SNAP per state, the Super Bowl), weekly prices."""
    days = pd.date_range("2016-01-29", periods=14, freq="D")
    calendar = pd.DataFrame(
        {
            "date": days.strftime("%Y-%m-%d"),
            "wm_yr_wk": [11601] * 1 + [11602] * 7 + [11603] * 6,
            "d": [f"d_{i}" for i in range(1, 15)],
            "event_name_1": ["NA"] * 9 + ["SuperBowl"] + ["NA"] * 4,
            "event_name_2": ["NA"] * 14,
            "snap_CA": [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0],
            "snap_TX": [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1],
        }
    )
    if not with_d:  # the organisers' copy: row i is d_i
        calendar = calendar.drop(columns=["d"])
    cal = tmp_path / "calendar.csv"
    calendar.to_csv(cal, index=False)
    sales = tmp_path / "sales_train.csv"
    sales.write_text(
        "item_id,dept_id,store_id,state_id," + ",".join(f"d_{i}" for i in range(1, 11)) + "\n"
        "FOODS_3_090,FOODS_3,CA_1,CA,1,2,3,4,5,6,7,8,9,10\n"
        "FOODS_3_090,FOODS_3,TX_2,TX,0,0,1,0,2,0,0,3,0,1\n"
    )
    prices = tmp_path / "sell_prices.csv"
    prices.write_text(
        "store_id,item_id,wm_yr_wk,sell_price\n"
        "CA_1,FOODS_3_090,11601,1.25\nCA_1,FOODS_3_090,11602,1.50\nCA_1,FOODS_3_090,11603,1.75\n"
        "TX_2,FOODS_3_090,11602,2.00\n"  # TX_2 has no price in 11601 or 11603: not on sale
    )
    return sales, cal, prices


def test_m5s_day_columns_are_dated_by_its_calendar_with_snap_days_prices_and_events(
    tmp_path: Path,
) -> None:
    sales, cal, prices = _m5(tmp_path)
    got = read_sales_file(sales, Columns(("item_id", "store_id")), cal, prices)
    h = got.history.set_index(["unique_id", "ds"])
    assert len(h) == 20
    ca, tx = "FOODS_3_090_CA_1", "FOODS_3_090_TX_2"
    assert h.loc[(ca, pd.Timestamp("2016-02-07")), "y"] == 10  # d_10
    assert h.loc[(tx, pd.Timestamp("2016-02-05")), "y"] == 3  # d_8
    # SNAP days by each row's state: CA on d_1-2, TX on d_4-5
    assert h.loc[ca, "promo"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert h.loc[tx, "promo"].tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    # the week's price: d_1 is week 11601, d_2..d_8 11602, d_9.. 11603 (TX_2: none then)
    assert h.loc[ca, "price"].tolist() == [1.25] + [1.5] * 7 + [1.75] * 2
    assert h.loc[tx, "price"].isna().tolist() == [True] + [False] * 7 + [True] * 2
    # known ahead: the SNAP days of d_11..d_14, and the calendar's events
    planned = got.planned
    assert planned is not None
    flags = planned.pivot(index="ds", columns="unique_id", values="promo")
    assert flags.index.min() == pd.Timestamp("2016-02-08")
    assert flags[ca].tolist() == [1, 1, 0, 0] and flags[tx].tolist() == [0, 0, 1, 1]
    assert {str(d): n for d, n in got.events.items()} == {"2016-02-07": "SuperBowl"}
    # the organisers' calendar has no d column: its row i is d_i
    sales, cal, prices = _m5(tmp_path, with_d=False)
    again = read_sales_file(sales, Columns(("item_id", "store_id")), cal, prices)
    pd.testing.assert_frame_equal(again.history, got.history)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("no calendar", r"sales_train.csv: columns d_1 to d_10 are M5's day numbers: give the"),
        (
            "d_15",
            r"column 'd_15' is not a day of the calendar .*calendar.csv \(it has d_1 to d_14\)",
        ),
        ("cell", r"sales_train.csv: row 3, column 'd_4': not a number \(got 'x'\)"),
        ("negative", r"sales_train.csv: row 2, column 'd_2': negative demand .*\(got -2\)$"),
        ("twice", r"sales_train.csv: row 3, column 'item_id': a second row for the same series"),
        ("price twice", r"sell_prices.csv: row 3, column 'wm_yr_wk': a second price for the same"),
        ("calendar d", r"calendar.csv: row 4, column 'd': expected d_<number> \(got 'day 3'\)"),
        ("no week", r"prices by week \(wm_yr_wk\) need the calendar that dates the weeks"),
    ],
)
def test_a_wide_m5_file_that_cannot_be_read_is_refused_naming_file_row_and_column(
    tmp_path: Path, edit: str, message: str
) -> None:
    sales, cal, prices = _m5(tmp_path)
    text = sales.read_text().splitlines()
    if edit == "d_15":
        text[0] = text[0].replace("d_10", "d_15")
    elif edit == "cell":
        text[2] = text[2].replace("TX,0,0,1,0", "TX,0,0,1,x")
    elif edit == "negative":
        text[1] = text[1].replace("CA,1,2", "CA,1,-2")
    elif edit == "twice":
        text[2] = text[1]
    elif edit == "price twice":
        prices.write_text(prices.read_text().replace("11602,1.50", "11601,1.50"))
    elif edit == "calendar d":
        cal.write_text(cal.read_text().replace("d_3,", "day 3,"))
    elif edit == "no week":
        frame = pd.read_csv(cal).drop(columns=["wm_yr_wk"])
        frame.to_csv(cal, index=False)
    sales.write_text("\n".join(text) + "\n")
    with pytest.raises(InvalidSalesFile, match=message):
        read_sales_file(
            sales, Columns(("item_id", "store_id")), None if edit == "no calendar" else cal, prices
        )


# --- dates in one format, ids as written, the calendar ------------------------------------


def _days(tmp_path: Path, values: list[str]) -> list[str]:
    path = tmp_path / "sales.csv"
    path.write_text("unique_id,ds,y\n" + "".join(f"a,{v},1\n" for v in values))
    return read_sales(path)["ds"].dt.strftime("%Y-%m-%d").tolist()


def test_day_first_and_month_first_dates_are_read_in_the_one_format_that_fits(
    tmp_path: Path,
) -> None:
    assert _days(tmp_path, ["02/01/2024", "13/01/2024"]) == ["2024-01-02", "2024-01-13"]
    assert _days(tmp_path, ["01/02/2024", "01/13/2024"]) == ["2024-01-02", "2024-01-13"]
    assert _days(tmp_path, ["05/02/10", "19/02/10"]) == ["2010-02-05", "2010-02-19"]  # Walmart
    assert _days(tmp_path, ["02.01.2024", "31.01.2024"]) == ["2024-01-02", "2024-01-31"]


@pytest.mark.parametrize(
    ("values", "row", "why"),
    [
        (["02/01/2024", "03/01/2024"], 2, "ambiguous date: 2024-01-02 or 2024-02-01"),
        (["13/01/2024", "2024-01-14", "15/01/2024"], 3, "not in the format of the column"),
    ],
)
def test_a_date_column_that_is_ambiguous_or_mixed_is_refused_naming_the_row(
    tmp_path: Path, values: list[str], row: int, why: str
) -> None:
    with pytest.raises(InvalidSalesFile) as err:
        _days(tmp_path, values)
    assert f"row {row}, column 'ds'" in str(err.value) and why in str(err.value)


def test_numbers_are_not_taken_for_dates(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("unique_id,ds,y\na,20240101,1\na,20240102,1\n")
    with pytest.raises(InvalidSalesFile, match=r"row 2, column 'ds': a number, not a date"):
        read_sales(path)


def test_series_ids_that_look_like_missing_values_are_ids(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("unique_id,ds,y\nNA,2024-01-01,1\nnull,2024-01-01,2\nNone,2024-01-01,3\n")
    assert sorted(read_sales(path)["unique_id"]) == ["NA", "None", "null"]
    path.write_text("unique_id,ds,y\nNA,2024-01-01,1\n,2024-01-02,2\n")
    with pytest.raises(InvalidSalesFile, match=r"row 3, column 'unique_id': empty series id"):
        read_sales(path)
    path.write_text("unique_id,ds,y\nNA,2024-01-01,NA\n")
    with pytest.raises(InvalidSalesFile, match=r"row 2, column 'y': not a number"):
        read_sales(path)


def test_a_date_off_the_frequencys_calendar_is_named_by_row(tmp_path: Path) -> None:
    path = tmp_path / "weekly.csv"
    path.write_text(
        "unique_id,ds,y\na,2023-01-02,1\na,2023-01-09,1\nb,2023-01-04,1\nb,2023-01-11,1\n"
    )
    with pytest.raises(InvalidSalesFile) as err:
        read_sales_file(path, freq="W")
    assert "row 4, column 'ds': not on the W calendar" in str(err.value)
    assert "a week starting on a Monday" in str(err.value)
    path.write_text("unique_id,ds,y\na,2024-01-01,1\na,2024-01-02 13:00,1\n")
    with pytest.raises(InvalidSalesFile, match=r"row 3, column 'ds': not on the D calendar"):
        read_sales_file(path, freq="D")
    # every row at the same hour (local midnights written as UTC instants) is no daily file
    # either: the first row already says so, whatever the later ones do
    path.write_text(
        "unique_id,ds,y\na,2023-12-31T23:00:00Z,1\na,2024-01-01T23:00:00Z,1\n"
        "a,2024-03-31T22:00:00Z,1\n"
    )
    with pytest.raises(InvalidSalesFile) as err:
        read_sales_file(path, freq="D")
    assert "row 2, column 'ds': not on the D calendar" in str(err.value)
    assert "the store's local date" in str(err.value)


def test_a_price_below_zero_or_infinite_is_refused_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("unique_id,ds,y,price\na,2024-01-01,1,2.5\na,2024-01-02,1,-1\n")
    with pytest.raises(InvalidSalesFile, match=r"row 3, column 'price': a price below zero"):
        read_sales(path)
    path.write_text("unique_id,ds,y,promo\na,2024-01-01,1,1\na,2024-01-02,1,-1\n")
    with pytest.raises(InvalidSalesFile, match=r"row 3, column 'promo': a promotion below zero"):
        read_sales(path)
    path.write_text("unique_id,ds,y,price\na,2024-01-01,1,inf\na,2024-01-02,1,\n")
    with pytest.raises(InvalidSalesFile, match=r"row 2, column 'price': not a finite number"):
        read_sales(path)


def test_a_forecast_with_a_gap_in_an_interval_is_refused(tmp_path: Path) -> None:
    from tillwise.compute.forecasting import read_forecast

    path = tmp_path / "fc.csv"
    path.write_text("unique_id,ds,mean,lo-80,hi-80\na,2024-01-01,1.5,0,3\na,2024-01-02,1.5,,3\n")
    with pytest.raises(InvalidSalesFile, match=r"row 3, column 'lo-80': missing"):
        read_forecast(path)


def test_errors_name_the_row_an_editor_shows_after_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("unique_id,ds,y\na,2024-01-01,1\n\n\na,2024-01-02,lots\n")
    with pytest.raises(InvalidSalesFile, match=r"sales.csv: row 5, column 'y': not a number"):
        read_sales(path)
    path.write_text("unique_id,ds,y\na,2024-01-01,1\n\nb,2024-01-01,1\nb,2024-01-01,2\n")
    with pytest.raises(InvalidSalesFile, match=r"row 5, column 'ds': a second row for the same"):
        read_sales(path)


def test_a_spreadsheets_empty_rows_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("unique_id,ds,y\na,2024-01-01,1\n,,\na,2024-01-02,2\n,,\n,,\n")
    assert read_sales(path)["y"].tolist() == [1, 2]


def test_a_compressed_csv_reads_as_the_csv_it_holds(tmp_path: Path) -> None:
    import gzip

    text = "unique_id,ds,y\na,2024-01-01,1\na,2024-01-02,2\n"
    (tmp_path / "sales.csv").write_text(text)
    with gzip.open(tmp_path / "sales.csv.gz", "wt") as f:
        f.write(text)
    plain, packed = read_sales(tmp_path / "sales.csv"), read_sales(tmp_path / "sales.csv.gz")
    pd.testing.assert_frame_equal(plain, packed)
    with gzip.open(tmp_path / "bad.csv.gz", "wt") as f:
        f.write(text + "a,2024-01-03,-1\n")
    with pytest.raises(InvalidSalesFile, match=r"bad.csv.gz: row 4, column 'y'"):
        read_sales(tmp_path / "bad.csv.gz")


def test_a_parquet_file_saved_with_its_keys_as_the_index_reads_them(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"unique_id": ["a", "a"], "ds": pd.to_datetime(["2024-01-01", "2024-01-02"]), "y": [1, 2]}
    )
    frame.set_index(["unique_id", "ds"]).to_parquet(tmp_path / "sales.parquet")
    assert read_sales(tmp_path / "sales.parquet")["y"].tolist() == [1, 2]


def test_a_file_in_a_spreadsheets_own_code_page_is_named_as_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("unique_id,ds,y\nCaf\u00e9,2024-01-01,1\n".encode("cp1252"))
    with pytest.raises(InvalidSalesFile) as err:
        read_sales(path)
    assert str(err.value) == (
        f"{path}: cannot be read: it is not UTF-8 text (byte 0xe9 at offset 18); save it as "
        "CSV UTF-8"
    )


def test_a_file_read_as_one_column_says_what_its_header_reads_and_why(tmp_path: Path) -> None:
    path = tmp_path / "semicolons.csv"
    path.write_text("unique_id;ds;y\na;2024-01-01;1\n")
    with pytest.raises(InvalidSalesFile) as err:
        read_sales(path)
    said = str(err.value)
    assert "missing column(s) unique_id, ds, y" in said
    assert "its header reads 'unique_id;ds;y'" in said
    assert "is the file separated by semicolons?" in said
    path.write_text("unique_id ,ds,y\na,2024-01-01,1\n")
    with pytest.raises(InvalidSalesFile) as err:
        read_sales(path)
    assert "'unique_id ' has spaces around its name" in str(err.value)
