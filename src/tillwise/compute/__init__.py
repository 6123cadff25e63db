"""Heavy batch compute behind one call: a local process pool (default) or a Dask cluster.

``make_executor(kind, address)`` gives a :class:`tillwise.ports.compute.Executor`; the demand
forecaster lives in :mod:`tillwise.compute.forecasting`.
"""

from .executors import DaskExecutor, InlineExecutor, ProcessExecutor, make_executor

__all__ = ["DaskExecutor", "InlineExecutor", "ProcessExecutor", "make_executor"]
