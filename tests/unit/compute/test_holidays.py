"""Public-holiday effects: calendars from the `holidays` package, effects learned from history."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tillwise.compute.forecasting import ProductionForecaster, country_holidays
from tillwise.compute.forecasting.holidays import holiday_profile
from tillwise.compute.forecasting.panel import to_panel
from tillwise.ports.forecasting import UnknownHolidays

THANKSGIVING = {date(2022, 11, 24), date(2023, 11, 23), date(2024, 11, 28)}
JULY_4 = {date(2023, 7, 4), date(2024, 7, 4)}


def store_history(end: str = "2024-11-20", n: int = 12, seed: int = 3) -> pd.DataFrame:
    """Daily demand of ``n`` SKUs at a US store that closes on Thanksgiving and sells twice
    the usual on the Fourth of July."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2022-09-01", end, freq="D")
    days = ds.date
    factor = np.array([0.0 if d in THANKSGIVING else 2.0 if d in JULY_4 else 1.0 for d in days])
    rows = [
        pd.DataFrame({"unique_id": f"sku{i:02d}", "ds": ds, "y": rng.poisson(8.0 * factor)})
        for i in range(n)
    ]
    return pd.concat(rows, ignore_index=True)


def test_country_calendars_come_from_the_holidays_package() -> None:
    gb = country_holidays("GB-ENG", date(2024, 1, 1), date(2024, 12, 31))
    assert gb[date(2024, 12, 25)] == "Christmas Day"
    assert date(2024, 8, 26) in gb  # the English summer bank holiday
    scotland = country_holidays("gb-sct", date(2024, 1, 1), date(2024, 12, 31))
    assert date(2024, 8, 5) in scotland and date(2024, 8, 26) not in scotland
    with pytest.raises(UnknownHolidays, match="'XX'"):
        country_holidays("XX", date(2024, 1, 1), date(2024, 12, 31))


def test_a_store_closed_on_thanksgiving_gets_no_demand_forecast_for_it() -> None:
    history = store_history()
    fc = ProductionForecaster().fit_predict(history, 14, holidays="US").frame()
    day = fc.groupby("ds")["mean"].mean()
    thanksgiving = day[pd.Timestamp("2024-11-28")]
    others = day.drop(pd.Timestamp("2024-11-28"))
    assert thanksgiving < 0.1 * others.min()  # both earlier Thanksgivings sold nothing
    assert others.max() / others.min() < 1.5  # the other days stay at the usual level
    # the interval follows: nothing expected, nothing required
    hi = fc[fc["ds"] == pd.Timestamp("2024-11-28")]["hi-80"]
    assert (hi <= fc[fc["ds"] != pd.Timestamp("2024-11-28")]["hi-80"].min()).all()
    # and the forecast names the day for the buyer
    assert fc_effects(history) == [(date(2024, 11, 28), "Thanksgiving Day", 0.0)]
    plain = ProductionForecaster().fit_predict(history, 14).frame()
    assert plain.groupby("ds")["mean"].mean()[pd.Timestamp("2024-11-28")] > 0.7 * others.min()


def fc_effects(history: pd.DataFrame) -> list[tuple[date, str, float]]:
    """The days of a 14-day US forecast that holidays move, as (day, name, multiplier)."""
    fc = ProductionForecaster().fit_predict(history, 14, holidays="US")
    return [(e.day, e.name, e.effect) for e in fc.calendar_effects()]


def test_a_named_holiday_repeats_its_past_effect_where_history_allows() -> None:
    ds_end = "2024-06-30"
    history = store_history(end=ds_end)
    holidays = country_holidays("US", date(2022, 9, 1), date(2024, 7, 31))
    panel = to_panel(history, "D", holidays)
    cutoff = panel.periods
    prof = holiday_profile(panel, cutoff, 7)  # 2024-07-01 .. 07-07
    july4 = prof[3]
    assert july4 == pytest.approx(2.0, rel=0.2)  # one earlier Fourth of July at twice the usual
    # with no earlier Fourth of July and too few other holidays to pool, history does not
    # allow an effect: ones
    young = to_panel(history[history["ds"] >= "2024-06-01"], "D", holidays)
    assert (holiday_profile(young, young.periods, 7) == 1.0).all()
    weekly = to_panel(history[history["ds"].dt.dayofweek == 0], "W", holidays)
    assert (holiday_profile(weekly, weekly.periods, 4) == 1.0).all()


def test_a_store_in_a_country_without_a_calendar_is_forecast_without_holidays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tillwise.workflows.replenishment.planner import run_forecast

    history = store_history(n=2)
    fc = run_forecast(ProductionForecaster(), history, 7, country="ZZ")
    assert fc is not None and len(fc.frame()) == 2 * 7
    assert "no public-holiday calendar for 'ZZ'" in caplog.text


def test_an_unknown_subdivision_is_named() -> None:
    with pytest.raises(UnknownHolidays, match="'GB-XYZ'"):
        country_holidays("GB-XYZ", date(2024, 1, 1), date(2024, 12, 31))


