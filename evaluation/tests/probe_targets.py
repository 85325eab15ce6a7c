"""Module-level functions the probe tests wrap; importable by spawn and forkserver children."""

from __future__ import annotations

import time

_barrier = None


def init_worker(barrier) -> None:
    global _barrier
    _barrier = barrier


def meet(x: int) -> int:
    """Waits until as many calls as the barrier's parties are inside at once: the peak is exact."""
    _barrier.wait()
    return x * x


def square(x: int) -> int:
    return x * x


def nap(x: int) -> int:
    time.sleep(0.001)
    return x
