"""``tillwise forecast backtest|predict``: score and run the demand forecaster on a sales file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Column, Table

from ._common import console, fail, print_json, print_table

forecast_app = typer.Typer(
    help=(
        "Demand forecasts from a long-format sales file (unique_id, ds, y[, price, promo]) "
        "or straight from the store (--connection [--location])."
    ),
    no_args_is_help=True,
)

FREQS = ("D", "W")
SALES_HELP = "CSV or Parquet: unique_id, ds, y; optional price, promo, censored"


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


def _load(sales: Path, freq: str, columns: Any) -> Any:
    from tillwise.compute.forecasting import InvalidSalesFile, read_sales
    from tillwise.compute.forecasting.reader import MissingColumns

    if freq.upper() not in FREQS:
        fail(f"--freq must be D or W, not {freq!r}")
    try:
        return read_sales(sales, columns)
    except MissingColumns as exc:
        fail(
            f"{exc} — name the file's own with --id-col, --time-col, --target-col "
            "(--price-col, --promo-col)"
        )
    except InvalidSalesFile as exc:
        fail(str(exc))


def _history(
    sales: Path | None,
    connection: str | None,
    location: str | None,
    freq: str,
    columns: Any = None,
) -> Any:
    """The history from ``--sales`` or, with ``--connection`` [``--location``], from the store
    (daily demand per SKU and store, out-of-stock days censored)."""
    if (sales is None) == (connection is None):
        fail("give either --sales FILE or --connection ID [--location ID]")
    if location is not None and connection is None:
        fail("--location needs --connection")
    if sales is not None:
        return _load(sales, freq, columns)
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
    return frame


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
    time_col: str = "ds",
) -> dict[str, Any]:
    """The forecaster's ``holidays`` (``--holidays``, else the ``--location`` store's country)
    and ``events`` (``--events``; with ``--connection``/``--location``, that store's)."""
    own = None
    if events is not None:
        from tillwise.compute.forecasting import InvalidSalesFile, read_events

        try:
            own = read_events(events, connection, location, time_col.strip())
        except InvalidSalesFile as exc:
            fail(str(exc))
    return {"holidays": _holidays(holidays, connection, location), "events": own}


# the options both commands take: the calendar and the file's own column names
Holidays = Annotated[str | None, typer.Option("--holidays", help=HOLIDAYS_HELP)]
Events = Annotated[Path | None, typer.Option("--events", help=EVENTS_HELP)]
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
    history = _history(sales, connection, location, freq, columns)
    calendar = _calendar(holidays, events, connection, location, time_col)
    source = sales or f"connection {connection}"
    ex = _executor(executor, address)
    try:
        with Progress(console=console, transient=True, disable=as_json) as bar:
            task = bar.add_task("backtest", total=None)

            def step(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = backtest(
                history,
                horizon,
                freq=freq.upper(),
                windows=windows,
                executor=ex,
                progress=step,
                singles=singles,
                lightgbm=lightgbm,
                **calendar,
            )
    except ValueError as exc:
        fail(f"{source}: {exc}")
    finally:
        ex.close()
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
    console.print(
        f"production = {report.production_method[0]}\n"
        f"vs baseline {report.baseline.name}: RMSSE x{_fmt(r['rmsse_holdout'])} "
        f"(avg x{_fmt(r['rmsse_mean'])}), WAPE x{_fmt(r['wape_holdout'])} "
        f"(avg x{_fmt(r['wape_mean'])}); total {report.seconds:.1f}s"
    )


@forecast_app.command("predict")
def predict_cmd(
    sales: Path | None = typer.Option(None, "--sales", help=SALES_HELP),
    connection: str | None = typer.Option(
        None, "--connection", help="read the daily history from the store: this connection"
    ),
    location: str | None = typer.Option(None, "--location", help="only this store (location)"),
    horizon: int = typer.Option(..., "--horizon", min=1, help="periods to forecast"),
    output: Path = typer.Option(..., "--output", help="CSV to write"),
    freq: str = typer.Option("D", "--freq", help="D (days) or W (weeks)"),
    executor: str = typer.Option("processes", "--executor", help="inline, processes or dask"),
    address: str | None = typer.Option(None, "--dask-address", help="Dask scheduler address"),
    holidays: Holidays = None,
    events: Events = None,
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

    columns = _columns(id_col, time_col, target_col, price_col, promo_col)
    history = _history(sales, connection, location, freq, columns)
    source = sales or f"connection {connection}"
    planned = None
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
    calendar = _calendar(holidays, events, connection, location, time_col)
    ex = _executor(executor, address)
    try:
        with console.status("forecasting"):
            fc = ProductionForecaster(ex).fit_predict(
                history, horizon, freq=freq.upper(), future=planned, **calendar
            )
    except InvalidFuture as exc:
        fail(f"{future}: {exc}")
    except ValueError as exc:
        fail(f"{source}: {exc}")
    finally:
        ex.close()
    frame = fc.frame()
    frame["ds"] = frame["ds"].dt.strftime("%Y-%m-%d")
    frame.to_csv(output, index=False, float_format="%.4f")
    console.print(
        f"wrote {len(frame)} rows ({frame['unique_id'].nunique()} series x {horizon}) to {output}"
    )