def test_the_day_after_a_holiday_learns_from_every_holiday_once_there_are_three() -> None:
    ds = pd.date_range("2024-01-01", "2024-06-30", freq="D")
    seen = {date(2024, 2, 5): "A", date(2024, 3, 12): "B", date(2024, 4, 17): "C"}
    after = {d + pd.Timedelta(days=1) for d in map(pd.Timestamp, seen)}
    y = np.where(ds.isin(list(after)), 20.0, 10.0)  # twice the usual the day after each
    history = pd.DataFrame({"unique_id": "sku", "ds": ds, "y": y})
    holidays = {**seen, date(2024, 7, 3): "D"}  # a new holiday inside the horizon
    prof = holiday_profile(to_panel(history, "D", holidays), len(ds), 7)  # 07-01 .. 07-07
    assert prof[2] == pytest.approx(1.0)  # "D" itself: its pooled day-0 effect is 1
    assert prof[3] == pytest.approx(2.0)  # 07-04, the day after: pooled from A, B and C
    assert prof[[0, 1, 4, 5, 6]] == pytest.approx(1.0)
    two = {d: n for d, n in holidays.items() if n != "C"}  # two occurrences are not enough
    assert (holiday_profile(to_panel(history, "D", two), len(ds), 7) == 1.0).all()


def test_an_event_calendar_merges_with_the_public_holidays_one_name_per_day() -> None:
    from tillwise.compute.forecasting.holidays import merge_calendars
    from tillwise.compute.forecasting.reader import InvalidSalesFile, validate_events

    events = validate_events(
        pd.DataFrame(
            {
                "ds": ["2024-12-24", "2024-12-24", "2024-11-29 00:00", "2024-11-29"],
                "name": ["Final sale", " Late opening ", "Black Friday", "Black Friday"],
                "note": ["", "", "", ""],
            }
        )
    )
    assert events == {
        date(2024, 11, 29): "Black Friday",
        date(2024, 12, 24): "Final sale + Late opening",
    }
    public = country_holidays("GB-ENG", date(2024, 12, 1), date(2024, 12, 31))
    merged = merge_calendars(public, events)
    assert merged[date(2024, 12, 25)] == "Christmas Day"
    assert merged[date(2024, 12, 24)] == "Final sale + Late opening"
    assert list(merged) == sorted(merged)
    with pytest.raises(InvalidSalesFile, match=r"row 2, column 'ds': not a date"):
        validate_events(pd.DataFrame({"ds": ["2024-11-29", "soon"], "name": ["a", "b"]}))
    with pytest.raises(InvalidSalesFile, match="missing column.*name"):
        validate_events(pd.DataFrame({"ds": ["2024-11-29"], "event": ["a"]}))


def test_events_of_some_stores_only_reach_those_stores() -> None:
    from tillwise.compute.forecasting.reader import validate_events

    table = pd.DataFrame(
        {
            "ds": ["2024-11-29", "2024-12-02", "2024-12-03", "2024-12-04"],
            "name": ["Black Friday", "Leeds reopening", "Shopify sale", "Square sale"],
            "connection": [None, "shop-1", "shop-1", "sq-1"],
            "location": ["", " leeds ", None, ""],
        }
    )
    leeds = validate_events(table, connection="shop-1", location="leeds")
    assert list(leeds.values()) == ["Black Friday", "Leeds reopening", "Shopify sale"]
    york = validate_events(table, connection="shop-1", location="york")
    assert list(york.values()) == ["Black Friday", "Shopify sale"]
    assert len(validate_events(table)) == 4  # no store named: the whole calendar


def test_m5_calendars_give_the_events_their_event_name_columns_name(tmp_path: Path) -> None:
    """The organisers' calendar.csv (R export: quoted text, NA for none, the day in ``date``)
    and M5's long sales (the same events on every row of a day) are read as event calendars."""
    from tillwise.compute.forecasting.reader import InvalidSalesFile, read_events

    calendar = tmp_path / "calendar.csv"
    calendar.write_text(
        '"date","wm_yr_wk","weekday","event_name_1","event_type_1","event_name_2",'
        '"event_type_2","snap_CA"\n'
        '"2011-02-06",11102,"Sunday","SuperBowl","Sporting",NA,NA,1\n'
        '"2011-02-07",11102,"Monday",NA,NA,NA,NA,1\n'
        '"2014-04-20",11412,"Sunday","Easter","Cultural","OrthodoxEaster","Religious",0\n'
    )
    expected = {date(2011, 2, 6): "SuperBowl", date(2014, 4, 20): "Easter + OrthodoxEaster"}
    assert read_events(calendar) == expected  # the day in 'date', as M5 has it
    renamed = tmp_path / "renamed.csv"  # or in the sales file's own --time-col
    renamed.write_text(calendar.read_text().replace('"date"', '"day"'))
    assert read_events(renamed, time_col="day") == expected
    with pytest.raises(InvalidSalesFile, match="missing column.*ds"):
        read_events(renamed)  # no ds, no date, and no column named as the day

    long = tmp_path / "sales.csv"
    pd.DataFrame(
        {
            "item_id": ["A", "A", "B", "B"],
            "date": ["2011-02-06", "2011-02-07"] * 2,
            "event_name_1": ["SuperBowl", None, "SuperBowl", None],
        }
    ).to_csv(long, index=False)
    assert read_events(long, time_col="date") == {date(2011, 2, 6): "SuperBowl"}
    none = tmp_path / "none.csv"
    none.write_text("date,event_name_1\n2011-02-07,NA\n")
    with pytest.raises(InvalidSalesFile, match="no event named in event_name_1"):
        read_events(none, time_col="date")
