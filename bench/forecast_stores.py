"""Store-level forecast benchmarks: Rossmann (daily) and Walmart (weekly) store sales (not a
timed test). A data set that is absent is skipped with a message.

Rossmann: ``../shared/data/rossmann_100stores/train.csv`` (a 100-store random subset of Kaggle's
Rossmann Store Sales, 2013-01-01 .. 2015-07-31). Daily sales per store (closed days are zero
sales: most stores close on Sundays and public holidays), the ``Promo`` flag as the ``promo``
column — Rossmann plans its promotions ahead, so the flags of the held-out weeks are known when
the forecast is made — and the public holidays of Germany. Horizon 28 days. Scored once with the
promo column and once without it (everything else equal), so the promotions' share of the gain
is visible.

Walmart: ``../shared/data/walmart_weekly_45stores/Walmart.csv`` (Kaggle's Walmart store sales,
45 stores, weekly, 2010-02-05 .. 2012-10-26). Horizon 8 weeks. Store sales follow the year
(the Christmas and Thanksgiving weeks, back-to-school), which no level method carries.

Both: the last horizon held out plus rolling windows one horizon apart before it, the same
backtest ``tillwise forecast backtest`` runs.

Measured (``python -m bench.forecast_stores``, 2 cores, 2026-11-27; holdout / mean of the 4
windows):
* Rossmann: best single method SeasonalNaive RMSSE 0.496 / 0.680, WAPE 0.252 / 0.326.
  Production: RMSSE 0.212 / 0.242 (x0.428 / x0.356), WAPE 0.113 / 0.110, 80% / 95% coverage
  70.1% / 90.5% (windows 77.4% / 93.9%); without the promo column RMSSE 0.300 / 0.349. Before
  per-series weekday profiles and promotions (version 2026.3): 0.352 / 0.401. About 45 s.
* Walmart: best single method (mean over the windows) TSB RMSSE 0.433 / 0.443; SeasonalNaive
  (last year's same week) 0.390 / 0.456. Production: RMSSE 0.310 / 0.383 (x0.715 / x0.864),
  WAPE x0.691 / x0.824, 80% coverage 86.9% (windows 80.1%); before the seasonal naive joined
  the stack on weekly panels (version 2026.4) 0.395 / 0.461 (x0.911 / x1.040). About 5 s.

usage: python -m bench.forecast_stores [--rossmann FILE] [--walmart FILE] [--windows 4]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ROSSMANN = SHARED / "rossmann_100stores" / "train.csv"
WALMART = SHARED / "walmart_weekly_45stores" / "Walmart.csv"


def store_history(path: Path) -> pd.DataFrame:
    """Long format: ``unique_id`` (store), ``ds``, ``y`` (sales), ``promo``."""
    raw = pd.read_csv(path, usecols=["Store", "Date", "Sales", "Promo"])
    return pd.DataFrame(
        {
            "unique_id": "store" + raw["Store"].astype(str).str.zfill(4),
            "ds": pd.to_datetime(raw["Date"]),
            "y": raw["Sales"].astype(float),
            "promo": raw["Promo"].astype(float),
        }
    )


def walmart_history(path: Path) -> pd.DataFrame:
    """Long format: ``unique_id`` (store), ``ds`` (the Friday ending the week), ``y`` (sales)."""
    raw = pd.read_csv(path, usecols=["Store", "Date", "Weekly_Sales"])
    return pd.DataFrame(
        {
            "unique_id": "store" + raw["Store"].astype(str).str.zfill(2),
            "ds": pd.to_datetime(raw["Date"], format="%d/%m/%y"),
            "y": raw["Weekly_Sales"].astype(float),
        }
    )


def score(
    console: Any,
    title: str,
    variants: list[tuple[str, pd.DataFrame]],
    horizon: int,
    freq: str,
    holidays: str | None,
    args: Any,
) -> None:
    """One table: every candidate and production on the first variant, production alone on
    the others; then production's description and its ratios to the best single method."""
    import time

    from bench.forecast import add_method, method_table, ratio_line
    from tillwise.compute import make_executor
    from tillwise.compute.forecasting import backtest, parse_methods

    singles, _ = parse_methods(args.methods)
    table = method_table(
        f"{title}, horizon {horizon}, holdout + {args.windows - 1} earlier windows "
        "(volume-weighted RMSSE/MASE)"
    )
    lines = []
    for label, frame in variants:
        ex = make_executor(args.executor, workers=2)
        t0 = time.perf_counter()
        try:
            report = backtest(
                frame,
                horizon,
                freq=freq,
                windows=args.windows,
                executor=ex,
                singles=singles,
                holidays=holidays,
            )
        finally:
            ex.close()
        for m in [report.production] if label else [*report.methods, report.production]:
            add_method(
                table, m.name + label + (" *best single*" if m is report.baseline else ""), m
            )
        lines.append(
            f"{ratio_line(report, 'production' + label)} ({time.perf_counter() - t0:.1f}s)"
        )
        if not label:
            lines.insert(0, f"production: {report.production_method[0]}")
    console.print(table)
    for line in lines:
        console.print(line)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m bench.forecast_stores", description=__doc__)
    parser.add_argument("--rossmann", type=Path, default=ROSSMANN)
    parser.add_argument("--walmart", type=Path, default=WALMART)
    parser.add_argument("--windows", type=int, default=4, help="holdout + earlier windows")
    parser.add_argument("--methods", help="candidates, comma-separated (default: all singles)")
    parser.add_argument("--executor", default="processes")
    args = parser.parse_args(argv)
    console = Console(width=180)
    if args.rossmann.exists():
        history = store_history(args.rossmann)
        score(
            console,
            f"Rossmann: {history['unique_id'].nunique()} stores, daily",
            [("", history), (" without promo", history.drop(columns="promo"))],
            28,
            "D",
            "DE",
            args,
        )
    else:
        console.print(f"no Rossmann subset at {args.rossmann}: skipped")
    if args.walmart.exists():
        history = walmart_history(args.walmart)
        title = f"Walmart: {history['unique_id'].nunique()} stores, weekly"
        score(console, title, [("", history)], 8, "W", None, args)
    else:
        console.print(f"no Walmart store sales at {args.walmart}: skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
