"""Store-level forecast benchmark: Rossmann Store Sales, 100 German drug stores (not a timed test).

Data: ``../shared/data/rossmann_100stores/train.csv`` (a 100-store random subset of Kaggle's
Rossmann Store Sales, 2013-01-01 .. 2015-07-31) — when absent the benchmark says so and exits 0.

Daily sales per store (closed days are zero sales: most stores close on Sundays and public
holidays), the ``Promo`` flag as the ``promo`` column — Rossmann plans its promotions ahead, so
the flags of the held-out weeks are known when the forecast is made — and the public holidays
of Germany. Holdout: the last 28 days plus rolling windows every 28 days before it, the same
backtest ``tillwise forecast backtest`` runs.

Printed: the figures of every candidate and of production — once with the promo column and once
without it (everything else equal), so the promotions' share of the gain is visible.

Measured (``python -m bench.forecast_stores``, 2 cores, 2026-11-27; holdout / mean of the 4
windows): best single method SeasonalNaive RMSSE 0.496 / 0.680, WAPE 0.252 / 0.326.
Production: RMSSE 0.212 / 0.242 (x0.428 / x0.356), WAPE 0.113 / 0.110, 80% / 95% coverage
70.1% / 90.5% (windows 77.4% / 93.9%); without the promo column RMSSE 0.300 / 0.349. Before
per-series weekday profiles and promotions (version 2026.3): 0.352 / 0.401. About 35 s in all.

usage: python -m bench.forecast_stores [--data FILE] [--windows 4] [--horizon 28]
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rossmann_100stores" / "train.csv"


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


def main(argv: list[str] | None = None) -> int:
    import argparse
    import time

    from rich.console import Console

    from bench.forecast import add_method, method_table, ratio_line
    from tillwise.compute import make_executor
    from tillwise.compute.forecasting import backtest, parse_methods

    parser = argparse.ArgumentParser(prog="python -m bench.forecast_stores", description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--windows", type=int, default=4, help="holdout + earlier windows")
    parser.add_argument("--methods", help="candidates, comma-separated (default: all singles)")
    parser.add_argument("--executor", default="processes")
    args = parser.parse_args(argv)
    console = Console(width=180)
    if not args.data.exists():
        console.print(f"no Rossmann subset at {args.data}: benchmark skipped")
        return 0
    history = store_history(args.data)
    singles, _ = parse_methods(args.methods)
    table = method_table(
        f"Rossmann: {history['unique_id'].nunique()} stores, daily, horizon {args.horizon}, "
        f"holdout + {args.windows - 1} earlier windows (volume-weighted RMSSE/MASE)"
    )
    lines = []
    for label, frame in (("", history), (" without promo", history.drop(columns="promo"))):
        ex = make_executor(args.executor, workers=2)
        t0 = time.perf_counter()
        try:
            report = backtest(
                frame,
                args.horizon,
                windows=args.windows,
                executor=ex,
                singles=singles,
                holidays="DE",
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
    console.print(table)
    console.print(f"production: {report.production_method[0]}")
    for line in lines:
        console.print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
