"""``tillwise forecast backtest|predict|score``: backtest and run the demand forecaster on a
sales file, and score a forecast file against what was then sold."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Column, Table

from tillwise.files import write_atomically

from ._common import console, err_console, fail, print_json, print_table

forecast_app = typer.Typer(
    help=(
        "Demand forecasts from a sales file — long (unique_id, ds, y[, price, promo]) or wide "
        "(M5's d_1..d_N with its --calendar) — or straight from the store (--connection "
        "[--location]); and forecasts scored against what was sold."
    ),
    no_args_is_help=True,
)

FREQS = ("D", "W")
SALES_HELP = (
    "CSV (also .csv.gz/.bz2/.xz/.zip), Parquet or R data, long (unique_id, ds, y; optional "
    "price, promo, censored) or wide (a row per series, a column per period headed by its "
    "date, or M5's d_1..d_N with --calendar)"
)
CALENDAR_HELP = (
    "M5's calendar (date[, d], wm_yr_wk, event_name_1/2, snap_CA/TX/WI): dates M5's d_N "
    "columns; its events are learned, and its SNAP days, by each row's state_id, are the "
    "promotion flags, known ahead"
)
PRICES_HELP = "M5's sell_prices (store_id, item_id, wm_yr_wk, sell_price): the week's price"


def _columns(
    id_col: str, time_col: str, target_col: str, price_col: str = "price", promo_col: str = "promo"
) -> Any:
    """``--id-col/--time-col/--target-col`` (statsforecast's names for them) and
    ``--price-col/--promo-col``."""
    from tillwise.compute.forecasting import Columns

    ids = tuple(c.strip() for c in id_col.split(",") if c.strip())
    if not ids:
        fail("--id-col needs a column name")
    return Columns(
        ids[0] if len(ids) == 1 else ids,
        time_col.strip(),
        target_col.strip(),
        price_col.strip(),
        promo_col.strip(),
    )


ID_HELP = "the series id column (several, comma-separated, are joined with _)"
TIME_HELP = "the period column (also in --events, which otherwise has ds or date)"
TARGET_HELP = "the demand column"
PRICE_HELP = "the price column (e.g. M5's sell_price); used as history, never as a known future"
PROMO_HELP = (
    "the column of flags planned ahead whose uplift the forecast learns: promotions, or "
    "another known driver such as M5's snap days"
)


def _load(sales: Path, freq: str, columns: Any, calendar: Path | None, prices: Path | None) -> Any:
    from tillwise.compute.forecasting import InvalidSalesFile, read_sales_file
    from tillwise.compute.forecasting.reader import MissingColumns

    if freq.upper() not in FREQS:
        fail(f"--freq must be D or W, not {freq!r}")
    try:
        read = read_sales_file(sales, columns, calendar, prices, freq.upper())
    except MissingColumns as exc:
        fail(
            f"{exc} — name the file's own with --id-col, --time-col, --target-col "
            "(--price-col, --promo-col)"
        )
    except InvalidSalesFile as exc:
        fail(str(exc))
    days = read.history["ds"]
    if (
        freq.upper() == "D"
        and days.nunique() >= WEEKLY_LOOKING
        and days.dt.dayofweek.nunique() == 1
    ):
        err_console.print(
            f"[yellow]warning:[/] every date in {sales} is a {days.iloc[0]:%A}, as in weekly "
            "data: read as days, the six days between are days without a sale. If these are "
            "weekly totals, pass --freq W"
        )
    return read


WEEKLY_LOOKING = 8  # dates, all on one weekday: a daily file that looks weekly


def _history(
    sales: Path | None,
    connection: str | None,
    location: str | None,
    freq: str,
    columns: Any = None,
    calendar: Path | None = None,
    prices: Path | None = None,
) -> Any:
    """The :class:`SalesFile` of ``--sales`` or, with ``--connection`` [``--location``], the
    store's history (daily demand per SKU and store, out-of-stock days censored)."""
    from tillwise.compute.forecasting import SalesFile

    if (sales is None) == (connection is None):
        fail("give either --sales FILE or --connection ID [--location ID]")
    if location is not None and connection is None:
        fail("--location needs --connection")
    if sales is not None:
        return _load(sales, freq, columns, calendar, prices)
    if calendar is not None or prices is not None:
        fail("--calendar and --prices go with --sales")
    if freq.upper() != "D":
        fail("history from the store is daily: use --freq D")
    from tillwise.workflows.replenishment.history import store_history

    from ._common import open_container

    assert connection is not None
    with open_container() as c:
        frame = store_history(c.uow, connection, location)
    if frame.empty:
        where = f"location {location} of " if location else ""
        fail(f"no sales history for {where}connection {connection}")
    return SalesFile(frame)


HOLIDAYS_HELP = (
    "public holidays whose effects the forecast learns: a country code, optionally with a "
    "subdivision (GB, GB-ENG, US-CA); default with --location: the store's country"
)


def _holidays(spec: str | None, connection: str | None, location: str | None) -> str | None:
    """``--holidays``, else the country of the ``--location`` store (None: no holidays)."""
    if spec is not None or connection is None or location is None:
        return spec or None
    from ._common import open_container

    with open_container() as c, c.uow() as work:
        store = work.records.location(connection, location)
    return store.country_code if store is not None else None


EVENTS_HELP = (
    "CSV or Parquet: ds, name[, connection, location] — your own events, past and planned "
    "(Black Friday, a store's sale days), or M5's calendar (date, event_name_1, event_name_2); "
    "their effects are learned like public holidays'"
)


def _calendar(
    holidays: str | None,
    events: Path | None,
    connection: str | None,
    location: str | None,
    time_col: str,
    known: dict[Any, str],
) -> dict[str, Any]:
    """The forecaster's ``holidays`` (``--holidays``, else the ``--location`` store's country)
    and ``events``: ``known`` (``--calendar``'s) and ``--events`` (with
    ``--connection``/``--location``, that store's)."""
    from tillwise.compute.forecasting.holidays import merge_calendars

    own = None
    if events is not None:
        from tillwise.compute.forecasting import InvalidSalesFile, read_events

        try:
            own = read_events(events, connection, location, time_col.strip())
        except InvalidSalesFile as exc:
            fail(str(exc))
    merged = merge_calendars(known, own or {}) if own or known else None
    return {"holidays": _holidays(holidays, connection, location), "events": merged}


# the options both commands take: the calendar and the file's own column names
Holidays = Annotated[str | None, typer.Option("--holidays", help=HOLIDAYS_HELP)]
Events = Annotated[Path | None, typer.Option("--events", help=EVENTS_HELP)]
Calendar = Annotated[Path | None, typer.Option("--calendar", help=CALENDAR_HELP)]
Prices = Annotated[Path | None, typer.Option("--prices", help=PRICES_HELP)]
IdCol = Annotated[str, typer.Option("--id-col", help=ID_HELP)]
TimeCol = Annotated[str, typer.Option("--time-col", help=TIME_HELP)]
TargetCol = Annotated[str, typer.Option("--target-col", help=TARGET_HELP)]
PriceCol = Annotated[str, typer.Option("--price-col", help=PRICE_HELP)]
PromoCol = Annotated[str, typer.Option("--promo-col", help=PROMO_HELP)]


def _methods(spec: str | None) -> tuple[tuple[str, ...], bool]:
    from tillwise.compute.forecasting import parse_methods

    try:
        return parse_methods(spec)
    except ValueError as exc:
        fail(f"--methods: {exc}")


def _executor(kind: str, address: str | None) -> Any:
    from tillwise.compute import make_executor

    try:
        return make_executor(kind, address)
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:.1%}" if pct else f"{v:.3f}"


