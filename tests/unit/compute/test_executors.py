"""The local process pool: Ctrl-C is the parent's to handle."""

from __future__ import annotations

import os
import signal

from tillwise.compute import make_executor


def _interrupted(n: int) -> int:
    """A task that gets Ctrl-C's SIGINT (as every process of the group does) mid-way."""
    os.kill(os.getpid(), signal.SIGINT)
    return n * 2


def test_a_pool_worker_finishes_its_task_through_ctrl_c_and_leaves_it_to_the_parent() -> None:
    ex = make_executor("processes", workers=1)
    try:
        # no KeyboardInterrupt traceback from the worker, no broken pool
        assert ex.map(_interrupted, [1, 2, 3]) == [2, 4, 6]
    finally:
        ex.close()
