"""Seeded yields at the call boundaries of the code under test, so that check-then-act races actually interleave.

Stress mode (stress.py) yields at locks, semaphores and sleeps; code that forgot its lock has none
of those. Its read and its write are split by calls (`d[k] = d.get(k, 0) + 1`, `x = min(cap, x + n)`),
and CPython switches threads only at calls, returns and backward jumps, once a waiting thread asks
for the interpreter after the switch interval, which timer slack stretches to tens of microseconds:
a quick method runs thousands of times before a switch lands inside it. A profile hook that yields
(sometimes, as a seeded choice) when a call returns inside the code under test puts the switch
exactly there. Measured on an unlocked counter, 4 threads x 50 calls: no lost update in 6 of 6 runs
without it, over 100 in each of 6 runs with it (benchmarks/history_detection.py has the rates).

Runs inside the process under test: standard library only.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from types import CodeType, FrameType
from typing import Any

YIELD_PROBABILITY = 0.5
EVENTS = frozenset({"c_return", "return"})  # after a call, before the caller goes on with what it read


class CallYields:
    """A profile hook for every thread started after `install`: yields after calls in the given source folders."""

    def __init__(
        self,
        seed: int,
        folders: Iterable[str],
        probability: float = YIELD_PROBABILITY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._random = random.Random(seed).random  # one C call: safe to share between threads
        self._probability = probability
        self._sleep = sleep
        self._folders = tuple(folders)
        self._ours: dict[CodeType, bool] = {}  # code object -> is it in the code under test (cached: asked per event)
        self.yields = 0

    def install(self) -> None:
        threading.setprofile(self._hook)

    def uninstall(self) -> None:
        threading.setprofile(None)

    def _hook(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event not in EVENTS:
            return
        code = frame.f_code
        ours = self._ours.get(code)
        if ours is None:
            ours = self._ours[code] = code.co_filename.startswith(self._folders)
        if ours and self._random() < self._probability:
            self.yields += 1
            self._sleep(0)  # releases the interpreter: a waiting thread may take it right here

    def figures(self) -> dict[str, Any]:
        return {"call_yields": self.yields, "call_yield_folders": list(self._folders)}


def source_folders(module_file: str | None) -> list[str]:
    """Where the code under test lives when nothing says otherwise: its module's folder, with subfolders."""
    if not module_file:
        return []
    return [os.path.dirname(os.path.realpath(module_file)) + os.sep]
