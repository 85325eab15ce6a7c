"""New threads keep their trace and profile functions in a graded process, where an audit hook runs Python code.

`threading.settrace`/`setprofile` (coverage, profilers, the history driver's call yields) make every new thread
call `sys.settrace`/`sys.setprofile` as it starts. CPython raises "Cannot install a profile function while
another profile function is being installed" when a thread switch lands inside that call, and a Python audit
hook (the harness's, inside/audit.py) is such a place: with stress mode's tiny switch interval, about one thread
start in two thousand died before running its target (a pool's task handler, a history's client), and the run
deadlocked or recorded nothing. threading's own calls are retried here until they get through.
Standard library only: it runs beside the code under test.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

TRIES = 1000
_sleep = time.sleep  # the real one, before stress wraps it


def _retrying(install: Callable[[Any], None]) -> Callable[[Any], None]:
    def retried(function: Any) -> None:
        for _ in range(TRIES):
            try:
                install(function)
                return
            except RuntimeError:
                _sleep(0)  # the other thread finishes its installation
        install(function)

    return retried


class _ThreadingSys(types.ModuleType):
    """`sys` as threading's own module sees it (`threading._sys`): the same, but settrace/setprofile retried."""

    settrace = staticmethod(_retrying(sys.settrace))
    setprofile = staticmethod(_retrying(sys.setprofile))

    def __getattr__(self, name: str) -> Any:
        return getattr(sys, name)


def install() -> None:
    """Give threading a `sys` whose trace and profile installation survives a thread switch (idempotent)."""
    if not isinstance(getattr(threading, "_sys", None), _ThreadingSys):
        threading._sys = _ThreadingSys("sys")  # type: ignore[attr-defined]
