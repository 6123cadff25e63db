"""Demand forecasting: the production forecaster, its backtest, metrics and the file reader.

``ProductionForecaster(executor=None)`` implements :class:`tillwise.ports.forecasting.Forecaster`;
``read_sales(path)`` reads a sales file, long or wide (raising :class:`InvalidSalesFile`;
``read_sales_file`` also gives the drivers M5's calendar knows ahead), and
``read_future``/``read_events`` the planned promotions and the retailer's event calendar;
``backtest(history, horizon, ...)`` scores every candidate and the production forecaster, and
``score_forecast`` a forecast file against what was sold.
"""

from .evaluate import (
    BacktestReport,
    ForecastScore,
    MethodReport,
    backtest,
    parse_methods,
    score_forecast,
)
from .holidays import country_holidays
from .metrics import Scores, bias, coverage, mase, rmsse, wape
from .panel import InvalidFuture
from .production import Forecast, ProductionForecaster
from .reader import (
    Columns,
    InvalidSalesFile,
    SalesFile,
    read_calendar,
    read_events,
    read_forecast,
    read_future,
    read_sales,
    read_sales_file,
    validate_history,
)

__all__ = [
    "BacktestReport",
    "Columns",
    "Forecast",
    "ForecastScore",
    "InvalidFuture",
    "InvalidSalesFile",
    "MethodReport",
    "ProductionForecaster",
    "SalesFile",
    "Scores",
    "backtest",
    "bias",
    "country_holidays",
    "coverage",
    "mase",
    "parse_methods",
    "read_events",
    "read_forecast",
    "read_future",
    "read_calendar",
    "read_sales",
    "read_sales_file",
    "rmsse",
    "score_forecast",
    "validate_history",
    "wape",
]
