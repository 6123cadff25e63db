"""Demand forecasting: the production forecaster, its backtest, metrics and the file reader.

``ProductionForecaster(executor=None)`` implements :class:`tillwise.ports.forecasting.Forecaster`;
``read_sales(path)`` reads a long-format CSV/Parquet (raising :class:`InvalidSalesFile`), and
``read_future``/``read_events`` the planned promotions and the retailer's event calendar;
``backtest(history, horizon, ...)`` scores every candidate and the production forecaster.
"""

from .evaluate import BacktestReport, MethodReport, backtest, parse_methods
from .holidays import country_holidays
from .metrics import Scores, bias, coverage, mase, rmsse, wape
from .panel import InvalidFuture
from .production import Forecast, ProductionForecaster
from .reader import (
    Columns,
    InvalidSalesFile,
    read_events,
    read_future,
    read_sales,
    validate_history,
)

__all__ = [
    "BacktestReport",
    "Columns",
    "Forecast",
    "InvalidFuture",
    "InvalidSalesFile",
    "MethodReport",
    "ProductionForecaster",
    "Scores",
    "backtest",
    "bias",
    "country_holidays",
    "coverage",
    "mase",
    "parse_methods",
    "read_events",
    "read_future",
    "read_sales",
    "rmsse",
    "validate_history",
    "wape",
]
