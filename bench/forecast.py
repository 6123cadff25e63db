"""Forecast benchmark on the real Online Retail II data (not a timed test).

Data: ``../shared/data/online_retail/*.parquet`` (Online Retail II, UCI id 502, CC BY 4.0) —
when absent the benchmark says so and exits 0.

Panel: daily units sold per StockCode.
* Rows kept: product codes only (five digits plus an optional letter suffix, e.g. ``85123A``);
  removed are the non-product codes POST, DOT (postage), C2/C3 (carriage), M/m (manual),
  D (discount), S (samples), B (bad debt), BANK CHARGES, AMAZONFEE, CRUK, PADS, ADJUST*,
  TEST*, gift_0001_* (gift vouchers), DCGS*/SP1002 (dotcom one-offs). Cancellations (invoice
  ``C…``), negative quantities and zero prices (stock adjustments) are dropped: demand is sales,
  returns are separate.
* Calendar: **trading days** — the days the shop invoiced anything. It trades Sunday to Friday
  (1 Saturday in 21 months) and closes over Christmas/New Year and on bank holidays, so calendar
  days would add ~20% structural zeros that no demand model should learn from; the forecaster
  gets a ``CustomBusinessDay`` (Sun–Fri, closures as holidays) as its frequency.
* Qualifying SKUs: sold in the last 90 calendar days of the data and at least 100 trading days
  between the first sale and the holdout.
* Evaluation: the last 28 trading days held out, plus rolling origins every 28 days before it.

Data: the 2010-2011 file here is cut at 2011-08-31 (the rest is held back for acceptance
checks), so the holdout is August 2011; ``--until 2010-12-09`` scores the pre-Christmas season
a year earlier (one year of history only). With the whole 2010-2011 file present it is used.

Measured (``nice -n 10 python -m bench.forecast``, 2 cores, 2026-11-27; holdout / mean of the
4 windows): best single method CrostonSBA RMSSE 0.677 / 0.652, WAPE 1.256 / 1.268, bias
-2.7% / +4.8%. Production (pooled LightGBM level model fitted to the volume-weighted RMSSE,
times the day profile: weekday and public holidays; see ``tillwise.compute.forecasting.backtest``):
RMSSE 0.649 / 0.626 (x0.958 / x0.960), WAPE 1.080 / 1.083 (x0.860 / x0.854), bias -26.0% /
-19.9%, 80% coverage 87.6% / 87.3%, 95% coverage 93.2% / 93.3%. AutoETS (non-seasonal; the
seasonal search is far slower) RMSSE 0.697 / 0.663, WAPE 1.344 / 1.308, bias +13%. Whole
backtest 176 s with the 7 candidates (AutoETS 111 s, production 46 s, each other 0.3-2.6 s).
``--until 2010-12-09``: CrostonSBA 0.936 / 0.836, AutoETS 0.948 / 0.897, production x0.991 /
x0.980, WAPE x0.902 / x0.857, 80% coverage 77.9% / 83.7%; 112 s.
WAPE, coverage and time targets met; the >= 5% RMSSE target is not: a hindsight oracle that
knows each series' mean demand in the window reaches only x0.930 (x0.918 with the weekday
profile), so day-level noise dominates RMSSE here. Tried (ratios = RMSSE holdout / mean):
equal-weight mean of ADIDA/TSB/IMAPA/WindowAverage with one backtest-chosen spike cap
(previous production) x0.974 / x0.972, bias -29%; stacked non-negative weights over those
four x {uncapped, cap 3/5/10} fitted on earlier windows, x weekday profile x0.966 / x0.965,
bias -31% (fallback for small panels); + short/long window means as members x0.964 / x0.965;
per-horizon-bucket weights x0.965 / x0.965; weights per intermittency/volume/spike class
x0.963-0.966; stack rescaled to weights summing 1 (bias -15%) x0.975 / x0.965, to 1.2 (bias
+2%) x0.998 / x0.982; per-series weekday profiles x0.968-0.972; yearly seasonal ratios by
panel/family/series x0.975-0.987 (cap-5 mean alone x0.979); level model with plain L2 loss
x0.981 / x0.979 (bias +0.1% / +6.8%), with the RMSSE (IRLS) loss x0.960-0.962; per-week
horizon buckets in the level model x0.962 / x0.962; origins every 3 periods or 700 periods
back x0.961 / x0.961; last-year features x0.959 / x0.961; level model + stack x0.961-0.963;
the recursive mlforecast LightGBM 0.72 (worse than every intermittent method).
Also tried on the level model (2026-11-27, same ratios; all within +-0.002 of x0.961 / x0.961,
so none kept): 5-seed bagging x0.961 / x0.961; spikiness features (top-1/top-3 share, CV^2,
median non-zero, 112-day max, 364-day mean) x0.960 / x0.962; exponentially smoothed levels
(alpha 0.03/0.1/0.3, raw and capped) x0.960 / x0.961; the metric's full-history naive scale
in the loss x0.960 / x0.961; 150 trees x0.961 / x0.960; 600 trees/31 leaves x0.963 / x0.964;
no weight cap x0.961 / x0.960; 5 IRLS passes x0.960 / x0.960; weekday profile from 112/182
days x0.958 / x0.961, powered 0.8/1.2 x0.957-0.962; family profiles shrunk to the panel's
x0.961-0.963. The remaining gap to the oracle is idiosyncratic (200 series hold ~80% of it:
one-off orders and items that stop selling), which no feature of the series' own past predicts.
Third round (2026-11-27; ratios on the default data, then on ``--until 2010-12-09``):
public-holiday effects (kept) x0.961 -> x0.959 / x0.960; last year's same-season change as
level-model features (kept: NaN without a prior year, so identical on the 2010 data; its
benefit on a ramp with a prior year cannot be measured here) x0.958 / x0.960. Not kept:
forecasting the panel total (AutoETS/AutoARIMA/MSTL) for the within-window shape or as a level
multiplier x0.957-0.970; a Huber log-regression weekday profile x0.957 / x0.959 (within noise);
a day-level LightGBM shape model x0.966-0.972; panel multipliers fitted on the inner windows
(they pick 0.89-0.99) x0.960 / x0.966 and x0.991 / x0.981; fixed x1.1 / x1.2 x0.962-0.972 and
x0.996-1.004; level + stack blends x0.961-0.962 and x0.987-0.988 / x0.978; recency weights,
182 origins back, momentum and peak features, target cap 10, IRLS floor 0.15/0.5, tree sizes:
all within +-0.002. Customer structure of past sales (repeat-customer "due" demand from
purchase cycles, repeat/one-off/new-customer units, customer counts, top-customer and guest
shares) x0.956-0.958 / x0.960 and x0.993-0.996 / x0.980: the big orders come mostly from
customers new to the SKU. Hindsight: the true panel level x0.977 / x0.973 and x1.008 / x1.020,
the true panel daily shape x0.945 / x0.953 — so no panel-level correction can close the gap.
Fourth round (2026-11-27): each series' own weekday profile, shrunk towards the panel's by
empirical Bayes, and promotion effects (kept: they cut Rossmann's store-level RMSSE from 0.352
to 0.212, ``bench.forecast_stores``) leave these figures where they were (x0.958 / x0.960;
x0.993 / x0.980 on the 2010 data): a SKU's own weekday pattern is noise next to the panel's,
and the file has no promotions. Day-of-month effects on the panel total (log residual after
month and weekday) flip sign between the two halves of the data (days 26-28: +0.17 / -0.14):
no signal, not used. Leading zeros (every series padded with zeros back to the first day, as
M5 files come): production 0.5430 vs 0.5422 on 800 SKUs, so series are not trimmed. Product
types from the descriptions (128 keyword groups, CHRISTMAS/XMAS items together) instead of
the StockCode prefix as the level model's family: x0.957 / x0.960 and x0.992 / x0.980.
Fifth round (2026-11-27): last year's panel shape over the same 28 days (totals 364 days back,
weekday and holidays taken out, normalised to mean 1) as a multiplier of production, raised to
0.25-1: x0.957-0.965 / x0.959-0.972 — it correlates 0.07-0.37 with this year's shape (the
hindsight-true shape would give x0.944 / x0.953). Not used; November-December, where last
year's ramp should carry, cannot be scored here (the data before it lack a prior year).
Sixth look (2026-11-27), at the season the whole 2010-2011 file would hold out (November to
9 December 2011, with a year of history before it). ``--until 2011-01-31`` (held out: 20
December 2010 to January 2011, the Christmas closure and the January drop; no prior year in
reach): CrostonSBA 0.724 / 0.845, production x0.899 / x0.956, WAPE x0.782 / x0.853. A stand-in
for the whole file (this file plus September to 9 December 2010 copied 364 days on; 3,238 SKUs,
``--data`` a folder with it): CrostonSBA 0.858 / 0.746 (the issue's ~0.84 scale), production
x0.910 / x0.943, WAPE x0.903 / x0.877, 80% coverage 78.7% / 80.1%, backtest 258 s with AutoETS;
the same with the last-year features blanked: x0.968 / x0.965. The copy repeats last year
exactly, so x0.910 is an upper bound of what last year's memory gives; the true figure depends
on how much 2011's season repeats 2010's, which only the held-back file can tell.
Seventh round (2026-11-29; a harness rerunning only the level model on cached candidates
reproduces x0.9577 / x0.9597): 91 % of the metric's weight sits on items that sold in the last
three days and items silent through the window hold 1-3 % of it, so even a perfect "will it
sell" signal gains at most ~0.4 %. Gap features (usual gap, days since the last sale over it,
trend in selling days) x0.9586 / x0.9598; a hurdle model (P(sells in the window) x level given
it sells), alone or half-blended, x0.958 / x0.960; one shrink factor per days-since-last-sale
bucket fitted on the inner windows x0.957 / x0.965 (the factors swing 0.64-0.90 between
windows); price features (recent price over the median, cheapest recent price, bulk share)
x0.958 / x0.960; LightGBM with the weighted RMSSE as its own objective x0.958 / x0.959 (the
IRLS was already close; it trains ~2x faster). None kept.
Re-measured 2026-11-29 on the final code of that day (the daily forecasts unchanged; the
lead-time quantiles, which this benchmark does not score, changed): the same ratios, x0.958 /
x0.960 RMSSE and x0.860 / x0.854 WAPE, 80% coverage 87.5% / 87.3%; 316 s (AutoETS 199 s).
WAPE against the best single method by mean WAPE (TSB, 1.261 / 1.233; CrostonSBA is best by
RMSSE but not by WAPE), measured 2026-11-29 once the benchmark printed it: x0.857 / x0.878.

usage: python -m bench.forecast [--data DIR] [--windows 4] [--horizon 28] [--executor processes]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail"
PRODUCT_CODE = re.compile(r"^\d{5}[A-Za-z]{0,2}$")
RECENT_DAYS = 90
MIN_HISTORY = 100


def load_lines(data_dir: Path) -> pd.DataFrame:
    """All invoice lines of the parquet files, overlapping days taken from the later file (a
    file whose span lies inside another's is a cut copy and left out)."""
    frames = []
    for f in sorted(data_dir.glob("*.parquet")):
        d = pd.read_parquet(f).rename(
            columns={"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"}
        )
        d["InvoiceDate"] = pd.to_datetime(d["InvoiceDate"])
        frames.append(
            d[["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID"]]
        )
    # a copy cut short (``…_until_2011-08-31``) next to the whole year is left out
    spans = [(d["InvoiceDate"].min(), d["InvoiceDate"].max()) for d in frames]
    frames = [
        d
        for k, d in enumerate(frames)
        if not any(
            j != k and a <= spans[k][0] and spans[k][1] <= b and (a, b) != spans[k]
            for j, (a, b) in enumerate(spans)
        )
        and spans[k] not in spans[:k]
    ]
    frames.sort(key=lambda d: d["InvoiceDate"].min())
    kept = []
    for k, d in enumerate(frames):
        if k + 1 < len(frames):
            d = d[d["InvoiceDate"] < frames[k + 1]["InvoiceDate"].min().normalize()]
        kept.append(d)
    return pd.concat(kept, ignore_index=True)


def cancelled_lines(lines: pd.DataFrame, sales: pd.DataFrame) -> pd.Index:
    """Sales lines an order cancellation voided: for each cancellation line (invoice ``C…``),
    the latest earlier sale to the same customer of the same code and quantity. Such an order
    was never demand (e.g. the 74,215 storage jars ordered and cancelled on 2011-01-18)."""
    cancels = lines[lines["Invoice"].astype(str).str.startswith("C") & lines["Customer ID"].notna()]
    cancels = cancels.assign(Quantity=-cancels["Quantity"])
    keys = ["Customer ID", "StockCode", "Quantity"]
    s = sales[sales["Customer ID"].notna()].reset_index(names="line")
    s = s.sort_values("InvoiceDate")
    c = cancels.sort_values("InvoiceDate")[[*keys, "InvoiceDate"]]
    c["Customer ID"] = c["Customer ID"].astype(float)
    s["Customer ID"] = s["Customer ID"].astype(float)
    m = pd.merge_asof(
        c, s[[*keys, "InvoiceDate", "line"]], on="InvoiceDate", by=keys, direction="backward"
    )
    return pd.Index(m["line"].dropna().astype(int).unique())


def daily_panel(
    lines: pd.DataFrame, horizon: int = 28
) -> tuple[pd.DataFrame, pd.offsets.CustomBusinessDay, pd.DatetimeIndex]:
    """(history in long format, trading-day frequency, trading days) for qualifying SKUs."""
    lines = lines.assign(
        day=lines["InvoiceDate"].dt.normalize(), StockCode=lines["StockCode"].astype(str)
    )
    trading = pd.DatetimeIndex(np.sort(lines["day"].unique()))
    closures = pd.date_range(trading[0], trading[-1]).difference(trading)
    freq = pd.offsets.CustomBusinessDay(
        weekmask="Sun Mon Tue Wed Thu Fri",
        holidays=[d for d in closures if d.dayofweek != 5],
    )
    sales = lines[
        lines["StockCode"].str.match(PRODUCT_CODE)
        & ~lines["Invoice"].astype(str).str.startswith("C")
        & (lines["Quantity"] > 0)
        & (lines["Price"] > 0)
    ]
    sales = sales.drop(index=cancelled_lines(lines, sales))
    sales = sales.assign(
        StockCode=sales["StockCode"].str.upper(), value=sales["Quantity"] * sales["Price"]
    )
    # the one Saturday the shop invoiced (2009-12-05) counts towards the next trading day
    calendar = pd.date_range(trading[0], trading[-1], freq=freq)
    sales = sales.assign(day=calendar[calendar.searchsorted(sales["day"])])
    trading = calendar
    daily = sales.groupby(["StockCode", "day"], as_index=False).agg(
        y=("Quantity", "sum"), value=("value", "sum")
    )
    daily["price"] = daily["value"] / daily["y"]
    pos = trading.get_indexer(daily["day"])
    first = pd.Series(pos).groupby(daily["StockCode"].to_numpy()).min()
    last_day = daily.groupby("StockCode")["day"].max()
    holdout = len(trading) - horizon
    recent = last_day >= trading[-1] - pd.Timedelta(days=RECENT_DAYS - 1)
    long_enough = (holdout - first) >= MIN_HISTORY
    keep = recent.index[recent & long_enough.reindex(recent.index)]
    daily = daily[daily["StockCode"].isin(keep)]
    history = daily.rename(columns={"StockCode": "unique_id", "day": "ds"})[
        ["unique_id", "ds", "y", "price"]
    ].reset_index(drop=True)
    return history, freq, trading


def fmt(v: float | None, pct: bool = False) -> str:
    return "—" if v is None else (f"{v:.1%}" if pct else f"{v:.3f}")


def method_table(title: str) -> Any:
    """The benchmark table: holdout and window-mean figures per method."""
    from rich.table import Column, Table

    names = ("RMSSE", "WAPE", "MASE", "bias", "cov80", "cov95")
    return Table(
        Column("method", no_wrap=True),
        *names,
        *(f"{n} avg" for n in names),
        "seconds",
        title=title,
    )


def add_method(table: Any, name: str, m: Any) -> None:
    """One row: a :class:`tillwise.compute.forecasting.MethodReport` under ``name``."""
    cells = []
    for s in (m.holdout, m.mean):
        cells += [fmt(s.rmsse), fmt(s.wape), fmt(s.mase), fmt(s.bias, True)]
        cells += [fmt(s.coverage_80, True), fmt(s.coverage_95, True)]
    table.add_row(name, *cells, f"{m.seconds:.1f}")


def ratio_line(report: Any, label: str = "production") -> str:
    r = report.ratios()
    by_wape = report.wape_baseline
    return (
        f"{label} / {report.baseline.name}: RMSSE holdout {fmt(r['rmsse_holdout'])}, avg "
        f"{fmt(r['rmsse_mean'])}; WAPE holdout {fmt(r['wape_holdout'])}, avg {fmt(r['wape_mean'])}"
        f"\n{label} / {by_wape.name} (best single by mean WAPE): WAPE holdout "
        f"{fmt(r['wape_holdout_best'])}, avg {fmt(r['wape_mean_best'])}"
    )


def main(argv: list[str] | None = None) -> int:
    import argparse
    import time

    from rich.console import Console

    from tillwise.compute import make_executor
    from tillwise.compute.forecasting import backtest, parse_methods

    parser = argparse.ArgumentParser(prog="python -m bench.forecast", description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--windows", type=int, default=4, help="holdout + earlier windows")
    parser.add_argument("--executor", default="processes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--methods",
        help="candidates, comma-separated (default: the six of the docstring; e.g. add AutoETS)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--until",
        help="use the data up to this day only (e.g. 2010-12-09: the same season a year earlier)",
    )
    parser.add_argument(
        "--holidays", default="GB-ENG", help="public holidays (country code); '' for none"
    )
    args = parser.parse_args(argv)
    console = Console(width=180)  # every column whole, also when piped to a file
    singles, lightgbm = parse_methods(args.methods)
    if not any(args.data.glob("*.parquet")):
        console.print(f"no Online Retail II parquet files in {args.data}: benchmark skipped")
        return 0
    t0 = time.perf_counter()
    lines = load_lines(args.data)
    if args.until:
        lines = lines[lines["InvoiceDate"] < pd.Timestamp(args.until) + pd.Timedelta(days=1)]
    history, freq, _ = daily_panel(lines, args.horizon)
    prep = time.perf_counter() - t0
    groups = np.array(
        [int(s[:3]) for s in sorted(history["unique_id"].unique())]
    )  # StockCode prefix: the catalogue family (hierarchy feature for LightGBM)
    ex = make_executor(args.executor, workers=args.workers)
    try:
        report = backtest(
            history,
            args.horizon,
            freq=freq,
            windows=args.windows,
            executor=ex,
            singles=singles,
            lightgbm=lightgbm,
            groups=groups,
            holidays=args.holidays or None,
        )
    finally:
        ex.close()
    if args.json:
        import json

        print(json.dumps({**report.as_dict(), "prepare_seconds": prep}, indent=2, default=str))
        return 0

    table = method_table(
        f"Online Retail II: {report.series} SKUs, trading days, horizon {args.horizon}; "
        f"holdout after {report.cutoffs[0]} + {len(report.cutoffs) - 1} earlier windows "
        "(volume-weighted RMSSE/MASE, pooled WAPE/bias/coverage)"
    )
    for m in [*report.methods, report.production]:
        add_method(table, m.name + (" *best single*" if m is report.baseline else ""), m)
    console.print(table)
    console.print(f"production: {report.production_method[0]}")
    console.print(ratio_line(report))
    console.print(
        f"wall time: {prep:.1f}s data preparation + {report.seconds:.1f}s backtest "
        f"({args.executor}, {args.workers} workers)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