@forecast_app.command("backtest")
def backtest_cmd(
    sales: Path | None = typer.Option(None, "--sales", help=SALES_HELP),
    connection: str | None = typer.Option(
        None, "--connection", help="read the daily history from the store: this connection"
    ),
    location: str | None = typer.Option(None, "--location", help="only this store (location)"),
    horizon: int = typer.Option(..., "--horizon", min=1, help="periods to forecast"),
    freq: str = typer.Option("D", "--freq", help="D (days) or W (weeks)"),
    windows: int = typer.Option(3, "--windows", min=1, help="backtest windows (holdout first)"),
    executor: str = typer.Option("processes", "--executor", help="inline, processes or dask"),
    address: str | None = typer.Option(None, "--dask-address", help="Dask scheduler address"),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
    holidays: Holidays = None,
    events: Events = None,
    calendar: Calendar = None,
    prices: Prices = None,
    id_col: IdCol = "unique_id",
    time_col: TimeCol = "ds",
    target_col: TargetCol = "y",
    price_col: PriceCol = "price",
    promo_col: PromoCol = "promo",
    methods: str | None = typer.Option(
        None,
        "--methods",
        help=(
            "candidate methods, comma-separated (default SeasonalNaive, WindowAverage, "
            "AutoETS, CrostonSBA, TSB, ADIDA, IMAPA; also HistoricAverage, LightGBM)"
        ),
    ),
) -> None:
    """Rolling-origin backtest: every method, the production forecaster and the baseline."""
    from tillwise.compute.forecasting import backtest

    singles, lightgbm = _methods(methods)
    columns = _columns(id_col, time_col, target_col, price_col, promo_col)
    loaded = _history(sales, connection, location, freq, columns, calendar, prices)
    days = _calendar(holidays, events, connection, location, time_col, loaded.events)
    source = sales or f"connection {connection}"
    ex = _executor(executor, address)
    try:
        with Progress(console=console, transient=True, disable=as_json) as bar:
            task = bar.add_task("backtest", total=None)

            def step(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = backtest(
                loaded.history,
                horizon,
                freq=freq.upper(),
                windows=windows,
                executor=ex,
                progress=step,
                singles=singles,
                lightgbm=lightgbm,
                **days,
            )
    except ValueError as exc:
        fail(f"{source}: {exc}")
    finally:
        ex.close()
    if len(report.cutoffs) < windows:  # on stderr: --json output stays JSON
        err_console.print(
            f"[yellow]warning:[/] {source} has history for {len(report.cutoffs)} of the "
            f"{windows} windows asked for (each needs {horizon} more periods before it)",
            highlight=False,
        )
    _short_windows(report, loaded.history, freq, horizon, source)
    if as_json:
        print_json(report.as_dict())
        return
    table = Table(
        Column("method", no_wrap=True),
        "RMSSE",
        "MASE",
        "WAPE",
        "bias",
        "cov 80",
        "cov 95",
        "RMSSE avg",
        "WAPE avg",
        "seconds",
        title=(
            f"{report.series} series, horizon {horizon}, windows after {', '.join(report.cutoffs)}"
        ),
    )
    for m in [*report.methods, report.production]:
        h, a = m.holdout, m.mean
        label = m.name + (" (baseline)" if m is report.baseline else "")
        table.add_row(
            label,
            _fmt(h.rmsse),
            _fmt(h.mase),
            _fmt(h.wape),
            _fmt(h.bias, True),
            _fmt(h.coverage_80, True),
            _fmt(h.coverage_95, True),
            _fmt(a.rmsse),
            _fmt(a.wape),
            f"{m.seconds:.1f}",
        )
    print_table(table, width=130)
    r = report.ratios()
    by_wape = report.wape_baseline
    console.print(
        f"production = {report.production_method[0]}\n"
        f"vs baseline {report.baseline.name} (the best single method by mean RMSSE): RMSSE "
        f"x{_fmt(r['rmsse_holdout'])} (avg x{_fmt(r['rmsse_mean'])}), WAPE "
        f"x{_fmt(r['wape_holdout'])} (avg x{_fmt(r['wape_mean'])})"
        + (
            ""
            if by_wape is report.baseline
            else f"; vs {by_wape.name} (the best by mean WAPE): WAPE "
            f"x{_fmt(r['wape_holdout_best'])} (avg x{_fmt(r['wape_mean_best'])})"
        )
        + f"; total {report.seconds:.1f}s"
    )


def _short_windows(report: Any, history: Any, freq: str, horizon: int, source: Any) -> None:
    """Warn (on stderr) when the earliest window is fitted on less than two horizons of
    history: its scores, averaged with the others, say little."""
    import pandas as pd

    days = 7 if freq.upper() == "W" else 1
    fitted = (pd.Timestamp(report.cutoffs[-1]) - history["ds"].min()).days // days + 1
    if fitted < 2 * horizon:
        err_console.print(
            f"[yellow]warning:[/] {source}: the earliest window is fitted on {fitted} "
            f"period{'s' if fitted != 1 else ''} of history, less than two horizons: its "
            "scores say little (ask for fewer --windows)",
            highlight=False,
        )


@forecast_app.command("predict")
def predict_cmd(
    sales: Path | None = typer.Option(None, "--sales", help=SALES_HELP),
    connection: str | None = typer.Option(
        None, "--connection", help="read the daily history from the store: this connection"
    ),
    location: str | None = typer.Option(None, "--location", help="only this store (location)"),
    horizon: int = typer.Option(..., "--horizon", min=1, help="periods to forecast"),
    output: Path = typer.Option(
        ..., "--output", help="CSV to write (a name ending .gz: gzipped; .parquet: Parquet)"
    ),
    freq: str = typer.Option("D", "--freq", help="D (days) or W (weeks)"),
    executor: str = typer.Option("processes", "--executor", help="inline, processes or dask"),
    address: str | None = typer.Option(None, "--dask-address", help="Dask scheduler address"),
    holidays: Holidays = None,
    events: Events = None,
    calendar: Calendar = None,
    prices: Prices = None,
    id_col: IdCol = "unique_id",
    time_col: TimeCol = "ds",
    target_col: TargetCol = "y",
    price_col: PriceCol = "price",
    promo_col: PromoCol = "promo",
    future: Path | None = typer.Option(
        None,
        "--future",
        help="CSV or Parquet: unique_id, ds, promo — the promotions planned for the horizon",
    ),
) -> None:
    """Fit the production forecaster on the whole file and write
    unique_id, ds, mean, lo-80, hi-80, lo-95, hi-95."""
    from tillwise.compute.forecasting import (
        InvalidFuture,
        InvalidSalesFile,
        ProductionForecaster,
        read_future,
    )

    inputs = (sales, future, calendar, prices, events)
    _check_output(output, [p for p in inputs if p is not None])
    columns = _columns(id_col, time_col, target_col, price_col, promo_col)
    loaded = _history(sales, connection, location, freq, columns, calendar, prices)
    history = loaded.history
    source = sales or f"connection {connection}"
    planned = loaded.planned  # the calendar's SNAP days over the horizon
    if planned is not None:
        planned = planned[planned["ds"].isin(sorted(planned["ds"].unique())[:horizon])]
    if future is not None:
        try:
            planned = read_future(future, columns)
        except InvalidSalesFile as exc:
            fail(str(exc))
        if "promo" not in history or not (history["promo"] > 0).any():
            console.print(
                f"[yellow]warning:[/] {source} has no promotions to learn their effect from: "
                f"the promotions in {future} change nothing"
            )
    elif planned is None and "promo" in history and (history["promo"] > 0).any():
        console.print(
            f"[yellow]warning:[/] {source} has promotions but no --future file says which are "
            "planned: the forecast assumes none over the horizon"
        )
    days = _calendar(holidays, events, connection, location, time_col, loaded.events)
    ex = _executor(executor, address)
    try:
        with console.status("forecasting"):
            fc = ProductionForecaster(ex).fit_predict(
                history, horizon, freq=freq.upper(), future=planned, **days
            )
    except InvalidFuture as exc:
        fail(f"{future}: {exc}")
    except ValueError as exc:
        fail(f"{source}: {exc}")
    finally:
        ex.close()
    frame = fc.frame()
    end = frame["ds"].max()
    if future is not None and planned is not None and (late := planned["ds"] > end).any():
        err_console.print(
            f"[yellow]warning:[/] {late.sum()} row(s) of {future} fall after the horizon (its "
            f"last period is {end:%Y-%m-%d}): they change nothing",
            highlight=False,
        )
    frame["ds"] = frame["ds"].dt.strftime("%Y-%m-%d")
    try:
        write_atomically(output, _encoded(frame, output))
    except OSError as exc:
        fail(f"--output {output}: cannot be written: {exc.strerror or exc}")
    console.print(
        f"wrote {len(frame)} rows ({frame['unique_id'].nunique()} series x {horizon}) to {output}"
    )


def _encoded(frame: Any, output: Path) -> bytes:
    """The forecasts in the format ``output``'s name asks for: Parquet (``.parquet``), gzipped
    CSV (``.gz``), else CSV — each one ``--sales`` reads back."""
    name = output.name.lower()
    if name.endswith(".parquet"):
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    text = frame.to_csv(index=False, float_format="%.4f").encode()
    return gzip.compress(text, mtime=0) if name.endswith(".gz") else text


def _check_output(output: Path, inputs: list[Path]) -> None:
    """Refuse an ``--output`` that cannot be written, or that would overwrite an input, before
    any work is done."""
    if output.is_dir():
        fail(f"--output {output} is a folder; name the CSV file to write")
    if output.exists() and not output.is_file():
        fail(f"--output {output} is not a regular file")
    if output.exists() and not os.access(output, os.W_OK):
        fail(f"--output {output} is read-only")
    if not output.parent.is_dir():
        fail(f"--output {output}: the folder {output.parent} does not exist")
    for given in inputs:
        if output.exists() and given.exists() and output.samefile(given):
            fail(f"--output {output} is also an input file; it would be overwritten")


@forecast_app.command("score")
def score_cmd(
    forecast: Path = typer.Option(
        ..., "--forecast", help="the forecasts: unique_id, ds, mean[, lo-80, hi-80, lo-95, hi-95]"
    ),
    actuals: Path = typer.Option(
        ..., "--actuals", help="what was sold in the forecast's periods (laid out as --sales)"
    ),
    sales: Path = typer.Option(
        ..., "--sales", help="the history the forecast was made from (its scales and weights)"
    ),
    model: str = typer.Option("mean", "--model", help="the forecast's column to score"),
    freq: str = typer.Option("D", "--freq", help="D (days) or W (weeks)"),
    as_json: bool = typer.Option(False, "--json", help="the figures and per series, as JSON"),
    calendar: Calendar = None,
    id_col: IdCol = "unique_id",
    time_col: TimeCol = "ds",
    target_col: TargetCol = "y",
) -> None:
    """Score a forecast file against what was sold, as the backtest scores its windows.

    RMSSE and MASE (scaled by the history's one-step naive error, weighted by its last 28
    periods' units), WAPE, bias and the coverage of the 80% and 95% intervals."""
    from tillwise.compute.forecasting import InvalidSalesFile, read_forecast, score_forecast

    columns = _columns(id_col, time_col, target_col)
    history = _load(sales, freq, columns, calendar, None).history
    sold = _load(actuals, freq, columns, calendar, None).history
    try:
        fc = read_forecast(forecast, model.strip())
    except InvalidSalesFile as exc:
        fail(str(exc))
    try:
        result = score_forecast(history, sold, fc, freq=freq.upper(), model=model.strip())
    except ValueError as exc:
        fail(f"{forecast}: {exc}")
    if as_json:
        print_json(result.as_dict())
        return
    s = result.scores
    table = Table("model", "RMSSE", "MASE", "WAPE", "bias", "cov 80", "cov 95", "series")
    table.add_row(
        result.model,
        _fmt(s.rmsse),
        _fmt(s.mase),
        _fmt(s.wape),
        _fmt(s.bias, True),
        _fmt(s.coverage_80, True),
        _fmt(s.coverage_95, True),
        str(s.series),
    )
    print_table(table)
