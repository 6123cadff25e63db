"""Heavy batch compute behind one call: map a picklable function over chunks of work.

Implementations live in :mod:`tillwise.compute`: a local process pool (the embedded default)
and a Dask distributed cluster (scale-out). Both must give the same results for the same
input — only where the work runs differs. ``fn`` must be a module-level function (it is
pickled by reference) and each item must be picklable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    name: str  # "inline", "processes", "dask"

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(item) for item in items]``, in the order given, run wherever the backend runs."""
        ...

    def close(self) -> None: ...
