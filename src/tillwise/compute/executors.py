"""Executors implementing :class:`tillwise.ports.compute.Executor`.

``inline``     runs in the calling process (tests, tiny panels).
``processes``  a local :class:`concurrent.futures.ProcessPoolExecutor` started with the
               *spawn* method (safe with threads, LightGBM and numba in the parent; ``fn`` is
               pickled by reference so it must be a module-level function).
``dask``       a ``dask.distributed`` client: to the scheduler at ``address``, or — with no
               address — to an in-process ``LocalCluster`` (threads, no network ports), which is
               what tests and a single machine use.

All three return ``[fn(item) for item in items]`` in the order given; callers chunk their work
(e.g. one item = a few hundred series) so the per-item overhead stays small.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

EXECUTOR_KINDS = ("inline", "processes", "dask")


class InlineExecutor:
    name = "inline"
    workers = 1

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(item) for item in items]

    def close(self) -> None:
        return None


def _leave_interrupts_to_the_parent() -> None:
    """In a pool worker: Ctrl-C (SIGINT, sent to the whole process group) is the parent's to
    handle — it stops the pool — so a worker neither dies mid-task with a traceback of its own
    nor breaks the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessExecutor:
    """A spawn-started local process pool, created on first use and reused until ``close``."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_leave_interrupts_to_the_parent,
            )
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor:
    """``dask.distributed``: the cluster at ``address``, or an in-process LocalCluster."""

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # the optional extra is not installed
            raise RuntimeError(
                "the dask executor needs the 'dask' extra: pip install 'tillwise[dask]'"
            ) from exc
        self._cluster: Any = None
        if address is None:
            self._cluster = LocalCluster(
                processes=False,
                n_workers=1,
                threads_per_worker=max(1, workers or os.cpu_count() or 1),
                dashboard_address=None,
                protocol="inproc://",
            )
            self._client: Any = Client(self._cluster)
        else:
            self._client = Client(address)
        self.workers = sum(self._client.nthreads().values()) or 1

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        futures = self._client.map(fn, list(items), pure=False)
        return list(self._client.gather(futures))

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(
    kind: str = "processes", address: str | None = None, *, workers: int | None = None
) -> InlineExecutor | ProcessExecutor | DaskExecutor:
    """The executor called ``kind`` ("inline", "processes" or "dask").

    ``address`` is the Dask scheduler (``tcp://host:8786``); without one a local in-process
    cluster is started. ``workers`` caps the processes (or threads) used locally.
    """
    if kind == "inline":
        return InlineExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(address, workers)
    raise ValueError(f"unknown executor {kind!r}; known: {', '.join(EXECUTOR_KINDS)}")
